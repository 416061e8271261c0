// Server-side emitters (Node only: they call the native hub running in this process).
// Re-exported from src/app/api/ws/route.ts so that nself-admin's
// `import { emitServiceStatus } from '@/app/api/ws/route'` works with the default (Turbopack)
// build. `next build --webpack` rejects extra exports from a route file: import from
// '@/lib/websocket/emitters' instead.
export {
  emit,
  emitBuildProgress,
  emitDbQueryResult,
  emitDeployProgress,
  emitDockerStats,
  emitLogStream,
  emitServiceStatus,
  getPresence,
  getRoomMembers,
  getStats,
  getUserPresence,
  hubInfo,
} from 'nself-realtime'
