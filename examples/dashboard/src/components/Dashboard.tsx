'use client'
import { PROJECT_ROOM, SERVICES } from '@/lib/stack'
import { post } from './actions'
import { BuildPanel } from './BuildPanel'
import { ConnectionBadge } from './ConnectionBadge'
import { DeployPanel } from './DeployPanel'
import { DockerStats } from './DockerStats'
import { LogViewer } from './LogViewer'
import { QueryRunner } from './QueryRunner'
import { ServiceCard } from './ServiceCard'
import { Viewers } from './Viewers'

export function Dashboard() {
  return (
    <main>
      <header className="row">
        <div>
          <h1>nself dashboard</h1>
          <div className="demo-label">Demo data: a simulated nself stack, no Docker attached</div>
        </div>
        <div className="row gap">
          <Viewers room={PROJECT_ROOM} page="/" />
          <ConnectionBadge />
          <button className="ghost small" title="Stops the hub for 3 s, then starts it again" onClick={() => void post('/api/hub/restart', { downMs: 3000 })}>
            Restart hub
          </button>
        </div>
      </header>

      <section className="panel">
        <h2>Services</h2>
        <div className="services">
          {SERVICES.map((s) => (
            <ServiceCard key={s} service={s} />
          ))}
        </div>
      </section>

      <div className="grid2">
        <BuildPanel />
        <LogViewer />
      </div>
      <DeployPanel />
      <DockerStats />
      <QueryRunner />
    </main>
  )
}
