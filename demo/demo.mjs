// A simulated nself stack feeding a real nself-realtime hub.
//
//   npm run demo                 (builds the addon, then runs this file)
//   PORT=3030 node demo/demo.mjs
//   node demo/watch.mjs --room project-demo     (in another terminal)
//
// Seven services (postgres, hasura, auth, minio, redis, nginx, functions) produce all six event
// types of SPEC §4 with plausible values. Nothing here talks to Docker: every number is a random
// walk. Ctrl-C (SIGINT) or SIGTERM stops the hub with `await stopHub()` and exits 0.

import { createRequire } from 'node:module'
import { randomBytes } from 'node:crypto'
import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const hub = createRequire(import.meta.url)('../index.js')

const HOST = '127.0.0.1'
const ROOM = 'project-demo'
const BUILD_EVERY_MS = 30_000
const FIRST_BUILD_AFTER_MS = 2_000

// Which events go where. The watcher without `--room` sees only the broadcast ones.
const TARGET = {
  'service:status': null, // broadcast: every dashboard shows the stack's health
  'docker:stats': null, // broadcast
  'logs:stream': ROOM,
  'build:progress': ROOM,
  'deploy:progress': ROOM,
  'db:query:result': ROOM,
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const tty = process.stdout.isTTY && !process.env.NO_COLOR
const paint = (code) => (s) => (tty ? `\x1b[${code}m${s}\x1b[0m` : String(s))
const bold = paint('1')
const dim = paint('2')
const green = paint('32')
const yellow = paint('33')
const red = paint('31')
const cyan = paint('36')

const now = () => new Date().toISOString()
const rand = (min, max) => min + Math.random() * (max - min)
const randInt = (min, max) => Math.floor(rand(min, max + 1))
const pick = (list) => list[Math.floor(Math.random() * list.length)]
const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v))
const round = (v, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const hex = (bytes) => randomBytes(bytes).toString('hex')
const MiB = 1024 * 1024

function parsePort(raw) {
  if (raw === undefined || raw === '') return 3022
  const port = Number(raw)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(red(`PORT must be an integer from 0 to 65535, got ${JSON.stringify(raw)}`))
    process.exit(2)
  }
  return port
}

// ---------------------------------------------------------------------------------------------
// The simulated stack

/** name, image, memory limit, resting memory, resting cpu % */
const SERVICES = [
  { name: 'postgres', image: 'postgres:16-alpine', limit: 2048 * MiB, mem: 180 * MiB, cpu: 3 },
  { name: 'hasura', image: 'hasura/graphql-engine:v2.44.0', limit: 1024 * MiB, mem: 240 * MiB, cpu: 2 },
  { name: 'auth', image: 'nhost/hasura-auth:0.36.0', limit: 512 * MiB, mem: 70 * MiB, cpu: 0.5 },
  { name: 'minio', image: 'minio/minio:RELEASE.2025-04-22T22-12-26Z', limit: 1024 * MiB, mem: 110 * MiB, cpu: 0.8 },
  { name: 'redis', image: 'redis:7-alpine', limit: 256 * MiB, mem: 12 * MiB, cpu: 0.3 },
  { name: 'nginx', image: 'nginx:1.27-alpine', limit: 256 * MiB, mem: 9 * MiB, cpu: 0.2 },
  { name: 'functions', image: 'nself/functions:latest', limit: 512 * MiB, mem: 95 * MiB, cpu: 1 },
].map((s) => ({
  ...s,
  containerId: hex(32),
  containerName: `nself_${s.name}`,
  status: 'stopped',
  health: 'pending',
  lastCheck: now(),
  cpuNow: s.cpu,
  memNow: s.mem,
  rx: randInt(1, 50) * MiB,
  tx: randInt(1, 20) * MiB,
  read: randInt(5, 80) * MiB,
  write: randInt(1, 40) * MiB,
}))

// ---------------------------------------------------------------------------------------------
// Emitting

const counts = Object.fromEntries(Object.keys(TARGET).map((t) => [t, 0]))
let stopping = false
const timers = new Set()

function every(ms, fn) {
  const t = setInterval(fn, ms)
  timers.add(t)
  return t
}
function after(ms, fn) {
  const t = setTimeout(() => {
    timers.delete(t)
    fn()
  }, ms)
  timers.add(t)
  return t
}

