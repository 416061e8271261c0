// Rooms (SPEC §5): join/leave with acks, refusals, maxRoomsPerSocket, presence:join/leave.

import test from 'ava'
import { io } from 'socket.io-client'

import { hub, setup, join, request, waitFor, sentinel, emitted, once, count } from './helpers.mjs'

const members = (room) => hub.getRoomMembers(room).map((p) => p.socketId).sort()

test.serial('join:room is acknowledged with { ok: true, room } and makes the socket a member', async (t) => {
  const { connect } = await setup(t)
  const s = await connect()
  const ack = await request(s, 'join:room', { roomId: 'project-1' })
  t.deepEqual(ack, { ok: true, room: 'project-1', members: [{ socketId: s.id, userId: 'anonymous' }], seq: 0, epoch: hub.hubInfo().epoch })
  t.deepEqual(members('project-1'), [s.id])
  t.deepEqual(hub.getPresence()[0].rooms, ['project-1'])
  t.is(hub.getStats().rooms, 1)
})

test.serial('joining a room twice is acknowledged and counts once', async (t) => {
  const { connect } = await setup(t)
  const a = await connect()
  const b = await connect()
  await join(t, b, 'r')
  await join(t, a, 'r')
  await join(t, a, 'r')
  hub.emit('once', {}, 'r')
  await sentinel([a, b])
  t.is(count(a, 'once'), 1)
  t.deepEqual(hub.getPresence().find((p) => p.socketId === a.id).rooms, ['r'])
  t.is(count(b, 'presence:join'), 1, 'the second join announces nothing')
})

test.serial('join:room without an ack callback still joins', async (t) => {
  const { connect } = await setup(t)
  const s = await connect()
  s.emit('join:room', { roomId: 'no-ack' })
  await waitFor(() => members('no-ack').length === 1)
  t.deepEqual(members('no-ack'), [s.id])
})

test.serial('the join ack lists the members already in the room, with their presence state', async (t) => {
  const { connect } = await setup(t)
  const first = await connect()
  await join(t, first, 'team')
  await request(first, 'presence:set', { state: { page: '/services' } })
  const second = await connect()
  const ack = await request(second, 'join:room', { roomId: 'team' })
  t.is(ack.ok, true)
  const bySocket = Object.fromEntries(ack.members.map((m) => [m.socketId, m]))
  t.deepEqual(Object.keys(bySocket).sort(), [first.id, second.id].sort())
  t.deepEqual(bySocket[first.id].state, { page: '/services' })
  t.is(bySocket[second.id].state, undefined)
})

test.serial('the envelope form { type, data: { roomId }, timestamp } is accepted for join and leave', async (t) => {
  const { connect } = await setup(t)
  const s = await connect()
  const envelope = (type) => ({ type, data: { roomId: 'env-room' }, timestamp: new Date().toISOString() })
  t.deepEqual(await request(s, 'join:room', envelope('join:room')), {
    ok: true,
    room: 'env-room',
    members: [{ socketId: s.id, userId: 'anonymous' }],
    seq: 0,
    epoch: hub.hubInfo().epoch,
  })
  t.deepEqual(members('env-room'), [s.id])
  t.deepEqual(await request(s, 'leave:room', envelope('leave:room')), { ok: true, room: 'env-room' })
  t.deepEqual(members('env-room'), [])
})

test.serial('leave:room is acknowledged and the socket gets no more events of that room', async (t) => {
  const { connect } = await setup(t)
  const s = await connect()
  await join(t, s, 'r')
  hub.emit('before', { n: 1 }, 'r')
  await waitFor(() => s.log.length === 1)

  const ack = await request(s, 'leave:room', { roomId: 'r' })
  t.deepEqual(ack, { ok: true, room: 'r' })
  t.deepEqual(members('r'), [])
  t.is(hub.getStats().rooms, 0)
  hub.emit('after', { n: 2 }, 'r')
  hub.emitLogStream({ service: 'a', line: 'x', timestamp: new Date().toISOString() }, 'r')

  await sentinel([s], { flushRooms: ['r'] })
  t.deepEqual(s.log.map((e) => e.event), ['before', 'test:sentinel'])
})

test.serial('leaving a room the socket is not in is acknowledged and changes nothing', async (t) => {
  const { connect } = await setup(t)
  const s = await connect()
  await join(t, s, 'kept')
  t.deepEqual(await request(s, 'leave:room', { roomId: 'never-joined' }), { ok: true, room: 'never-joined' })
  t.deepEqual(hub.getPresence()[0].rooms, ['kept'])
})

