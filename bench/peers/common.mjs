// What the two Node peers of the side-by-side benchmark share: the payloads (byte for byte the
// same as bench/loadgen/src/bin/sioxide-peer.rs builds), the emission schedule, the event-loop
// delay and CPU measurements, and the control channel with bench/run.mjs.
//
// Control, one JSON object per line: stdin `{"cmd":"run",...}`, `{"cmd":"emitcost",...}`,
// `{"cmd":"stats"}`, `{"cmd":"quit"}`; stdout `LISTEN {...}` once listening, then `DONE {...}`,
// `COST {...}`, `STATS {...}` answers. Anything else a peer prints goes to stderr.

import fs from 'node:fs'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import readline from 'node:readline'

export const BATCHED = new Set(['logs:stream', 'docker:stats'])
export const BATCH_MAX = 10
export const BATCH_WAIT_MS = 100

/** A wall clock in µs with sub-millisecond resolution: Date.now() pinned to hrtime at a ms edge. */
export function makeClock() {
  const start = Date.now()
  let ms
  while ((ms = Date.now()) === start) {} // spin to the next millisecond edge
  const base = BigInt(ms) * 1000n - process.hrtime.bigint() / 1000n
  return () => Number(base + process.hrtime.bigint() / 1000n)
}

const iso = (ms) => new Date(ms).toISOString()

/** The data of one event of `kind`: i-th of its kind, n-th of the room, emitted at `t` (µs). */
export function payload(kind, i, n, t) {
  const ts = iso(Math.floor(t / 1000))
  switch (kind) {
    case 'service:status':
      return { service: `svc-${i % 7}`, status: 'running', timestamp: ts, containerId: '3f2a9c1b7d4e', health: { status: 'healthy', lastCheck: ts }, resources: { cpu: 2.35, memory: 187695104 }, t, n }
    case 'build:progress':
      return { step: 'images', progress: i % 101, status: 'in-progress', message: 'building image 3 of 7', timestamp: ts, totalSteps: 7, currentStep: 3, t, n }
    case 'logs:stream':
      return { service: 'hasura', line: `{"level":"info","msg":"request completed","path":"/v1/graphql","status":200,"ms":${i % 1000}}`, timestamp: ts, level: 'info', source: 'stdout', t, n }
    case 'docker:stats':
      return { containerId: `c${String(i % 20).padStart(11, '0')}`, containerName: `nself_${i % 20}`, timestamp: ts, stats: { cpu: 12.48, memory: 187695104, memoryLimit: 2147483648, memoryPercent: 8.74, network: { rx: 52428800, tx: 15728640 }, blockIO: { read: 19922944, write: 40632320 } }, t, n }
    default:
      return { i, t, n }
  }
}

