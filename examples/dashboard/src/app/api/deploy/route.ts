// POST /api/deploy { environment, project? }: starts a (simulated) deploy; progress reaches the
// project's room as deploy:progress events.
import { getSimulator } from '@/lib/simulator'
import { ENVIRONMENTS, PROJECTS, projectOf } from '@/lib/stack'

export const dynamic = 'force-dynamic'

export async function POST(req: Request) {
  const body = (await req.json().catch(() => ({}))) as { environment?: unknown; project?: unknown } | null
  const environment = body?.environment ?? 'staging'
  if (!ENVIRONMENTS.includes(environment as (typeof ENVIRONMENTS)[number])) {
    return Response.json({ ok: false, error: `environment must be one of ${ENVIRONMENTS.join(', ')}` }, { status: 400 })
  }
  const project = projectOf(body?.project)
  if (!project) return Response.json({ ok: false, error: `project must be one of ${PROJECTS.join(', ')}` }, { status: 400 })
  const env = environment as (typeof ENVIRONMENTS)[number]
  if (!getSimulator().deploy(env, project)) return Response.json({ ok: false, error: `a deploy of ${project} to ${env} is already running` }, { status: 409 })
  return Response.json({ ok: true, environment: env, project })
}
