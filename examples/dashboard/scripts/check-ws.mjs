// Checks a running dashboard (`npm start`) from Node, through the same-origin rewrite:
//   node scripts/check-ws.mjs [http://127.0.0.1:3100]
//
// 1. GET /api/ws (the route handler) returns { hub, presence, stats }.
// 2. socket.io-client on /api/ws/ (rewritten to the hub), with polling only, polling upgraded to
//    websocket, and websocket only, receives service:status events.
// 3. The package's WebSocketClient (allowServer) joins the project room, receives service:status,
//    logs:stream, and the build:progress of a build started with POST /api/build, and the
//    service:status of a restart started with POST /api/services/redis/restart.
// Exits 0 when all pass.

import { io } from 'socket.io-client'
import { WebSocketClient } from 'nself-realtime/client'

const base = process.argv[2] ?? 'http://127.0.0.1:3100'
const ROOM = 'project-demo'
let failed = 0
const ok = (what) => console.log(`ok   ${what}`)
const fail = (what) => {
  failed += 1
  console.log(`FAIL ${what}`)
}
const withTimeout = (p, ms, what) =>
  Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error(`timeout after ${ms} ms: ${what}`)), ms))])

// 1. the route handler
{
  const res = await fetch(`${base}/api/ws`)
  const json = await res.json()
  if (res.status === 200 && json.hub?.path === '/api/ws' && Array.isArray(json.presence) && typeof json.stats?.connections === 'number') {
    ok(`GET /api/ws -> hub ${json.hub.url}${json.hub.path} epoch ${json.hub.epoch}, ${json.stats.eventsEmitted} events emitted`)
  } else fail(`GET /api/ws -> ${res.status} ${JSON.stringify(json).slice(0, 200)}`)
}

// 2. plain socket.io-client through the rewrite
for (const transports of [['polling'], ['polling', 'websocket'], ['websocket']]) {
  const socket = io(base, { path: '/api/ws', transports, reconnection: false })
  try {
    const env = await withTimeout(new Promise((resolve) => socket.on('service:status', resolve)), 10_000, 'service:status')
    const transport = socket.io.engine.transport.name
    ok(`socket.io-client [${transports}] via ${transport}: service:status ${env.data.service} ${env.data.status}`)
  } catch (err) {
    fail(`socket.io-client [${transports}]: ${err.message}`)
  } finally {
    socket.close()
  }
}

// 3. the package's client
const client = new WebSocketClient(base, { allowServer: true })
client.connect()
try {
  await withTimeout(new Promise((resolve) => client.onStatusChange((s) => s.connected && resolve())), 10_000, 'connect')
  await client.joinRoom(ROOM)
  ok(`WebSocketClient connected (socket ${client.id}) and joined ${ROOM}`)
  client.setPresence({ page: 'check-ws' })

  const log = await withTimeout(new Promise((resolve) => client.on('logs:stream', resolve)), 10_000, 'logs:stream')
  ok(`logs:stream (room) ${log.service}: ${log.line.slice(0, 60)}`)

  const seen = new Set()
  const done = new Promise((resolve, reject) =>
    client.on('build:progress', (d) => {
      seen.add(d.currentStep)
      if (d.status === 'complete') resolve(d)
      if (d.status === 'failed') reject(new Error(d.message))
    }),
  )
  const res = await fetch(`${base}/api/build`, { method: 'POST' })
  if (res.status === 409) console.log('     (a build was already running; following it)')
  const last = await withTimeout(done, 20_000, 'build complete')
  ok(`POST /api/build -> build:progress steps ${[...seen].join(',')} then ${last.status} ${last.progress}%`)

  const states = []
  const restarted = new Promise((resolve) =>
    client.on('service:status', (d) => {
      if (d.service !== 'redis') return
      states.push(d.status)
      if (states.includes('stopping') && d.status === 'running') resolve()
    }),
  )
  const r2 = await fetch(`${base}/api/services/redis/restart`, { method: 'POST' })
  if (r2.status !== 200) throw new Error(`restart -> ${r2.status} ${await r2.text()}`)
  await withTimeout(restarted, 10_000, 'redis back to running')
  ok(`POST /api/services/redis/restart -> service:status ${states.join(' -> ')}`)

  const presence = await (await fetch(`${base}/api/ws`)).json()
  const me = presence.presence.find((p) => p.socketId === client.id)
  if (me?.rooms.includes(ROOM) && me.state?.page === 'check-ws') ok(`GET /api/ws presence lists this client in ${ROOM} with state ${JSON.stringify(me.state)}`)
  else fail(`presence does not list this client: ${JSON.stringify(presence.presence)}`)
} catch (err) {
  fail(`WebSocketClient: ${err.message}`)
} finally {
  client.disconnect()
}

console.log(failed ? `${failed} check(s) failed` : 'all checks passed')
process.exit(failed ? 1 : 0)
