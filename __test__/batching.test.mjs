// Batching (SPEC §6): per-target coalescing by size and time, flush-before-unbatched, order.

import test from 'ava'
import { performance } from 'node:perf_hooks'

import { hub, setup, join, waitFor, emitted, logLine, payloads, now } from './helpers.mjs'

const seqs = (batch) => batch.map((env) => env.data.seq)
const range = (from, to) => Array.from({ length: to - from }, (_, i) => from + i)

test.serial('25 log lines emitted at once arrive as batches of 10, 10 and 5, in order', async (t) => {
  const { connect } = await setup(t)
  const s = await connect()
  await join(t, s, 'logs')

  const t0 = performance.now()
  for (let i = 0; i < 25; i++) hub.emitLogStream(logLine(i), 'logs')

  await waitFor(() => s.log.length === 3)
  t.deepEqual(s.log.map((e) => e.event), ['batch', 'batch', 'batch'])
  t.deepEqual(s.log.map((e) => e.arg.length), [10, 10, 5])
  t.deepEqual(seqs(s.log.flatMap((e) => e.arg)), range(0, 25))
  for (const env of s.log.flatMap((e) => e.arg)) {
    t.is(env.type, 'logs:stream')
    t.is(env.room, 'logs')
  }
  // the partial batch waits for maxWaitMs (100 by default)
  t.true(s.log[2].at - t0 >= 80, `last batch after ${(s.log[2].at - t0).toFixed(0)} ms`)
  const stats = hub.getStats()
  t.is(stats.batchesSent, 3)
  t.is(stats.eventsInBatches, 0)
  t.is(stats.eventsEmitted, 25)
})

test.serial('a lone log line arrives as a batch of one after about maxWaitMs', async (t) => {
  const { connect } = await setup(t, { batch: { maxWaitMs: 200 } })
  const s = await connect()

  const t0 = performance.now()
  hub.emitLogStream(logLine(0))

  await waitFor(() => s.log.length === 1, 3000)
  const elapsed = s.log[0].at - t0
  t.is(s.log[0].event, 'batch')
  t.deepEqual(seqs(s.log[0].arg), [0])
  t.true(elapsed >= 180, `arrived after ${elapsed.toFixed(0)} ms, expected >= 180`)
  t.true(elapsed < 1200, `arrived after ${elapsed.toFixed(0)} ms, expected < 1200`)
})

test.serial('batch.maxSize sets the batch size', async (t) => {
  const { connect } = await setup(t, { batch: { maxSize: 3 } })
  const s = await connect()

  for (let i = 0; i < 7; i++) hub.emitLogStream(logLine(i))

  await waitFor(() => s.log.length === 3)
  t.deepEqual(s.log.map((e) => seqs(e.arg)), [[0, 1, 2], [3, 4, 5], [6]])
})

test.serial('an unbatched emit after 3 pending log lines to the same target arrives after them: batch first, then the event', async (t) => {
  // maxWaitMs far away: only the flush-before-unbatched rule can send the batch in time
  const { connect } = await setup(t, { batch: { maxWaitMs: 10000 } })
  const s = await connect()
  await join(t, s, 'svc')
  const status = payloads()['service:status']

  for (let i = 0; i < 3; i++) hub.emitLogStream(logLine(i), 'svc')
  hub.emitServiceStatus(status, 'svc')

  await waitFor(() => s.log.length === 2, 3000)
  t.deepEqual(s.log.map((e) => e.event), ['batch', 'service:status'])
  t.deepEqual(seqs(s.log[0].arg), [0, 1, 2])
  t.deepEqual(s.log[1].arg.data, status)
  t.is(hub.getStats().eventsInBatches, 0)
})

test.serial('an unbatched broadcast flushes only the broadcast batch, not a room batch', async (t) => {
  const { connect } = await setup(t, { batch: { maxWaitMs: 10000 } })
  const s = await connect()
  await join(t, s, 'a')

  for (let i = 0; i < 2; i++) hub.emitLogStream(logLine(i), 'a')
  for (let i = 10; i < 13; i++) hub.emitLogStream(logLine(i))
  hub.emit('tick', { n: 1 })

  await waitFor(() => s.log.length === 2, 3000)
  t.deepEqual(s.log.map((e) => e.event), ['batch', 'tick'])
  t.deepEqual(seqs(s.log[0].arg), [10, 11, 12])
  t.true(s.log[0].arg.every((env) => !('room' in env)))
  await waitFor(() => hub.getStats().eventsQueued === 0)
  t.is(hub.getStats().eventsInBatches, 2, "room a's two lines are still pending")
})

