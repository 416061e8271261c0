// POST /api/build: starts a (simulated) build; progress reaches the page as build:progress events.
import { getSimulator } from '@/lib/simulator'

export const dynamic = 'force-dynamic'

export function POST() {
  if (!getSimulator().build()) return Response.json({ ok: false, error: 'a build is already running' }, { status: 409 })
  return Response.json({ ok: true })
}
