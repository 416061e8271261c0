#!/usr/bin/env node
// The side-by-side benchmark of issue 8: one Rust load generator (bench/loadgen) driving three
// peers with the same semantics, each a server process this script starts and drives:
//   socket.io      Node socket.io 4.8 in the emitting process, rooms and JS batching (bench/peers/socketio-peer.mjs)
//   socketioxide   bare socketioxide, emits generated in Rust: the floor (bench/loadgen/src/bin/sioxide-peer.rs)
//   nself-realtime this package's addon in a Node process, public emitters (bench/peers/realtime-peer.mjs)
//
//   npm run bench                  full run: every scenario, 3 repetitions, medians (~40 min with the hold)
//   npm run bench -- --quick       (npm run bench:quick) tiny sizes, 1 repetition, < 2 min; what CI runs
//   options: --reps N  --only fanout-1000,idle-1000  --peers socket.io,nself-realtime  --no-pin
//            --no-hold (full run without the 10-minute hold)  --out-dir bench/results
//            --duration MS (every emitting scenario)  --label NAME (result and chart file names)
//            --report bench/results/X.json (tables and charts of an earlier run, nothing is run)
//
// Each run: start the peer (pinned to CPU 0 with taskset), start the load generator (pinned to
// CPU 1) with --wait-go, wait until its clients are connected and joined, then tell both to go;
// the peer emits the scenario for its duration and reports its CPU, RSS and (Node) event-loop
// delay; the load generator reports latency, events, frames, bytes, gaps and disconnects. The
// peer's CPU per delivered event is read from /proc/<pid>/stat around the whole measurement.
// No timing asserts: this exits non-zero only when the harness breaks (a peer does not start,
// nothing is delivered, a run times out).

import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import { fileURLToPath } from 'node:url'
import { writeCharts } from './charts.mjs'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const LOADGEN_DIR = path.join(ROOT, 'bench/loadgen')
const TARGET_DIR = process.env.CARGO_TARGET_DIR || path.join(LOADGEN_DIR, 'target')
const LOADGEN = path.join(TARGET_DIR, 'release/loadgen')
const SIOXIDE = path.join(TARGET_DIR, 'release/sioxide-peer')

// ---------------------------------------------------------------------------------------------
// Options

const argv = process.argv.slice(2)
const flag = (name) => argv.includes(name)
const opt = (name, def) => {
  const i = argv.indexOf(name)
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : def
}
const QUICK = flag('--quick')
const REPS = Number(opt('--reps', QUICK ? 1 : 3))
const ONLY = opt('--only', '').split(',').filter(Boolean)
const PEER_NAMES = opt('--peers', 'socket.io,socketioxide,nself-realtime').split(',').filter(Boolean)
const DURATION = opt('--duration', '') // ms, overrides every run scenario's duration
const LABEL = opt('--label', '') // names the result files instead of quick/full
const OUT_DIR = path.resolve(ROOT, opt('--out-dir', 'bench/results'))
const CHART_DIR = path.join(ROOT, 'bench/charts')
const CPUS = os.availableParallelism?.() ?? os.cpus().length
const HAS_TASKSET = spawnSync('taskset', ['--version']).status === 0
const PIN = !flag('--no-pin') && HAS_TASKSET && CPUS >= 2
const SERVER_CPU = '0'
const LOADGEN_CPU = '1'

// ---------------------------------------------------------------------------------------------
// Scenarios. `kinds`: what the peer emits (events/s; `burst` events at a time). `clients` join
// `room` (none for idle). `kind`: run (emit and measure), idle (connect and hold; RSS per
// connection), emitcost (JS-thread cost of one emit call with the clients joined).

const status = (rate) => [{ type: 'service:status', rate }]
const logs = (rate) => [{ type: 'logs:stream', rate }]
const dashboard = [
  { type: 'service:status', rate: 7, burst: 7 }, // 7 services, once a second
  { type: 'build:progress', rate: 10 },
  { type: 'logs:stream', rate: 1000 },
  { type: 'docker:stats', rate: 20, burst: 20 }, // 20 containers, once a second
]

