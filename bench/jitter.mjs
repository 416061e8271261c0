// Delivery under connection jitter, side by side (the delivery issue's benchmark): C clients in
// one room, each connection force-closed at random every 2-5 s for D seconds while the server
// emits 50 events/s to the room. Peers, each a server process (bench/jitter-server.mjs) driven
// by the same clients and the same jitter, one after the other in the same run:
//   nself          nself-realtime, history on, the package's WebSocketClient (recovery on)
//   nself-off      nself-realtime, history: false, client recovery off
//   socketio-csr   Node socket.io 4.8 with connectionStateRecovery, socket.io-client 4.8
//   socketio       Node socket.io 4.8 without it
// Reported per peer: delivery ratio (distinct events received / events x clients), duplicates,
// out-of-order deliveries, and delivery latency (receive - emit time; the tail is replays).
//   node bench/jitter.mjs [--clients 200] [--seconds 30] [--peers nself,nself-off,socketio-csr,socketio]
import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { cpus, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { io } from 'socket.io-client'
import { WebSocketClient } from '../dist/esm/client.js'

const here = dirname(fileURLToPath(import.meta.url))
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1] : fallback
}
const CLIENTS = Number(arg('clients', 200))
const SECONDS = Number(arg('seconds', 30))
const PEERS = arg('peers', 'nself,nself-off,socketio-csr,socketio').split(',')
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })

function startServer(peer, port) {
  const child = spawn(process.execPath, [join(here, 'jitter-server.mjs'), peer, String(port)], { stdio: ['pipe', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  const ready = new Promise((resolve, reject) => {
    const check = setInterval(() => out.includes('ready') && (clearInterval(check), resolve()), 20)
    child.once('exit', (code) => reject(new Error(`${peer} server exited (${code})`)))
  })
  const finish = () =>
    new Promise((resolve) => {
      child.stdin.write('stop\n')
      child.once('exit', () => resolve(JSON.parse(out.split('\n').find((l) => l.startsWith('{')) ?? '{"emitted":0}')))
    })
  return { ready, finish, go: () => child.stdin.write('go\n') }
}

/** One client of `peer`: `{ connect, forceClose, close, received }`. */
function makeClient(peer, url) {
  const received = []
  const onTick = (d) => received.push([d.n, Date.now() - d.t])
  if (peer.startsWith('nself')) {
    const c = new WebSocketClient(url, {
      allowServer: true,
      transports: ['websocket'],
      reconnectDelays: [200, 400, 800, 1600],
      jitter: 0.5,
      recovery: peer === 'nself',
    })
    c.on('tick', onTick)
    return {
      received,
      connect: async () => {
        c.connect()
        await c.joinRoom('jitter')
      },
      connected: () => c.isConnected(),
      forceClose: () => c.socket?.io?.engine?.close(),
      close: () => c.disconnect(),
    }
  }
  const s = io(url, {
    path: '/api/ws',
    transports: ['websocket'],
    forceNew: true,
    reconnectionDelay: 200,
    reconnectionDelayMax: 1600,
    randomizationFactor: 0.5,
  })
  s.on('tick', onTick)
  return {
    received,
    connect: () => new Promise((resolve) => (s.connected ? resolve() : s.once('connect', resolve))),
    connected: () => s.connected,
    forceClose: () => s.io.engine?.close(),
    close: () => s.close(),
  }
}

const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN)

async function run(peer) {
  const port = await freePort()
  const server = startServer(peer, port)
  await server.ready
  const url = `http://127.0.0.1:${port}`
  const clients = Array.from({ length: CLIENTS }, () => makeClient(peer, url))
  await Promise.all(clients.map((c) => c.connect()))
  await sleep(200) // socket.io joins its room in the connection handler, after connect
  server.go()
  let closes = 0
  let jittering = true
  const timers = clients.map((c) => {
    const timer = {}
    const next = () => {
      timer.ref = setTimeout(() => {
        if (!jittering) return
        if (c.connected()) {
          c.forceClose()
          closes += 1
        }
        next()
      }, 2000 + Math.random() * 3000)
    }
    next()
    return timer
  })
  await sleep(SECONDS * 1000)
  jittering = false
  for (const t of timers) clearTimeout(t.ref)
  const { emitted } = await server.finish()
  await sleep(3000)
  for (const c of clients) c.close()

  let distinct = 0
  let duplicates = 0
  let outOfOrder = 0
  const latencies = []
  for (const c of clients) {
    const seen = new Set()
    let last = 0
    for (const [n, latency] of c.received) {
      if (seen.has(n)) duplicates += 1
      else {
        seen.add(n)
        latencies.push(latency)
      }
      if (n < last) outOfOrder += 1
      last = Math.max(last, n)
    }
    distinct += [...seen].filter((n) => n <= emitted).length
    if (process.env.JITTER_DEBUG && seen.size < emitted) {
      const missing = []
      for (let n = 1; n <= emitted; n++) if (!seen.has(n)) missing.push(n)
      console.error(`  missing ${missing.length}: ${missing.slice(0, 12).join(',')}${missing.length > 12 ? ',…' : ''}`)
    }
  }
  latencies.sort((a, b) => a - b)
  return {
    peer,
    clients: CLIENTS,
    seconds: SECONDS,
    emitted,
    closes,
    delivery: distinct / (emitted * CLIENTS),
    duplicates,
    outOfOrder,
    latencyMs: { p50: pct(latencies, 50), p99: pct(latencies, 99), max: latencies[latencies.length - 1] ?? NaN },
  }
}

const results = []
for (const peer of PEERS) {
  const r = await run(peer)
  results.push(r)
  console.error(`${peer}: delivery ${(r.delivery * 100).toFixed(3)} %, ${r.duplicates} duplicates, ${r.outOfOrder} out of order, latency p50 ${r.latencyMs.p50} / p99 ${r.latencyMs.p99} / max ${r.latencyMs.max} ms, ${r.closes} forced closes`)
}
const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GB, Node ${process.version}`
mkdirSync(join(here, 'results'), { recursive: true })
const file = join(here, 'results', `jitter-${new Date().toISOString().slice(0, 19).replace(/:/g, '')}.json`)
writeFileSync(file, `${JSON.stringify({ machine, results }, null, 2)}\n`)
console.log(`| peer | delivery | duplicates | out of order | latency p50 / p99 / max (ms) | forced closes |`)
console.log(`|---|---|---|---|---|---|`)
for (const r of results) {
  console.log(`| ${r.peer} | ${(r.delivery * 100).toFixed(2)} % | ${r.duplicates} | ${r.outOfOrder} | ${r.latencyMs.p50} / ${r.latencyMs.p99} / ${r.latencyMs.max} | ${r.closes} |`)
}
console.log(`\n${CLIENTS} clients, ${SECONDS} s, 50 events/s, each connection closed every 2-5 s; ${machine}; ${file}`)
process.exit(0)
