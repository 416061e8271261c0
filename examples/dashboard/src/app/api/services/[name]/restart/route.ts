// POST /api/services/:name/restart: restarts a (simulated) service; its status changes reach the
// page as service:status events through the hub.
import { getSimulator } from '@/lib/simulator'
import { isService } from '@/lib/stack'

export const dynamic = 'force-dynamic'

export async function POST(_req: Request, { params }: { params: Promise<{ name: string }> }) {
  const { name } = await params
  if (!isService(name)) return Response.json({ ok: false, error: `unknown service ${name}` }, { status: 404 })
  const started = getSimulator().restart(name)
  // The restart runs on; answer once it has begun (the 'stopping' event is already emitted).
  const accepted = await Promise.race([started, new Promise<true>((r) => setTimeout(() => r(true), 50))])
  if (!accepted) return Response.json({ ok: false, error: `${name} is busy` }, { status: 409 })
  return Response.json({ ok: true, service: name })
}
