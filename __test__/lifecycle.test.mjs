// startHub / stopHub / hubInfo (SPEC §3).

import test from 'ava'
import net from 'node:net'

import { hub, setup, connect, waitFor, once, payloads, EMITTERS, ISO_MS } from './helpers.mjs'

test.serial('startHub resolves to HubInfo with the defaults: host 127.0.0.1, path /api/ws, a random epoch', async (t) => {
  const { info } = await setup(t)
  t.deepEqual(Object.keys(info).sort(), ['epoch', 'host', 'path', 'port', 'startedAt', 'url'])
  t.is(info.host, '127.0.0.1')
  t.is(info.path, '/api/ws')
  t.true(Number.isInteger(info.port) && info.port > 0 && info.port < 65536)
  t.is(info.url, `http://127.0.0.1:${info.port}`)
  t.regex(info.startedAt, ISO_MS)
  t.true(Math.abs(Date.parse(info.startedAt) - Date.now()) < 10000)
  t.is(typeof info.epoch, 'string')
  t.true(info.epoch.length >= 8)
  t.deepEqual(hub.hubInfo(), info)
})

test.serial('startHub binds before it resolves: a client connects right away', async (t) => {
  const { connect } = await setup(t)
  const s = await connect()
  t.true(s.connected)
})

test.serial('a custom path is served (a trailing slash is dropped)', async (t) => {
  const { info, connect } = await setup(t, { path: '/realtime/' })
  t.is(info.path, '/realtime')
  const s = await connect()
  t.true(s.connected)
  const wrong = await t.throwsAsync(connect({ path: '/api/ws', transports: ['polling'] }))
  t.truthy(wrong)
})

test.serial('startHub twice with the same options returns the same hub (same epoch)', async (t) => {
  const { info } = await setup(t, { batch: { maxWaitMs: 50 } })
  const again = await hub.startHub({ port: 0, batch: { maxWaitMs: 50 } })
  t.deepEqual(again, info)
  t.is(again.epoch, info.epoch)
})

test.serial('concurrent startHub calls with the same options both resolve to one hub', async (t) => {
  t.teardown(() => hub.stopHub())
  const [a, b] = await Promise.all([hub.startHub({ port: 0 }), hub.startHub({ port: 0 })])
  t.deepEqual(a, b)
  t.deepEqual(hub.hubInfo(), a)
})

test.serial('startHub with different options rejects with ERR_HUB_RUNNING naming the option, and the hub keeps running', async (t) => {
  const { info, connect } = await setup(t)
  const s = await connect()
  const err = await t.throwsAsync(hub.startHub({ port: 0, path: '/other' }))
  t.true(err instanceof Error)
  t.is(err.code, 'ERR_HUB_RUNNING')
  t.regex(err.message, /path/)
  const err2 = await t.throwsAsync(hub.startHub({ port: 0, maxRoomsPerSocket: 2 }))
  t.is(err2.code, 'ERR_HUB_RUNNING')
  t.regex(err2.message, /maxRoomsPerSocket/)
  t.is(hub.hubInfo().epoch, info.epoch)
  hub.emit('still', { up: true })
  await waitFor(() => s.log.length === 1)
  t.true(s.connected)
})

test.serial('startHub on a taken port rejects with EADDRINUSE and starts nothing', async (t) => {
  const server = net.createServer()
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  t.teardown(() => hub.stopHub())
  const { port } = server.address()

  const err = await t.throwsAsync(hub.startHub({ port }))

  t.true(err instanceof Error)
  t.is(err.code, 'EADDRINUSE')
  t.true(err.message.includes(String(port)), err.message)
  t.is(hub.hubInfo(), null)
  t.is(t.throws(() => hub.getStats()).code, 'ERR_HUB_NOT_RUNNING')
})

test.serial('after a failed start on a taken port, a start on a free port works', async (t) => {
  const server = net.createServer()
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  await t.throwsAsync(hub.startHub({ port: server.address().port }), { code: 'EADDRINUSE' })
  const { connect } = await setup(t)
  t.true((await connect()).connected)
})

