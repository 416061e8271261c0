// GET /api/ws: the hub's info, presence and stats as JSON. (`/api/ws/` with a trailing slash is
// the Socket.IO endpoint, rewritten to the hub by next.config.ts.)
import { getPresence, getStats, hubInfo } from '@/lib/websocket/emitters'

export const dynamic = 'force-dynamic'

export function GET() {
  const hub = hubInfo()
  if (!hub) return Response.json({ hub: null, presence: [], stats: null }, { status: 503 })
  return Response.json({ hub, presence: getPresence(), stats: getStats() })
}

// nself-admin imports the emitters from this file. This works with the default (Turbopack)
// build and `next dev`; `next build --webpack` refuses extra exports from a route file, so with
// webpack import them from '@/lib/websocket/emitters'.
export {
  emitServiceStatus,
  emitBuildProgress,
  emitDeployProgress,
  emitLogStream,
  emitDockerStats,
  emitDbQueryResult,
} from '@/lib/websocket/emitters'
