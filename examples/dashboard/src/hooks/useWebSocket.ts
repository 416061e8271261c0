// nself-admin's module path, backed by nself-realtime/react.
export { useWebSocket, RealtimeProvider } from 'nself-realtime/react'
export type { UseWebSocketResult } from 'nself-realtime/react'