test.serial('batches are per target: a room and everyone are coalesced separately', async (t) => {
  const { connect } = await setup(t, { batch: { maxWaitMs: 10000 } })
  const member = await connect()
  const other = await connect()
  await join(t, member, 'a')

  for (let i = 0; i < 3; i++) hub.emitLogStream(logLine(i), 'a')
  for (let i = 100; i < 104; i++) hub.emitLogStream(logLine(i))
  hub.emitServiceStatus(payloads()['service:status'], 'a') // flushes room a only

  await waitFor(() => emitted(member).length === 2, 3000)
  t.deepEqual(member.log.map((e) => e.event), ['batch', 'service:status'])
  t.deepEqual(seqs(member.log[0].arg), [0, 1, 2])
  t.true(member.log[0].arg.every((env) => env.room === 'a'))
  await waitFor(() => hub.getStats().eventsQueued === 0)
  t.is(hub.getStats().eventsInBatches, 4, 'the broadcast batch is still pending')
  t.deepEqual(other.log, [])

  hub.emit('tick', {}) // flushes the broadcast batch

  for (const s of [member, other]) await waitFor(() => s.log.some((e) => e.event === 'tick'), 3000)
  t.deepEqual(member.log.map((e) => e.event), ['batch', 'service:status', 'batch', 'tick'])
  t.deepEqual(seqs(member.log[2].arg), [100, 101, 102, 103])
  t.true(member.log[2].arg.every((env) => !('room' in env)))
  t.deepEqual(other.log.map((e) => e.event), ['batch', 'tick'])
  t.deepEqual(seqs(other.log[0].arg), [100, 101, 102, 103])
})

test.serial('interleaved emits to a room and to everyone fill one batch per target', async (t) => {
  const { connect } = await setup(t, { batch: { maxWaitMs: 10000 } })
  const s = await connect()
  await join(t, s, 'a')

  for (let i = 0; i < 10; i++) {
    hub.emitLogStream(logLine(i), 'a')
    hub.emitLogStream(logLine(100 + i))
  }

  await waitFor(() => s.log.length === 2, 3000)
  const byRoom = Object.fromEntries(s.log.map((e) => [e.arg[0].room ?? 'everyone', e.arg]))
  t.deepEqual(seqs(byRoom.a), range(0, 10))
  t.deepEqual(seqs(byRoom.everyone), range(100, 110))
  t.true(byRoom.a.every((env) => env.room === 'a'))
  t.true(byRoom.everyone.every((env) => !('room' in env)))
})

test.serial('log lines and docker stats to one target share a batch, in emit order', async (t) => {
  const { connect } = await setup(t)
  const s = await connect()
  const stats = payloads()['docker:stats']

  hub.emitLogStream(logLine(0))
  hub.emitDockerStats(stats)
  hub.emitLogStream(logLine(1))

  await waitFor(() => s.log.length === 1)
  t.is(s.log[0].event, 'batch')
  t.deepEqual(s.log[0].arg.map((env) => env.type), ['logs:stream', 'docker:stats', 'logs:stream'])
  t.deepEqual(s.log[0].arg[1].data, stats)
})

test.serial('batch.events chooses the batched types: a custom type is batched, logs:stream then is not', async (t) => {
  const { connect } = await setup(t, { batch: { events: ['metrics:tick'], maxWaitMs: 10000 } })
  const s = await connect()

  hub.emit('metrics:tick', { n: 0 })
  hub.emit('metrics:tick', { n: 1 })
  hub.emitLogStream(logLine(7))

  await waitFor(() => s.log.length === 2, 3000)
  t.deepEqual(s.log.map((e) => e.event), ['batch', 'logs:stream'])
  t.deepEqual(s.log[0].arg.map((env) => [env.type, env.data.n]), [['metrics:tick', 0], ['metrics:tick', 1]])
  t.is(s.log[1].arg.data.seq, 7)
})

test.serial('an empty batch.events list sends every event one by one', async (t) => {
  const { connect } = await setup(t, { batch: { events: [] } })
  const s = await connect()
  for (let i = 0; i < 3; i++) hub.emitLogStream(logLine(i))
  hub.emitDockerStats({ ...payloads()['docker:stats'], timestamp: now() })
  await waitFor(() => s.log.length === 4)
  t.deepEqual(s.log.map((e) => e.event), ['logs:stream', 'logs:stream', 'logs:stream', 'docker:stats'])
  t.is(hub.getStats().batchesSent, 0)
})

test.serial('1,000 log lines to one client arrive in order as 100 batches of 10', async (t) => {
  const { connect } = await setup(t)
  const s = await connect()
  for (let i = 0; i < 1000; i++) hub.emitLogStream(logLine(i))
  await waitFor(() => s.log.length === 100, 10000)
  t.true(s.log.every((e) => e.event === 'batch' && e.arg.length === 10))
  t.deepEqual(seqs(s.log.flatMap((e) => e.arg)), range(0, 1000))
  t.is(hub.getStats().batchesSent, 100)
})

// ---------------------------------------------------------------------------------------------
// The wire form of a batch (`batch.format`)