const REFUSED = [
  ['a room name with a space', { roomId: 'a b' }, 'INVALID_ROOM'],
  ['a 129-character room name', { roomId: 'x'.repeat(129) }, 'INVALID_ROOM'],
  ['an empty room name', { roomId: '' }, 'INVALID_ROOM'],
  ['a numeric roomId', { roomId: 5 }, 'INVALID_ROOM'],
  ['no roomId', { room: 'r' }, 'BAD_REQUEST'],
  ['a string payload', 'r', 'BAD_REQUEST'],
]

for (const [what, payload, code] of REFUSED) {
  test.serial(`join:room with ${what} is refused with ${code}, an error event, and no membership`, async (t) => {
    const { connect } = await setup(t)
    const s = await connect()
    const errorEvent = once(s, 'error')
    const ack = await request(s, 'join:room', payload)
    t.is(ack.ok, false)
    t.deepEqual(Object.keys(ack).sort(), ['error', 'ok'])
    t.is(ack.error.code, code)
    t.is(typeof ack.error.message, 'string')
    t.true(ack.error.message.length > 0)
    t.deepEqual(await errorEvent, ack.error, 'the error event carries the same { code, message }')
    t.deepEqual(hub.getPresence()[0].rooms, [])
    t.is(hub.getStats().rooms, 0)
    t.is(hub.getStats().clientErrors, 1)
  })
}

test.serial('leave:room with an invalid room is refused with INVALID_ROOM', async (t) => {
  const { connect } = await setup(t)
  const s = await connect()
  const ack = await request(s, 'leave:room', { roomId: 'no spaces allowed' })
  t.is(ack.ok, false)
  t.is(ack.error.code, 'INVALID_ROOM')
})

test.serial('with maxRoomsPerSocket 3 the 4th join is refused with TOO_MANY_ROOMS', async (t) => {
  const { connect } = await setup(t, { maxRoomsPerSocket: 3 })
  const s = await connect()
  for (const r of ['r1', 'r2', 'r3']) await join(t, s, r)
  const errorEvent = once(s, 'error')

  const ack = await request(s, 'join:room', { roomId: 'r4' })

  t.is(ack.ok, false)
  t.is(ack.error.code, 'TOO_MANY_ROOMS')
  t.is((await errorEvent).code, 'TOO_MANY_ROOMS')
  t.deepEqual(hub.getPresence()[0].rooms, ['r1', 'r2', 'r3'])
  t.deepEqual(members('r4'), [])
  hub.emit('r4-only', {}, 'r4')
  await sentinel([s])
  t.is(count(s, 'r4-only'), 0)
  // re-joining a room it is in is not a 4th room; after a leave there is space again
  await join(t, s, 'r2')
  t.deepEqual(await request(s, 'leave:room', { roomId: 'r1' }), { ok: true, room: 'r1' })
  await join(t, s, 'r4')
  t.deepEqual(hub.getPresence()[0].rooms, ['r2', 'r3', 'r4'])
})

test.serial('the limit is per socket: another socket can still join', async (t) => {
  const { connect } = await setup(t, { maxRoomsPerSocket: 1 })
  const a = await connect()
  const b = await connect()
  await join(t, a, 'r1')
  t.is((await request(a, 'join:room', { roomId: 'r2' })).error?.code, 'TOO_MANY_ROOMS')
  await join(t, b, 'r2')
})

test.serial('presence:join reaches the other members of the room, not the joiner and not outsiders', async (t) => {
  const { connect } = await setup(t)
  const first = await connect()
  const joiner = await connect()
  const outsider = await connect()
  await join(t, first, 'team')
  await join(t, outsider, 'elsewhere')
  const announced = once(first, 'presence:join')

  await join(t, joiner, 'team')

  t.deepEqual(await announced, { room: 'team', socketId: joiner.id, userId: 'anonymous' })
  await sentinel([first, joiner, outsider])
  t.is(count(first, 'presence:join'), 1)
  t.is(count(joiner, 'presence:join'), 0)
  t.is(count(outsider, 'presence:join'), 0)
})

test.serial('presence:join carries the state the joiner already set with presence:set', async (t) => {
  const { connect } = await setup(t)
  const first = await connect()
  const joiner = await connect()
  await join(t, first, 'team')
  await request(joiner, 'presence:set', { state: { page: '/logs' } })
  const announced = once(first, 'presence:join')
  await join(t, joiner, 'team')
  t.deepEqual(await announced, { room: 'team', socketId: joiner.id, userId: 'anonymous', state: { page: '/logs' } })
})

