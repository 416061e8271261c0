'use client'
import { useWebSocket } from '@/hooks/useWebSocket'

export function ConnectionBadge() {
  const { status } = useWebSocket()
  const [text, tone] = status.connected
    ? ['Connected', 'ok']
    : status.reconnecting
      ? [`Reconnecting, attempt ${status.reconnectAttempts}`, 'warn']
      : ['Disconnected', 'bad']
  return (
    <span className={`badge ${tone}`} data-testid="connection-badge" title={status.lastError ?? undefined}>
      <span className="dot" /> {text}
    </span>
  )
}