function scenarios() {
  const q = QUICK
  const d = DURATION ? Number(DURATION) : q ? 1000 : 10_000
  const list = [
    { name: 'fanout-100', kind: 'run', clients: 100, full: true, kinds: status(100), duration_ms: d, batch: true,
      what: 'fan-out to one room, service:status 100/s unbatched' },
    { name: 'fanout-1000', kind: 'run', clients: q ? 50 : 1000, kinds: status(100), duration_ms: d, batch: true,
      what: 'fan-out to one room, 100 unbatched events/s (latency target)' },
    { name: 'fanout-1000x400', kind: 'run', clients: q ? 50 : 1000, kinds: status(400), duration_ms: d, batch: true,
      what: 'fan-out to one room, 400 events/s = 400,000 deliveries/s at 1,000 clients (event-loop target)' },
    // Not socket.io: filling a room of 5,000 sends 12.5 million presence:join emits on its one JS
    // thread (over 4 minutes before the first event); `--peers` cannot add it back.
    { name: 'fanout-5000', kind: 'run', clients: 5000, full: true, kinds: status(100), duration_ms: d, batch: true,
      peers: ['socketioxide', 'nself-realtime'], what: 'fan-out to one room of 5,000, 100 events/s' },
    { name: 'dashboard-200', kind: 'run', clients: q ? 20 : 200, kinds: dashboard, duration_ms: d, batch: true,
      what: 'dashboard mix: status, build progress, logs 1,000 lines/s, docker stats 20 containers/s' },
    { name: 'logs-batch-on', kind: 'run', clients: q ? 20 : 200, kinds: logs(1000), duration_ms: d, batch: true,
      what: 'log stream 1,000 lines/s, batching on' },
    { name: 'logs-batch-off', kind: 'run', clients: q ? 20 : 200, kinds: logs(1000), duration_ms: d, batch: false,
      what: 'log stream 1,000 lines/s, batching off' },
    { name: 'idle-1000', kind: 'idle', clients: q ? 200 : 1000, duration_ms: q ? 500 : 3000,
      what: 'idle connections (no room), RSS per connection' },
    { name: 'idle-10000', kind: 'idle', clients: 10_000, duration_ms: 3000, full: true,
      what: 'idle connections (no room), RSS per connection' },
    { name: 'emitcost-0', kind: 'emitcost', clients: 0, calls: q ? 2000 : 20_000, rounds: q ? 3 : 7,
      what: 'JS-thread cost of one emit call (service:status, 251 B), no client' },
    { name: 'emitcost-100', kind: 'emitcost', clients: q ? 10 : 100, calls: q ? 1000 : 5000, rounds: q ? 3 : 7,
      what: 'JS-thread cost of one emit call to a room of 100 joined clients' },
    { name: 'hold-10000', kind: 'idle', clients: 10_000, duration_ms: 600_000, full: true, hold: true,
      peers: ['nself-realtime'], what: '10,000 connections held 10 minutes with heartbeats (spurious disconnects)' },
  ]
  return list
    .filter((s) => !(q && s.full))
    .filter((s) => !(s.hold && flag('--no-hold')))
    .filter((s) => ONLY.length === 0 || ONLY.includes(s.name))
}

// ---------------------------------------------------------------------------------------------
// Processes

