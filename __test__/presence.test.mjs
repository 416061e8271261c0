// Presence (SPEC §8), heartbeat and Engine.IO ping settings (§3, §5).

import test from 'ava'

import { hub, setup, join, request, waitFor, once, sentinel, count, clockTick, ISO_MS } from './helpers.mjs'

const byId = (id) => hub.getPresence().find((p) => p.socketId === id)

test.serial('a connected socket appears in getPresence with userId anonymous, its socket id and ISO times', async (t) => {
  const { connect } = await setup(t)
  const before = Date.now()
  const s = await connect()
  const list = hub.getPresence()
  t.is(list.length, 1)
  const [p] = list
  t.deepEqual(Object.keys(p).sort(), ['connectedAt', 'lastSeen', 'rooms', 'socketId', 'userId'])
  t.is(p.userId, 'anonymous')
  t.is(p.socketId, s.id)
  t.deepEqual(p.rooms, [])
  t.regex(p.connectedAt, ISO_MS)
  t.regex(p.lastSeen, ISO_MS)
  t.true(Date.parse(p.connectedAt) >= before - 5 && Date.parse(p.connectedAt) <= Date.now() + 5)
  t.true(Date.parse(p.lastSeen) >= Date.parse(p.connectedAt))
  t.is(hub.getStats().connections, 1)
})

test.serial('getPresence lists every socket oldest first, with the rooms it joined', async (t) => {
  const { connect } = await setup(t)
  const a = await connect()
  await clockTick() // distinct connectedAt, so that "oldest first" is defined
  const b = await connect({ transports: ['polling'] })
  await join(t, a, 'x')
  await join(t, a, 'a')
  await join(t, b, 'x')
  const list = hub.getPresence()
  t.deepEqual(list.map((p) => p.socketId), [a.id, b.id])
  t.deepEqual(list[0].rooms, ['a', 'x'])
  t.deepEqual(list[1].rooms, ['x'])
})

test.serial('getRoomMembers lists the sockets of a room and [] for an empty one', async (t) => {
  const { connect } = await setup(t)
  const a = await connect()
  await clockTick()
  const b = await connect()
  await clockTick()
  const c = await connect()
  await join(t, a, 'team')
  await join(t, c, 'team')
  await join(t, b, 'other')
  t.deepEqual(hub.getRoomMembers('team').map((p) => p.socketId), [a.id, c.id])
  t.deepEqual(hub.getRoomMembers('other').map((p) => p.socketId), [b.id])
  t.deepEqual(hub.getRoomMembers('nobody-here'), [])
  t.true(hub.getRoomMembers('team').every((p) => p.userId === 'anonymous' && p.rooms.includes('team')))
  t.is(t.throws(() => hub.getRoomMembers('bad room')).code, 'ERR_INVALID_ROOM')
})

test.serial('getUserPresence lists every socket of a user', async (t) => {
  const { connect } = await setup(t)
  const a = await connect()
  await clockTick()
  const b = await connect()
  t.deepEqual(hub.getUserPresence('anonymous').map((p) => p.socketId), [a.id, b.id])
  t.deepEqual(hub.getUserPresence('alice'), [])
})

test.serial('a client cannot set its own user id', async (t) => {
  const { connect } = await setup(t, {})
  const s = await connect({ auth: { userId: 'admin' }, query: { userId: 'admin' } })
  await request(s, 'presence:set', { state: { userId: 'admin' } })
  t.is(byId(s.id).userId, 'anonymous')
  t.deepEqual(hub.getUserPresence('admin'), [])
})

test.serial('a socket disappears from presence when it disconnects', async (t) => {
  const { connect } = await setup(t)
  const goes = await connect()
  const stays = await connect()
  await join(t, goes, 'r')
  const id = goes.id

  goes.disconnect()

  await waitFor(() => !byId(id))
  t.deepEqual(hub.getPresence().map((p) => p.socketId), [stays.id])
  t.deepEqual(hub.getRoomMembers('r'), [])
  const stats = hub.getStats()
  t.is(stats.connections, 1)
  t.is(stats.connectionsTotal, 2)
  t.is(stats.rooms, 0)
})

