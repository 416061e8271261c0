// POST /api/logs/burst { service, count?, project? }: emits `count` (default 500, at most 1000)
// numbered log lines of a service at once, `burst 1/500` to `burst 500/500`: watch them all
// arrive, in order, batched by the hub.
import { getSimulator } from '@/lib/simulator'
import { PROJECTS, SERVICES, isService, projectOf } from '@/lib/stack'

export const dynamic = 'force-dynamic'

export async function POST(req: Request) {
  const body = (await req.json().catch(() => ({}))) as { service?: unknown; count?: unknown; project?: unknown } | null
  const service = body?.service
  if (typeof service !== 'string' || !isService(service)) {
    return Response.json({ ok: false, error: `service must be one of ${SERVICES.join(', ')}` }, { status: 400 })
  }
  const count = body?.count ?? 500
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 1000) {
    return Response.json({ ok: false, error: 'count must be an integer from 1 to 1000' }, { status: 400 })
  }
  const project = projectOf(body?.project)
  if (!project) return Response.json({ ok: false, error: `project must be one of ${PROJECTS.join(', ')}` }, { status: 400 })
  try {
    getSimulator().burst(service, count, project)
  } catch (err) {
    const e = err as { code?: string; message: string }
    return Response.json({ ok: false, error: `${e.code ?? ''} ${e.message}`.trim() }, { status: 503 })
  }
  return Response.json({ ok: true, service, count, project })
}
