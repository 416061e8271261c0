// A small terminal client for a nself-realtime hub: one line per event.
//
//   node demo/watch.mjs [URL] [--room ROOM]... [--type TYPE]... [--transport websocket|polling] [--raw]
//
//   URL        hub origin; default $REALTIME_URL, else http://127.0.0.1:3022
//   --room     join a room with `join:room` (acked; joined again after every reconnect)
//   --type     show only these event types (repeat, or comma-separate); connection lines always show
//   --path     Socket.IO path (default /api/ws)
//   --transport  only this transport (default: polling, then upgrade to websocket)
//   --raw      print each envelope as JSON instead of a summary
//
// `batch` packets are unpacked: each event in them gets its own line, marked `b`.
// Sends `heartbeat` every 30 s so that the hub's stale-socket sweep leaves it alone.
// Ctrl-C prints how many events of each type arrived.

import { io } from 'socket.io-client'
import { unpackBatch } from 'nself-realtime/events'

const USAGE = `usage: node demo/watch.mjs [URL] [--room ROOM]... [--type TYPE[,TYPE]]... [--path /api/ws]
                          [--transport websocket|polling] [--raw] [--no-color]
  URL defaults to $REALTIME_URL, else http://127.0.0.1:3022
  e.g. node demo/watch.mjs --room project-demo --type logs:stream`

function parseArgs(argv) {
  const opts = { url: process.env.REALTIME_URL || 'http://127.0.0.1:3022', path: '/api/ws', rooms: [], types: [], transport: null, raw: false, color: true }
  const value = (i, name) => {
    const v = argv[i + 1]
    if (v === undefined || v.startsWith('--')) fail(`${name} needs a value`)
    return v
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined]
    const take = () => (inline !== undefined ? inline : value(i++, flag))
    switch (flag) {
      case '-h':
      case '--help':
        console.log(USAGE)
        process.exit(0)
      case '--room':
        opts.rooms.push(take())
        break
      case '--type':
        opts.types.push(...take().split(',').map((t) => t.trim()).filter(Boolean))
        break
      case '--path':
        opts.path = take()
        break
      case '--transport': {
        const t = take()
        if (t !== 'websocket' && t !== 'polling') fail(`--transport: expected websocket or polling, got ${t}`)
        opts.transport = t
        break
      }
      case '--raw':
        opts.raw = true
        break
      case '--no-color':
        opts.color = false
        break
      default:
        if (a.startsWith('-')) fail(`unknown option ${a}`)
        opts.url = a
    }
  }
  return opts
}

function fail(msg) {
  console.error(`watch: ${msg}\n${USAGE}`)
  process.exit(2)
}

const opts = parseArgs(process.argv.slice(2))

// ---------------------------------------------------------------------------------------------
// Formatting

const useColor = opts.color && process.stdout.isTTY && !process.env.NO_COLOR
const paint = (code) => (s) => (useColor ? `\x1b[${code}m${s}\x1b[0m` : String(s))
const dim = paint('2')
const bold = paint('1')
const red = paint('31')
const green = paint('32')
const yellow = paint('33')
const blue = paint('34')
const magenta = paint('35')
const cyan = paint('36')

const TYPE_COLOR = {
  'service:status': green,
  'docker:stats': blue,
  'logs:stream': dim,
  'build:progress': magenta,
  'deploy:progress': cyan,
  'db:query:result': yellow,
}
const LEVEL_COLOR = { error: red, warn: yellow, info: (s) => s, debug: dim }
const STATUS_COLOR = { running: green, healthy: green, complete: green, starting: yellow, stopping: yellow, pending: yellow, 'in-progress': yellow, stopped: red, unhealthy: red, failed: red }
const colorStatus = (s) => (STATUS_COLOR[s] ?? ((x) => x))(s)

const PG_TYPES = { 16: 'bool', 19: 'name', 20: 'int8', 21: 'int2', 23: 'int4', 25: 'text', 114: 'json', 700: 'float4', 701: 'float8', 1043: 'varchar', 1082: 'date', 1114: 'timestamp', 1184: 'timestamptz', 1700: 'numeric', 2950: 'uuid', 3802: 'jsonb' }

