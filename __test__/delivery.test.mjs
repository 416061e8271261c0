// Lossless delivery: sequence numbers, history and recovery after reconnects and queue overflow,
// acknowledged targeted emits. Real hub, the package's WebSocketClient and plain socket.io-client.
//
// The jitter test runs for DELIVERY_JITTER_SECONDS (default 60, as the delivery issue asks).

import test from 'ava'

import { hub, connect, sleep, waitFor } from './helpers.mjs'

const { WebSocketClient } = await import('../dist/esm/client.js')

const JITTER_MS = Number(process.env.DELIVERY_JITTER_SECONDS ?? 60) * 1000

async function start(t, options = {}) {
  const clients = []
  t.teardown(async () => {
    for (const c of clients) c.disconnect()
    if (hub.hubInfo()) await hub.stopHub({ timeoutMs: 2000 })
  })
  const info = await hub.startHub({ port: 0, ...options })
  const client = (opts = {}) => {
    const c = new WebSocketClient(info.url, {
      allowServer: true,
      transports: ['websocket'],
      reconnectDelays: [200, 400, 800, 1600],
      jitter: 0.5,
      ackTimeoutMs: 3000,
      ...opts,
    })
    clients.push(c)
    return c
  }
  return { info, client, clients }
}

/** The underlying engine.io socket of a WebSocketClient (private field, reached for the test). */
const engine = (c) => c.socket?.io?.engine
/** Drops the connection from the client side, as a network failure would. */
const forceClose = (c) => engine(c)?.close()
/** The TCP socket under a Node websocket transport: pausing it makes the client stop reading. */
const tcp = (c) => engine(c)?.transport?.ws?._socket

const range = (n, from = 1) => Array.from({ length: n }, (_, i) => i + from)

/** The first position where `got` differs from 1..n, described, or null when equal. */
function firstDifference(got, n) {
  for (let i = 0; i < Math.max(got.length, n); i++) {
    if (got[i] !== i + 1) return `at index ${i}: expected ${i + 1 <= n ? i + 1 : 'nothing'}, got ${got[i]} (${got.length} received)`
  }
  return null
}

// 200 clients on one address: the per-address connection limits (meant for the internet) are
// off in the tests that open that many.
const MANY_FROM_ONE_ADDRESS = { rateLimit: { connectionsPerSecondPerIp: 0, maxConnectionsPerIp: 0 } }

test.serial(`jitter: 200 clients force-closed every 2-5 s for ${JITTER_MS / 1000} s at 50 events/s get every event once, in order`, async (t) => {
  t.timeout(JITTER_MS + 90_000)
  const { client, clients } = await start(t, MANY_FROM_ONE_ADDRESS)
  const got = []
  for (let i = 0; i < 200; i++) {
    const c = client()
    const mine = []
    got.push(mine)
    c.on('logs:stream', (data) => mine.push(Number(data.line)))
    c.connect()
  }
  await Promise.all(clients.map((c) => c.joinRoom('jitter')))

  let n = 0
  const emitter = setInterval(() => {
    n += 1
    hub.emitLogStream({ service: 'jitter', line: String(n), timestamp: new Date().toISOString() }, 'jitter')
  }, 20)
  let closes = 0
  let jittering = true
  const timers = clients.map((c) => {
    const next = () =>
      setTimeout(
        () => {
          if (!jittering) return
          if (c.isConnected()) {
            forceClose(c)
            closes += 1
          }
          timer.ref = next()
        },
        2000 + Math.random() * 3000,
      )
    const timer = { ref: next() }
    return timer
  })
  await sleep(JITTER_MS)
  jittering = false
  for (const timer of timers) clearTimeout(timer.ref)
  clearInterval(emitter)
  const total = n

  await waitFor(() => got.every((g) => g.length >= total), 30_000, 'every client caught up').catch(() => undefined)
  const stats = hub.getStats()
  const bad = got.map((g, i) => [i, firstDifference(g, total)]).filter(([, d]) => d !== null)
  const received = got.reduce((sum, g) => sum + new Set(g).size, 0)
  t.log(`${total} events x 200 clients, ${closes} forced closes, delivery ${((received / (total * 200)) * 100).toFixed(3)} %`)
  t.log(`recoveries ${stats.recoveries}, events replayed ${stats.eventsReplayed}, misses ${stats.recoveryMisses}`)
  t.true(closes >= 200 * Math.floor(JITTER_MS / 5000) * 0.8, `the connections were cut (${closes} times)`)
  t.deepEqual(bad.slice(0, 3), [], `${bad.length} client(s) did not get 1..${total} exactly once in order`)
  t.is(stats.recoveryMisses, 0)
  t.true(stats.recoveries > 0)
})