/** Events of one kind due `elapsed` seconds into a run: bursts of `burst`, the first at once. */
export function due(rate, burst, elapsed, total) {
  if (rate <= 0) return 0
  return Math.min(total, (Math.floor((elapsed * rate) / burst) + 1) * burst)
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/**
 * Emits a scenario through `emit(kind, data, room)` and measures the process meanwhile.
 * Scenario: `{ room, duration_ms, kinds: [{ type, rate, burst }] }` (batching is the peer's
 * business). The schedule runs on a 1 ms timer, as an app's emits would arrive on its loop.
 */
export async function runScenario(sc, emit, { afterEmit = async () => {}, peer }) {
  const clock = makeClock()
  const eld = monitorEventLoopDelay({ resolution: 1 })
  const kinds = (sc.kinds ?? []).map((k) => ({ type: k.type, rate: k.rate, burst: Math.max(1, k.burst ?? 1) }))
  const secs = (sc.duration_ms ?? 1000) / 1000
  const totals = kinds.map((k) => Math.round(k.rate * secs))
  const sent = kinds.map(() => 0)
  let seq = 0
  let lateTicks = 0
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  eld.enable()
  // A peer that cannot keep up stops at the end of the run plus one second (a backlog emitted in
  // one go would block its loop for as long as it is behind): the rest is counted as not emitted.
  const cutoff = secs * 1000 + 1000
  let cut = false
  for (;;) {
    const elapsed = (performance.now() - t0) / 1000
    const finished = elapsed >= secs
    for (let k = 0; k < kinds.length && !cut; k++) {
      const { type, rate, burst } = kinds[k]
      const target = finished ? totals[k] : due(rate, burst, elapsed, totals[k])
      if (target > sent[k] + burst) lateTicks++
      while (sent[k] < target) {
        if (performance.now() - t0 > cutoff) {
          cut = true
          break
        }
        seq++
        emit(type, payload(type, sent[k], seq, clock()), sc.room)
        sent[k]++
      }
    }
    if (finished || cut) break
    await sleep(1)
  }
  const emitMs = performance.now() - t0
  await afterEmit()
  eld.disable()
  const cpu = process.cpuUsage(cpu0)
  return {
    peer,
    events: seq,
    planned: totals.reduce((a, b) => a + b, 0),
    late_ticks: lateTicks,
    emit_ms: Math.round(emitMs),
    cpu_us: cpu.user + cpu.system,
    cpu_total_us: (({ user, system }) => user + system)(process.cpuUsage()),
    rss: process.memoryUsage().rss,
    eld_ms: { p50: eld.percentile(50) / 1e6, p99: eld.percentile(99) / 1e6, max: eld.max / 1e6, mean: eld.mean / 1e6 },
  }
}

/** The 251-byte-class status event of bench/emit-cost.mjs, for the per-call emit cost. */
export const costStatus = {
  service: 'postgres',
  status: 'running',
  timestamp: '2025-11-28T07:21:40.744Z',
  containerId: '3f2a9c1b7d4e',
  health: { status: 'healthy', lastCheck: '2025-11-28T07:21:40.744Z' },
  resources: { cpu: 2.35, memory: 187695104 },
  image: 'postgres:16-alpine',
}

/**
 * JS-thread cost of one emit call: `rounds` rounds of `calls` calls of `emitOnce()`, timed with
 * hrtime; between rounds `settle()` lets the sends finish. Returns ns/call per round.
 */
export async function emitCost({ calls = 2000, rounds = 5, warmup = 2000 }, emitOnce, settle) {
  for (let i = 0; i < warmup; i++) emitOnce()
  await settle()
  const ns = []
  const cpu = []
  const eld = monitorEventLoopDelay({ resolution: 1 })
  eld.enable()
  for (let r = 0; r < rounds; r++) {
    const c0 = jsThreadCpuNs()
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < calls; i++) emitOnce()
    ns.push(Number(process.hrtime.bigint() - t0) / calls)
    const c1 = jsThreadCpuNs()
    if (c0 !== null && c1 !== null) cpu.push((c1 - c0) / calls)
    await settle()
  }
  eld.disable()
  const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]
  return {
    ns_per_call: med(ns),
    min_ns: Math.min(...ns),
    // On-CPU time of the JS thread alone: the wall time above also counts the moments another
    // thread (the hub's, the load generator's, another tenant's) had the CPU.
    cpu_ns_per_call: cpu.length ? med(cpu) : null,
    rounds: ns,
    cpu_rounds: cpu,
    bytes: Buffer.byteLength(JSON.stringify(costStatus)),
  }
}

/** Nanoseconds the JS (main) thread has been on a CPU (Linux `schedstat`), or null elsewhere. */
function jsThreadCpuNs() {
  try {
    return Number(fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0])
  } catch {
    return null
  }
}

/** Reads commands from stdin and answers on stdout, one line each. */
export function serveControl(handlers) {
  const rl = readline.createInterface({ input: process.stdin })
  let chain = Promise.resolve()
  rl.on('line', (line) => {
    chain = chain.then(async () => {
      let cmd
      try {
        cmd = JSON.parse(line)
      } catch {
        console.error(`peer: not JSON: ${line}`)
        return
      }
      const h = handlers[cmd.cmd]
      if (!h) return console.error(`peer: unknown cmd ${cmd.cmd}`)
      await h(cmd)
    }).catch((err) => {
      console.error(err)
      process.exit(1)
    })
  })
  rl.on('close', () => chain.then(() => handlers.quit?.({})))
}

export function reply(tag, obj) {
  process.stdout.write(`${tag} ${JSON.stringify(obj)}\n`)
}

export const stats = () => ({ rss: process.memoryUsage().rss, cpu_us: (({ user, system }) => user + system)(process.cpuUsage()) })
