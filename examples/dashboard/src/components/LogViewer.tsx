'use client'
import { useEffect, useRef, useState } from 'react'
import { useLogStream } from '@/hooks/useLogStream'
import { SERVICES, type ProjectName } from '@/lib/stack'
import { post } from './actions'

const MAX_LINES = 1000

export function LogViewer({ project }: { project: ProjectName }) {
  const [service, setService] = useState<string>(SERVICES[0])
  const [follow, setFollow] = useState(true)
  const { lines, clear } = useLogStream(service, { maxLines: MAX_LINES })
  const box = useRef<HTMLDivElement>(null)

  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight
  }, [lines, follow])

  return (
    <section className="panel" data-testid="logs">
      <div className="row">
        <h2>Logs</h2>
        <div className="row gap small">
          <label>
            <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> follow
          </label>
          <button onClick={clear} className="ghost">
            Clear
          </button>
          <button className="ghost" title="The simulator emits 500 numbered lines of this service at once" onClick={() => void post('/api/logs/burst', { service, count: 500, project })}>
            Burst 500
          </button>
        </div>
      </div>
      <div className="tabs">
        {SERVICES.map((s) => (
          <button key={s} className={s === service ? 'tab active' : 'tab'} onClick={() => setService(s)}>
            {s}
          </button>
        ))}
      </div>
      <div
        className="log"
        ref={box}
        onScroll={(e) => {
          // Scrolling up leaves follow mode; scrolling back to the bottom resumes it.
          const el = e.currentTarget
          const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 8
          if (atBottom !== follow) setFollow(atBottom)
        }}
      >
        {lines.length === 0 && <div className="muted">no lines from {service} yet</div>}
        {lines.map((l, i) => (
          <div key={`${l.timestamp}-${i}`} className={`line level-${l.level ?? 'info'}`}>
            <span className="ts">{l.timestamp.slice(11, 23)}</span> <span className="lvl">{(l.level ?? 'info').toUpperCase().padEnd(5)}</span>{' '}
            {l.line}
          </div>
        ))}
      </div>
      <div className="muted small">
        {lines.length} / {MAX_LINES} lines kept (oldest dropped)
      </div>
    </section>
  )
}
