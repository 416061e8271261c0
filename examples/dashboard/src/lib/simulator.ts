// A simulated nself stack (postgres, hasura, auth, minio, redis, nginx, functions) that drives the
// dashboard when no real stack is attached. Every number is a random walk: this is demo data.
//
// Server only. Its state lives on globalThis, because Next.js bundles instrumentation and each
// route handler separately: a module-level variable would not be shared between them.
//
// Targets: service:status and docker:stats go to everyone; logs, build and deploy progress go to
// a project's room (`project-<name>`, which the page of that project joins). The stack's own log
// lines go to every project's room; builds, deploys and log bursts to the project that asked.

import { randomBytes } from 'node:crypto'
import {
  emitBuildProgress,
  emitDeployProgress,
  emitDockerStats,
  emitLogStream,
  emitServiceStatus,
} from '@/lib/websocket/emitters'
import type { HealthState, LogLevel, LogSource, ServiceState } from '@/lib/websocket/events'
import { BUILD_STEPS, PROJECTS, SERVICES, containerName, projectRoom, type ProjectName, type ServiceName } from '@/lib/stack'

type Environment = 'local' | 'staging' | 'production'

const MiB = 1024 * 1024
const now = () => new Date().toISOString()
const rand = (min: number, max: number) => min + Math.random() * (max - min)
const randInt = (min: number, max: number) => Math.floor(rand(min, max + 1))
const pick = <T,>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)]
const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v))
const round = (v: number, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface Service {
  name: ServiceName
  image: string
  limit: number
  mem: number
  cpu: number
  containerId: string
  status: ServiceState
  health: HealthState
  lastCheck: string
  cpuNow: number
  memNow: number
  rx: number
  tx: number
  read: number
  write: number
}

const PROFILE: Record<ServiceName, { image: string; limit: number; mem: number; cpu: number }> = {
  postgres: { image: 'postgres:16-alpine', limit: 2048 * MiB, mem: 180 * MiB, cpu: 3 },
  hasura: { image: 'hasura/graphql-engine:v2.44.0', limit: 1024 * MiB, mem: 240 * MiB, cpu: 2 },
  auth: { image: 'nhost/hasura-auth:0.36.0', limit: 512 * MiB, mem: 70 * MiB, cpu: 0.5 },
  minio: { image: 'minio/minio:latest', limit: 1024 * MiB, mem: 110 * MiB, cpu: 0.8 },
  redis: { image: 'redis:7-alpine', limit: 256 * MiB, mem: 12 * MiB, cpu: 0.3 },
  nginx: { image: 'nginx:1.27-alpine', limit: 256 * MiB, mem: 9 * MiB, cpu: 0.2 },
  functions: { image: 'nself/functions:latest', limit: 512 * MiB, mem: 95 * MiB, cpu: 1 },
}

export interface Simulator {
  restart(name: ServiceName): Promise<boolean>
  /** Starts a build of `project`; false while one runs. */
  build(project: ProjectName): boolean
  /** Starts a deploy of `project` to `environment`; false while one runs. */
  deploy(environment: Environment, project: ProjectName): boolean
  /** Emits `count` numbered log lines of `service` at once (`burst 1/500`, …), in order. */
  burst(service: ServiceName, count: number, project: ProjectName): void
  stop(): void
}

/** Logs a rejected payload (a bug in this simulator) instead of taking the process down. */
function send(what: string, fn: () => void) {
  try {
    fn()
  } catch (err) {
    const e = err as { code?: string; message?: string }
    if (e.code !== 'ERR_HUB_NOT_RUNNING') console.error(`[simulator] ${what} rejected: ${e.code} ${e.message}`)
  }
}

function create(): Simulator {
  const services: Service[] = SERVICES.map((name) => ({
    name,
    ...PROFILE[name],
    containerId: randomBytes(6).toString('hex'),
    status: 'stopped',
    health: 'pending',
    lastCheck: now(),
    cpuNow: PROFILE[name].cpu,
    memNow: PROFILE[name].mem,
    rx: randInt(1, 50) * MiB,
    tx: randInt(1, 20) * MiB,
    read: randInt(5, 80) * MiB,
    write: randInt(1, 40) * MiB,
  }))
  const byName = new Map(services.map((s) => [s.name, s]))
  const timers = new Set<NodeJS.Timeout>()
  let stopped = false
  const busy = new Set<string>() // `build:<project>`, `deploy:<project>:<environment>`
  let buildNo = 0

  const every = (ms: number, fn: () => void) => {
    const t = setInterval(fn, ms)
    t.unref()
    timers.add(t)
  }

  function status(s: Service) {
    send('service:status', () =>
      emitServiceStatus({
        service: s.name,
        status: s.status,
        timestamp: now(),
        containerId: s.containerId,
        image: s.image,
        demo: true,
        health: { status: s.health, lastCheck: s.lastCheck },
        resources: { cpu: round(s.status === 'running' ? s.cpuNow : 0), memory: Math.round(s.memNow) },
      }),
    )
  }

  function log(s: Service, level: LogLevel, source: LogSource, line: string, projects: readonly ProjectName[] = PROJECTS) {
    const timestamp = now()
    for (const p of projects) send('logs:stream', () => emitLogStream({ service: s.name, line, timestamp, level, source }, projectRoom(p)))
  }

  function burst(name: ServiceName, count: number, project: ProjectName) {
    const s = byName.get(name)
    if (!s) return
    // Not through send(): a hub that is down should fail the request, not be logged and ignored.
    const room = projectRoom(project)
    for (let i = 1; i <= count; i++) {
      emitLogStream({ service: s.name, line: `burst ${i}/${count}`, timestamp: now(), level: 'info', source: 'stdout' }, room)
    }
  }

  async function boot(s: Service, delay: number) {
    await sleep(delay)
    if (stopped) return
    s.status = 'starting'
    s.health = 'pending'
    s.lastCheck = now()
    status(s)
    log(s, 'info', 'stdout', `${s.name}: starting container ${containerName(s.name)} (${s.image})`)
    await sleep(randInt(800, 2000))
    if (stopped) return
    s.status = 'running'
    s.health = 'healthy'
    s.lastCheck = now()
    s.cpuNow = s.cpu * 3
    status(s)
    log(s, 'info', 'stdout', READY[s.name])
  }

  async function restart(name: ServiceName) {
    const s = byName.get(name)
    if (!s || s.status === 'starting' || s.status === 'stopping' || stopped) return false
    s.status = 'stopping'
    s.lastCheck = now()
    status(s)
    log(s, 'warn', 'stderr', `${s.name}: received SIGTERM, shutting down`)
    await sleep(randInt(600, 1200))
    if (stopped) return false
    s.status = 'stopped'
    status(s)
    s.memNow = s.mem * 0.4
    void boot(s, 300)
    return true
  }

  function statsTick() {
    for (const s of services) {
      if (s.status === 'stopped') continue
      const up = s.status === 'running'
      s.cpuNow = up ? clamp(s.cpuNow + rand(-1, 1) * s.cpu * 0.5 + (s.cpu - s.cpuNow) * 0.2, 0, 400) : 0
      s.memNow = clamp(s.memNow + rand(-1, 1) * s.mem * 0.03 + (s.mem - s.memNow) * 0.05, MiB, s.limit)
      if (up) {
        s.rx += Math.round(rand(0.2, 6) * 1024)
        s.tx += Math.round(rand(0.2, 6) * 1024)
        s.read += Math.random() < 0.3 ? Math.round(rand(4, 256) * 1024) : 0
        s.write += s.name === 'postgres' || s.name === 'minio' ? Math.round(rand(8, 512) * 1024) : 0
      }
      const memory = Math.round(s.memNow)
      send('docker:stats', () =>
        emitDockerStats({
          containerId: s.containerId,
          containerName: containerName(s.name),
          timestamp: now(),
          stats: {
            cpu: round(s.cpuNow),
            memory,
            memoryLimit: s.limit,
            memoryPercent: round((memory / s.limit) * 100),
            network: { rx: s.rx, tx: s.tx },
            blockIO: { read: s.read, write: s.write },
          },
        }),
      )
    }
  }

  function healthTick() {
    for (const s of services) {
      if (s.status === 'running') {
        // Now and then a health check fails, and recovers at the next one.
        s.health = Math.random() < 0.04 ? 'unhealthy' : 'healthy'
        s.lastCheck = now()
      }
      status(s)
    }
  }

  function logTick() {
    const running = services.filter((s) => s.status === 'running')
    if (running.length === 0) return
    const s = pick(running)
    const [level, source, line] = logLine(s.name)
    log(s, level, source, line)
  }

  function build(project: ProjectName) {
    const key = `build:${project}`
    if (busy.has(key) || stopped) return false
    busy.add(key)
    buildNo += 1
    const buildId = `${project}-build-${buildNo}`
    const room = projectRoom(project)
    void (async () => {
      const total = BUILD_STEPS.length
      try {
        for (let i = 1; i <= total; i++) {
          const step = BUILD_STEPS[i - 1]
          for (const part of [0, 0.5]) {
            if (stopped) return
            send('build:progress', () =>
              emitBuildProgress(
                {
                  buildId,
                  step,
                  progress: Math.round(((i - 1 + part) / total) * 100),
                  status: 'in-progress',
                  message: part === 0 ? `${step}…` : `${step}: ${pick(['ok', 'done', 'cached', 'up to date'])}`,
                  timestamp: now(),
                  totalSteps: total,
                  currentStep: i,
                  logs: [`[${i}/${total}] ${step}`],
                },
                room,
              ),
            )
            await sleep(randInt(300, 700))
          }
        }
        send('build:progress', () =>
          emitBuildProgress(
            {
              buildId,
              step: BUILD_STEPS[total - 1],
              progress: 100,
              status: 'complete',
              message: `${buildId} complete`,
              timestamp: now(),
              totalSteps: total,
              currentStep: total,
            },
            room,
          ),
        )
      } finally {
        busy.delete(key)
      }
    })()
    return true
  }

  function deploy(environment: Environment, project: ProjectName) {
    const key = `deploy:${project}:${environment}`
    if (busy.has(key) || stopped) return false
    busy.add(key)
    const room = projectRoom(project)
    const host = environment === 'local' ? 'localhost' : `${environment}.nself.example`
    const stages: [string, string][] = [
      ['prepare', `Resolving target ${host}`],
      ['sync', 'Uploading docker-compose.yml and .env'],
      ['migrate', 'hasura migrate apply --database-name default'],
      ['restart', 'docker compose up -d --remove-orphans'],
      ['verify', `GET https://${host}/healthz 200`],
    ]
    const failAt = environment === 'production' && Math.random() < 0.15 ? randInt(2, stages.length) : 0
    void (async () => {
      const logs: string[] = []
      try {
        for (let i = 0; i < stages.length; i++) {
          if (stopped) return
          const [stage, line] = stages[i]
          logs.push(line)
          send('deploy:progress', () =>
            emitDeployProgress(
              { stage, environment, status: 'in-progress', logs: [line], progress: Math.round((i / stages.length) * 100), timestamp: now() },
              room,
            ),
          )
          await sleep(randInt(500, 1000))
          if (i + 1 === failAt) {
            send('deploy:progress', () =>
              emitDeployProgress(
                { stage, environment, status: 'failed', logs, progress: Math.round(((i + 0.5) / stages.length) * 100), timestamp: now(), error: `${stage} failed: exit code 1 (simulated)` },
                room,
              ),
            )
            return
          }
        }
        send('deploy:progress', () =>
          emitDeployProgress({ stage: 'done', environment, status: 'complete', logs, progress: 100, timestamp: now() }, room),
        )
      } finally {
        busy.delete(key)
      }
    })()
    return true
  }

  // Start-up: like `nself start`, the services come up one after the other.
  services.forEach((s, i) => void boot(s, 200 * i))
  every(1000, statsTick)
  every(3000, healthTick)
  every(400, logTick)

  return {
    restart,
    build,
    deploy,
    burst,
    stop() {
      stopped = true
      for (const t of timers) clearInterval(t)
      timers.clear()
    },
  }
}

const KEY = Symbol.for('nself-dashboard.simulator')
type Global = typeof globalThis & { [KEY]?: Simulator }

/** The process's simulator, created on first use. */
export function getSimulator(): Simulator {
  const g = globalThis as Global
  return (g[KEY] ??= create())
}

export function stopSimulator() {
  const g = globalThis as Global
  g[KEY]?.stop()
  delete g[KEY]
}

const READY: Record<ServiceName, string> = {
  postgres: 'LOG:  database system is ready to accept connections',
  hasura: '{"type":"startup","level":"info","detail":{"kind":"server_configuration","info":{"port":8080}}}',
  auth: 'hasura-auth listening on :4000',
  minio: 'MinIO Object Storage Server  API: http://172.18.0.5:9000',
  redis: '1:M * Ready to accept connections tcp',
  nginx: 'nginx: [notice] start worker processes',
  functions: 'functions: loaded 4 functions, listening on :3000',
}

const ROUTES = ['/v1/graphql', '/v1/auth/token', '/v1/storage/files', '/v1/functions/hello', '/console']
const OPS = ['GetServices', 'ListProjects', 'UpdateProfile', 'InsertEvent', 'GetDeployments']

function logLine(name: ServiceName): [LogLevel, LogSource, string] {
  const ms = randInt(1, 180)
  const hex = () => randomBytes(4).toString('hex')
  switch (name) {
    case 'postgres':
      return pick<[LogLevel, LogSource, string]>([
        ['info', 'stderr', `LOG:  duration: ${rand(0.1, 40).toFixed(3)} ms  statement: SELECT id, name FROM public.projects WHERE owner_id = $1`],
        ['info', 'stderr', 'LOG:  checkpoint starting: time'],
        ['debug', 'stderr', 'DEBUG:  autovacuum: processing database "nself"'],
        ['error', 'stderr', 'ERROR:  duplicate key value violates unique constraint "users_email_key"'],
      ])
    case 'hasura':
      return pick<[LogLevel, LogSource, string]>([
        ['info', 'stdout', `{"type":"http-log","level":"info","detail":{"operation":{"query":{"operationName":"${pick(OPS)}"}},"http_info":{"status":200},"query_execution_time":${(ms / 1000).toFixed(4)}}}`],
        ['warn', 'stdout', '{"type":"metadata","level":"warn","detail":"inconsistent object: relationship \\"owner\\" on table \\"projects\\""}'],
      ])
    case 'auth':
      return pick<[LogLevel, LogSource, string]>([
        ['info', 'stdout', `POST /signin/email-password 200 ${ms}ms`],
        ['warn', 'stdout', `POST /signin/email-password 401 ${ms}ms invalid-email-password`],
        ['debug', 'stdout', `refresh token rotated for user ${hex()}`],
      ])
    case 'minio':
      return pick<[LogLevel, LogSource, string]>([
        ['info', 'stdout', `API: PutObject(bucket=default, object=uploads/${hex()}.png) 200 ${ms}ms`],
        ['warn', 'stderr', 'API: SYSTEM() Scanner: disk usage above 80% on /data'],
      ])
    case 'redis':
      return pick<[LogLevel, LogSource, string]>([
        ['info', 'stdout', '1:M * 100 changes in 300 seconds. Saving...'],
        ['info', 'stdout', '1:M * Background saving terminated with success'],
      ])
    case 'nginx': {
      const code = pick([200, 200, 200, 204, 304, 404, 502])
      if (code === 502) return ['error', 'stderr', `[error] upstream prematurely closed connection, upstream: "http://172.18.0.4:8080${pick(ROUTES)}"`]
      return [code >= 400 ? 'warn' : 'info', 'stdout', `172.18.0.1 - - "${pick(['GET', 'POST'])} ${pick(ROUTES)} HTTP/1.1" ${code} ${randInt(90, 9000)}`]
    }
    case 'functions':
      return pick<[LogLevel, LogSource, string]>([
        ['info', 'stdout', `GET /hello 200 ${ms}ms`],
        ['debug', 'stdout', `cold start: hello.ts compiled in ${randInt(80, 400)}ms`],
        ['error', 'stderr', "TypeError: Cannot read properties of undefined (reading 'id') at handler (webhooks/stripe.ts:14:22)"],
      ])
  }
}