/** argv for a pinned child with the file-descriptor limit raised to the hard limit. */
function wrap(cpu, cmd, args) {
  const pin = PIN ? ['taskset', '-c', cpu] : []
  return ['sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'sh', ...pin, cmd, ...args]]
}

/** A child process with a line reader on stdout: `next(prefix, ms)` waits for a line. */
class Child {
  constructor(name, cmd, args, opts = {}) {
    this.name = name
    const [c, a] = wrap(opts.cpu, cmd, args)
    this.proc = spawn(c, a, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] })
    this.pid = this.proc.pid
    this.lines = []
    this.waiters = []
    this.stderr = ''
    this.exited = null
    readline.createInterface({ input: this.proc.stdout }).on('line', (line) => {
      this.lines.push(line)
      this.wake()
    })
    this.proc.stderr.on('data', (d) => {
      this.stderr = (this.stderr + d).slice(-4000)
    })
    this.proc.on('exit', (code, signal) => {
      this.exited = { code, signal }
      this.wake()
    })
  }

  wake() {
    for (const w of this.waiters.splice(0)) w()
  }

  /** The JSON after the first unread line that starts with `prefix` ('' for a bare JSON line). */
  async next(prefix, timeoutMs) {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const i = this.lines.findIndex((l) => (prefix ? l.startsWith(prefix + ' ') : l.startsWith('{')))
      if (i >= 0) {
        const line = this.lines.splice(0, i + 1).pop()
        return JSON.parse(prefix ? line.slice(prefix.length + 1) : line)
      }
      if (this.exited) throw new Error(`${this.name} exited (${JSON.stringify(this.exited)}) before ${prefix || 'its summary'}; stderr: ${this.stderr.trim().slice(-1500)}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`${this.name}: no ${prefix || 'summary'} within ${timeoutMs} ms; stderr: ${this.stderr.trim().slice(-1500)}`)
      await new Promise((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1000))
        this.waiters.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
  }

  send(obj) {
    if (!this.exited) this.proc.stdin.write((typeof obj === 'string' ? obj : JSON.stringify(obj)) + '\n')
  }

  async stop() {
    this.send({ cmd: 'quit' })
    const deadline = Date.now() + 3000
    while (!this.exited && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    if (!this.exited) {
      try {
        process.kill(this.pid, 'SIGKILL')
      } catch {}
    }
  }
}

/** utime + stime of a process, all threads, in µs (/proc/<pid>/stat, 10 ms resolution). */
function procCpuUs(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) * 10_000
  } catch {
    return NaN
  }
}

function procRss(pid) {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : NaN
  } catch {
    return NaN
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function startPeer(name, sc) {
  const batch = sc.batch === false ? 'off' : 'on'
  if (name === 'socket.io') return new Child(name, process.execPath, ['bench/peers/socketio-peer.mjs', '--batch', batch], { cpu: SERVER_CPU })
  if (name === 'nself-realtime') return new Child(name, process.execPath, ['bench/peers/realtime-peer.mjs', '--batch', batch], { cpu: SERVER_CPU })
  if (name === 'socketioxide') return new Child(name, SIOXIDE, ['--port', '0', '--path', '/api/ws'], { cpu: SERVER_CPU })
  throw new Error(`unknown peer ${name}`)
}

/** One scenario against one peer: the merged record of both sides. */
async function runOne(sc, peerName) {
  const peer = startPeer(peerName, sc)
  let gen
  try {
    const listen = await peer.next('LISTEN', 30_000)
    await sleep(100)
    const rss0 = procRss(peer.pid)
    const isIdle = sc.kind === 'idle'
    const duration = sc.kind === 'emitcost' ? 0 : sc.duration_ms
    const clients = sc.clients
    gen = new Child('loadgen', LOADGEN, [
      '--url', `ws://127.0.0.1:${listen.port}/api/ws/`,
      '--clients', String(clients),
      '--room', isIdle ? '' : 'bench',
      '--ramp-ms', String(sc.ramp_ms ?? Math.min(10_000, Math.max(200, clients * (QUICK ? 2 : 2)))),
      '--duration-ms', String(duration),
      '--grace-ms', String(sc.kind === 'run' ? (QUICK ? 300 : 2000) : 0),
      '--heartbeat-ms', String(sc.heartbeat_ms ?? 30_000),
      '--setup-timeout-ms', String(QUICK ? 60_000 : 900_000),
      '--wait-go',
    ], { cpu: LOADGEN_CPU })
    const ready = await gen.next('READY', QUICK ? 90_000 : 1_000_000)
    if (ready.ready < clients) throw new Error(`${peerName}: only ${ready.ready} of ${clients} clients connected (${ready.failed} failed); loadgen stderr: ${gen.stderr.slice(-500)}`)
    await sleep(isIdle ? (QUICK ? 500 : 2000) : 100)
    const rss1 = procRss(peer.pid)
    const cpuA = procCpuUs(peer.pid)
    const t0 = Date.now()
    let peerReport
    if (sc.kind === 'emitcost') {
      if (peerName === 'socketioxide') throw new Error('emitcost has no socketioxide peer')
      peer.send({ cmd: 'emitcost', room: 'bench', calls: sc.calls, rounds: sc.rounds })
      peerReport = await peer.next('COST', 300_000)
      gen.send('go')
    } else {
      gen.send('go')
      peer.send({ cmd: 'run', room: 'bench', duration_ms: sc.duration_ms, batch: sc.batch !== false, kinds: sc.kinds ?? [] })
      peerReport = await peer.next('DONE', sc.duration_ms + 120_000)
    }
    const summary = await gen.next('', (sc.duration_ms ?? 0) + 120_000)
    const wallMs = Date.now() - t0
    const cpuB = procCpuUs(peer.pid)
    return { scenario: sc.name, peer: peerName, ok: true, listen, ready, rss_before: rss0, rss_connected: rss1, peer_cpu_us: cpuB - cpuA, wall_ms: wallMs, peerReport, loadgen: summary }
  } finally {
    if (gen && !gen.exited) {
      try {
        process.kill(gen.pid, 'SIGKILL')
      } catch {}
    }
    await peer.stop()
  }
}

