// React code (a .tsx component, as in a Next.js app): the hooks' published types, strict.
import type { ReactElement } from 'react'
import { getWebSocketClient, type WebSocketClient } from 'nself-realtime/client'
import type { BuildProgressEvent, LogStreamEvent, ServiceStatusEvent } from 'nself-realtime/events'
import {
  useBuildProgress,
  useLogStream,
  usePresence,
  useRoom,
  useServiceStatus,
  useWebSocket,
} from 'nself-realtime/react'

export function Dashboard({ project }: { project: string }): ReactElement {
  const { connected, reconnecting, on, emit, joinRoom, leaveRoom, client } = useWebSocket()
  const same: WebSocketClient = client
  const pageClient: WebSocketClient = getWebSocketClient()
  const status: ServiceStatusEvent | null = useServiceStatus('postgres').status
  const build = useBuildProgress()
  const last: BuildProgressEvent | null = build.progress
  const history: readonly BuildProgressEvent[] = build.history
  const building: boolean = build.isBuilding || build.isComplete || build.isFailed
  const { lines, clear } = useLogStream('hasura', { maxLines: 200 })
  const line: LogStreamEvent | undefined = lines[0]
  useRoom(project)
  const { members } = usePresence(project)
  const off: () => void = on<LogStreamEvent>('logs:stream', (data) => void data.line)
  const joining: Promise<void> = joinRoom('builds')
  const leaving: Promise<void> = leaveRoom('builds')
  emit('custom:event', { from: 'dashboard' })
  // @ts-expect-error: useServiceStatus takes the service name
  useServiceStatus(42)
  void [same, pageClient, last, history, building, line, off, joining, leaving, reconnecting, clear]
  return (
    <ul>
      <li>{connected ? 'live' : 'offline'}</li>
      <li>{status?.status ?? 'unknown'}</li>
      <li>{members.length} viewing</li>
    </ul>
  )
}
