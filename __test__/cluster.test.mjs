// Scale-out through Redis (issue 7): hubs in separate processes sharing a real redis-server that
// the tests start on a free port. Cross-hub delivery with per-target order, cluster-wide
// presence, a hub killed with SIGKILL, a client moved between hubs recovering what it missed, and
// a Redis outage mid-stream.
import { fork } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'

import test from 'ava'

import { connect, envelopes, hub, join, sleep, waitFor } from './helpers.mjs'
import { balancer, childHub, freePort, redisServer } from './cluster-helpers.mjs'

const { WebSocketClient } = await import('../dist/esm/client.js')

let redis
let prefixes = 0
test.before(async () => {
  redis = await redisServer()
})
test.after.always(async () => {
  await redis?.stop()
})

/** `n` hubs sharing one cluster (a prefix of their own); stopped at teardown. */
async function cluster(t, n, r = redis, extra = {}) {
  const options = { redis: { url: r.url, prefix: `t${process.pid}-${++prefixes}` }, ...extra }
  const hubs = await Promise.all(Array.from({ length: n }, () => childHub(options)))
  const sockets = []
  t.teardown(async () => {
    for (const s of sockets) s.close()
    await Promise.all(hubs.map((h) => h.stop()))
  })
  const client = async (h, opts) => {
    const s = await connect(h.info, opts)
    sockets.push(s)
    return s
  }
  return { hubs, client, options }
}

const data = (s, type) => envelopes(s).filter((e) => e.type === type)

test.serial('an emit on one hub reaches matching clients on the others, in order per target, numbered across hubs', async (t) => {
  const { hubs: [a, b], client } = await cluster(t, 2)
  const onA = await client(a)
  const onB = await client(b)
  const bystander = await client(b)
  await join(t, onA, 'r')
  await join(t, onB, 'r')
  await a.call('emitMany', 'test:room', 1, 100, 'r')
  await b.call('emitMany', 'test:room', 101, 100, 'r')
  await a.call('emitMany', 'test:all', 1, 50)
  for (const s of [onA, onB]) {
    await waitFor(() => data(s, 'test:room').length === 200 && data(s, 'test:all').length === 50, 10_000, `all events on ${s.id}`)
  }
  await waitFor(() => data(bystander, 'test:all').length === 50, 5000)
  for (const s of [onA, onB]) {
    const room = data(s, 'test:room')
    // Each emitting hub's events arrive in call order.
    const fromA = room.map((e) => e.data.i).filter((i) => i <= 100)
    const fromB = room.map((e) => e.data.i).filter((i) => i > 100)
    t.deepEqual(fromA, Array.from({ length: 100 }, (_, i) => i + 1))
    t.deepEqual(fromB, Array.from({ length: 100 }, (_, i) => i + 101))
    // One stream per target across the cluster: seq 1..200 in one epoch, whoever emitted.
    t.deepEqual(room.map((e) => e.seq).sort((x, y) => x - y), Array.from({ length: 200 }, (_, i) => i + 1))
    t.is(new Set(room.map((e) => e.epoch)).size, 1)
    t.deepEqual(data(s, 'test:all').map((e) => e.seq), Array.from({ length: 50 }, (_, i) => i + 1))
  }
  t.is(data(bystander, 'test:room').length, 0, 'not in the room: nothing of it')
})

test.serial('three hubs: presence, room members, stats and presence events are cluster-wide', async (t) => {
  const { hubs, client } = await cluster(t, 3, redis, { metricsPath: '/metrics' })
  const sockets = []
  for (const [i, h] of hubs.entries()) {
    const s = await client(h)
    await join(t, s, 'shared')
    if (i === 2) await join(t, s, 'only-c')
    sockets.push(s)
  }
  const ids = sockets.map((s) => s.id).sort()
  for (const h of hubs) {
    await waitFor(async () => (await h.call('roomMembers', 'shared')).length === 3, 5000, 'room members from every hub')
    t.deepEqual((await h.call('roomMembers', 'shared')).map((m) => m.socketId).sort(), ids)
    t.deepEqual((await h.call('presence')).map((p) => p.socketId).sort(), ids)
    t.deepEqual((await h.call('roomMembers', 'only-c')).map((m) => m.socketId), [sockets[2].id])
    const stats = await h.call('stats')
    t.like(stats, { connections: 1, hubs: 3, clusterConnections: 3, clusterRooms: 2 })
    t.like(stats.redis, { connected: true })
  }
  // The metrics endpoint tells Redis health and the cluster (a real HTTP GET on hub A).
  const text = await (await fetch(`${hubs[0].info.url}/metrics`)).text()
  for (const line of [
    '# TYPE nself_realtime_redis_connected gauge',
    'nself_realtime_redis_connected 1',
    'nself_realtime_redis_outages_total 0',
    'nself_realtime_redis_unpublished_total 0',
    'nself_realtime_cluster_hubs 3',
    'nself_realtime_cluster_connections 3',
    'nself_realtime_cluster_rooms 2',
    'nself_realtime_connections 1',
  ]) {
    t.true(text.split('\n').includes(line), `metrics have ${line}`)
  }
  // A join on hub C was announced to the members on A and B.
  await waitFor(() => sockets[0].log.some((e) => e.event === 'presence:join' && e.arg.socketId === sockets[2].id), 3000)
  t.pass()
})

