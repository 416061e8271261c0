// JS-thread cost of one emit call, for the three ways a payload can cross into the addon.
//
//   npm run bench:emit                      (node bench/emit-cost.mjs)
//   ROUNDS=7 CALLS=200000 CLIENT_CALLS=10000 node bench/emit-cost.mjs
//   node --expose-gc bench/emit-cost.mjs    (collects garbage between measurements)
//   SKIP_CLIENT=1 node bench/emit-cost.mjs  (no connected-client section)
//   SKIP_BREAKDOWN=1 node bench/emit-cost.mjs (no "where the time goes" section)
//
// Paths, each measured for a ~200-byte service:status and a ~1 KB docker:stats payload:
//   (a) emitServiceStatus(obj) / emitDockerStats(obj): the public emitters. Rust calls a cached
//       `JSON.stringify` through N-API, copies the string out, then parses and validates it with
//       serde_json.
//   (b) _emitJson(type, JSON.stringify(obj)): the caller stringifies in JS; one string crosses.
//   (c) _emitValue(type, obj): napi converts the JS object to serde_json::Value field by field
//       (one N-API call per property), Rust serialises it again and validates.
//   (d) JSON.stringify(obj) alone: the floor every path above pays in some form.
// All three emit paths validate the payload against the same type rules (SPEC §4).
//
// Method: a hub on port 0 with `unref: true`; warm-up; then ROUNDS rounds, each running every
// path once for CALLS calls, in an order that rotates each round (so drift and noise hit every
// path alike). Between measurements the hub's dispatcher is left to drain its queue, so one
// path's backlog does not eat into the next one's CPU. Per-call time = elapsed / CALLS, timed
// with process.hrtime.bigint(); the table shows the median and the minimum over rounds.

import { createRequire } from 'node:module'
import os from 'node:os'

const require = createRequire(import.meta.url)
const hub = require('../index.js')

const ROUNDS = intEnv('ROUNDS', 7)
const CALLS = intEnv('CALLS', 200_000)
const WARMUP = intEnv('WARMUP', 50_000)
const CLIENT_CALLS = intEnv('CLIENT_CALLS', 10_000)
const SKIP_CLIENT = Boolean(process.env.SKIP_CLIENT)