function bytes(n) {
  if (typeof n !== 'number') return '?'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024
    i++
  }
  return `${n.toFixed(i === 0 ? 0 : 1)}${units[i]}`
}

const width = () => process.stdout.columns || 160
const clip = (s, n) => (s.length > n ? `${s.slice(0, Math.max(0, n - 1))}…` : s)

/** One short summary per event type; anything unknown is shown as compact JSON. */
function summary(type, d) {
  if (d === null || typeof d !== 'object') return JSON.stringify(d)
  switch (type) {
    case 'service:status': {
      const r = d.resources ?? {}
      const health = d.health ? ` health=${colorStatus(d.health.status)}` : ''
      const res = r.cpu !== undefined || r.memory !== undefined ? ` cpu=${r.cpu ?? '?'}% mem=${bytes(r.memory)}` : ''
      return `${bold(d.service)} ${colorStatus(d.status)}${health}${res}`
    }
    case 'docker:stats': {
      const s = d.stats ?? {}
      return `${d.containerName} cpu ${s.cpu?.toFixed?.(1)}% mem ${bytes(s.memory)}/${bytes(s.memoryLimit)} (${s.memoryPercent?.toFixed?.(1)}%) net ↓${bytes(s.network?.rx)} ↑${bytes(s.network?.tx)} io r${bytes(s.blockIO?.read)} w${bytes(s.blockIO?.write)}`
    }
    case 'logs:stream': {
      const level = d.level ?? 'info'
      return `${bold(d.service)} ${(LEVEL_COLOR[level] ?? ((x) => x))(level.toUpperCase().padEnd(5))} ${dim(d.source ?? '')} ${d.line}`
    }
    case 'build:progress': {
      const steps = d.currentStep !== undefined ? `[${d.currentStep}/${d.totalSteps ?? '?'}] ` : ''
      return `${steps}${d.step} ${String(d.progress).padStart(3)}% ${colorStatus(d.status)}${d.message ? ` — ${d.message}` : ''}`
    }
    case 'deploy:progress': {
      const last = Array.isArray(d.logs) && d.logs.length ? ` — ${d.logs[d.logs.length - 1]}` : ''
      const pct = d.progress !== undefined ? ` ${d.progress}%` : ''
      return `${d.environment} ${d.stage}${pct} ${colorStatus(d.status)}${d.error ? red(` ${d.error}`) : ''}${last}`
    }
    case 'db:query:result': {
      if (d.error) return `${d.queryId} ${red(`error: ${d.error}`)}`
      const fields = (d.fields ?? []).map((f) => `${f.name}:${PG_TYPES[f.dataTypeID] ?? f.dataTypeID}`).join(', ')
      const time = d.executionTime !== undefined ? ` in ${d.executionTime}ms` : ''
      return `${d.queryId} ${d.rowCount} row(s)${time} (${fields})`
    }
    default:
      return JSON.stringify(d)
  }
}

function hms(iso) {
  const t = iso ? new Date(iso) : new Date()
  return Number.isNaN(t.getTime()) ? String(iso) : t.toTimeString().slice(0, 8) + '.' + String(t.getMilliseconds()).padStart(3, '0')
}

const counts = new Map()
const wanted = (type) => opts.types.length === 0 || opts.types.includes(type)

/** Prints one event envelope `{ type, data, timestamp, room? }`. */
function show(envelope, viaBatch) {
  const type = envelope?.type ?? '?'
  counts.set(type, (counts.get(type) ?? 0) + 1)
  if (!wanted(type)) return
  if (opts.raw) {
    console.log(JSON.stringify(envelope))
    return
  }
  const color = TYPE_COLOR[type] ?? ((x) => x)
  const head = `${dim(hms(envelope.timestamp))} ${viaBatch ? dim('b') : ' '} ${color(type.padEnd(15))} ${dim((envelope.room ?? '*').padEnd(12))} `
  const visibleHead = 12 + 3 + 16 + 13
  console.log(head + clip(summary(type, envelope.data), Math.max(40, width() - visibleHead)))
}

