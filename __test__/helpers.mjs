// Shared helpers of the integration tests: the addon, hub setup/teardown, real socket.io-client
// clients that record everything they receive, bounded waits, and valid payloads of the six types.

import { createRequire } from 'node:module'
import { performance } from 'node:perf_hooks'
import { io } from 'socket.io-client'

export const hub = createRequire(import.meta.url)('../index.js')

/** `nself-realtime/events` as built (`npm run build`): `unpackBatch` reads `batch` packets. */
export const { unpackBatch } = await import('../dist/esm/events.js')

export const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

/** Polls `predicate` until it returns something truthy (which is returned), or throws. */
export async function waitFor(predicate, timeoutMs = 5000, what = predicate.toString()) {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const v = await predicate()
    if (v) return v
    if (performance.now() > deadline) {
      throw new Error(`waitFor timed out after ${timeoutMs} ms: ${what}`)
    }
    await new Promise((r) => setTimeout(r, 5))
  }
}

/** The first argument of the next `event` on `emitter`, or throws after `timeoutMs`. */
export function once(emitter, event, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener)
      reject(new Error(`no '${event}' within ${timeoutMs} ms`))
    }, timeoutMs)
    const listener = (arg) => {
      clearTimeout(timer)
      resolve(arg)
    }
    emitter.once(event, listener)
  })
}

/** Resolves after `ms` of wall time: only for tests whose subject is time itself. */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/**
 * Starts a hub for one test on a free port and registers its teardown (stop the hub, then close
 * every client the test made). Returns `{ info, connect }`.
 *
 * The hub is stopped before the clients close on purpose: closing a long-polling client right
 * before stopHub can make stopHub wait its whole timeoutMs (see shutdown.test.mjs, "stopHub right
 * after a polling client disconnected ...").
 */
export async function setup(t, options = {}) {
  const clients = []
  t.teardown(async () => {
    await hub.stopHub()
    for (const c of clients) c.close()
  })
  const info = await hub.startHub({ port: 0, ...options })
  return {
    info,
    clients,
    connect: (opts) => connect(info, opts, clients),
  }
}

/**
 * A real socket.io-client socket, connected. Every received event is recorded in `socket.log`
 * as `{ event, arg, at }` (at: performance.now()); `socket.engineHandshake` is the Engine.IO
 * open packet; `socket.disconnects` the disconnect reasons.
 */
export async function connect(info, opts = {}, registry) {
  const { transports = ['websocket'], ...rest } = opts
  const socket = io(info.url, {
    path: info.path,
    transports,
    forceNew: true,
    reconnection: false,
    ...rest,
  })
  registry?.push(socket)
  socket.log = []
  socket.disconnects = []
  socket.onAny((event, ...args) => {
    // A `batch` packet is recorded unpacked (`arg`: its envelopes, in order), as it arrived in
    // `raw` (a compact object by default, an array with `batch.format: 'envelopes'`). One that
    // does not unpack keeps `arg` = `raw`, which fails the test's checks, and says why.
    if (event === 'batch') {
      let arg = args[0]
      let batchError
      try {
        arg = unpackBatch(args[0])
      } catch (error) {
        batchError = error
      }
      socket.log.push({ event, arg, raw: args[0], batchError, args, at: performance.now() })
      return
    }
    socket.log.push({ event, arg: args[0], args, at: performance.now() })
  })
  socket.on('disconnect', (reason) => socket.disconnects.push(reason))
  socket.io.engine?.once('handshake', (data) => {
    socket.engineHandshake = data
  })
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('client did not connect within 5000 ms')), 5000)
    socket.once('connect', () => {
      clearTimeout(timer)
      resolve()
    })
    socket.once('connect_error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
  })
  return socket
}

/** Emits with an ack and resolves with the ack's argument (times out after `timeoutMs`). */
export function request(socket, event, payload, timeoutMs = 5000) {
  const started = performance.now()
  const sent =
    payload === undefined
      ? socket.timeout(timeoutMs).emitWithAck(event)
      : socket.timeout(timeoutMs).emitWithAck(event, payload)
  return sent.catch((err) => {
    const waited = Math.round(performance.now() - started)
    throw new Error(
      `no ack for ${event} ${JSON.stringify(payload)} from socket ${socket.id} ` +
        `(connected: ${socket.connected}) after ${waited} ms: ${err.message}`,
    )
  })
}

/** Joins a room and checks the ack: ok, the room, and the members, this socket among them. */
export async function join(t, socket, room) {
  const ack = await request(socket, 'join:room', { roomId: room })
  t.like(ack, { ok: true, room })
  t.true(ack.members.some((m) => m.socketId === socket.id && m.userId === 'anonymous'))
  return ack
}

/** The envelopes a socket received, with `batch` packets unpacked, in order. */
export function envelopes(socket, { includeProtocol = false } = {}) {
  const out = []
  for (const { event, arg } of socket.log) {
    if (event === 'batch') out.push(...arg)
    else if (includeProtocol || !isProtocolEvent(event)) out.push(arg)
  }
  return out
}

/** Events the hub sends on its own (not results of an emitter call). */
export function isProtocolEvent(event) {
  return event.startsWith('presence:') || event === 'pong' || event === 'error'
}

