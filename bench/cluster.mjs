// Two hubs through Redis vs one hub, measured in the same run (BENCHMARKS.md "Two hubs through
// Redis"). A redis-server on a free port and two hubs (A, B) in child processes
// (__test__/cluster-hub.mjs), plus a third hub without Redis; CLIENTS socket.io-client clients
// (websocket) on each hub.
//   single: the hub without Redis, clients and emits on it; local: clients on A, emits on A
//   (numbered through Redis); cross: emits on A, clients on B.
// Latency: LAT_N events at LAT_RATE/s, each stamped in the hub process at the emit call; the
// client computes receive time - stamp (same machine, same clock). Throughput: a burst of
// BURST events, from the IPC call that starts it until every client got all of them.
// Run after `npm run build`: `npm run bench:cluster` (knobs: CLIENTS, LAT_N, LAT_RATE, BURST, ROUNDS).
import { performance } from 'node:perf_hooks'
import os from 'node:os'

import { io } from 'socket.io-client'

import { childHub, redisServer } from '../__test__/cluster-helpers.mjs'

const CLIENTS = Number(process.env.CLIENTS ?? 20)
const LAT_N = Number(process.env.LAT_N ?? 1000)
const LAT_RATE = Number(process.env.LAT_RATE ?? 500)
const BURST = Number(process.env.BURST ?? 10000)
const ROUNDS = Number(process.env.ROUNDS ?? 3)

const wall = () => performance.timeOrigin + performance.now()
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]

async function clients(info, n) {
  const list = []
  for (let i = 0; i < n; i++) {
    const s = io(info.url, { path: info.path, transports: ['websocket'], reconnection: false, forceNew: true })
    s.got = 0
    s.lat = null
    s.on('bench:lat', (env) => s.lat?.push(wall() - env.data.t))
    s.on('bench:burst', () => s.got++)
    await new Promise((res, rej) => {
      s.once('connect', res)
      s.once('connect_error', rej)
    })
    list.push(s)
  }
  return list
}

async function until(pred, ms, what) {
  const end = performance.now() + ms
  while (!pred()) {
    if (performance.now() > end) throw new Error(`timed out: ${what}`)
    await sleep(2)
  }
}

async function measure(emitter, socks) {
  for (const s of socks) s.lat = []
  await emitter.call('emitTimed', 'bench:lat', LAT_N, LAT_RATE)
  await until(() => socks.every((s) => s.lat.length === LAT_N), 30_000, 'latency events')
  const lat = socks.flatMap((s) => s.lat).sort((a, b) => a - b)
  for (const s of socks) s.got = 0
  const t0 = performance.now()
  await emitter.call('emitMany', 'bench:burst', 0, BURST)
  await until(() => socks.every((s) => s.got === BURST), 120_000, 'burst')
  const secs = (performance.now() - t0) / 1000
  return { p50: pct(lat, 50), p99: pct(lat, 99), max: lat[lat.length - 1], eps: BURST / secs, dps: (BURST * socks.length) / secs }
}

const redis = await redisServer()
const options = { redis: { url: redis.url, prefix: `bench-${process.pid}` }, rateLimit: false }
const [a, b, solo] = await Promise.all([childHub(options), childHub(options), childHub({ rateLimit: false })])
const onA = await clients(a.info, CLIENTS)
const onB = await clients(b.info, CLIENTS)
const onSolo = await clients(solo.info, CLIENTS)
await sleep(1500) // presence exchange settled
const rows = { single: [], local: [], cross: [] }
try {
  // Warm-up, not reported.
  await measure(solo, onSolo)
  await measure(a, onB)
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate the order so drift and noise hit both alike.
    const order = r % 2 ? ['cross', 'local', 'single'] : ['single', 'local', 'cross']
    for (const mode of order) {
      const [emitter, socks] = { single: [solo, onSolo], local: [a, onA], cross: [a, onB] }[mode]
      rows[mode].push(await measure(emitter, socks))
    }
  }
} finally {
  for (const s of [...onA, ...onB, ...onSolo]) s.close()
  await Promise.all([a.stop(), b.stop(), solo.stop()])
  await redis.stop()
}

const f = (x, d = 2) => x.toFixed(d)
const med = (xs) => xs.slice().sort((x, y) => x - y)[Math.floor(xs.length / 2)]
console.log(`# ${os.cpus()[0]?.model} x${os.cpus().length}, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}, node ${process.version}`)
console.log(`# ${CLIENTS} websocket clients; latency: ${LAT_N} events at ${LAT_RATE}/s; throughput: burst of ${BURST}; ${ROUNDS} rounds`)
console.log('| setup | round | p50 ms | p99 ms | max ms | events/s | deliveries/s |')
console.log('|---|---:|---:|---:|---:|---:|---:|')
for (const [mode, label] of [
  ['single', 'one hub, no Redis'],
  ['local', 'cluster, clients on the emitting hub A'],
  ['cross', 'cluster, emits on A, clients on B'],
]) {
  rows[mode].forEach((x, i) =>
    console.log(`| ${label} | ${i + 1} | ${f(x.p50)} | ${f(x.p99)} | ${f(x.max, 1)} | ${Math.round(x.eps)} | ${Math.round(x.dps)} |`),
  )
  const m = (k) => med(rows[mode].map((x) => x[k]))
  console.log(`| ${label} | median | ${f(m('p50'))} | ${f(m('p99'))} | ${f(m('max'), 1)} | ${Math.round(m('eps'))} | ${Math.round(m('dps'))} |`)
}