test.serial('presence:leave reaches the other members when a socket leaves the room', async (t) => {
  const { connect } = await setup(t)
  const stays = await connect()
  const leaves = await connect()
  await join(t, stays, 'team')
  await join(t, leaves, 'team')
  const announced = once(stays, 'presence:leave')

  t.deepEqual(await request(leaves, 'leave:room', { roomId: 'team' }), { ok: true, room: 'team' })

  t.deepEqual(await announced, { room: 'team', socketId: leaves.id, userId: 'anonymous' })
  await sentinel([stays, leaves])
  t.is(count(stays, 'presence:leave'), 1)
  t.is(count(leaves, 'presence:leave'), 0)
})

test.serial('presence:leave reaches the other members of every room of a socket that disconnects', async (t) => {
  const { connect } = await setup(t)
  const inA = await connect()
  const inB = await connect()
  const goes = await connect()
  await join(t, inA, 'a')
  await join(t, inB, 'b')
  await join(t, goes, 'a')
  await join(t, goes, 'b')
  const id = goes.id
  const leftA = once(inA, 'presence:leave')
  const leftB = once(inB, 'presence:leave')

  goes.disconnect()

  t.deepEqual(await leftA, { room: 'a', socketId: id, userId: 'anonymous' })
  t.deepEqual(await leftB, { room: 'b', socketId: id, userId: 'anonymous' })
  t.deepEqual(members('a'), [inA.id])
  t.deepEqual(members('b'), [inB.id])
})

test.serial('room events reach every member, on websocket and polling alike', async (t) => {
  const { connect } = await setup(t)
  const ws = await connect()
  const poll = await connect({ transports: ['polling'] })
  const out = await connect()
  await join(t, ws, 'shared')
  await join(t, poll, 'shared')

  for (let i = 0; i < 50; i++) hub.emit('n', { i }, 'shared')

  for (const s of [ws, poll]) {
    await waitFor(() => emitted(s).length === 50)
    t.deepEqual(emitted(s).map((e) => e.arg.data.i), Array.from({ length: 50 }, (_, i) => i))
  }
  await sentinel([out])
  t.deepEqual(out.log.map((e) => e.event), ['test:sentinel'])
})

test.serial("one socket's requests are handled in the order they were sent (join then leave stays left; the last presence:set wins)", async (t) => {
  // socketioxide runs each packet's handler future on its own task; the hub does its state
  // changes before returning from the handler, so they follow the packet order.
  // 1,200 packets as fast as the client can send them is far over the default per-socket rate
  // limit (30/s, burst 60), which would drop them: this test is about order, so it lifts it.
  const { connect } = await setup(t, { rateLimit: { packetsPerSecond: 0 } })
  const s = await connect()
  let wrongState = 0
  let wrongRooms = 0
  for (let round = 0; round < 150; round++) {
    for (let step = 1; step <= 5; step++) s.emit('presence:set', { state: { round, step } })
    s.emit('join:room', { roomId: 'r' })
    s.emit('leave:room', { roomId: 'r' })
    await request(s, 'heartbeat')
    const me = hub.getPresence()[0]
    if (me.state.step !== 5 || me.state.round !== round) wrongState++
    if (me.rooms.length !== 0) wrongRooms++
  }
  t.deepEqual({ wrongState, wrongRooms }, { wrongState: 0, wrongRooms: 0 })
})

test.serial('a join sent the moment the socket connects is always handled (handlers exist before CONNECT goes out)', async (t) => {
  // The protocol handlers are registered in a connect middleware, which socketioxide runs before it
  // sends the CONNECT packet; registered in the connect handler (a spawned task), a request sent
  // at once could arrive first and be dropped without an ack.
  const { info, clients } = await setup(t)
  const acks = await Promise.all(
    Array.from({ length: 40 }, (_, i) => {
      const socket = io(info.url, { path: info.path, transports: ['websocket'], forceNew: true, reconnection: false })
      clients.push(socket)
      return new Promise((resolve, reject) => {
        socket.once('connect', () => {
          socket.timeout(5000).emit('join:room', { roomId: `early-${i}` }, (err, ack) => (err ? reject(err) : resolve(ack)))
        })
      })
    }),
  )
  t.true(acks.every((ack, i) => ack.ok === true && ack.room === `early-${i}`))
  t.is(hub.getStats().rooms, 40)
})