const EMITTERS = {
  'service:status': hub.emitServiceStatus,
  'docker:stats': hub.emitDockerStats,
  'logs:stream': hub.emitLogStream,
  'build:progress': hub.emitBuildProgress,
  'deploy:progress': hub.emitDeployProgress,
  'db:query:result': hub.emitDbQueryResult,
}

/** Emits one typed event to its target; a rejected payload is a bug in this demo, so say so. */
function send(type, data) {
  if (stopping) return
  const room = TARGET[type]
  try {
    if (room) EMITTERS[type](data, room)
    else EMITTERS[type](data)
    counts[type] += 1
  } catch (err) {
    console.error(red(`${type} rejected: ${err.code} ${err.message}`))
  }
}

function serviceStatus(s) {
  send('service:status', {
    service: s.name,
    status: s.status,
    timestamp: now(),
    containerId: s.containerId.slice(0, 12),
    image: s.image, // extra fields pass through unchanged
    health: { status: s.health, lastCheck: s.lastCheck },
    resources: { cpu: round(s.status === 'running' ? s.cpuNow : 0), memory: Math.round(s.memNow) },
  })
}

// --- service:status, start-up and restarts ---------------------------------------------------

async function bootService(s, delay) {
  await sleep(delay)
  if (stopping) return
  s.status = 'starting'
  s.health = 'pending'
  s.lastCheck = now()
  serviceStatus(s)
  log(s, 'info', 'stdout', startLine(s))
  await sleep(randInt(600, 1800))
  if (stopping) return
  s.status = 'running'
  s.health = 'healthy'
  s.lastCheck = now()
  s.cpuNow = s.cpu * 3 // a warm-up spike
  serviceStatus(s)
}

async function restartService(s) {
  if (s.status !== 'running' || stopping) return
  console.log(dim(`${clock()} simulating a restart of ${s.name}`))
  s.status = 'stopping'
  s.lastCheck = now()
  serviceStatus(s)
  log(s, 'warn', 'stderr', stopLine(s))
  await sleep(randInt(500, 1200))
  if (stopping) return
  s.memNow = s.mem * 0.4
  await bootService(s, 0)
}

function startLine(s) {
  return {
    postgres: 'LOG:  database system is ready to accept connections',
    hasura: '{"type":"startup","level":"info","detail":{"kind":"server_configuration","info":{"port":8080}}}',
    auth: 'hasura-auth listening on :4000',
    minio: 'MinIO Object Storage Server  API: http://172.18.0.5:9000',
    redis: '1:M * Ready to accept connections tcp',
    nginx: 'nginx: [notice] start worker processes',
    functions: 'functions: loaded 4 functions, listening on :3000',
  }[s.name]
}

function stopLine(s) {
  return {
    postgres: 'LOG:  received fast shutdown request',
    hasura: '{"type":"shutdown","level":"warn","detail":"received SIGTERM, draining connections"}',
    auth: 'received SIGTERM, shutting down',
    minio: 'Exiting on signal: TERMINATED',
    redis: '1:signal-handler Received SIGTERM scheduling shutdown...',
    nginx: 'nginx: [notice] signal 15 (SIGTERM) received, exiting',
    functions: 'functions: SIGTERM, closing server',
  }[s.name]
}

// --- docker:stats, one per container per second ---------------------------------------------

function dockerStatsTick() {
  for (const s of SERVICES) {
    if (s.status === 'stopped') continue
    const up = s.status === 'running'
    // Random walks pulled back towards each service's resting level.
    s.cpuNow = up ? clamp(s.cpuNow + rand(-1, 1) * s.cpu * 0.5 + (s.cpu - s.cpuNow) * 0.2, 0, 400) : 0
    s.memNow = clamp(s.memNow + rand(-1, 1) * s.mem * 0.02 + (s.mem - s.memNow) * 0.05, MiB, s.limit)
    if (up) {
      s.rx += Math.round(rand(0.2, 6) * 1024 * (s.name === 'nginx' ? 20 : 1))
      s.tx += Math.round(rand(0.2, 6) * 1024 * (s.name === 'nginx' ? 25 : 1))
      s.read += Math.random() < 0.3 ? Math.round(rand(4, 256) * 1024) : 0
      s.write += s.name === 'postgres' || s.name === 'minio' ? Math.round(rand(8, 512) * 1024) : 0
    }
    const memory = Math.round(s.memNow)
    send('docker:stats', {
      containerId: s.containerId.slice(0, 12),
      containerName: s.containerName,
      timestamp: now(),
      stats: {
        cpu: round(s.cpuNow),
        memory,
        memoryLimit: s.limit,
        memoryPercent: round((memory / s.limit) * 100),
        network: { rx: s.rx, tx: s.tx },
        blockIO: { read: s.read, write: s.write },
      },
    })
  }
}