/** The numbers a table or chart needs, from one record. */
function metrics(r, sc) {
  const lg = r.loadgen
  const events = lg.events
  const m = {
    clients: r.ready.ready,
    events_delivered: events,
    events_per_s: lg.events_per_s,
    frames: lg.frames,
    bytes: lg.bytes,
    tcp_bytes: lg.tcp_bytes,
    tcp_segments: lg.tcp_segments,
    event_frames: lg.event_frames,
    p50_ms: lg.latency_us.p50 / 1000,
    p99_ms: lg.latency_us.p99 / 1000,
    max_ms: lg.latency_us.max / 1000,
    gaps: lg.gaps,
    reorders: lg.reorders,
    disconnects: lg.disconnects,
    setup_ms: r.ready.settled_ms,
    rss_mb: r.rss_connected / 2 ** 20,
    loadgen_cpu_pct: lg.cpu_pct,
    peer_cpu_pct: (100 * r.peer_cpu_us) / 1000 / Math.max(1, r.wall_ms),
  }
  if (events > 0) m.cpu_ns_per_event = (1000 * r.peer_cpu_us) / events
  if (sc.kind === 'run') {
    m.emitted = r.peerReport.events
    // Received of what the scenario planned: a peer that fell behind emitted less, or late.
    const planned = (r.peerReport.planned ?? r.peerReport.events) * r.ready.ready
    m.emitted_pct = r.peerReport.planned ? (100 * r.peerReport.events) / r.peerReport.planned : 100
    m.delivered_pct = planned ? (100 * events) / planned : 0
  }
  if (sc.kind === 'idle' && r.ready.ready > 0) m.rss_per_conn_kb = (r.rss_connected - r.rss_before) / r.ready.ready / 1024
  if (r.peerReport.eld_ms) {
    m.eld_p50_ms = r.peerReport.eld_ms.p50
    m.eld_p99_ms = r.peerReport.eld_ms.p99
    m.eld_max_ms = r.peerReport.eld_ms.max
  }
  if (sc.kind === 'emitcost') {
    m.emit_ns = r.peerReport.ns_per_call
    m.emit_min_ns = r.peerReport.min_ns
    m.emit_cpu_ns = r.peerReport.cpu_ns_per_call ?? undefined
  }
  return m
}

function median(xs) {
  const s = xs.filter((x) => typeof x === 'number' && !Number.isNaN(x)).sort((a, b) => a - b)
  if (s.length === 0) return undefined
  const k = s.length >> 1
  return s.length % 2 ? s[k] : (s[k - 1] + s[k]) / 2
}

function medianMetrics(list) {
  const out = {}
  for (const key of new Set(list.flatMap((m) => Object.keys(m)))) out[key] = median(list.map((m) => m[key]))
  return out
}

// ---------------------------------------------------------------------------------------------
// Reporting

const fmt = (v, digits = 1) => (v === undefined ? '–' : Math.abs(v) >= 1000 ? Math.round(v).toLocaleString('en-US') : v.toFixed(digits))
const ratio = (a, b) => (a === undefined || b === undefined || b === 0 ? '–' : `${(a / b).toPrecision(2)}×`)
/** A peer that could not keep up: delivered late (after the grace period) or not at all. */
const saturated = (m) => m.delivered_pct !== undefined && m.delivered_pct < 99