test.serial('hub stopped and started again with 200 clients: all reconnect and each learns it did not recover', async (t) => {
  t.timeout(60_000)
  const { info, client, clients } = await start(t, MANY_FROM_ONE_ADDRESS)
  const resyncs = new Map()
  for (let i = 0; i < 200; i++) {
    const c = client()
    c.on('resync', (data) => resyncs.set(c, data))
    c.connect()
  }
  await Promise.all(clients.map((c) => c.joinRoom('restart')))
  hub.emit('before', { n: 1 }, 'restart')
  await sleep(200)

  await hub.stopHub({ timeoutMs: 2000 })
  await waitFor(() => clients.every((c) => !c.isConnected()), 10_000, 'every client saw the hub go')
  const restarted = Date.now()
  await hub.startHub({ port: info.port, ...MANY_FROM_ONE_ADDRESS })
  await waitFor(() => clients.every((c) => c.isConnected() && c.getStatus().recovered !== undefined), 20_000, 'every client reconnected and settled recovery')
  const spread = clients.map((c) => c.getStatus().lastConnected.getTime() - restarted).sort((a, b) => a - b)
  t.log(`reconnected between ${spread[0]} and ${spread[spread.length - 1]} ms after the restart (median ${spread[100]})`)
  t.true(spread[spread.length - 1] - spread[0] > 50, 'reconnects are spread by the jitter, not all at once')
  t.true(clients.every((c) => c.getStatus().recovered === false), 'the history went with the process: recovered is false')
  t.is(resyncs.size, 200)
  t.true([...resyncs.values()].every((r) => r.reason === 'epoch' && r.streams.includes('restart')))

  // Rooms were joined again and numbering starts afresh: events flow and are delivered.
  const after = []
  for (const c of clients) c.on('after', (data) => after.push(data.n))
  hub.emit('after', { n: 2 }, 'restart')
  await waitFor(() => after.length === 200, 5000, 'the first event after the restart reached all 200')
  t.true(after.every((n) => n === 2))
})

test.serial('a client that stops reading overflows its queue, then recovers every event in order', async (t) => {
  t.timeout(60_000)
  const { client } = await start(t, { maxQueuedPackets: 16, history: { maxEvents: 20_000 } })
  const slow = client({ heartbeatIntervalMs: 500, ackTimeoutMs: 2000 })
  const got = []
  slow.on('blob', (data) => got.push(data.n))
  slow.connect()
  await slow.joinRoom('slow')

  tcp(slow).pause()
  const pad = 'x'.repeat(4000)
  const total = 5000
  for (let n = 1; n <= total; n++) hub.emit('blob', { n, pad }, 'slow')
  await waitFor(() => hub.getStats().eventsDropped > 0, 10_000, 'the paused client\'s queue overflowed')
  await sleep(300)
  const dropped = hub.getStats().eventsDropped
  tcp(slow).resume()

  // The live gap (events after the hole) and the tail (seen through the heartbeat's stream
  // heads) are both fetched from history.
  await waitFor(() => got.length >= total, 30_000, `all ${total} events (have ${got.length})`)
  await sleep(200)
  t.is(firstDifference(got, total), null)
  const stats = hub.getStats()
  t.log(`dropped ${dropped}, recovered in ${stats.recoveries} request(s), ${stats.eventsReplayed} replayed`)
  t.true(stats.recoveries > 0)
  const mine = stats.droppedBySocket.find((d) => d.socketId === slow.id)
  t.truthy(mine, 'the slow socket is listed in droppedBySocket')
  t.true(mine.events > 0 && mine.events <= total)
})