// --- logs:stream, a few lines a second -------------------------------------------------------

const ROUTES = ['/v1/graphql', '/v1/auth/token', '/v1/storage/files', '/v1/functions/hello', '/console']
const OPS = ['GetServices', 'ListProjects', 'UpdateProfile', 'InsertEvent', 'GetDeployments']
const BUCKETS = ['default', 'avatars', 'backups']

function logLine(s) {
  const ms = randInt(1, 180)
  switch (s.name) {
    case 'postgres':
      return pick([
        ['info', 'stderr', `LOG:  duration: ${rand(0.1, 40).toFixed(3)} ms  statement: SELECT id, name FROM public.projects WHERE owner_id = $1`],
        ['info', 'stderr', 'LOG:  checkpoint starting: time'],
        ['info', 'stderr', `LOG:  checkpoint complete: wrote ${randInt(3, 400)} buffers (${rand(0, 3).toFixed(1)}%); 0 WAL file(s) added`],
        ['info', 'stderr', `LOG:  automatic vacuum of table "nself.public.events": index scans: 1`],
        ['error', 'stderr', 'ERROR:  duplicate key value violates unique constraint "users_email_key"'],
      ])
    case 'hasura':
      return pick([
        ['info', 'stdout', `{"type":"http-log","level":"info","detail":{"operation":{"query":{"operationName":"${pick(OPS)}"},"request_mode":"single"},"http_info":{"status":200,"method":"POST","url":"/v1/graphql"},"query_execution_time":${(ms / 1000).toFixed(4)}}}`],
        ['info', 'stdout', '{"type":"websocket-log","level":"info","detail":{"event":{"type":"accepted"}}}'],
        ['warn', 'stdout', '{"type":"metadata","level":"warn","detail":"inconsistent object: relationship \\"owner\\" on table \\"projects\\""}'],
      ])
    case 'auth':
      return pick([
        ['info', 'stdout', `POST /signin/email-password 200 ${ms}ms`],
        ['info', 'stdout', `POST /token 200 ${ms}ms`],
        ['warn', 'stdout', `POST /signin/email-password 401 ${ms}ms invalid-email-password`],
        ['debug', 'stdout', `refresh token rotated for user ${hex(4)}-${hex(2)}`],
      ])
    case 'minio':
      return pick([
        ['info', 'stdout', `API: PutObject(bucket=${pick(BUCKETS)}, object=uploads/${hex(6)}.png) 200 ${ms}ms`],
        ['info', 'stdout', `API: GetObject(bucket=${pick(BUCKETS)}, object=uploads/${hex(6)}.png) 200 ${ms}ms`],
        ['warn', 'stderr', 'API: SYSTEM() Scanner: disk usage above 80% on /data'],
      ])
    case 'redis':
      return pick([
        ['info', 'stdout', '1:M * 100 changes in 300 seconds. Saving...'],
        ['info', 'stdout', `1:M * Background saving started by pid ${randInt(100, 999)}`],
        ['info', 'stdout', '1:M * Background saving terminated with success'],
      ])
    case 'nginx': {
      const status = pick([200, 200, 200, 200, 204, 304, 404, 502])
      const line = `172.18.0.1 - - [${new Date().toUTCString()}] "${pick(['GET', 'POST'])} ${pick(ROUTES)} HTTP/1.1" ${status} ${randInt(90, 9000)} "-" "Mozilla/5.0"`
      if (status === 502) return ['error', 'stderr', `[error] upstream prematurely closed connection while reading response header, upstream: "http://172.18.0.4:8080${pick(ROUTES)}"`]
      return [status >= 400 ? 'warn' : 'info', 'stdout', line]
    }
    case 'functions':
      return pick([
        ['info', 'stdout', `GET /hello 200 ${ms}ms`],
        ['info', 'stdout', `POST /webhooks/stripe 200 ${ms}ms`],
        ['debug', 'stdout', `cold start: hello.ts compiled in ${randInt(80, 400)}ms`],
        ['error', 'stderr', "TypeError: Cannot read properties of undefined (reading 'id') at handler (webhooks/stripe.ts:14:22)"],
      ])
  }
}

