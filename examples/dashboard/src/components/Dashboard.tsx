'use client'
import { WebSocketClient } from '@/lib/websocket/client'
import { RealtimeProvider } from '@/hooks/useWebSocket'
import { PROJECTS, SERVICES, projectRoom, type ProjectName } from '@/lib/stack'
import { post } from './actions'
import { BuildPanel } from './BuildPanel'
import { ConnectionBadge } from './ConnectionBadge'
import { DeployPanel } from './DeployPanel'
import { DockerStats } from './DockerStats'
import { LogViewer } from './LogViewer'
import { QueryRunner } from './QueryRunner'
import { ServiceCard } from './ServiceCard'
import { Viewers } from './Viewers'

let direct: WebSocketClient | undefined

/**
 * The page. With `realtimeUrl` the hooks use a client of that URL (the hub's own port, which must
 * allow this page's origin); without it, the page's default client (this origin, `/api/ws`).
 */
export function Dashboard({ project, realtimeUrl }: { project: ProjectName; realtimeUrl?: string }) {
  if (!realtimeUrl) return <Page project={project} />
  direct ??= new WebSocketClient(realtimeUrl)
  return (
    <RealtimeProvider client={direct}>
      <Page project={project} />
    </RealtimeProvider>
  )
}

function Page({ project }: { project: ProjectName }) {
  return (
    <main>
      <header className="row">
        <div>
          <h1>nself dashboard</h1>
          <div className="demo-label">Demo data: a simulated nself stack, no Docker attached</div>
        </div>
        <nav className="projects small" data-testid="projects" aria-label="Project">
          {PROJECTS.map((p) => (
            // A full page load: the page joins the new project's room and leaves the old one.
            <a key={p} href={`/?project=${p}`} className={p === project ? 'tab active' : 'tab'} aria-current={p === project ? 'page' : undefined}>
              {p}
            </a>
          ))}
          <span className="muted" data-testid="project-room">
            room {projectRoom(project)}
          </span>
        </nav>
        <div className="row gap">
          <Viewers room={projectRoom(project)} page={`/?project=${project}`} />
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
        <BuildPanel project={project} />
        <LogViewer project={project} />
      </div>
      <DeployPanel project={project} />
      <DockerStats />
      <QueryRunner project={project} />
    </main>
  )
}