function markdown(results, meta) {
  const out = []
  const peers = PEER_NAMES
  out.push(`Run: ${meta.mode}, ${meta.reps} repetition(s) per cell, medians; ${meta.date}; pinning: ${meta.pinning}.`)
  out.push('')
  out.push('"delivered": events received within the run plus its grace period, of planned events × clients (a peer more than 1 s behind at the end stops emitting); below 99 % the peer could not keep up (marked *sat.*), and its latency and event-loop figures measure a backlog. "peer CPU %": of one core, over the run.')
  out.push('')
  out.push('| scenario | peer | clients | events/s delivered | delivered | p50 ms | p99 ms | max ms | peer CPU ns / delivered event | peer CPU % | event-loop p99 ms | gaps | disconnects |')
  out.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
  for (const sc of results) {
    if (sc.kind !== 'run') continue
    for (const p of peers) {
      const m = sc.peers[p]
      if (!m) continue
      out.push(`| ${sc.name} | ${p} | ${m.clients} | ${fmt(m.events_per_s, 0)} | ${fmt(m.delivered_pct)} %${saturated(m) ? ' *sat.*' : ''} | ${fmt(m.p50_ms, 2)} | ${fmt(m.p99_ms, 2)} | ${fmt(m.max_ms, 1)} | ${fmt(m.cpu_ns_per_event, 0)} | ${fmt(m.peer_cpu_pct, 0)} | ${m.eld_p99_ms === undefined ? 'n/a' : fmt(m.eld_p99_ms, 2)} | ${m.gaps} | ${m.disconnects} |`)
    }
  }
  out.push('')
  out.push('Ratios, nself-realtime ÷ peer, same run (lower is better for all):')
  out.push('')
  out.push('| scenario | CPU/event ÷ socket.io | CPU/event ÷ socketioxide | p99 ÷ socket.io | p99 ÷ socketioxide | event-loop p99 ÷ socket.io |')
  out.push('|---|---:|---:|---:|---:|---:|')
  for (const sc of results) {
    if (sc.kind !== 'run') continue
    const r = sc.peers['nself-realtime']
    const a = sc.peers['socket.io']
    const b = sc.peers.socketioxide
    if (!r) continue
    out.push(`| ${sc.name} | ${ratio(r.cpu_ns_per_event, a?.cpu_ns_per_event)} | ${ratio(r.cpu_ns_per_event, b?.cpu_ns_per_event)} | ${ratio(r.p99_ms, a?.p99_ms)} | ${ratio(r.p99_ms, b?.p99_ms)} | ${ratio(r.eld_p99_ms, a?.eld_p99_ms)} |`)
  }
  const on = results.find((s) => s.name === 'logs-batch-on')
  const off = results.find((s) => s.name === 'logs-batch-off')
  if (on && off) {
    out.push('')
    out.push('Batching, log stream, per delivered event (so that a peer that fell behind compares fairly): Socket.IO frames and their text bytes, and TCP payload bytes (websocket framing included) and segments from TCP_INFO:')
    out.push('')
    out.push('| peer | frames/event on / off | fewer frames | bytes/event on / off | fewer bytes | TCP bytes/event on / off | fewer TCP bytes | TCP segments/event on / off | fewer segments | p99 ms on / off |')
    out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
    const per = (m, k) => m[k] / Math.max(1, m.events_delivered)
    const fewer = (a, b, k) => `${fmt(100 * (1 - per(a, k) / per(b, k)))} %`
    for (const p of peers) {
      const a = on.peers[p]
      const b = off.peers[p]
      if (!a || !b) continue
      out.push(`| ${p} | ${per(a, 'frames').toFixed(3)} / ${per(b, 'frames').toFixed(3)} | ${fewer(a, b, 'frames')} | ${fmt(per(a, 'bytes'))} / ${fmt(per(b, 'bytes'))} | ${fewer(a, b, 'bytes')} | ${fmt(per(a, 'tcp_bytes'))} / ${fmt(per(b, 'tcp_bytes'))} | ${fewer(a, b, 'tcp_bytes')} | ${per(a, 'tcp_segments').toFixed(3)} / ${per(b, 'tcp_segments').toFixed(3)} | ${fewer(a, b, 'tcp_segments')} | ${fmt(a.p99_ms, 2)} / ${fmt(b.p99_ms, 2)}${saturated(b) ? ' *sat.*' : ''} |`)
    }
  }
  const idle = results.filter((s) => s.kind === 'idle')
  if (idle.length) {
    out.push('')
    out.push('Idle connections (RSS of the server process after connecting, minus before):')
    out.push('')
    out.push('| scenario | peer | connections | RSS MB | KB per connection | disconnects |')
    out.push('|---|---|---:|---:|---:|---:|')
    for (const sc of idle) {
      for (const p of peers) {
        const m = sc.peers[p]
        if (m) out.push(`| ${sc.name} | ${p} | ${m.clients} | ${fmt(m.rss_mb)} | ${fmt(m.rss_per_conn_kb, 1)} | ${m.disconnects} |`)
      }
    }
  }
  const cost = results.filter((s) => s.kind === 'emitcost')
  if (cost.length) {
    out.push('')
    out.push('JS-thread cost of one emit call (service:status, 251 B; nself-realtime `emitServiceStatus(obj, room)`, socket.io envelope + `io.to(room).emit`):')
    out.push('')
    out.push('"JS-thread CPU": the main thread\'s own time on a CPU (`/proc/self/task/<pid>/schedstat`) per call; "wall": elapsed time per call, which also counts the moments other threads (the hub\'s worker, the load generator, other tenants) held that CPU.')
    out.push('')
    out.push('| scenario | peer | clients in room | JS-thread CPU ns/call | wall ns/call (median) | wall ns/call (min) |')
    out.push('|---|---|---:|---:|---:|---:|')
    for (const sc of cost) {
      for (const p of peers) {
        const m = sc.peers[p]
        if (m) out.push(`| ${sc.name} | ${p} | ${m.clients} | ${fmt(m.emit_cpu_ns, 0)} | ${fmt(m.emit_ns, 0)} | ${fmt(m.emit_min_ns, 0)} |`)
      }
    }
  }
  out.push('')
  out.push(targets(results, meta).join('\n'))
  return out.join('\n')
}