/** What the hub's history holds for `stream` of `socket`'s hub (byte for byte what it sent). */
async function recovered(socket, stream) {
  const { epoch } = hub.hubInfo()
  const ack = await socket.timeout(5000).emitWithAck('recover', { epoch, streams: { [stream]: 0 } })
  if (!ack.ok || !ack.streams[0].recovered) throw new Error(`recover: ${JSON.stringify(ack)}`)
  return ack.streams[0].events
}

/** Payloads of many forms: two shapes of log line, docker stats, and non-object custom data. */
function mixedEmits(room) {
  const protoKey = JSON.parse('{"__proto__":{"x":1},"é \\"q\\"":1.5,"n":null}')
  const emits = [
    () => hub.emitLogStream(logLine(0), room),
    () => hub.emitLogStream(logLine(1, { level: 'warn' }), room),
    () => hub.emitDockerStats(payloads()['docker:stats'], room),
    () => hub.emit('c:x', [1, 'two', { three: 3 }], room),
    () => hub.emit('c:x', 'text', room),
    () => hub.emit('c:x', null, room),
    () => hub.emit('c:x', 1.25, room),
    () => hub.emit('c:x', protoKey, room),
    () => hub.emit('c:x', {}, room),
    () => hub.emitLogStream(logLine(2), room),
    () => hub.emitLogStream(logLine(3, { level: 'warn' }), room),
    () => hub.emitLogStream(logLine(4), room),
  ]
  for (const emit of emits) emit()
  return emits.length
}

const BATCHED_MIXED = { events: ['logs:stream', 'docker:stats', 'c:x'], maxSize: 5, maxWaitMs: 10000 }

for (const room of ['mixed', undefined]) {
  const where = room ? 'to a room' : 'to everyone'
  test.serial(`by default a batch ${where} is one compact object; unpackBatch gives exactly the envelopes the history holds`, async (t) => {
    const { connect } = await setup(t, { batch: BATCHED_MIXED })
    const s = await connect()
    if (room) await join(t, s, room)
    const n = mixedEmits(room)
    hub.emit('test:flush', {}, room) // unbatched: sends the last, partial batch first

    await waitFor(() => s.log.some((e) => e.event === 'test:flush'), 3000)
    const batches = s.log.filter((e) => e.event === 'batch')
    t.deepEqual(batches.map((e) => e.arg.length), [5, 5, 2])
    for (const { raw, batchError } of batches) {
      t.is(batchError, undefined)
      t.false(Array.isArray(raw))
      t.is(raw.epoch, hub.hubInfo().epoch)
      t.is('room' in raw, Boolean(room))
      t.true(raw.items.every((item) => Array.isArray(item)))
    }
    t.deepEqual(batches[0].raw.types, ['logs:stream', 'docker:stats', 'c:x'])
    t.is(batches[0].raw.shapes.length, 3, 'two shapes of log line, one of docker stats')

    const sent = batches.flatMap((e) => e.arg)
    const history = (await recovered(s, room ?? '*')).slice(0, n)
    t.deepEqual(sent, history)
    // Same keys in the same order, the __proto__ key an own property as JSON.parse makes it.
    t.is(JSON.stringify(sent), JSON.stringify(history))
    t.deepEqual(Object.keys(sent[7].data), ['__proto__', 'é "q"', 'n'])
    t.is(Object.getPrototypeOf(sent[7].data), Object.prototype)
    t.deepEqual(sent.map((e) => e.seq), range(1, n + 1))
  })
}

test.serial("batch.format: 'envelopes' sends the array of full envelopes", async (t) => {
  const { connect } = await setup(t, { batch: { ...BATCHED_MIXED, format: 'envelopes' } })
  const s = await connect()
  await join(t, s, 'mixed')
  const n = mixedEmits('mixed')
  hub.emit('test:flush', {}, 'mixed')

  await waitFor(() => s.log.some((e) => e.event === 'test:flush'), 3000)
  const batches = s.log.filter((e) => e.event === 'batch')
  t.true(batches.every((e) => Array.isArray(e.raw)))
  t.deepEqual(batches.map((e) => e.raw.length), [5, 5, 2])
  t.deepEqual(batches.flatMap((e) => e.raw), (await recovered(s, 'mixed')).slice(0, n))
})

test.serial('a batch.format other than compact or envelopes is refused with ERR_INVALID_OPTIONS', async (t) => {
  t.teardown(() => hub.stopHub())
  for (const format of ['array', 'Compact', '', 1, ['compact']]) {
    const err = await t.throwsAsync(hub.startHub({ port: 0, batch: { format } }))
    t.is(err.code, 'ERR_INVALID_OPTIONS')
    t.true(err.message.startsWith('batch.format:'), err.message)
  }
  t.is(hub.hubInfo(), null, 'no hub started')
})
