'use client'
import { useState } from 'react'
import { useServiceStatus } from '@/hooks/useServiceStatus'
import { post } from './actions'

const MiB = 1024 * 1024

export function ServiceCard({ service }: { service: string }) {
  const { status } = useServiceStatus(service)
  const [error, setError] = useState<string | null>(null)
  const [pending, setPending] = useState(false)
  const state = status?.status ?? 'unknown'
  const health = status?.health?.status
  const restart = async () => {
    setPending(true)
    setError(await post(`/api/services/${encodeURIComponent(service)}/restart`))
    setPending(false)
  }
  return (
    <div className={`card service state-${state}`} data-testid={`service-${service}`} data-status={state}>
      <div className="row">
        <h3>{service}</h3>
        <span className={`pill state-${state}`}>{state}</span>
      </div>
      <div className="row small">
        <span>
          health: <b className={`health-${health ?? 'none'}`}>{health ?? '—'}</b>
        </span>
        {status?.resources && (
          <span className="muted">
            {status.resources.cpu?.toFixed(1) ?? '?'}% · {((status.resources.memory ?? 0) / MiB).toFixed(0)} MiB
          </span>
        )}
      </div>
      <div className="row small">
        <span className="muted" title={status?.timestamp}>
          {status ? new Date(status.timestamp).toLocaleTimeString() : 'waiting for status…'}
        </span>
        <button onClick={restart} disabled={pending || state === 'starting' || state === 'stopping'}>
          Restart
        </button>
      </div>
      {error && <div className="error small">{error}</div>}
    </div>
  )
}