/** The issue's targets against this run (quick runs use smaller sizes: indicative only). */
function targets(results, meta) {
  const get = (name, peer = 'nself-realtime') => results.find((s) => s.name === name)?.peers[peer]
  const rows = []
  const row = (target, figure, met) => rows.push(`| ${target} | ${figure} | ${met === undefined ? 'not measured' : met ? 'met' : 'missed'} |`)
  const e0 = get('emitcost-0')
  const e0ns = e0?.emit_cpu_ns ?? e0?.emit_ns
  row('emit ≤ 2 µs JS-thread (200-byte status)', e0 ? `${fmt(e0ns / 1000, 2)} µs of JS-thread CPU (${fmt(e0.emit_ns / 1000, 2)} µs wall)` : '–', e0 && e0ns <= 2000)
  const f4 = get('fanout-1000x400')
  row('event-loop p99 ≤ 5 ms while delivering ≥ 400,000 events/s to 1,000 clients', f4 ? `${fmt(f4.eld_p99_ms, 2)} ms at ${fmt(f4.events_per_s, 0)} events/s to ${f4.clients}` : '–', f4 && f4.eld_p99_ms <= 5 && f4.events_per_s >= 400_000 && f4.clients >= 1000)
  // CPU per delivered event is only comparable where both kept up: the largest such fan-out.
  const cpuCase = ['fanout-1000x400', 'fanout-5000', 'fanout-1000', 'fanout-100', 'dashboard-200', 'logs-batch-on']
    .map((n) => ({ n, r: get(n), s: get(n, 'socket.io') }))
    .find(({ r, s }) => r && s && !saturated(r) && !saturated(s))
  row('hub CPU per delivered event ≤ 1/8 of socket.io\'s', cpuCase ? `${ratio(cpuCase.r.cpu_ns_per_event, cpuCase.s.cpu_ns_per_event)} (${fmt(cpuCase.r.cpu_ns_per_event, 0)} vs ${fmt(cpuCase.s.cpu_ns_per_event, 0)} ns, ${cpuCase.n}, the largest fan-out where both kept up)` : 'no scenario where both kept up', cpuCase ? cpuCase.r.cpu_ns_per_event <= cpuCase.s.cpu_ns_per_event / 8 : undefined)
  const f1 = get('fanout-1000')
  row('latency p99 ≤ 10 ms at 1,000 clients × 100 unbatched events/s', f1 ? `${fmt(f1.p99_ms, 2)} ms at ${f1.clients} clients` : '–', f1 && f1.p99_ms <= 10 && f1.clients >= 1000)
  const on = get('logs-batch-on')
  const off = get('logs-batch-off')
  const pe = (m, k) => m[k] / Math.max(1, m.events_delivered)
  const fr = on && off ? 1 - pe(on, 'frames') / pe(off, 'frames') : 0
  const by = on && off ? 1 - pe(on, 'bytes') / pe(off, 'bytes') : 0
  const tb = on && off ? 1 - pe(on, 'tcp_bytes') / pe(off, 'tcp_bytes') : 0
  row('batching: ≥ 80 % fewer frames, ≥ 40 % fewer bytes (logs)', on && off ? `${fmt(100 * fr)} % fewer frames, ${fmt(100 * by)} % fewer bytes (${fmt(100 * tb)} % fewer TCP bytes) per event` : '–', on && off ? fr >= 0.8 && by >= 0.4 : undefined)
  const i10 = get('idle-10000') ?? get('idle-1000')
  row('≤ 16 KB RSS per idle connection at 10,000', i10 ? `${fmt(i10.rss_per_conn_kb, 1)} KB at ${i10.clients}` : '–', i10 ? i10.rss_per_conn_kb <= 16 && i10.clients >= 10_000 : undefined)
  const h = get('hold-10000')
  row('10,000 connections held 10 min with heartbeats, no spurious disconnect', h ? `${h.disconnects} disconnects of ${h.clients}` : '–', h ? h.disconnects === 0 && h.clients >= 10_000 : undefined)
  return [`Issue targets (${meta.mode}${meta.mode === 'quick' ? ': small sizes, so "missed" may only mean "not at the target\'s size"' : ''}):`, '', '| target | measured (nself-realtime) | |', '|---|---|---|', ...rows]
}

