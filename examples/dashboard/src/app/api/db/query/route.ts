// POST /api/db/query { queryId, sql, project? }: runs the SQL on the embedded demo SQLite database; the
// result reaches the page as a db:query:result event (the response only says it was accepted).
import { runQuery } from '@/lib/database'
import { PROJECTS, projectOf } from '@/lib/stack'

export const dynamic = 'force-dynamic'

export async function POST(req: Request) {
  const body = (await req.json().catch(() => null)) as { queryId?: unknown; sql?: unknown; project?: unknown } | null
  const queryId = body?.queryId
  const sql = body?.sql
  if (typeof queryId !== 'string' || !/^[A-Za-z0-9_.:-]{1,64}$/.test(queryId)) {
    return Response.json({ ok: false, error: 'queryId: 1-64 characters of [A-Za-z0-9_.:-]' }, { status: 400 })
  }
  if (typeof sql !== 'string' || sql.trim() === '' || sql.length > 10_000) {
    return Response.json({ ok: false, error: 'sql: a non-empty string of at most 10000 characters' }, { status: 400 })
  }
  const project = projectOf(body?.project)
  if (!project) return Response.json({ ok: false, error: `project must be one of ${PROJECTS.join(', ')}` }, { status: 400 })
  try {
    runQuery(queryId, sql, project)
  } catch (err) {
    const e = err as { code?: string; message: string }
    return Response.json({ ok: false, error: `${e.code ?? ''} ${e.message}`.trim() }, { status: 503 })
  }
  return Response.json({ ok: true, queryId })
}
