'use client'
import { useState } from 'react'
import { useBuildProgress } from '@/hooks/useBuildProgress'
import type { ProjectName } from '@/lib/stack'
import { post } from './actions'

export function BuildPanel({ project }: { project: ProjectName }) {
  const { progress, history, isBuilding, isComplete, isFailed, reset } = useBuildProgress()
  const [error, setError] = useState<string | null>(null)
  const pct = progress?.progress ?? 0
  // One line per step: the last event seen for each step of the current build.
  const steps = new Map<number | string, (typeof history)[number]>()
  for (const e of history) steps.set(e.currentStep ?? e.step, e)
  return (
    <section className="panel" data-testid="build">
      <div className="row">
        <h2>Build</h2>
        <div className="row gap">
          <button onClick={async () => setError(await post('/api/build', { project }))} disabled={isBuilding}>
            Start build
          </button>
          <button onClick={reset} className="ghost">
            Reset
          </button>
        </div>
      </div>
      {!progress ? (
        <p className="muted">No build yet. Start one.</p>
      ) : (
        <>
          <div className="row small">
            <span data-testid="build-step">
              {progress.currentStep !== undefined && progress.totalSteps !== undefined
                ? `Step ${progress.currentStep} of ${progress.totalSteps}: `
                : ''}
              {progress.step}
            </span>
            <span data-testid="build-percent">{pct}%</span>
          </div>
          <div className={`bar ${isFailed ? 'failed' : isComplete ? 'complete' : ''}`}>
            <div style={{ width: `${pct}%` }} />
          </div>
          <p className="small">
            {isComplete ? '✔ ' : isFailed ? '✘ ' : ''}
            {progress.message}
          </p>
          <ol className="steps small">
            {[...steps.values()].map((e) => (
              <li key={String(e.currentStep ?? e.step)} className={`step-${e.status}`}>
                {e.step} <span className="muted">— {e.message ?? e.status}</span>
              </li>
            ))}
          </ol>
        </>
      )}
      {error && <div className="error small">{error}</div>}
    </section>
  )
}
