// getStats() (SPEC §10): exact counters after a known sequence, and counted drops.

import test from 'ava'

import { hub, setup, join, request, waitFor, emitted, envelopes, logLine, payloads, ISO_MS } from './helpers.mjs'

test.serial('a fresh hub has zero counters, its startedAt and a growing uptime', async (t) => {
  const { info } = await setup(t)
  const s = hub.getStats()
  t.like(s, {
    connections: 0,
    connectionsTotal: 0,
    websocketConnections: 0,
    pollingConnections: 0,
    rooms: 0,
    eventsEmitted: 0,
    batchesSent: 0,
    packetsSent: 0,
    eventsDropped: 0,
    eventsQueued: 0,
    eventsInBatches: 0,
    clientPackets: 0,
    clientErrors: 0,
    socketsSwept: 0,
    startedAt: info.startedAt,
  })
  t.regex(s.startedAt, ISO_MS)
  t.true(s.uptimeMs >= 0)
  const later = Date.now() + 30
  await waitFor(() => Date.now() >= later)
  t.true(hub.getStats().uptimeMs >= s.uptimeMs + 25)
})

test.serial('counters match a known sequence of connections, joins and emits', async (t) => {
  const { connect } = await setup(t)
  const a = await connect()
  const b = await connect({ transports: ['polling'] })
  await join(t, a, 'r1')
  await join(t, a, 'r2')
  await join(t, b, 'r1')
  const bad = await request(b, 'join:room', { roomId: 'bad room' })
  t.false(bad.ok)

  hub.emit('custom', { n: 1 }) // everyone: 2 packets
  hub.emitServiceStatus(payloads()['service:status'], 'r1') // 2 packets
  hub.emitBuildProgress(payloads()['build:progress'], 'r2') // 1 packet
  for (let i = 0; i < 12; i++) hub.emitLogStream(logLine(i)) // batches of 10 + 2, to 2 clients: 4 packets
  for (let i = 0; i < 3; i++) hub.emitLogStream(logLine(i), 'r1') // 1 batch to 2 clients: 2 packets
  hub.emitDeployProgress(payloads()['deploy:progress'], 'empty-room') // nobody: 0 packets

  await waitFor(() => envelopes(a).length === 1 + 1 + 1 + 12 + 3)
  await waitFor(() => envelopes(b).length === 1 + 1 + 12 + 3)
  const s = hub.getStats()
  t.like(s, {
    connections: 2,
    connectionsTotal: 2,
    websocketConnections: 1,
    pollingConnections: 1,
    rooms: 2,
    eventsEmitted: 1 + 1 + 1 + 12 + 3 + 1,
    batchesSent: 3,
    packetsSent: 2 + 2 + 1 + 4 + 2 + 0,
    eventsDropped: 0,
    eventsQueued: 0,
    eventsInBatches: 0,
    clientPackets: 4,
    clientErrors: 1,
    socketsSwept: 0,
  })
  t.is(emitted(a).length, 1 + 1 + 1 + 2 + 1)
  t.is(emitted(b).length, 1 + 1 + 2 + 1)
})

test.serial('eventsQueued and eventsInBatches show pending work', async (t) => {
  await setup(t, { batch: { maxWaitMs: 60000 } })
  for (let i = 0; i < 7; i++) hub.emitLogStream(logLine(i))
  await waitFor(() => hub.getStats().eventsQueued === 0)
  t.is(hub.getStats().eventsInBatches, 7)
  hub.emit('flush', {})
  await waitFor(() => hub.getStats().eventsInBatches === 0)
  t.is(hub.getStats().batchesSent, 1)
})

test.serial('eventsDropped stays 0 for 2,000 events to a reading websocket and polling client', async (t) => {
  const { connect } = await setup(t)
  const ws = await connect()
  const poll = await connect({ transports: ['polling'] })
  for (let i = 0; i < 2000; i++) hub.emit('n', { i })
  for (const s of [ws, poll]) await waitFor(() => s.log.length === 2000, 20000)
  const stats = hub.getStats()
  t.is(stats.eventsDropped, 0)
  t.is(stats.packetsSent, 4000)
})