// ---------------------------------------------------------------------------------------------
// Main

function buildLoadgen() {
  const t0 = Date.now()
  const r = spawnSync('cargo', ['build', '--release', '--quiet', '--manifest-path', path.join(LOADGEN_DIR, 'Cargo.toml')], { stdio: 'inherit', env: { ...process.env, CARGO_TARGET_DIR: TARGET_DIR } })
  if (r.status !== 0) throw new Error('cargo build of bench/loadgen failed')
  return Date.now() - t0
}

function ensureAddon() {
  try {
    const hub = spawnSync(process.execPath, ['-e', "require('./index.js').getStats"], { cwd: ROOT })
    if (hub.status === 0) return 0
  } catch {}
  console.log('bench: the addon is not built; running npm run build')
  const t0 = Date.now()
  const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' })
  if (r.status !== 0) throw new Error('npm run build failed')
  return Date.now() - t0
}

function machine() {
  const cmd = (c, a) => spawnSync(c, a, { encoding: 'utf8' }).stdout?.trim() ?? ''
  return {
    cpu: os.cpus()[0]?.model,
    cpus: CPUS,
    mem_gb: +(os.totalmem() / 2 ** 30).toFixed(1),
    kernel: os.release(),
    node: process.version,
    rustc: cmd('rustc', ['--version']),
    loadavg_start: os.loadavg().map((x) => +x.toFixed(2)),
    ulimit_hard: cmd('sh', ['-c', 'ulimit -Hn']),
  }
}

/** `--report results.json`: the markdown and charts of an earlier run, without running anything. */
function reportOnly(file) {
  const { meta, results } = JSON.parse(fs.readFileSync(path.resolve(file), 'utf8'))
  const md = markdown(results, meta)
  fs.writeFileSync(path.join(path.dirname(path.resolve(file)), `latest-${meta.mode}.md`), md + '\n')
  writeCharts(results, PEER_NAMES, CHART_DIR, meta.mode)
  console.log(md)
}

