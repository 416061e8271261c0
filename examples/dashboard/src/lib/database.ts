// An embedded SQLite database (better-sqlite3 12, in memory) seeded with demo tables, for the
// query runner. Server only. Results go to the page as db:query:result events through the hub.
//
// better-sqlite3 12 is pinned on purpose: 13 crashes (segfault) on Node 20.

import Database from 'better-sqlite3'
import { emitDbQueryResult } from '@/lib/websocket/emitters'
import { SERVICES, projectRoom, type ProjectName } from '@/lib/stack'

type DB = InstanceType<typeof Database>

const KEY = Symbol.for('nself-dashboard.database')
type Global = typeof globalThis & { [KEY]?: DB }

/** Most rows sent in one result (the hub refuses payloads over maxPayloadBytes, 64 KB by default). */
export const MAX_ROWS = 200

function seed(db: DB) {
  db.exec(`
    CREATE TABLE projects (id INTEGER PRIMARY KEY, name TEXT NOT NULL, owner TEXT NOT NULL, created_at TEXT NOT NULL);
    CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, verified INTEGER NOT NULL, last_seen TEXT);
    CREATE TABLE services (name TEXT PRIMARY KEY, image TEXT NOT NULL, port INTEGER, memory_limit_mb REAL);
  `)
  const day = 86_400_000
  const projects = db.prepare('INSERT INTO projects (name, owner, created_at) VALUES (?, ?, ?)')
  ;['acme-web', 'billing', 'docs', 'mobile-api', 'internal-tools', 'analytics'].forEach((name, i) =>
    projects.run(name, ['ana', 'bo', 'chen'][i % 3], new Date(Date.now() - (i + 1) * 7 * day).toISOString()),
  )
  const users = db.prepare('INSERT INTO users (email, verified, last_seen) VALUES (?, ?, ?)')
  for (let i = 1; i <= 40; i++) {
    users.run(`${['ana', 'bo', 'chen', 'dev', 'eli'][i % 5]}${i}@example.com`, i % 4 === 0 ? 0 : 1, new Date(Date.now() - i * 3_600_000).toISOString())
  }
  const ports: Record<string, number> = { postgres: 5432, hasura: 8080, auth: 4000, minio: 9000, redis: 6379, nginx: 443, functions: 3000 }
  const services = db.prepare('INSERT INTO services (name, image, port, memory_limit_mb) VALUES (?, ?, ?, ?)')
  for (const name of SERVICES) services.run(name, `nself/${name}`, ports[name], name === 'postgres' ? 2048 : 512)
}

export function getDatabase(): DB {
  const g = globalThis as Global
  if (!g[KEY]) {
    const db = new Database(':memory:')
    seed(db)
    g[KEY] = db
  }
  return g[KEY]
}

// Postgres type OIDs, as nself-admin's node-postgres results report them in `dataTypeID`.
function oid(declared: string | null, sample: unknown): number {
  const t = (declared ?? '').toUpperCase()
  if (t.includes('INT')) return 20 // int8
  if (t.includes('REAL') || t.includes('FLOA') || t.includes('DOUB')) return 701 // float8
  if (t.includes('BLOB')) return 17 // bytea
  if (t.includes('CHAR') || t.includes('TEXT') || t.includes('CLOB')) return 25 // text
  if (typeof sample === 'number') return Number.isInteger(sample) ? 20 : 701
  if (typeof sample === 'bigint') return 20
  return 25
}

/** Runs `sql` and emits its db:query:result (rows, fields, time, or the error) to the project's room. */
export function runQuery(queryId: string, sql: string, project: ProjectName): void {
  const room = projectRoom(project)
  const started = performance.now()
  const timestamp = () => new Date().toISOString()
  const executionTime = () => Math.round((performance.now() - started) * 1000) / 1000
  let result: Parameters<typeof emitDbQueryResult>[0]
  try {
    const stmt = getDatabase().prepare(sql)
    if (stmt.reader) {
      const all = stmt.all() as Record<string, unknown>[]
      const rows = all.slice(0, MAX_ROWS).map((r) =>
        Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'bigint' ? v.toString() : Buffer.isBuffer(v) ? `\\x${v.toString('hex')}` : v])),
      )
      const fields = stmt.columns().map((c) => ({ name: c.name, dataTypeID: oid(c.type, rows[0]?.[c.name]) }))
      result = { queryId, sql, rows, rowCount: all.length, truncated: all.length > rows.length, fields, executionTime: executionTime(), timestamp: timestamp() }
    } else {
      const info = stmt.run()
      result = { queryId, sql, rows: [], rowCount: info.changes, fields: [], executionTime: executionTime(), timestamp: timestamp() }
    }
  } catch (err) {
    result = { queryId, sql, rows: [], rowCount: 0, fields: [], executionTime: executionTime(), timestamp: timestamp(), error: (err as Error).message }
  }
  try {
    emitDbQueryResult(result, room)
  } catch (err) {
    const e = err as { code?: string; message: string }
    if (e.code !== 'ERR_PAYLOAD_TOO_LARGE') throw err
    emitDbQueryResult(
      { queryId, sql, rows: [], rowCount: result.rowCount, fields: result.fields, executionTime: result.executionTime, timestamp: timestamp(), error: `result too large to send (${e.message}); add a LIMIT` },
      room,
    )
  }
}