function intEnv(name, def) {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return def
  const n = Number(raw)
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name}: expected a positive integer, got ${raw}`)
  return n
}

// ---------------------------------------------------------------------------------------------
// Payloads

const ts = '2025-11-28T07:21:40.744Z'

/** A typical service:status, about 200 bytes of JSON. */
const serviceStatus = {
  service: 'postgres',
  status: 'running',
  timestamp: ts,
  containerId: '3f2a9c1b7d4e',
  health: { status: 'healthy', lastCheck: ts },
  resources: { cpu: 2.35, memory: 187695104 },
  image: 'postgres:16-alpine',
}

/** A docker:stats with the extras a detailed dashboard sends (per-core CPU, per-interface
 *  network, compose labels): about 1 KB of JSON. */
const dockerStats = {
  containerId: '3f2a9c1b7d4e8a0b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b',
  containerName: 'nself_postgres',
  timestamp: ts,
  stats: {
    cpu: 12.48,
    memory: 187695104,
    memoryLimit: 2147483648,
    memoryPercent: 8.74,
    network: { rx: 52428800, tx: 15728640 },
    blockIO: { read: 19922944, write: 40632320 },
  },
  cpuPerCore: [3.1, 1.2, 0.4, 2.9, 0.0, 1.7, 0.8, 2.38],
  pids: 23,
  networks: {
    eth0: { rx_bytes: 52428800, tx_bytes: 15728640, rx_packets: 412733, tx_packets: 300112, rx_errors: 0, tx_errors: 0, rx_dropped: 0, tx_dropped: 0 },
    eth1: { rx_bytes: 1048576, tx_bytes: 524288, rx_packets: 8812, tx_packets: 7301, rx_errors: 0, tx_errors: 0, rx_dropped: 0, tx_dropped: 0 },
  },
  labels: {
    'com.docker.compose.project': 'nself',
    'com.docker.compose.service': 'postgres',
    'com.docker.compose.version': '2.29.7',
    'com.docker.compose.container-number': '1',
    'org.opencontainers.image.source': 'https://github.com/docker-library/postgres',
  },
  restartCount: 0,
  uptimeSeconds: 86342,
}

const EVENTS = [
  { type: 'service:status', obj: serviceStatus, emitter: hub.emitServiceStatus },
  { type: 'docker:stats', obj: dockerStats, emitter: hub.emitDockerStats },
]

// ---------------------------------------------------------------------------------------------
// Measurement

let sink = 0 // keeps JSON.stringify results observable

function pathsFor({ type, obj, emitter }) {
  return [
    { key: 'a', label: `(a) ${emitter.name || 'emitX'}(obj)`, run: (n) => { for (let i = 0; i < n; i++) emitter(obj) } },
    { key: 'b', label: `(b) _emitJson(type, JSON.stringify(obj))`, run: (n) => { for (let i = 0; i < n; i++) hub._emitJson(type, JSON.stringify(obj)) } },
    { key: 'c', label: `(c) _emitValue(type, obj)`, run: (n) => { for (let i = 0; i < n; i++) hub._emitValue(type, obj) } },
    { key: 'd', label: `(d) JSON.stringify(obj) only`, emits: false, run: (n) => { let s = 0; for (let i = 0; i < n; i++) s += JSON.stringify(obj).length; sink += s } },
  ]
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** Lets the dispatcher (and a connected client) catch up before the next measurement. */
async function settle(until = () => true) {
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    const s = hub.getStats()
    if (s.eventsQueued === 0 && until()) break
    await sleep(5)
  }
  if (typeof globalThis.gc === 'function') globalThis.gc()
  await sleep(20)
}

function time(run, n) {
  const t0 = process.hrtime.bigint()
  run(n)
  const t1 = process.hrtime.bigint()
  return Number(t1 - t0) / n
}

const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/**
 * Runs every (event, path) pair ROUNDS times, rotating the order each round.
 * `afterEach(case)` waits for whatever must be drained between measurements.
 */
async function measure(calls, afterEach, makePaths = pathsFor) {
  const cases = EVENTS.flatMap((ev) => makePaths(ev).map((p) => ({ ev, p, ns: [] })))
  // Warm-up: JIT, the addon's cached JSON.stringify, allocator pools.
  for (const c of cases) {
    c.p.run(Math.min(WARMUP, calls))
    await afterEach(c)
  }
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < cases.length; k++) {
      const c = cases[(k + r) % cases.length]
      c.ns.push(time(c.p.run, calls))
      await afterEach(c)
    }
    process.stderr.write(`  round ${r + 1}/${ROUNDS} done\r`)
  }
  process.stderr.write('\n')
  return cases
}

function table(cases, calls) {
  const out = []
  out.push(`| event (JSON bytes) | path | median ns/call | min ns/call | median / (a) |`)
  out.push(`|---|---|---:|---:|---:|`)
  for (const ev of EVENTS) {
    const rows = cases.filter((c) => c.ev === ev)
    const a = median(rows.find((c) => c.p.key === 'a').ns)
    for (const c of rows) {
      const m = median(c.ns)
      out.push(`| ${ev.type} (${Buffer.byteLength(JSON.stringify(ev.obj))} B) | ${c.p.label} | ${Math.round(m)} | ${Math.round(Math.min(...c.ns))} | ${(m / a).toFixed(2)} |`)
    }
  }
  out.push('')
  out.push(`${ROUNDS} rounds × ${calls.toLocaleString('en-US')} calls per path; order rotated each round.`)
  return out.join('\n')
}

/** Where the time of an emit goes: the same call with less and less work on the Rust side. */
function breakdownFor({ type, obj }) {
  const json = JSON.stringify(obj)
  return [
    { key: 'e', label: `(e) _emitJson('bench.noop', '0'): smallest emit`, run: (n) => { for (let i = 0; i < n; i++) hub._emitJson('bench.noop', '0') } },
    { key: 'f', label: `(f) _emitJson('bench.noop', json): + copy and parse, no type rules`, run: (n) => { for (let i = 0; i < n; i++) hub._emitJson('bench.noop', json) } },
    { key: 'g', label: `(g) _emitJson(type, json): + ${type} validation`, run: (n) => { for (let i = 0; i < n; i++) hub._emitJson(type, json) } },
    { key: 'b', label: `(b) _emitJson(type, JSON.stringify(obj)): + stringify`, run: (n) => { for (let i = 0; i < n; i++) hub._emitJson(type, JSON.stringify(obj)) } },
  ]
}

function breakdownTable(cases, calls) {
  const out = []
  out.push(`| event (JSON bytes) | call (prebuilt \`json\` string unless stated) | median ns/call | min ns/call |`)
  out.push(`|---|---|---:|---:|`)
  for (const c of cases) {
    out.push(`| ${c.ev.type} (${Buffer.byteLength(JSON.stringify(c.ev.obj))} B) | ${c.p.label} | ${Math.round(median(c.ns))} | ${Math.round(Math.min(...c.ns))} |`)
  }
  out.push('')
  out.push(`${ROUNDS} rounds × ${calls.toLocaleString('en-US')} calls per row; order rotated each round. (e) is the same for both events.`)
  return out.join('\n')
}

