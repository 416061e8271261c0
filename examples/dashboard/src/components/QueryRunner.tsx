'use client'
import { useState } from 'react'
import { useDbQueryResult } from '@/hooks/useDbQueryResult'
import type { ProjectName } from '@/lib/stack'
import { post } from './actions'

const EXAMPLES = [
  'SELECT id, name, owner, created_at FROM projects ORDER BY created_at DESC',
  'SELECT verified, count(*) AS users FROM users GROUP BY verified',
  'SELECT name, image, port, memory_limit_mb FROM services',
]

/** Runs SQL on the embedded SQLite demo database; shows the db:query:result that comes back. */
export function QueryRunner({ project }: { project: ProjectName }) {
  const [sql, setSql] = useState(EXAMPLES[0])
  const [queryId, setQueryId] = useState<string | null>(null)
  const [error, setError] = useState<string | null>(null)
  const { result } = useDbQueryResult(queryId)
  const run = async () => {
    const id = `q-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`
    setQueryId(id)
    setError(await post('/api/db/query', { queryId: id, sql, project }))
  }
  return (
    <section className="panel" data-testid="query">
      <div className="row">
        <h2>Query (SQLite, demo database)</h2>
        <div className="row gap small">
          {EXAMPLES.map((q, i) => (
            <button key={i} className="ghost" onClick={() => setSql(q)} title={q}>
              example {i + 1}
            </button>
          ))}
          <button onClick={run}>Run</button>
        </div>
      </div>
      <textarea
        className="sql"
        value={sql}
        spellCheck={false}
        onChange={(e) => setSql(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) void run()
        }}
      />
      {error && <div className="error small">{error}</div>}
      {queryId && !result && !error && <p className="muted small">waiting for db:query:result {queryId}…</p>}
      {result && (
        <>
          <p className="small muted" data-testid="query-summary">
            {result.error ? (
              <span className="error">{result.error}</span>
            ) : (
              <>
                {result.rowCount} row{result.rowCount === 1 ? '' : 's'}
                {result.rows.length < result.rowCount ? ` (first ${result.rows.length} shown)` : ''}
              </>
            )}{' '}
            · {result.executionTime ?? '?'} ms · {result.queryId}
          </p>
          {result.fields.length > 0 && (
            <div className="result">
              <table className="stats small">
                <thead>
                  <tr>
                    {result.fields.map((f) => (
                      <th key={f.name} title={`type oid ${f.dataTypeID}`}>
                        {f.name}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {(result.rows as Record<string, unknown>[]).map((row, i) => (
                    <tr key={i}>
                      {result.fields.map((f) => (
                        <td key={f.name}>{row[f.name] === null ? <span className="muted">null</span> : String(row[f.name])}</td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </section>
  )
}
