// Lossless bursts and stopHub delivery (SPEC §3 "stopHub flushes ... delivers every queued packet
// ... tells clients that the server is going away").

import test from 'ava'

import net from 'node:net'

import { hub, setup, connect, join, waitFor, once, envelopes, logLine } from './helpers.mjs'

const N = 10_000
const range = (n) => Array.from({ length: n }, (_, i) => i)

/** The sequence numbers a socket received for `event`, batches unpacked. */
const seqs = (socket, event) => envelopes(socket).filter((e) => e.type === event).map((e) => e.data.seq)

/** Starts a hub with a websocket client and a polling-only client, both in room 'burst'. */
async function twoClients(t, options) {
  const { connect } = await setup(t, options)
  const ws = await connect()
  const poll = await connect({ transports: ['polling'] })
  t.is(poll.io.engine.transport.name, 'polling')
  t.is(ws.io.engine.transport.name, 'websocket')
  await join(t, ws, 'burst')
  await join(t, poll, 'burst')
  return { ws, poll }
}

async function stopAndWaitForDisconnects(t, clients) {
  const gone = clients.map((c) => once(c, 'disconnect', 15000))
  await hub.stopHub()
  t.is(hub.hubInfo(), null)
  return Promise.all(gone)
}

test.serial('10,000 custom events then stopHub: websocket and polling clients get all of them in order, then transport close', async (t) => {
  const { ws, poll } = await twoClients(t)

  for (let i = 0; i < N; i++) hub.emit('seq', { seq: i }, 'burst')
  await waitFor(() => hub.getStats().eventsQueued === 0, 10000)
  const before = hub.getStats()
  t.is(before.eventsDropped, 0)
  t.is(before.eventsEmitted, N)
  t.is(before.packetsSent, 2 * N)

  const reasons = await stopAndWaitForDisconnects(t, [ws, poll])

  t.deepEqual(reasons, ['transport close', 'transport close'])
  t.deepEqual(seqs(ws, 'seq'), range(N), 'websocket: all, in order')
  t.deepEqual(seqs(poll, 'seq'), range(N), 'polling: all, in order')
})

test.serial('stopHub right after a 10,000-event burst still delivers every event to both transports', async (t) => {
  const { ws, poll } = await twoClients(t)

  for (let i = 0; i < N; i++) hub.emit('seq', { seq: i }, 'burst')
  const reasons = await stopAndWaitForDisconnects(t, [ws, poll])

  t.deepEqual(reasons, ['transport close', 'transport close'])
  t.deepEqual(seqs(ws, 'seq'), range(N))
  t.deepEqual(seqs(poll, 'seq'), range(N))
})

test.serial('10,000 log lines then stopHub: both clients get 1,000 batches of 10, every line in order', async (t) => {
  const { ws, poll } = await twoClients(t)

  for (let i = 0; i < N; i++) hub.emitLogStream(logLine(i), 'burst')
  await waitFor(() => {
    const s = hub.getStats()
    return s.eventsQueued === 0 && s.eventsInBatches === 0
  }, 10000)
  const before = hub.getStats()
  t.is(before.eventsDropped, 0)
  t.is(before.batchesSent, 1000)
  t.is(before.packetsSent, 2000)

  const reasons = await stopAndWaitForDisconnects(t, [ws, poll])

  t.deepEqual(reasons, ['transport close', 'transport close'])
  for (const s of [ws, poll]) {
    const batches = s.log.filter((e) => e.event === 'batch')
    t.is(batches.length, 1000)
    t.true(batches.every((b) => b.arg.length === 10))
    t.deepEqual(seqs(s, 'logs:stream'), range(N))
  }
})

test.serial('stopHub flushes a pending batch before the clients are told to go', async (t) => {
  const { ws, poll } = await twoClients(t, { batch: { maxWaitMs: 60000 } })

  for (let i = 0; i < 3; i++) hub.emitLogStream(logLine(i), 'burst')
  for (let i = 3; i < 5; i++) hub.emitDockerStats({ ...logLine(i), containerId: 'c', containerName: 'n', stats: { cpu: 0, memory: 0, memoryLimit: 0, memoryPercent: 0, network: { rx: 0, tx: 0 }, blockIO: { read: 0, write: 0 } } })
  await waitFor(() => hub.getStats().eventsInBatches === 5)
  const reasons = await stopAndWaitForDisconnects(t, [ws, poll])

  t.deepEqual(reasons, ['transport close', 'transport close'])
  for (const s of [ws, poll]) {
    t.deepEqual(seqs(s, 'logs:stream'), [0, 1, 2])
    t.deepEqual(seqs(s, 'docker:stats'), [3, 4])
  }
})

test.serial('a reading client gets a 10,000-event burst in full without stop (default queue sizes)', async (t) => {
  const { ws, poll } = await twoClients(t)

  for (let i = 0; i < N; i++) hub.emit('seq', { seq: i }, 'burst')

  for (const s of [ws, poll]) await waitFor(() => s.log.filter((e) => e.event === 'seq').length === N, 30000)
  t.deepEqual(seqs(ws, 'seq'), range(N))
  t.deepEqual(seqs(poll, 'seq'), range(N))
  const stats = hub.getStats()
  t.is(stats.eventsDropped, 0)
  t.is(stats.packetsSent, 2 * N)
})

test.serial('a 10,000-line burst of batched logs reaches reading clients in full without stop', async (t) => {
  const { ws, poll } = await twoClients(t)
  for (let i = 0; i < N; i++) hub.emitLogStream(logLine(i), 'burst')
  for (const s of [ws, poll]) await waitFor(() => envelopes(s).length === N, 30000)
  t.deepEqual(seqs(ws, 'logs:stream'), range(N))
  t.deepEqual(seqs(poll, 'logs:stream'), range(N))
  t.is(hub.getStats().eventsDropped, 0)
})