test.serial('every emitter and query throws ERR_HUB_NOT_RUNNING when no hub runs', (t) => {
  t.is(hub.hubInfo(), null)
  const p = payloads()
  const calls = {
    ...Object.fromEntries(Object.entries(EMITTERS).map(([type, fn]) => [fn, () => hub[fn](p[type])])),
    emitToRoom: () => hub.emitServiceStatus(p['service:status'], 'room'),
    emit: () => hub.emit('custom', { x: 1 }),
    getPresence: () => hub.getPresence(),
    getRoomMembers: () => hub.getRoomMembers('room'),
    getUserPresence: () => hub.getUserPresence('anonymous'),
    getStats: () => hub.getStats(),
  }
  for (const [name, call] of Object.entries(calls)) {
    const err = t.throws(call, undefined, name)
    t.true(err instanceof Error, name)
    t.is(err.code, 'ERR_HUB_NOT_RUNNING', `${name}: ${err.message}`)
  }
})

test.serial('hubInfo() is null when no hub runs and after stopHub', async (t) => {
  t.is(hub.hubInfo(), null)
  const info = await hub.startHub({ port: 0 })
  t.deepEqual(hub.hubInfo(), info)
  await hub.stopHub()
  t.is(hub.hubInfo(), null)
})

test.serial('stopHub when no hub runs resolves', async (t) => {
  t.is(hub.hubInfo(), null)
  await t.notThrowsAsync(hub.stopHub())
  await t.notThrowsAsync(hub.stopHub({ timeoutMs: 100 }))
  t.is(hub.hubInfo(), null)
})

test.serial('concurrent stopHub calls both resolve', async (t) => {
  await hub.startHub({ port: 0 })
  await t.notThrowsAsync(Promise.all([hub.stopHub(), hub.stopHub()]))
  t.is(hub.hubInfo(), null)
})

test.serial('start -> stop -> start in one process: a new epoch, old clients disconnected, new clients served', async (t) => {
  t.teardown(() => hub.stopHub())
  const first = await hub.startHub({ port: 0 })
  const old = await connect(first)
  t.teardown(() => old.close())
  const oldGone = once(old, 'disconnect')
  await hub.stopHub()
  t.is(await oldGone, 'transport close')
  t.is(t.throws(() => hub.emit('x', 1)).code, 'ERR_HUB_NOT_RUNNING')

  const second = await hub.startHub({ port: 0 })
  t.not(second.epoch, first.epoch)
  t.true(Date.parse(second.startedAt) >= Date.parse(first.startedAt))
  t.deepEqual(hub.hubInfo(), second)
  const fresh = await connect(second)
  t.teardown(() => fresh.close())
  hub.emit('hello', { again: true })
  await waitFor(() => fresh.log.length === 1)
  t.deepEqual(fresh.log[0].arg.data, { again: true })
  const stats = hub.getStats()
  t.is(stats.connectionsTotal, 1, 'counters start over')
  t.is(stats.eventsEmitted, 1)
  t.deepEqual(hub.getPresence().map((p) => p.socketId), [fresh.id])
})

test.serial('a restarted hub can take the same port again', async (t) => {
  t.teardown(() => hub.stopHub())
  const first = await hub.startHub({ port: 0 })
  const c = await connect(first)
  t.teardown(() => c.close())
  await hub.stopHub()
  const second = await hub.startHub({ port: first.port })
  t.is(second.port, first.port)
  const c2 = await connect(second)
  t.teardown(() => c2.close())
  t.true(c2.connected)
})

test.serial('options of a stopped hub do not bind the next start: other options are accepted', async (t) => {
  t.teardown(() => hub.stopHub())
  await hub.startHub({ port: 0, maxRoomsPerSocket: 5 })
  await hub.stopHub()
  const info = await hub.startHub({ port: 0, path: '/elsewhere' })
  t.is(info.path, '/elsewhere')
})

test.serial('websocket-only and polling-only transports options are honoured', async (t) => {
  t.teardown(() => hub.stopHub())
  let info = await hub.startHub({ port: 0, transports: ['websocket'] })
  const ws = await connect(info, { transports: ['websocket'] })
  t.teardown(() => ws.close())
  await t.throwsAsync(connect(info, { transports: ['polling'] }))
  ws.close()
  await hub.stopHub()

  info = await hub.startHub({ port: 0, transports: ['polling'] })
  const poll = await connect(info, { transports: ['polling'] })
  t.teardown(() => poll.close())
  t.true(poll.connected)
  await t.throwsAsync(connect(info, { transports: ['websocket'] }))
})