test.serial('a gap at the end of a stream is found through the heartbeat and recovered', async (t) => {
  const { client } = await start(t, { maxQueuedPackets: 16, history: { maxEvents: 5000 } })
  const c = client({ heartbeatIntervalMs: 300 })
  const got = []
  c.on('tail', (data) => got.push(data.n))
  c.connect()
  await c.joinRoom('tail')
  hub.emit('tail', { n: 1 }, 'tail')
  await waitFor(() => got.length === 1)
  tcp(c).pause()
  const pad = 'y'.repeat(8000)
  for (let n = 2; n <= 2000; n++) hub.emit('tail', { n, pad }, 'tail')
  await waitFor(() => hub.getStats().eventsDropped > 0 && hub.getStats().eventsQueued === 0, 10_000, 'overflow')
  await sleep(300) // every emit went through the dispatcher: the last ones were dropped
  tcp(c).resume()
  // Nothing is emitted after the hole: only the pong's heads can reveal it.
  await waitFor(() => got.length === 2000, 20_000, `the tail (have ${got.length})`)
  t.is(firstDifference(got, 2000), null)
})

test.serial('a gap larger than the history is reported with resync, and delivery goes on from there', async (t) => {
  const { client } = await start(t, { maxQueuedPackets: 16, history: { maxEvents: 100 } })
  const c = client({ heartbeatIntervalMs: 300 })
  const got = []
  const resyncs = []
  c.on('big', (data) => got.push(data.n))
  c.on('resync', (data) => resyncs.push(data))
  c.connect()
  await c.joinRoom('big')
  tcp(c).pause()
  const pad = 'z'.repeat(8000)
  for (let n = 1; n <= 2000; n++) hub.emit('big', { n, pad }, 'big')
  await waitFor(() => hub.getStats().eventsDropped > 0, 10_000, 'overflow')
  tcp(c).resume()
  await waitFor(() => resyncs.length > 0, 10_000, 'resync')
  t.deepEqual(resyncs[0], { streams: ['big'], reason: 'history' })
  hub.emit('big', { n: 2001 }, 'big')
  await waitFor(() => got.includes(2001), 5000, 'delivery goes on')
  // What arrived is in order and unrepeated, with one hole that the app was told about.
  t.true(got.every((n, i) => i === 0 || n > got[i - 1]))
  t.true(hub.getStats().recoveryMisses >= 1)
})

test.serial('emitToSocket resolves with the client ack; a retry the client already handled is acted on once', async (t) => {
  const { client } = await start(t)
  const c = client()
  const jobs = []
  c.on('job:done', (data, envelope) => jobs.push({ data, envelope }))
  c.connect()
  await waitFor(() => c.isConnected())
  t.deepEqual(await hub.emitToSocket(c.id, 'job:done', { job: 1 }), { ok: true })
  t.is(jobs.length, 1)
  t.deepEqual(jobs[0].data, { job: 1 })
  t.true(Number.isInteger(jobs[0].envelope.id))

  // The client stops reading for longer than the ack timeout: the hub sends again, the client
  // then gets both copies, acts on one and acks.
  tcp(c).pause()
  const answer = hub.emitToSocket(c.id, 'job:done', { job: 2 }, { ackTimeoutMs: 300, retries: 5 })
  await sleep(800)
  tcp(c).resume()
  t.deepEqual(await answer, { ok: true })
  await sleep(300)
  t.deepEqual(
    jobs.map((j) => j.data.job),
    [1, 2],
  )
  t.is(hub.getStats().acksReceived, 2)
})

test.serial('emitToSocket rejects with ERR_ACK_TIMEOUT after its retries when the client never acks', async (t) => {
  const { info } = await start(t)
  const raw = await connect(info) // plain socket.io-client with no listener: it never acks
  t.teardown(() => raw.close())
  const err = await t.throwsAsync(hub.emitToSocket(raw.id, 'job:done', { job: 3 }, { ackTimeoutMs: 150, retries: 2 }))
  t.is(err.code, 'ERR_ACK_TIMEOUT')
  t.regex(err.message, /did not acknowledge "job:done" within 150 ms, 3 attempt\(s\)/)
  const copies = raw.log.filter((e) => e.event === 'job:done')
  t.is(copies.length, 3, 'sent once and retried twice')
  t.is(new Set(copies.map((e) => e.arg.id)).size, 1, 'every copy has the same id')
  t.is(hub.getStats().ackTimeouts, 1)
})

