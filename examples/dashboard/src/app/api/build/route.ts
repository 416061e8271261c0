// POST /api/build { project? }: starts a (simulated) build of the project (default `demo`);
// progress reaches that project's room as build:progress events.
import { getSimulator } from '@/lib/simulator'
import { PROJECTS, projectOf } from '@/lib/stack'

export const dynamic = 'force-dynamic'

export async function POST(req: Request) {
  const body = (await req.json().catch(() => ({}))) as { project?: unknown } | null
  const project = projectOf(body?.project)
  if (!project) return Response.json({ ok: false, error: `project must be one of ${PROJECTS.join(', ')}` }, { status: 400 })
  if (!getSimulator().build(project)) return Response.json({ ok: false, error: `a build of ${project} is already running` }, { status: 409 })
  return Response.json({ ok: true, project })
}