test.serial('a full client queue drops events and counts every one: received + dropped == emitted', async (t) => {
  const { connect } = await setup(t, { maxQueuedPackets: 16 })
  const s = await connect({ transports: ['polling'] })
  const N = 2000

  for (let i = 0; i < N; i++) hub.emit('n', { i })

  const received = () => s.log.filter((e) => e.event === 'n')
  await waitFor(() => {
    const st = hub.getStats()
    return st.eventsQueued === 0 && received().length + st.eventsDropped === N
  }, 20000, 'received + dropped == 2000')
  const { eventsDropped, packetsSent } = hub.getStats()
  t.true(eventsDropped > 0, 'some events were dropped')
  t.is(packetsSent, N - eventsDropped)
  const seen = received().map((e) => e.arg.data.i)
  t.is(seen.length + eventsDropped, N)
  // what arrived is in order, without duplicates
  t.true(seen.every((v, k) => k === 0 || v > seen[k - 1]))
  t.is(seen[0], 0, 'the first events fit in the queue')
  // nothing else still trickles in: a later event arrives and the totals stay exact
  hub.emit('after', {})
  await waitFor(() => s.log.some((e) => e.event === 'after'), 5000)
  t.is(received().length, seen.length)
  t.is(hub.getStats().eventsDropped, eventsDropped)
  t.true(s.connected, 'the client stays connected')
})

test.serial('drops of a batch count every event in it', async (t) => {
  const { connect } = await setup(t, { maxQueuedPackets: 16 })
  const s = await connect({ transports: ['polling'] })
  const N = 2000 // 200 batches of 10

  for (let i = 0; i < N; i++) hub.emitLogStream(logLine(i))

  const lines = () => envelopes(s).length
  await waitFor(() => {
    const st = hub.getStats()
    return st.eventsQueued === 0 && st.eventsInBatches === 0 && lines() + st.eventsDropped === N
  }, 20000, 'lines received + dropped == 2000')
  const { eventsDropped, batchesSent } = hub.getStats()
  t.true(eventsDropped > 0)
  t.is(eventsDropped % 10, 0, 'whole batches of 10')
  t.is(batchesSent, 200)
  t.is(s.log.filter((e) => e.event === 'batch').length, 200 - eventsDropped / 10)
})

/** `name value` samples of a Prometheus text body. */
const samples = (text) =>
  Object.fromEntries(
    text
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.split(' '))
      .map(([k, v]) => [k, Number(v)]),
  )

test.serial('metricsPath: a GET answers Prometheus text with the stats; off by default; bad paths refused', async (t) => {
  const { info, connect } = await setup(t, { metricsPath: '/metrics' })
  const s = await connect()
  await join(t, s, 'm')
  hub.emit('test:metrics', { i: 1 }, 'm')
  await waitFor(() => envelopes(s).length === 1)
  const res = await fetch(`${info.url}/metrics`)
  t.is(res.status, 200)
  t.is(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8')
  const text = await res.text()
  t.regex(text, /^# HELP nself_realtime_connections .+\n# TYPE nself_realtime_connections gauge\nnself_realtime_connections 1\n/m)
  t.regex(text, /^# TYPE nself_realtime_events_emitted_total counter$/m)
  const m = samples(text)
  t.like(m, {
    nself_realtime_connections: 1,
    nself_realtime_rooms: 1,
    nself_realtime_events_emitted_total: 1,
    nself_realtime_packets_sent_total: 1,
    nself_realtime_events_dropped_total: 0,
    nself_realtime_batches_sent_total: 0,
    nself_realtime_recoveries_total: 0,
    nself_realtime_recovery_misses_total: 0,
    nself_realtime_auth_failures_total: 0,
  })
  t.false('nself_realtime_redis_connected' in m, 'no Redis metrics without redis')
  // A scrape is not a Socket.IO request and not a handshake.
  t.is((await fetch(`${info.url}/metrics/`)).status, 200)
  t.is((await fetch(`${info.url}/metrics`, { method: 'POST' })).status, 405)
  t.is(hub.getStats().connectionsRateLimited, 0)
  await hub.stopHub()
  const plainHub = await hub.startHub({ port: 0 })
  t.is((await fetch(`${plainHub.url}/metrics`)).status, 404, 'off by default')
  await hub.stopHub()
  for (const metricsPath of ['metrics', '/api/ws', '/api/ws/metrics', 7]) {
    await t.throwsAsync(hub.startHub({ port: 0, metricsPath }), { code: 'ERR_INVALID_OPTIONS', message: /metricsPath/ })
  }
})