function log(s, level, source, line) {
  send('logs:stream', { service: s.name, line, timestamp: now(), level, source, containerId: s.containerId.slice(0, 12) })
}

function logTick() {
  const running = SERVICES.filter((s) => s.status === 'running')
  if (running.length === 0) return
  const s = pick(running)
  const [level, source, line] = logLine(s)
  log(s, level, source, line)
}

// --- build:progress then deploy:progress to staging ------------------------------------------

const BUILD_STEPS = [
  'Validate configuration',
  'Generate docker-compose.yml',
  'Generate nginx routes and SSL',
  'Build custom service images',
  'Apply database migrations',
  'Export Hasura metadata',
]
const DEPLOY_STAGES = [
  ['prepare', ['Resolving target staging.nself.example', 'SSH to deploy@10.0.2.15 ok']],
  ['sync', ['Uploading docker-compose.yml and .env.staging', 'Pushed 3 images (412 MB)']],
  ['migrate', ['Running hasura migrate apply --database-name default', 'Applied 2 migrations']],
  ['restart', ['docker compose up -d --remove-orphans', 'Recreated nself_hasura, nself_functions']],
  ['verify', ['GET https://staging.nself.example/healthz 200', 'All 7 services healthy']],
]
let buildNo = 0
let busy = false

async function runBuild() {
  if (busy || stopping) return
  busy = true
  buildNo += 1
  const id = `build-${buildNo}`
  console.log(dim(`${clock()} ${id}: starting (build:progress, then deploy:progress to staging)`))
  const total = BUILD_STEPS.length
  const failAt = Math.random() < 0.1 ? randInt(3, total) : 0 // one build in ten fails
  for (let i = 1; i <= total; i++) {
    const step = BUILD_STEPS[i - 1]
    for (const part of [0, 0.5]) {
      if (stopping) return
      send('build:progress', {
        buildId: id,
        step,
        progress: Math.round(((i - 1 + part) / total) * 100),
        status: 'in-progress',
        message: part === 0 ? `${step}…` : `${step}: ${pick(['ok', 'done', 'cached', 'up to date'])}`,
        timestamp: now(),
        totalSteps: total,
        currentStep: i,
        logs: [`[${i}/${total}] ${step}`],
      })
      await sleep(randInt(300, 600))
    }
    if (i === failAt) {
      send('build:progress', {
        buildId: id,
        step,
        progress: Math.round(((i - 0.5) / total) * 100),
        status: 'failed',
        message: `${step} failed: exit code 1`,
        timestamp: now(),
        totalSteps: total,
        currentStep: i,
        logs: [`[${i}/${total}] ${step}`, 'error: process exited with code 1'],
      })
      console.log(yellow(`${clock()} ${id}: failed at step ${i}; no deploy`))
      busy = false
      return
    }
  }
  send('build:progress', {
    buildId: id,
    step: BUILD_STEPS[total - 1],
    progress: 100,
    status: 'complete',
    message: `Build complete in ${randInt(4, 9)}s`,
    timestamp: now(),
    totalSteps: total,
    currentStep: total,
  })
  await runDeploy(id)
  busy = false
}

async function runDeploy(buildId) {
  const environment = 'staging'
  for (let i = 0; i < DEPLOY_STAGES.length; i++) {
    const [stage, lines] = DEPLOY_STAGES[i]
    if (stopping) return
    send('deploy:progress', {
      buildId,
      stage,
      environment,
      status: 'in-progress',
      logs: lines.slice(0, 1),
      progress: Math.round((i / DEPLOY_STAGES.length) * 100),
      timestamp: now(),
    })
    await sleep(randInt(400, 800))
  }
  if (stopping) return
  send('deploy:progress', {
    buildId,
    stage: 'done',
    environment,
    status: 'complete',
    logs: DEPLOY_STAGES.flatMap(([, l]) => l),
    progress: 100,
    timestamp: now(),
  })
  console.log(dim(`${clock()} ${buildId}: deployed to ${environment}`))
}

