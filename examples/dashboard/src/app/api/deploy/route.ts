// POST /api/deploy { environment }: starts a (simulated) deploy; progress reaches the page as
// deploy:progress events.
import { getSimulator } from '@/lib/simulator'
import { ENVIRONMENTS } from '@/lib/stack'

export const dynamic = 'force-dynamic'

export async function POST(req: Request) {
  const body = (await req.json().catch(() => ({}))) as { environment?: unknown }
  const environment = body.environment ?? 'staging'
  if (!ENVIRONMENTS.includes(environment as (typeof ENVIRONMENTS)[number])) {
    return Response.json({ ok: false, error: `environment must be one of ${ENVIRONMENTS.join(', ')}` }, { status: 400 })
  }
  const env = environment as (typeof ENVIRONMENTS)[number]
  if (!getSimulator().deploy(env)) return Response.json({ ok: false, error: `a deploy to ${env} is already running` }, { status: 409 })
  return Response.json({ ok: true, environment: env })
}