async function main() {
  if (opt('--report', '')) return reportOnly(opt('--report', ''))
  const started = Date.now()
  const meta = { mode: LABEL || (QUICK ? 'quick' : 'full'), reps: REPS, date: new Date().toISOString(), machine: machine(), pinning: PIN ? `taskset: servers on CPU ${SERVER_CPU}, load generator on CPU ${LOADGEN_CPU}` : HAS_TASKSET ? 'off (--no-pin or one CPU)' : 'off (no taskset)', git: spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim() }
  console.log(`bench: ${meta.mode} run, ${REPS} repetition(s), peers ${PEER_NAMES.join(', ')}`)
  console.log(`bench: pinning: ${meta.pinning}`)
  meta.addon_build_ms = ensureAddon()
  meta.loadgen_build_ms = buildLoadgen()
  console.log(`bench: load generator built in ${(meta.loadgen_build_ms / 1000).toFixed(1)} s`)

  const results = []
  const failures = []
  for (const sc of scenarios()) {
    const entry = { name: sc.name, kind: sc.kind, what: sc.what, config: sc, peers: {}, runs: {} }
    const peers = (sc.peers ?? PEER_NAMES).filter((p) => PEER_NAMES.includes(p) && !(sc.kind === 'emitcost' && p === 'socketioxide'))
    for (let rep = 0; rep < REPS; rep++) {
      // Alternate the peer order per repetition, so drift in machine load hits all alike.
      const order = rep % 2 ? [...peers].reverse() : peers
      for (const p of order) {
        process.stdout.write(`bench: ${sc.name} × ${p} (rep ${rep + 1}/${REPS}) ... `)
        try {
          const r = await runOne(sc, p)
          const m = metrics(r, sc)
          ;(entry.runs[p] ??= []).push({ ...r, metrics: m })
          console.log(describe(sc, m))
          if (sc.kind !== 'idle' && sc.kind !== 'emitcost' && !(m.events_delivered > 0)) failures.push(`${sc.name} × ${p}: no events delivered`)
        } catch (err) {
          console.log('FAILED')
          console.error(`  ${err.message}`)
          failures.push(`${sc.name} × ${p}: ${err.message.split('\n')[0].slice(0, 300)}`)
          ;(entry.runs[p] ??= []).push({ ok: false, error: err.message })
        }
      }
    }
    for (const p of peers) {
      const ok = (entry.runs[p] ?? []).filter((r) => r.ok)
      if (ok.length) entry.peers[p] = medianMetrics(ok.map((r) => r.metrics))
    }
    results.push(entry)
  }

  meta.loadavg_end = os.loadavg().map((x) => +x.toFixed(2))
  meta.total_s = Math.round((Date.now() - started) / 1000)
  fs.mkdirSync(OUT_DIR, { recursive: true })
  const stamp = meta.date.replace(/[:.]/g, '-')
  const file = path.join(OUT_DIR, `${meta.mode}-${stamp}.json`)
  const summary = { meta, results: results.map(({ runs, ...r }) => r), failures }
  fs.writeFileSync(file, JSON.stringify({ ...summary, raw: results.map((r) => ({ name: r.name, runs: r.runs })) }, null, 1))
  fs.writeFileSync(path.join(OUT_DIR, `latest-${meta.mode}.json`), JSON.stringify(summary, null, 1))
  const md = markdown(results, meta)
  fs.writeFileSync(path.join(OUT_DIR, `latest-${meta.mode}.md`), md + '\n')
  const charts = writeCharts(results, PEER_NAMES, CHART_DIR, meta.mode)
  console.log('')
  console.log(md)
  console.log('')
  console.log(`bench: results ${path.relative(ROOT, file)} (and latest-${meta.mode}.json/.md); charts ${charts.map((c) => path.relative(ROOT, c)).join(', ')}`)
  console.log(`bench: ${meta.total_s} s in all; load average ${meta.machine.loadavg_start.join(' ')} -> ${meta.loadavg_end.join(' ')}`)
  if (failures.length) {
    console.error(`bench: the harness broke in ${failures.length} run(s):\n  ${failures.join('\n  ')}`)
    process.exit(1)
  }
}

function describe(sc, m) {
  if (sc.kind === 'emitcost') return `${fmt(m.emit_ns, 0)} ns/call`
  if (sc.kind === 'idle') return `${m.clients} conns, ${fmt(m.rss_per_conn_kb)} KB/conn, ${m.disconnects} disconnects`
  return `${fmt(m.events_per_s, 0)} ev/s (${fmt(m.delivered_pct)} %), p99 ${fmt(m.p99_ms, 2)} ms, ${fmt(m.cpu_ns_per_event, 0)} ns CPU/event${m.eld_p99_ms === undefined ? '' : `, loop p99 ${fmt(m.eld_p99_ms, 2)} ms`}, gaps ${m.gaps}, loadgen ${fmt(m.loadgen_cpu_pct, 0)} % CPU`
}

main().catch((err) => {
  console.error(`bench: ${err.stack ?? err}`)
  process.exit(1)
})