function note(msg) {
  console.log(`${dim(hms())}   ${bold(msg)}`)
}

// ---------------------------------------------------------------------------------------------
// Connection

const socket = io(opts.url, {
  path: opts.path,
  ...(opts.transport ? { transports: [opts.transport] } : {}),
})
const manager = socket.io

note(`connecting to ${opts.url} (path ${opts.path})${opts.rooms.length ? `, room(s) ${opts.rooms.join(', ')}` : ''}${opts.types.length ? `, showing ${opts.types.join(', ')}` : ''}`)

socket.on('connect', () => {
  const transport = manager.engine?.transport?.name ?? '?'
  note(green(`connected as ${socket.id} (${transport})`))
  manager.engine?.once('upgrade', (t) => note(dim(`transport upgraded to ${t.name}`)))
  // Rooms are per connection: join them again after every reconnect.
  for (const room of opts.rooms) {
    socket.timeout(5000).emit('join:room', { roomId: room }, (err, ack) => {
      if (err) note(red(`join:room ${room}: no ack within 5 s`))
      else if (ack?.ok) note(green(`joined room ${ack.room ?? room}${Array.isArray(ack.members) ? ` (${ack.members.length} member(s) now)` : ''}`))
      else note(red(`join:room ${room} refused: ${ack?.error?.code ?? '?'} ${ack?.error?.message ?? JSON.stringify(ack)}`))
    })
  }
})
socket.on('disconnect', (reason) => {
  note(red(`disconnected: ${reason}`))
  // After a server-side disconnect (e.g. the hub's stale-socket sweep) socket.io-client does not
  // reconnect by itself; a watcher should.
  if (reason === 'io server disconnect') {
    note(yellow('the hub closed this socket; reconnecting in 1 s'))
    setTimeout(() => socket.connect(), 1000)
  }
})
socket.on('connect_error', (err) => note(red(`connect error: ${err.message}`)))
manager.on('reconnect_attempt', (n) => note(yellow(`reconnecting (attempt ${n})…`)))
manager.on('reconnect', (n) => note(green(`reconnected after ${n} attempt(s)`)))

// The hub sweeps sockets that send nothing for `presence.staleAfterMs` (default 5 min); Engine.IO
// pongs do not count. A listen-only client therefore sends the protocol's `heartbeat` now and then.
const HEARTBEAT_MS = 30_000
setInterval(() => {
  if (socket.connected) socket.emit('heartbeat')
}, HEARTBEAT_MS).unref()

socket.on('error', (e) => note(red(`hub refused a request: ${e?.code ?? ''} ${e?.message ?? JSON.stringify(e)}`)))

socket.onAny((event, ...args) => {
  if (event === 'error') return
  if (event === 'pong' && !opts.types.includes('pong')) return // answers to our heartbeat
  if (event === 'batch') {
    // A compact object by default, an array with batch.format 'envelopes': unpackBatch reads both.
    let envelopes
    try {
      envelopes = unpackBatch(args[0])
    } catch (err) {
      note(red(err.message))
      return
    }
    for (const envelope of envelopes) show(envelope, true)
    return
  }
  const first = args[0]
  // Protocol events (presence:*, pong) carry no envelope: wrap them for printing.
  if (first && typeof first === 'object' && first.type === event && 'data' in first) show(first, false)
  else show({ type: event, data: first, timestamp: new Date().toISOString(), room: first?.room }, false)
})

function quit() {
  socket.close()
  const total = [...counts.values()].reduce((a, b) => a + b, 0)
  const parts = [...counts].map(([t, n]) => `${t} ${n}`).join(', ')
  console.log(`\n${bold(`received ${total} event(s)`)}${total ? `: ${parts}` : ''}`)
  process.exit(0)
}
process.on('SIGINT', quit)
process.on('SIGTERM', quit)