test.serial('a polling socket disappears from presence when it disconnects', async (t) => {
  const { connect } = await setup(t)
  const goes = await connect({ transports: ['polling'] })
  const id = goes.id
  t.truthy(byId(id))
  goes.disconnect()
  await waitFor(() => hub.getPresence().length === 0)
  t.is(hub.getStats().connections, 0)
})

test.serial('heartbeat gets a pong event and, when asked, an ack', async (t) => {
  const { connect } = await setup(t)
  const s = await connect()
  const pong = once(s, 'pong')
  s.emit('heartbeat')
  await pong
  t.is(count(s, 'pong'), 1)

  const ack = await request(s, 'heartbeat')
  t.truthy(ack)
  await waitFor(() => count(s, 'pong') === 2)
})

test.serial('heartbeat moves lastSeen in getPresence', async (t) => {
  const { connect } = await setup(t)
  const s = await connect()
  const first = Date.parse(byId(s.id).lastSeen)
  await waitFor(() => Date.now() >= first + 20) // let the clock move
  const sentAt = Date.now()

  s.emit('heartbeat')
  await once(s, 'pong')

  const moved = Date.parse(byId(s.id).lastSeen)
  t.true(moved > first, `lastSeen ${moved} > ${first}`)
  t.true(moved >= sentAt - 5, 'lastSeen is the time of the heartbeat')
})

test.serial('any client packet moves lastSeen, not only heartbeat', async (t) => {
  const { connect } = await setup(t)
  const s = await connect()
  const first = Date.parse(byId(s.id).lastSeen)
  await waitFor(() => Date.now() >= first + 20)
  await request(s, 'join:room', { roomId: 'r' })
  const afterJoin = Date.parse(byId(s.id).lastSeen)
  t.true(afterJoin > first)
  await waitFor(() => Date.now() >= afterJoin + 20)
  s.emit('some:unknown:event', { x: 1 })
  await waitFor(() => Date.parse(byId(s.id).lastSeen) > afterJoin)
  t.pass()
})

test.serial('presence:set stores the state in getPresence and sends presence:update to the other room members', async (t) => {
  const { connect } = await setup(t)
  const viewer = await connect()
  const other = await connect()
  const outsider = await connect()
  await join(t, viewer, 'team')
  await join(t, other, 'team')
  const update = once(other, 'presence:update')

  const ack = await request(viewer, 'presence:set', { state: { page: '/services', tab: 2 } })

  t.deepEqual(ack, { ok: true })
  t.deepEqual(byId(viewer.id).state, { page: '/services', tab: 2 })
  t.is(byId(other.id).state, undefined)
  t.deepEqual(await update, {
    room: 'team',
    socketId: viewer.id,
    userId: 'anonymous',
    state: { page: '/services', tab: 2 },
  })
  t.deepEqual(hub.getRoomMembers('team').find((p) => p.socketId === viewer.id).state, { page: '/services', tab: 2 })
  await sentinel([viewer, other, outsider])
  t.is(count(viewer, 'presence:update'), 0, 'not to the sender')
  t.is(count(outsider, 'presence:update'), 0, 'not outside the room')
  t.is(count(other, 'presence:update'), 1)
})

test.serial('presence:set replaces the previous state', async (t) => {
  const { connect } = await setup(t)
  const s = await connect()
  await request(s, 'presence:set', { state: { page: '/a' } })
  await request(s, 'presence:set', { state: { page: '/b' } })
  t.deepEqual(byId(s.id).state, { page: '/b' })
})

test.serial('presence:set with a state that is not an object, or over 1 KB, is refused and keeps the old state', async (t) => {
  const { connect } = await setup(t)
  const s = await connect()
  await request(s, 'presence:set', { state: { page: '/ok' } })
  for (const bad of [{ state: 'x' }, { state: [1] }, {}, { state: { big: 'x'.repeat(1100) } }]) {
    const ack = await request(s, 'presence:set', bad)
    t.is(ack.ok, false, JSON.stringify(bad).slice(0, 40))
    t.is(typeof ack.error.code, 'string')
  }
  t.deepEqual(byId(s.id).state, { page: '/ok' })
  await waitFor(() => count(s, 'error') === 4)
})