test.serial('a hub killed with SIGKILL vanishes from the others\' presence within the bound', async (t) => {
  const { hubs: [a, b, c], client } = await cluster(t, 3)
  await client(a)
  await client(b)
  await client(c)
  await waitFor(async () => (await a.call('presence')).length === 3, 5000)
  const killed = performance.now()
  c.kill('SIGKILL')
  await waitFor(async () => (await a.call('presence')).length === 2 && (await b.call('presence')).length === 2, 10_000, 'C gone')
  const gone = Math.round(performance.now() - killed)
  t.log(`killed hub gone from presence after ${gone} ms`)
  t.true(gone <= 7000, `within 5 s staleness + 1 s refresh + margin, got ${gone} ms`)
  t.is((await a.call('stats')).hubs, 2)
})

test.serial('a client moved from hub A to hub B recovers what it missed on A, once each, in order', async (t) => {
  const { hubs: [a, b] } = await cluster(t, 2)
  const lb = await balancer(a.info.port)
  const c = new WebSocketClient(`http://127.0.0.1:${lb.port}`, {
    path: a.info.path,
    allowServer: true,
    transports: ['websocket'],
    reconnectDelays: [300, 300, 300],
    ackTimeoutMs: 3000,
  })
  t.teardown(() => {
    c.disconnect()
    lb.close()
  })
  const got = []
  c.on('test:moved', (d) => got.push(d.i))
  c.connect()
  await waitFor(() => c.isConnected(), 5000)
  await c.joinRoom('m')
  await a.call('emitMany', 'test:moved', 1, 20, 'm')
  await waitFor(() => got.length === 20, 5000)
  // The balancer now sends this client to B; while it reconnects, A keeps emitting.
  lb.target(b.info.port)
  await a.call('emitMany', 'test:moved', 21, 30, 'm')
  await waitFor(() => got.length === 50 && c.getStatus().recovered !== undefined, 10_000, 'moved client caught up')
  t.deepEqual(got, Array.from({ length: 50 }, (_, i) => i + 1))
  t.is(c.getStatus().recovered, true)
  const stats = await b.call('stats')
  t.true(stats.recoveries >= 1, 'B answered the recovery from the shared history')
})

/** Runs __test__/cluster-emitter.mjs; resolves to its report once it has exited by itself. */
async function emitterProcess(plan) {
  const script = fileURLToPath(new URL('./cluster-emitter.mjs', import.meta.url))
  const proc = fork(script, [JSON.stringify(plan)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  let report
  proc.on('message', (m) => (report = m))
  const started = performance.now()
  const code = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL')
      reject(new Error('the emitter process did not exit by itself within 10 s'))
    }, 10_000)
    proc.once('exit', (c) => {
      clearTimeout(timer)
      resolve(c)
    })
  })
  return { code, report, ms: Math.round(performance.now() - started) }
}

