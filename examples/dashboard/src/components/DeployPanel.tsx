'use client'
import { useState } from 'react'
import { useDeployProgress } from '@/hooks/useDeployProgress'
import { ENVIRONMENTS, type ProjectName } from '@/lib/stack'
import { post } from './actions'

type Env = (typeof ENVIRONMENTS)[number]

function Environment({ environment, project }: { environment: Env; project: ProjectName }) {
  const { progress, history, isDeploying, isComplete, isFailed } = useDeployProgress(environment)
  const [error, setError] = useState<string | null>(null)
  const pct = progress?.progress ?? 0
  return (
    <div className="card" data-testid={`deploy-${environment}`}>
      <div className="row">
        <h3>{environment}</h3>
        <button onClick={async () => setError(await post('/api/deploy', { environment, project }))} disabled={isDeploying}>
          Deploy
        </button>
      </div>
      {progress ? (
        <>
          <div className="row small">
            <span>
              {progress.stage} · {progress.status}
            </span>
            <span>{pct}%</span>
          </div>
          <div className={`bar ${isFailed ? 'failed' : isComplete ? 'complete' : ''}`}>
            <div style={{ width: `${pct}%` }} />
          </div>
          {progress.error && <div className="error small">{progress.error}</div>}
          <ul className="steps small">
            {history.map((e, i) => (
              <li key={i} className={`step-${e.status}`}>
                {e.stage}: <span className="muted">{e.logs.join(' · ')}</span>
              </li>
            ))}
          </ul>
        </>
      ) : (
        <p className="muted small">not deployed in this session</p>
      )}
      {error && <div className="error small">{error}</div>}
    </div>
  )
}

export function DeployPanel({ project }: { project: ProjectName }) {
  return (
    <section className="panel">
      <h2>Deploy</h2>
      <div className="grid3">
        {ENVIRONMENTS.map((e) => (
          <Environment key={e} environment={e} project={project} />
        ))}
      </div>
    </section>
  )
}
