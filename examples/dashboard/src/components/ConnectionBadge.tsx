'use client'
import { useWebSocket } from '@/hooks/useWebSocket'

export function ConnectionBadge() {
  const { status } = useWebSocket()
  const [state, text, tone] = status.connected
    ? ['connected', 'Connected', 'ok']
    : status.reconnecting
      ? ['reconnecting', `Reconnecting, attempt ${status.reconnectAttempts}`, 'warn']
      : ['disconnected', 'Disconnected', 'bad']
  return (
    <span className={`badge ${tone}`} data-testid="connection-badge" data-state={state} title={status.lastError ?? undefined}>
      <span className="dot" /> {text}
    </span>
  )
}
