// POST /api/hub/restart { downMs? }: stops the hub, waits, starts it again (demo only: every
// client goes Reconnecting, then Connected, and joins its rooms again).
import { restartRealtime } from '@/lib/websocket/server'

export const dynamic = 'force-dynamic'

export async function POST(req: Request) {
  const body = (await req.json().catch(() => ({}))) as { downMs?: unknown }
  const downMs = typeof body.downMs === 'number' && body.downMs >= 0 && body.downMs <= 30_000 ? body.downMs : 2000
  // Answer first: the hub going down must not take this response with it.
  setTimeout(() => {
    restartRealtime(downMs).catch((err: unknown) => console.error('[realtime] restart failed:', err))
  }, 10)
  return Response.json({ ok: true, downMs })
}