// --- db:query:result -------------------------------------------------------------------------

// Postgres type OIDs (pg_type.oid), as node-postgres reports them in `fields[].dataTypeID`.
const OID = { bool: 16, int8: 20, int4: 23, text: 25, float8: 701, timestamptz: 1184, uuid: 2950, jsonb: 3802 }
let queryNo = 0

const QUERIES = [
  () => {
    const n = randInt(2, 5)
    return {
      sql: 'SELECT id, name, created_at FROM public.projects ORDER BY created_at DESC LIMIT 5',
      fields: [
        { name: 'id', dataTypeID: OID.int4 },
        { name: 'name', dataTypeID: OID.text },
        { name: 'created_at', dataTypeID: OID.timestamptz },
      ],
      rows: Array.from({ length: n }, (_, i) => ({
        id: 100 - i,
        name: pick(['acme-web', 'billing', 'docs', 'mobile-api', 'internal-tools']),
        created_at: new Date(Date.now() - i * 86_400_000 - randInt(0, 86_400_000)).toISOString(),
      })),
    }
  },
  () => ({
    sql: 'SELECT count(*) AS users FROM auth.users',
    fields: [{ name: 'users', dataTypeID: OID.int8 }],
    rows: [{ users: String(randInt(1200, 1300)) }], // node-postgres returns int8 as a string
  }),
  () => ({
    sql: "SELECT datname, numbackends, xact_commit, stats_reset FROM pg_stat_database WHERE datname = 'nself'",
    fields: [
      { name: 'datname', dataTypeID: 19 }, // name
      { name: 'numbackends', dataTypeID: OID.int4 },
      { name: 'xact_commit', dataTypeID: OID.int8 },
      { name: 'stats_reset', dataTypeID: OID.timestamptz },
    ],
    rows: [{ datname: 'nself', numbackends: randInt(4, 30), xact_commit: String(randInt(1e6, 2e6)), stats_reset: '2025-11-01T00:00:00.000Z' }],
  }),
  () => ({
    sql: 'SELECT id, email, email_verified, last_seen FROM auth.users ORDER BY last_seen DESC LIMIT 3',
    fields: [
      { name: 'id', dataTypeID: OID.uuid },
      { name: 'email', dataTypeID: OID.text },
      { name: 'email_verified', dataTypeID: OID.bool },
      { name: 'last_seen', dataTypeID: OID.timestamptz },
    ],
    rows: Array.from({ length: 3 }, () => ({
      id: `${hex(4)}-${hex(2)}-${hex(2)}-${hex(2)}-${hex(6)}`,
      email: `${pick(['ana', 'bo', 'chen', 'dev', 'eli'])}${randInt(1, 99)}@example.com`,
      email_verified: Math.random() < 0.8,
      last_seen: new Date(Date.now() - randInt(0, 3_600_000)).toISOString(),
    })),
  }),
]

function dbQueryTick() {
  queryNo += 1
  const q = pick(QUERIES)()
  const failed = Math.random() < 0.08
  send('db:query:result', {
    queryId: `q-${queryNo}`,
    sql: q.sql,
    rows: failed ? [] : q.rows,
    rowCount: failed ? 0 : q.rows.length,
    fields: failed ? [] : q.fields,
    executionTime: round(rand(0.3, 25)),
    timestamp: now(),
    ...(failed ? { error: 'canceling statement due to statement timeout' } : {}),
  })
}

// ---------------------------------------------------------------------------------------------
// Main

function clock() {
  return new Date().toTimeString().slice(0, 8)
}