test.serial('emitToSocket validates like the emitters and names what is wrong', async (t) => {
  const { info } = await start(t)
  const raw = await connect(info)
  t.teardown(() => raw.close())
  const unknown = await t.throwsAsync(hub.emitToSocket('nope', 'x', {}))
  t.is(unknown.code, 'ERR_UNKNOWN_SOCKET')
  const typed = await t.throwsAsync(hub.emitToSocket(raw.id, 'build:progress', { step: 'x', progress: 150 }))
  t.is(typed.code, 'ERR_INVALID_EVENT')
  const reserved = await t.throwsAsync(hub.emitToSocket(raw.id, 'recover', {}))
  t.is(reserved.code, 'ERR_INVALID_EVENT')
  const retries = await t.throwsAsync(hub.emitToSocket(raw.id, 'x', {}, { retries: -1 }))
  t.is(retries.code, 'ERR_INVALID_OPTIONS')
  t.regex(retries.message, /retries: expected an integer from 0 to 100, got -1/)
  const id = await t.throwsAsync(hub.emitToSocket(42, 'x', {}))
  t.is(id.code, 'ERR_INVALID_EVENT')
  t.regex(id.message, /socketId: expected a string, got a number/)
  await sleep(100)
  t.deepEqual(raw.log, [], 'nothing was sent')
})

test.serial('recover answers per stream: replayed in order, or recovered: false with the stream head', async (t) => {
  const { info } = await start(t, { history: { maxEvents: 5 } })
  const s = await connect(info)
  t.teardown(() => s.close())
  await s.timeout(5000).emitWithAck('join:room', { roomId: 'r' })
  for (let n = 1; n <= 8; n++) hub.emit('e', { n }, 'r')
  await waitFor(() => s.log.filter((e) => e.event === 'e').length === 8)
  const { epoch } = hub.hubInfo()
  const ask = (streams, e = epoch) => s.timeout(5000).emitWithAck('recover', { epoch: e, streams })
  const ok = await ask({ r: 5 })
  t.is(ok.epoch, epoch)
  t.deepEqual(
    ok.streams[0].events.map((e) => e.data.n),
    [6, 7, 8],
  )
  t.like(ok.streams[0], { stream: 'r', recovered: true, seq: 8 })
  // History holds 4..8: from 2 is not complete, so nothing rather than a partial stream.
  t.like((await ask({ r: 2 })).streams[0], { recovered: false, seq: 8, events: [] })
  t.like((await ask({ r: 5 }, 'other-epoch')).streams[0], { recovered: false })
  t.like((await ask({ 'not-joined': 0 })).streams[0], { recovered: false })
  const bad = await ask({ '*': -1 })
  t.like(bad, { ok: false, error: { code: 'BAD_REQUEST' } })
  t.is(hub.getStats().recoveries, 1)
})

test.serial('history: false still numbers events, and a reconnect then reports recovered: false', async (t) => {
  const { client } = await start(t, { history: false })
  const c = client()
  const got = []
  c.on('h', (d) => got.push(d.n))
  c.connect()
  await c.joinRoom('h')
  hub.emit('h', { n: 1 }, 'h')
  await waitFor(() => got.length === 1)
  forceClose(c)
  await waitFor(() => !c.isConnected())
  hub.emit('h', { n: 2 }, 'h')
  await waitFor(() => c.isConnected() && c.getStatus().recovered === false, 10_000, 'reconnected, not recovered')
  hub.emit('h', { n: 3 }, 'h')
  await waitFor(() => got.includes(3))
  t.deepEqual(got, [1, 3], 'the event emitted while away is gone, and the client was told')
  t.is(hub.getStats().historyEvents, 0)
})

test.serial('a reconnect within the history recovers: recovered is true, nothing repeated', async (t) => {
  const { client } = await start(t)
  const c = client()
  const got = []
  let resyncs = 0
  c.on('r', (d) => got.push(d.n))
  c.on('resync', () => (resyncs += 1))
  c.connect()
  await c.joinRoom('room-r')
  hub.emit('r', { n: 1 }, 'room-r')
  hub.emit('r', { n: 2 })
  await waitFor(() => got.length === 2)
  forceClose(c)
  await waitFor(() => !c.isConnected())
  hub.emit('r', { n: 3 }, 'room-r')
  hub.emit('r', { n: 4 })
  await waitFor(() => c.isConnected() && c.getStatus().recovered === true, 10_000, 'reconnected and recovered')
  hub.emit('r', { n: 5 }, 'room-r')
  await waitFor(() => got.length === 5)
  await sleep(100)
  t.deepEqual(got, [1, 2, 3, 4, 5])
  t.is(resyncs, 0)
})