/** The events of a socket's log that came from emitters (`batch` packets not unpacked). */
export function emitted(socket) {
  return socket.log.filter((e) => !isProtocolEvent(e.event))
}

let sentinelSeq = 0

/**
 * Emits a broadcast sentinel event and waits until each socket received it. Because every
 * target's packets reach a client in emit order and the dispatcher is one queue, anything a socket
 * would wrongly have been sent before is in its log by then. A room's pending batch is not
 * flushed by a broadcast: list such rooms in `flushRooms` (an unbatched `test:flush` to each
 * room sends its batch first).
 */
export async function sentinel(sockets, { flushRooms = [], timeoutMs = 5000 } = {}) {
  const n = ++sentinelSeq
  for (const room of flushRooms) hub.emit('test:flush', { n }, room)
  hub.emit('test:sentinel', { n })
  await Promise.all(
    sockets.map((s) =>
      waitFor(
        () => s.log.some((e) => e.event === 'test:sentinel' && e.arg?.data?.n === n),
        timeoutMs,
        `sentinel ${n} on ${s.id}`,
      ),
    ),
  )
  return n
}

/** Counts `event` in a socket's log. */
export const count = (socket, event) => socket.log.filter((e) => e.event === event).length

export const now = () => new Date().toISOString()

/** Valid payloads of the six types, each with an extra field that must pass through. */
export function payloads() {
  const timestamp = now()
  return {
    'service:status': {
      service: 'postgres',
      status: 'running',
      timestamp,
      containerId: 'c0ffee',
      health: { status: 'healthy', lastCheck: timestamp },
      resources: { cpu: 12.5, memory: 1024 },
      extra: { nested: [1, 'two', { three: 3 }], flag: true },
    },
    'build:progress': {
      step: 'compile',
      progress: 42.5,
      status: 'in-progress',
      message: 'compiling',
      timestamp,
      totalSteps: 5,
      currentStep: 2,
      logs: ['a', 'b'],
      extra: 'kept',
    },
    'deploy:progress': {
      stage: 'rollout',
      environment: 'staging',
      status: 'complete',
      logs: ['done'],
      timestamp,
      progress: 100,
      extra: [null, 0],
    },
    'logs:stream': {
      service: 'api',
      line: 'GET /health 200 "quoted" \u00e9\u4e2d',
      timestamp,
      level: 'info',
      source: 'stdout',
      extra: { requestId: 'r-1' },
    },
    'docker:stats': {
      containerId: 'abc123',
      containerName: 'nself_api',
      timestamp,
      stats: {
        cpu: 3.25,
        memory: 104857600,
        memoryLimit: 2147483648,
        memoryPercent: 4.88,
        network: { rx: 1000, tx: 2000 },
        blockIO: { read: 0, write: 4096 },
      },
      extra: 1.5,
    },
    'db:query:result': {
      queryId: 'q-1',
      rows: [{ id: 1, name: 'x' }, { id: 2, name: null }],
      rowCount: 2,
      fields: [
        { name: 'id', dataTypeID: 23 },
        { name: 'name', dataTypeID: 25 },
      ],
      executionTime: 1.25,
      timestamp,
      extra: { plan: 'seq scan' },
    },
  }
}

/** Emitter function names by event type. */
export const EMITTERS = {
  'service:status': 'emitServiceStatus',
  'build:progress': 'emitBuildProgress',
  'deploy:progress': 'emitDeployProgress',
  'logs:stream': 'emitLogStream',
  'docker:stats': 'emitDockerStats',
  'db:query:result': 'emitDbQueryResult',
}

/** Types batched by default. */
export const BATCHED = new Set(['logs:stream', 'docker:stats'])

/** A valid log line with a sequence number. */
export const logLine = (i, extra = {}) => ({
  service: 'api',
  line: `line ${i}`,
  timestamp: now(),
  seq: i,
  ...extra,
})

/** Checks the form of an envelope: `{ type, data, timestamp, room? }` and nothing else. */
export function assertEnvelope(t, env, { type, data, room, seq }) {
  const keys = room === undefined ? ['data', 'epoch', 'seq', 'timestamp', 'type'] : ['data', 'epoch', 'room', 'seq', 'timestamp', 'type']
  t.deepEqual(Object.keys(env).sort(), keys)
  t.is(env.epoch, hub.hubInfo()?.epoch, 'the epoch of the running hub')
  t.true(Number.isInteger(env.seq) && env.seq >= 1, `seq ${env.seq}`)
  if (seq !== undefined) t.is(env.seq, seq)
  t.is(env.type, type)
  t.deepEqual(env.data, data)
  t.regex(env.timestamp, ISO_MS)
  t.true(Math.abs(Date.parse(env.timestamp) - Date.now()) < 10_000, `timestamp ${env.timestamp} is now`)
  if (room === undefined) t.false('room' in env)
  else t.is(env.room, room)
}

/** Waits until the wall clock has moved on by a few ms (presence times have ms resolution). */
export function clockTick(ms = 3) {
  const from = Date.now()
  return waitFor(() => Date.now() >= from + ms, 1000)
}