function printBanner(info) {
  const url = `${info.url}${info.path}`
  const bcast = Object.keys(TARGET).filter((t) => !TARGET[t])
  const room = Object.keys(TARGET).filter((t) => TARGET[t])
  const watchUrl = info.url === 'http://127.0.0.1:3022' ? '' : ` ${info.url}`
  const watch = `node ${relative(process.cwd(), fileURLToPath(new URL('./watch.mjs', import.meta.url)))}`
  console.log(`
${bold('nself-realtime demo hub')}  ${green(url)}   (epoch ${info.epoch})
  simulated stack: ${SERVICES.map((s) => s.name).join(', ')}

  broadcast, to every client:          ${bcast.join(', ')}
  to room ${cyan(ROOM)} (members only): ${room.join(', ')}
  batched (sent as 'batch' packets):   logs:stream, docker:stats (hub default)
  a build every ${BUILD_EVERY_MS / 1000} s (first in ${FIRST_BUILD_AFTER_MS / 1000} s), then a deploy to staging; a random service restarts every ~20 s

Watch it from another terminal (same directory):
  ${bold(`${watch}${watchUrl} --room ${ROOM}`)}        all six event types
  ${bold(`${watch}${watchUrl}`)}                             broadcasts only
  ${bold(`${watch}${watchUrl} --room ${ROOM} --type logs:stream`)}   one type (repeat --type, or a,b)
  more: --transport polling|websocket, --raw (JSON envelopes), --help; URL also from REALTIME_URL

Ctrl-C stops the hub.
`)
}

async function main() {
  const port = parsePort(process.env.PORT)
  let info
  try {
    info = await hub.startHub({ host: HOST, port })
  } catch (err) {
    if (err.code === 'EADDRINUSE') {
      console.error(red(`Port ${port} on ${HOST} is already in use (another demo or hub is running?).`))
      console.error(`Pick another port, e.g.:  ${bold(`PORT=${port === 3030 ? 3031 : 3030} npm run demo`)}   or   PORT=0 for any free port`)
      console.error(`and then watch it with:   node demo/watch.mjs http://${HOST}:<port> --room ${ROOM}`)
      process.exit(1)
    }
    console.error(red(`startHub failed: ${err.code ?? ''} ${err.message}`))
    process.exit(1)
  }
  printBanner(info)

  // Stop cleanly on Ctrl-C / SIGTERM; a second signal exits at once.
  let signals = 0
  const shutdown = async (sig) => {
    signals += 1
    if (signals > 1) {
      console.error(red(`${sig} again: exiting without waiting`))
      process.exit(130)
    }
    stopping = true
    for (const t of timers) {
      clearInterval(t)
      clearTimeout(t)
    }
    timers.clear()
    const s = hub.getStats()
    console.log(`\n${clock()} ${sig}: stopping the hub (${s.connections} client(s) connected, ${s.eventsEmitted} events emitted)…`)
    try {
      await hub.stopHub()
      console.log(`${clock()} hub stopped; bye`)
      process.exit(0)
    } catch (err) {
      console.error(red(`stopHub failed: ${err.code ?? ''} ${err.message}`))
      process.exit(1)
    }
  }
  process.on('SIGINT', () => shutdown('SIGINT'))
  process.on('SIGTERM', () => shutdown('SIGTERM'))

  // Start-up: every service goes starting -> running, staggered like `nself start`.
  SERVICES.forEach((s, i) => bootService(s, 150 * i))

  every(1000, dockerStatsTick)
  const scheduleLog = () => after(randInt(150, 600), () => { logTick(); scheduleLog() })
  scheduleLog()
  after(FIRST_BUILD_AFTER_MS, runBuild)
  every(BUILD_EVERY_MS, runBuild)
  after(1500, dbQueryTick)
  every(4000, dbQueryTick)
  const scheduleRestart = () => after(randInt(15_000, 25_000), () => {
    const running = SERVICES.filter((s) => s.status === 'running')
    if (running.length > 0) restartService(pick(running))
    scheduleRestart()
  })
  scheduleRestart()

  // Once in a while, what the hub did.
  every(15_000, () => {
    const s = hub.getStats()
    const sent = Object.entries(counts).map(([t, n]) => `${t} ${n}`).join(', ')
    console.log(dim(`${clock()} clients ${s.connections} | emitted ${s.eventsEmitted} (${sent}) | packets ${s.packetsSent}, batches ${s.batchesSent}, dropped ${s.eventsDropped}`))
  })
}

main()