test.serial('createEmitter in a process with no hub reaches clients on both hubs, in order, numbered after the hubs\' events', async (t) => {
  const { hubs: [a, b], client, options } = await cluster(t, 2)
  const onA = await client(a)
  const onB = await client(b)
  await join(t, onA, 'r')
  await join(t, onB, 'r')
  await a.call('emitMany', 'test:room', 1, 10, 'r')
  for (const s of [onA, onB]) await waitFor(() => data(s, 'test:room').length === 10, 5000)

  const { code, report, ms } = await emitterProcess({ options, room: 'r', from: 11, n: 30 })
  t.log(`emitter process: 30 + 4 events, closed and exited in ${ms} ms`)
  t.is(code, 0)
  t.deepEqual(report.refused, {
    badPayload: 'ERR_INVALID_EVENT',
    reservedName: 'ERR_INVALID_EVENT',
    badRoom: 'ERR_INVALID_ROOM',
    afterClose: 'ERR_EMITTER_CLOSED',
  })
  t.is(report.hub, null, 'the emitter process runs no hub')
  t.like(report.stats, { eventsEmitted: 34, eventsDropped: 0, eventsRefused: 0, eventsQueued: 0, batchesSent: 1 })
  t.like(report.stats.redis, { connected: true, unpublished: 0 })

  for (const s of [onA, onB]) {
    await waitFor(
      () => data(s, 'test:room').length === 40 && data(s, 'logs:stream').length === 3 && data(s, 'service:status').length === 1,
      5000,
      `emitter's events on ${s.id}`,
    )
    const room = data(s, 'test:room')
    t.deepEqual(room.map((e) => e.data.i), Array.from({ length: 40 }, (_, i) => i + 1), 'call order')
    // The emitter continued the room's one cluster-wide stream, in the hubs' epoch.
    t.deepEqual(room.map((e) => e.seq), Array.from({ length: 40 }, (_, i) => i + 1))
    t.deepEqual(data(s, 'logs:stream').map((e) => e.seq), [41, 42, 43], 'batched, same stream')
    t.is(new Set([...room, ...data(s, 'logs:stream')].map((e) => e.epoch)).size, 1)
    t.is(data(s, 'service:status')[0].seq, 1, 'broadcast stream numbered on its own')
  }
  t.is(onA.log.filter((e) => e.event === 'batch').length, 1, 'log lines arrived as one batch')
})

test.serial('createEmitter with Redis unreachable: emitters throw ERR_REDIS_UNAVAILABLE, counted; bad options throw', async (t) => {
  const { createEmitter } = hub
  t.throws(() => createEmitter({}), { code: 'ERR_INVALID_OPTIONS', message: /redis/ })
  t.throws(() => createEmitter({ redis: { url: 'redis://127.0.0.1:1' }, port: 1 }), { code: 'ERR_INVALID_OPTIONS', message: /port/ })
  const dead = await freePort()
  const e = createEmitter({ redis: { url: `redis://127.0.0.1:${dead}`, prefix: 'nobody' } })
  // Accepted while the first probe is under way; dropped and counted once it failed.
  e.emit('test:early', { i: 1 })
  await waitFor(() => e.stats().eventsDropped === 1, 5000, 'early emit dropped and counted')
  const err = t.throws(() => e.emit('test:late', { i: 2 }), { code: 'ERR_REDIS_UNAVAILABLE' })
  t.regex(err.message, new RegExp(`127\\.0\\.0\\.1:${dead}`))
  t.throws(() => e.emitServiceStatus({ service: 'api', status: 'running', timestamp: new Date().toISOString() }), {
    code: 'ERR_REDIS_UNAVAILABLE',
  })
  t.like(e.stats(), { eventsEmitted: 1, eventsDropped: 1, eventsRefused: 2 })
  t.false(e.stats().redis.connected)
  await e.close()
  t.throws(() => e.emit('test:late', {}), { code: 'ERR_EMITTER_CLOSED' })
})

test.serial('Redis stopped for 5 s mid-stream: local delivery goes on, stats show it, cross-hub delivery resumes', async (t) => {
  const own = await redisServer()
  t.teardown(() => own.stop())
  const { hubs: [a, b], client } = await cluster(t, 2, own, { metricsPath: '/metrics' })
  const onA = await client(a)
  const onB = await client(b)
  let i = 0
  const tick = setInterval(() => a.call('emit', 'test:tick', { i: ++i }).catch(() => {}), 50)
  t.teardown(() => clearInterval(tick))
  await waitFor(() => data(onB, 'test:tick').length >= 5, 5000)
  await own.stop()
  const down = performance.now()
  await sleep(1000)
  const aDuring = data(onA, 'test:tick').length
  const stats = await a.call('stats')
  t.is(stats.redis.connected, false)
  t.truthy(stats.redis.lastError)
  t.true(stats.redis.outages >= 1)
  const during = (await (await fetch(`${a.info.url}/metrics`)).text()).split('\n')
  t.true(during.includes('nself_realtime_redis_connected 0'), 'metrics show the outage')
  t.truthy(during.find((l) => /^nself_realtime_redis_outages_total [1-9]/.test(l)))
  await sleep(4000 - (performance.now() - down))
  t.true(data(onA, 'test:tick').length > aDuring + 40, 'local clients keep receiving during the outage')
  const bBefore = data(onB, 'test:tick').length
  await own.start()
  const up = performance.now()
  await waitFor(() => data(onB, 'test:tick').length > bBefore + 3, 8000, 'cross-hub delivery resumed')
  const resumed = Math.round(performance.now() - up)
  t.log(`cross-hub delivery resumed ${resumed} ms after Redis came back`)
  t.true(resumed <= 5000)
  await waitFor(async () => (await a.call('stats')).redis.connected, 5000)
  t.is(hub.hubInfo(), null, 'no hub in the test process itself')
})