// ---------------------------------------------------------------------------------------------
// Main

/** Every path must accept the payloads, or the numbers would measure error paths. */
function checkPayloadsAccepted() {
  for (const ev of EVENTS) {
    const json = JSON.stringify(ev.obj)
    ev.emitter(ev.obj)
    hub._emitJson(ev.type, json)
    hub._emitValue(ev.type, ev.obj)
  }
}

const info = await hub.startHub({ host: '127.0.0.1', port: 0, unref: true })
try {
  checkPayloadsAccepted()
  console.log(`# emit cost (JS thread), nself-realtime`)
  console.log('')
  console.log(`node ${process.version}, ${os.cpus()[0]?.model ?? '?'}, ${os.availableParallelism?.() ?? os.cpus().length} CPU(s); hub at ${info.url}${info.path}; gc between runs: ${typeof globalThis.gc === 'function' ? 'yes' : 'no (run with --expose-gc)'}`)
  for (const ev of EVENTS) console.log(`- ${ev.type} payload: ${Buffer.byteLength(JSON.stringify(ev.obj))} bytes of JSON`)
  console.log('')

  // --- no client -------------------------------------------------------------------------
  console.log(`## No client connected`)
  console.log('')
  const before = hub.getStats().eventsEmitted
  const cases = await measure(CALLS, () => settle())
  console.log(table(cases, CALLS))
  const emitted = hub.getStats().eventsEmitted - before
  const expected = cases.filter((c) => c.p.emits !== false).length * (ROUNDS * CALLS + Math.min(WARMUP, CALLS))
  console.log(`Hub accepted ${emitted.toLocaleString('en-US')} emits (expected ${expected.toLocaleString('en-US')}).`)
  console.log('')

  // --- breakdown -------------------------------------------------------------------------
  if (!process.env.SKIP_BREAKDOWN) {
    const calls = Math.max(1, Math.round(CALLS / 4))
    console.log(`## Where the time goes (no client)`)
    console.log('')
    const parts = await measure(calls, () => settle(), breakdownFor)
    console.log(breakdownTable(parts, calls))
    console.log('')
  }

  // --- one websocket client ----------------------------------------------------------------
  if (!SKIP_CLIENT) {
    const { io } = require('socket.io-client')
    const client = io(info.url, { path: info.path, transports: ['websocket'], reconnection: false })
    await new Promise((resolve, reject) => {
      client.once('connect', resolve)
      client.once('connect_error', reject)
    })
    let received = 0
    client.onAny((event, arg) => { received += event === 'batch' ? arg.length : 1 })
    const s0 = hub.getStats()
    const sentSoFar = () => hub.getStats().eventsEmitted - s0.eventsEmitted
    console.log(`## One websocket client connected (socket.io-client in this process)`)
    console.log('')
    const clientCases = await measure(CLIENT_CALLS, () => settle(() => received >= sentSoFar()))
    const sent = sentSoFar()
    console.log(table(clientCases, CLIENT_CALLS))
    const s1 = hub.getStats()
    console.log(`Client received ${received.toLocaleString('en-US')} of ${sent.toLocaleString('en-US')} events; eventsDropped ${s1.eventsDropped - s0.eventsDropped}, batches ${(s1.batchesSent - s0.batchesSent).toLocaleString('en-US')}.`)
    console.log(`The client's receive work runs between measurements, on this same event loop; the hub's`)
    console.log(`dispatcher and socket writers run on its own threads and compete for the same CPUs.`)
    client.close()
    console.log('')
  }
} finally {
  await hub.stopHub({ timeoutMs: 2000 })
}
if (sink === 42) console.log('') // never true; keeps `sink` live