test.serial('stale sockets are swept: a silent client is disconnected while one sending heartbeats stays', async (t) => {
  const { connect } = await setup(t, { presence: { staleAfterMs: 300, sweepIntervalMs: 100 } })
  const silent = await connect()
  const alive = await connect()
  const beat = setInterval(() => alive.emit('heartbeat'), 100)
  t.teardown(() => clearInterval(beat))
  const silentId = silent.id

  const reason = await once(silent, 'disconnect', 5000)

  t.is(reason, 'io server disconnect')
  await waitFor(() => !byId(silentId))
  // the live one survives several more sweeps
  const until = Date.now() + 700
  await waitFor(() => Date.now() >= until, 2000)
  t.true(alive.connected)
  t.deepEqual(alive.disconnects, [])
  t.deepEqual(hub.getPresence().map((p) => p.socketId), [alive.id])
  t.is(hub.getStats().socketsSwept, 1)
})

test.serial('a swept socket leaves its rooms with presence:leave', async (t) => {
  const { connect } = await setup(t, { presence: { staleAfterMs: 300, sweepIntervalMs: 100 } })
  const silent = await connect()
  const alive = await connect()
  const beat = setInterval(() => alive.emit('heartbeat'), 100)
  t.teardown(() => clearInterval(beat))
  await join(t, silent, 'r')
  await join(t, alive, 'r')
  const id = silent.id
  t.deepEqual(await once(alive, 'presence:leave', 5000), { room: 'r', socketId: id, userId: 'anonymous' })
  t.deepEqual(hub.getRoomMembers('r').map((p) => p.socketId), [alive.id])
})

test.serial('Engine.IO ping settings default to 30000 / 10000 in the handshake', async (t) => {
  const { connect } = await setup(t)
  const s = await connect()
  t.is(s.engineHandshake.pingInterval, 30000)
  t.is(s.engineHandshake.pingTimeout, 10000)
  const poll = await connect({ transports: ['polling'] })
  t.is(poll.engineHandshake.pingInterval, 30000)
  t.is(poll.engineHandshake.pingTimeout, 10000)
})

test.serial('custom pingIntervalMs / pingTimeoutMs reach the handshake', async (t) => {
  const { connect } = await setup(t, { pingIntervalMs: 1234, pingTimeoutMs: 4321 })
  const s = await connect()
  t.is(s.engineHandshake.pingInterval, 1234)
  t.is(s.engineHandshake.pingTimeout, 4321)
})

test.serial('maxPayloadBytes is announced as the handshake maxPayload', async (t) => {
  const { connect } = await setup(t, { maxPayloadBytes: 4096 })
  const s = await connect({ transports: ['polling'] })
  t.is(s.engineHandshake.maxPayload, 4096)
})

test.serial('a client answering Engine.IO pings stays connected across several ping intervals', async (t) => {
  const { connect } = await setup(t, { pingIntervalMs: 100, pingTimeoutMs: 200 })
  const s = await connect()
  const until = Date.now() + 600
  await waitFor(() => Date.now() >= until, 2000)
  t.true(s.connected)
  t.deepEqual(s.disconnects, [])
})

test.serial('lastSeen counts Socket.IO packets: a client that only answers Engine.IO pings is swept as silent', async (t) => {
  // SPEC §8 is read as the original nself-admin server did: its client sends `heartbeat` every
  // HEARTBEAT_INTERVAL, and Engine.IO pongs are transport liveness, handled by pingTimeout.
  const { connect } = await setup(t, {
    pingIntervalMs: 100,
    pingTimeoutMs: 1000,
    presence: { staleAfterMs: 300, sweepIntervalMs: 100 },
  })
  const s = await connect()
  await waitFor(() => s.disconnects.length > 0, 3000)
  t.deepEqual(s.disconnects, ['io server disconnect'])
  t.is(hub.getStats().socketsSwept, 1)
})