test.serial('emitters throw ERR_HUB_NOT_RUNNING from the moment stopHub is called, and nothing more is sent', async (t) => {
  const { ws } = await twoClients(t)
  hub.emit('seq', { seq: 0 }, 'burst')
  const stopping = hub.stopHub()
  const err = t.throws(() => hub.emit('seq', { seq: 1 }, 'burst'))
  t.is(err.code, 'ERR_HUB_NOT_RUNNING')
  t.is(t.throws(() => hub.emitLogStream(logLine(2))).code, 'ERR_HUB_NOT_RUNNING')
  t.is(hub.hubInfo(), null)
  const gone = once(ws, 'disconnect', 15000)
  await stopping
  t.is(await gone, 'transport close')
  t.deepEqual(seqs(ws, 'seq'), [0])
})

test.serial('a stopped hub accepts no new connections', async (t) => {
  const { connect } = await setup(t)
  await connect()
  await hub.stopHub()
  const err = await t.throwsAsync(connect())
  t.regex(err.message, /xhr poll error|websocket error|ECONNREFUSED/i)
  t.is(hub.hubInfo(), null)
})

test.serial('stopHub with clients connected resolves well within timeoutMs', async (t) => {
  const { connect } = await setup(t)
  const clients = [await connect(), await connect({ transports: ['polling'] }), await connect()]
  const gone = clients.map((c) => once(c, 'disconnect', 10000))
  const t0 = Date.now()
  await hub.stopHub({ timeoutMs: 5000 })
  t.true(Date.now() - t0 < 5000, `stop took ${Date.now() - t0} ms`)
  t.deepEqual(await Promise.all(gone), ['transport close', 'transport close', 'transport close'])
})

test.serial('stopHub with an invalid timeoutMs is refused with ERR_INVALID_OPTIONS and the hub keeps running', async (t) => {
  const { info } = await setup(t)
  const err = await t.throwsAsync(async () => hub.stopHub({ timeoutMs: -1 }))
  t.is(err.code, 'ERR_INVALID_OPTIONS')
  t.regex(err.message, /timeoutMs/)
  t.is(hub.hubInfo()?.epoch, info.epoch)
})

test.serial('stopHub with an invalid timeoutMs returns a rejected promise, as startHub does for bad options', async (t) => {
  const { info } = await setup(t)
  let result
  t.notThrows(() => {
    result = hub.stopHub({ timeoutMs: 1.5 })
  }, 'stopHub threw synchronously instead of returning a rejected promise')
  const err = await t.throwsAsync(result)
  t.is(err?.code, 'ERR_INVALID_OPTIONS')
  t.is(hub.hubInfo()?.epoch, info.epoch)
})

test.serial('stopHub right after a polling client disconnected resolves promptly, not after timeoutMs', async (t) => {
  // Nothing is left to deliver: no client is connected. Up to 40 rounds, because the stall is a
  // race (roughly one round in four here); stop at the first stall.
  t.teardown(() => hub.stopHub())
  const rounds = []
  for (let round = 0; round < 40; round++) {
    const info = await hub.startHub({ port: 0 })
    const c = await connect(info, { transports: ['polling'] })
    c.close()
    await waitFor(() => hub.getPresence().length === 0)
    const t0 = Date.now()
    await hub.stopHub({ timeoutMs: 2000 })
    rounds.push(Date.now() - t0)
    if (rounds.at(-1) >= 1000) break
  }
  t.true(rounds.every((ms) => ms < 1000), `stopHub took ${rounds.at(-1)} ms in round ${rounds.length}; rounds (ms): ${rounds.join(', ')}`)
})

test.serial('when stopHub gives up waiting after timeoutMs, it closes the connections that remain', async (t) => {
  const { info } = await setup(t)
  // A client that sent half a request head: HTTP/1 graceful shutdown waits for the rest forever.
  const sock = net.connect(info.port, '127.0.0.1')
  t.teardown(() => sock.destroy())
  await once(sock, 'connect')
  let closed = false
  sock.on('error', () => {})
  sock.on('close', () => (closed = true))
  sock.write(`GET ${info.path}/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\n`)
  await waitFor(() => sock.bytesWritten > 0)

  await hub.stopHub({ timeoutMs: 300 })

  t.is(hub.hubInfo(), null)
  await t.notThrowsAsync(
    waitFor(() => closed, 3000, 'server closed the connection'),
    'a connection of the stopped hub is still open 3 s after stopHub resolved',
  )
})

test.serial('stopHub delivers batches pending for two targets to an idle long-polling client before closing', async (t) => {
  // The client's poll was pending (idle) when stop flushed the batches: that poll is answered
  // with them, and stop must wait for the next poll, not count the old one as drained.
  for (let round = 0; round < 6; round++) {
    const info = await hub.startHub({ port: 0 })
    const c = await connect(info, { transports: ['polling'] })
    try {
      await join(t, c, 'r')
      await new Promise((resolve) => setTimeout(resolve, 300)) // the long-poll goes idle
      hub.emitLogStream(logLine(1))
      hub.emitLogStream(logLine(2), 'r')
      const gone = once(c, 'disconnect', 8000)
      await hub.stopHub()
      t.is(await gone, 'transport close', `round ${round}`)
      t.deepEqual(
        envelopes(c).map((e) => e.data.seq),
        [1, 2],
        `round ${round}`,
      )
    } finally {
      c.close()
      await hub.stopHub()
    }
  }
})
