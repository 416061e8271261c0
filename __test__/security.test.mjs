// Security (issue 5): hostile clients over raw `ws` and raw HTTP, floods, tokens, origins and room
// permissions, each while a well-behaved client in the same hub receives a continuous numbered
// stream that must arrive complete and in order.

import { createHmac } from 'node:crypto'
import test from 'ava'
import WebSocket from 'ws'

import { hub, setup, request, waitFor, sentinel, emitted, sleep } from './helpers.mjs'

const SECRET = 'k'.repeat(16) + '0123456789abcdef' // 32 bytes
const OTHER_SECRET = 'z'.repeat(32)

/**
 * A well-behaved client in room `stream` and a producer emitting `seq { n }` to that room every
 * few ms until `stop()`, which then checks that the client got 0..n-1, each once, in order.
 */
async function honestStream(t, connect, connectOpts = {}) {
  const good = await connect(connectOpts)
  const ack = await request(good, 'join:room', { roomId: 'stream' })
  t.true(ack.ok, 'the honest client joins its room')
  let n = 0
  const timer = setInterval(() => {
    for (let i = 0; i < 5; i++) hub.emit('seq', { n: n++ }, 'stream')
  }, 5)
  t.teardown(() => clearInterval(timer))
  return {
    good,
    async stop() {
      clearInterval(timer)
      const sent = n
      hub.emit('seq', { n: n++ }, 'stream')
      await waitFor(() => received().length === sent + 1, 10_000, `${sent + 1} seq events`)
      const got = received()
      const gaps = got.filter((v, i) => v !== i).length
      t.is(gaps, 0, 'every event of the stream arrived, once, in order')
      t.true(good.connected, 'the honest client is still connected')
      t.true(sent > 0)
      return sent
    },
  }
  function received() {
    return good.log.filter((e) => e.event === 'seq').map((e) => e.arg.data.n)
  }
}

const wsUrl = (info, query = '') => `${info.url.replace('http', 'ws')}${info.path}/?EIO=4&transport=websocket${query}`

/** A raw Engine.IO WebSocket; resolves once the Engine.IO open packet arrived. */
function rawSocket(info, { headers } = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(info), { headers })
    ws.frames = []
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? data : data.toString()
      ws.frames.push(text)
      if (text === '2') ws.send('3') // answer Engine.IO pings like a client
    })
    ws.closed = new Promise((r) => ws.once('close', (code) => r(code)))
    ws.once('error', reject)
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })))
    ws.once('open', () => waitFor(() => ws.frames.some((f) => typeof f === 'string' && f.startsWith('0{'))).then(() => resolve(ws), reject))
  })
}

/** A raw socket connected to namespace `/` (Socket.IO CONNECT done). */
async function rawConnected(info) {
  const ws = await rawSocket(info)
  ws.send('40')
  await waitFor(() => ws.frames.some((f) => typeof f === 'string' && f.startsWith('40{')))
  return ws
}

/**
 * Sends `frame` and then a heartbeat with ack id 77; resolves with 'closed' when the hub closed
 * the connection, or 'alive' when the heartbeat was acknowledged (the frame was ignored). Which
 * of the two comes first after a frame that breaks the parser is a race (the close is
 * asynchronous), so only `expectClose` frames are checked for the close, and they get no
 * heartbeat after them.
 */
async function probe(info, frame, { expectClose = false } = {}) {
  const ws = await rawConnected(info)
  const frames = Array.isArray(frame) ? frame : [frame]
  for (const f of frames) {
    if (ws.readyState !== WebSocket.OPEN) break
    if (f && f.binary) ws.send(f.data, { binary: true })
    else if (f && f.rawText) ws.send(f.rawText, { binary: false })
    else ws.send(f)
  }
  if (expectClose) {
    await Promise.race([ws.closed, waitFor(() => false, 10_000, 'the hub closes the connection')])
    return 'closed'
  }
  if (ws.readyState === WebSocket.OPEN) ws.send('4277["heartbeat"]')
  const outcome = await Promise.race([
    ws.closed.then(() => 'closed'),
    waitFor(() => ws.frames.some((f) => typeof f === 'string' && f.startsWith('4377[')), 10_000).then(() => 'alive'),
  ])
  ws.terminate()
  return outcome
}

/** A raw HTTP request to the hub. */
async function http(info, { method = 'GET', query = 'EIO=4&transport=polling', headers = {}, body } = {}) {
  const res = await fetch(`${info.url}${info.path}/?${query}`, { method, headers, body })
  return { status: res.status, headers: res.headers, text: await res.text() }
}

/** A token signed the way createToken documents it, with any payload (for expired/forged ones). */
function craftToken(payload, secret = SECRET) {
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url')
  const mac = createHmac('sha256', secret).update(body).digest('base64url')
  return `${body}.${mac}`
}

/** Connects and resolves with the connect_error, or rejects if it connected. */
async function refused(connect, opts) {
  const err = await connect(opts).then(
    () => null,
    (e) => e,
  )
  if (!err) throw new Error('connected, expected a refusal')
  return err
}

// ---------------------------------------------------------------------------------------------
// Malformed packets

const MALFORMED = {
  empty: '',
  'engine.io type only': '4',
  'unknown engine.io type': '9',
  'not a packet': 'hello',
  'event without payload': '42',
  'truncated json': '42["join:room",{"roomId":',
  'truncated array': '42[',
  'object instead of array': '42{"a":1}',
  'string instead of array': '42"join:room"',
  'number event name': '42[5]',
  'null event name': '42[null]',
  'empty array': '42[]',
  'join with a number': '42["join:room",5]',
  'join with an array room': '42["join:room",{"roomId":["a"]}]',
  'join with a null room': '42["join:room",{"roomId":null}]',
  'join with a huge number': '42["join:room",{"roomId":1e400}]',
  'join with a long room': `42["join:room",{"roomId":"${'a'.repeat(5000)}"}]`,
  'presence state not an object': '42["presence:set",{"state":"x"}]',
  'presence state too big': `42["presence:set",{"state":{"k":"${'x'.repeat(2000)}"}}]`,
  'huge ack id': '4299999999999999999999999999["heartbeat"]',
  'negative ack id': '42-1["heartbeat"]',
  'huge number argument': `42["heartbeat",${'9'.repeat(5000)}]`,
  'deep array nesting': `42["presence:set",${'['.repeat(20000)}${']'.repeat(20000)}]`,
  'deep object nesting': `42["presence:set",${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}]`,
  'unknown namespace': '42/admin,["join:room",{"roomId":"x"}]',
  'connect to an unknown namespace': '40/admin,',
  'socket.io type out of range': '49',
  'ack for nothing': '431[]',
  'disconnect then event': ['41', '42["heartbeat"]'],
  'engine.io upgrade packet': '5',
  'engine.io noop': '6',
  'engine.io message with binary marker': 'b4AAAA',
  'invalid UTF-8 text frame': { rawText: Buffer.from([0x34, 0x32, 0xff, 0xfe, 0xc3, 0x28]) },
  'binary garbage': { binary: true, data: Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0xff]) },
  'attachments that never come': '451-["ev",{"_placeholder":true,"num":0}]',
  'attachment count far over the limit': '45100000-["ev",{"_placeholder":true,"num":0}]',
  'attachment count that is not a number': '45x-["ev"]',
  'text packet while attachments are due': ['452-["ev",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]', '42["heartbeat"]'],
  'more attachments than declared': ['451-["ev",{"_placeholder":true,"num":0}]', { binary: true, data: Buffer.from([1]) }, { binary: true, data: Buffer.from([2]) }],
  'placeholder index out of range': ['451-["ev",{"_placeholder":true,"num":99}]', { binary: true, data: Buffer.from([1]) }],
  'frame over maxPayloadBytes': `42["heartbeat","${'x'.repeat(70_000)}"]`,
}

test.serial('malformed Engine.IO and Socket.IO packets of every kind: the hub carries on and the honest stream is complete', async (t) => {
  const { info, connect } = await setup(t)
  const stream = await honestStream(t, connect)
  const mustClose = new Set(['frame over maxPayloadBytes', 'invalid UTF-8 text frame', 'attachment count far over the limit', 'binary garbage', 'truncated json'])
  const outcomes = {}
  for (const [name, frame] of Object.entries(MALFORMED)) {
    outcomes[name] = await probe(info, frame, { expectClose: mustClose.has(name) })
  }
  // Whatever happened to each hostile connection, the hub answers a new client normally.
  const fresh = await connect()
  t.like(await request(fresh, 'join:room', { roomId: 'after' }), { ok: true })
  // Frames that break the parser or a limit close their connection (probe waited for it); a bad
  // request in a well-formed packet is refused in its ack and the connection goes on.
  for (const name of ['join with a number', 'join with an array room', 'join with a long room', 'presence state too big', 'presence state not an object']) {
    t.is(outcomes[name], 'alive', name)
  }
  await stream.stop()
  t.log(outcomes)
})

test.serial('malformed long-polling requests get HTTP errors and the hub carries on', async (t) => {
  const { info, connect } = await setup(t)
  const stream = await honestStream(t, connect, { transports: ['polling'] })
  const open = await http(info)
  t.is(open.status, 200)
  const sid = JSON.parse(open.text.slice(1)).sid
  const bad = [
    { query: 'EIO=4&transport=polling&sid=nope' },
    { query: 'EIO=3&transport=polling' },
    { query: 'EIO=4&transport=carrier-pigeon' },
    { query: 'EIO=999999999999999999999&transport=polling' },
    { query: '%zz=%' },
    { method: 'POST', query: `EIO=4&transport=polling&sid=${sid}`, body: '42["join:room",' },
    { method: 'POST', query: `EIO=4&transport=polling&sid=${sid}`, body: Buffer.from([0xff, 0xfe, 0x00]) },
    { method: 'POST', query: `EIO=4&transport=polling&sid=${sid}`, body: 'x'.repeat(200_000) },
    { method: 'PUT', query: `EIO=4&transport=polling&sid=${sid}`, body: 'x' },
  ]
  const statuses = []
  for (const req of bad) statuses.push((await http(info, req)).status)
  // A POST of a truncated packet is accepted by Engine.IO (200) and then ends that session at
  // the Socket.IO parser; every other bad request is refused with a 4xx; none is a 5xx.
  t.true(statuses.every((s) => s < 500), `no server error: ${statuses}`)
  t.is(statuses.filter((s) => s >= 400).length, bad.length - 1, `4xx: ${statuses}`)
  const fresh = await connect({ transports: ['polling'] })
  t.like(await request(fresh, 'join:room', { roomId: 'after' }), { ok: true })
  await stream.stop()
})

// ---------------------------------------------------------------------------------------------
// Floods

test.serial('a packet flood gets RATE_LIMITED, is dropped, then disconnected; the honest stream is complete', async (t) => {
  const { connect } = await setup(t)
  const stream = await honestStream(t, connect)
  const flooder = await connect()
  for (let i = 0; i < 3000; i++) flooder.emit('heartbeat')
  await waitFor(() => flooder.disconnects.length > 0, 10_000, 'the flooder is disconnected')
  t.true(['io server disconnect', 'transport close'].includes(flooder.disconnects[0]), flooder.disconnects[0])
  const errors = flooder.log.filter((e) => e.event === 'error').map((e) => e.arg.code)
  // The hub closes the flooder while its packets are still arriving, so the kernel may reset the
  // connection and the client may never read what was queued for it (the RATE_LIMITED event
  // itself is checked in the next test); the hub's counters tell what happened.
  t.true(errors.every((c) => c === 'RATE_LIMITED'), `errors: ${errors}`)
  const pongs = flooder.log.filter((e) => e.event === 'pong').length
  t.true(pongs < 300, `about the burst was served, not the flood (${pongs} of 3000)`)
  const stats = hub.getStats()
  t.true(stats.packetsRateLimited > 0)
  t.is(stats.socketsRateLimited, 1)
  await stream.stop()
})

test.serial('a client just over the rate gets RATE_LIMITED once per run of drops and stays connected', async (t) => {
  const { connect } = await setup(t, { rateLimit: { packetsPerSecond: 5, burst: 5, disconnectAfter: 1000 } })
  const s = await connect()
  for (let i = 0; i < 20; i++) s.emit('heartbeat')
  await waitFor(() => s.log.some((e) => e.event === 'error'))
  const ack = await waitFor(() => request(s, 'heartbeat', undefined, 2000).catch(() => null), 10_000)
  t.truthy(ack.timestamp, 'served again once the bucket refilled')
  t.is(s.log.filter((e) => e.event === 'error').length, 1)
  t.true(s.connected)
})

test.serial('2,000 join attempts from one socket: membership stays within maxRoomsPerSocket', async (t) => {
  const { connect } = await setup(t, { rateLimit: { packetsPerSecond: 0 } })
  const stream = await honestStream(t, connect)
  const s = await connect()
  const acks = await Promise.all(Array.from({ length: 2000 }, (_, i) => request(s, 'join:room', { roomId: `r-${i}` }, 20_000)))
  const ok = acks.filter((a) => a.ok).length
  t.is(ok, 64)
  t.true(acks.filter((a) => !a.ok).every((a) => a.error.code === 'TOO_MANY_ROOMS'))
  t.is(hub.getPresence().find((p) => p.socketId === s.id).rooms.length, 64)
  await stream.stop()
})

test.serial('2,000 join attempts from one socket with the default rate limit: it is cut off', async (t) => {
  const { connect } = await setup(t)
  const stream = await honestStream(t, connect)
  const s = await connect()
  for (let i = 0; i < 2000; i++) s.emit('join:room', { roomId: `r-${i}` })
  await waitFor(() => s.disconnects.length > 0, 10_000)
  await waitFor(() => hub.getPresence().length === 1, 5000, 'the flooder is gone from presence')
  t.is(hub.getStats().rooms, 1, 'only the honest room is left')
  await stream.stop()
})

test.serial('a connection flood from one address gets 429 past the per-address burst; other addresses and open sessions go on', async (t) => {
  const { info, connect } = await setup(t, {
    trustProxy: true,
    rateLimit: { connectionsPerSecondPerIp: 1, connectionBurstPerIp: 20 },
  })
  const stream = await honestStream(t, connect)
  const flood = await Promise.all(
    Array.from({ length: 200 }, () => http(info, { headers: { 'x-forwarded-for': '203.0.113.7' } })),
  )
  const statuses = flood.map((r) => r.status)
  const served = statuses.filter((s) => s === 200).length
  const limited = statuses.filter((s) => s === 429).length
  // The burst, plus one a second for however long the flood took.
  t.true(served >= 20 && served < 60, `${served} served`)
  t.is(served + limited, 200)
  t.is(flood.find((r) => r.status === 429).headers.get('retry-after'), '1')
  t.is((await http(info, { headers: { 'x-forwarded-for': '198.51.100.1' } })).status, 200, 'another address is not affected')
  t.is(hub.getStats().connectionsRateLimited, limited)
  await stream.stop()
})

test.serial('maxConnectionsPerIp caps the open connections of one address', async (t) => {
  const { connect } = await setup(t, { rateLimit: { maxConnectionsPerIp: 3 } })
  const open = [await connect(), await connect(), await connect()]
  const err = await refused(connect)
  t.truthy(err)
  open[0].close()
  await waitFor(() => hub.getStats().connections === 2)
  const again = await connect()
  t.true(again.connected, 'a slot frees when a connection closes')
})

// ---------------------------------------------------------------------------------------------
// Tokens

test.serial('with a secret: missing, expired, forged and wrong-key tokens are refused with unauthorized; a valid one connects as its user', async (t) => {
  const { connect } = await setup(t, { secret: SECRET })
  const stream = await honestStream(t, connect, { auth: { token: hub.createToken({ userId: 'honest', expiresIn: 60 }) } })
  const now = Math.floor(Date.now() / 1000)
  const cases = {
    missing: undefined,
    'not a string': { token: 5 },
    garbage: { token: 'garbage' },
    expired: { token: craftToken({ sub: 'eve', iat: now - 120, exp: now - 60 }) },
    forged: { token: `${Buffer.from(JSON.stringify({ sub: 'admin', exp: now + 60 })).toString('base64url')}.${hub.createToken({ userId: 'eve', expiresIn: 60 }).split('.')[1]}` },
    'wrong key': { token: hub.createToken({ userId: 'eve', expiresIn: 60, secret: OTHER_SECRET }) },
    'too long': { token: 'a'.repeat(10_000) + '.b' },
  }
  for (const [name, auth] of Object.entries(cases)) {
    const err = await refused(connect, { auth })
    t.is(err.message, 'unauthorized', name)
    t.is(err.data, undefined, `${name}: no detail`)
  }
  t.is(hub.getStats().authFailures, Object.keys(cases).length)
  const alice = await connect({ auth: { token: craftToken({ sub: 'alice', exp: now + 60 }) } })
  t.is(hub.getPresence().find((p) => p.socketId === alice.id).userId, 'alice', 'a token made outside the addon (same format) works')
  t.deepEqual(hub.getUserPresence('honest').map((p) => p.socketId), [stream.good.id])
  await stream.stop()
})

test.serial('key rotation: during a rollover both keys verify, afterwards only the new one', async (t) => {
  const oldToken = hub.createToken({ userId: 'u', expiresIn: '1h', secret: SECRET })
  const newToken = hub.createToken({ userId: 'u', expiresIn: '1h', secret: OTHER_SECRET })
  {
    const { connect } = await setup(t, { secret: [OTHER_SECRET, SECRET] })
    await connect({ auth: { token: oldToken } })
    await connect({ auth: { token: newToken } })
    const signed = hub.createToken({ userId: 'u', expiresIn: 60 })
    t.is(signed.split('.')[1], craftToken(JSON.parse(Buffer.from(signed.split('.')[0], 'base64url')), OTHER_SECRET).split('.')[1], 'the first key signs')
    await hub.stopHub()
  }
  const { connect } = await setup(t, { secret: [OTHER_SECRET] })
  await connect({ auth: { token: newToken } })
  t.is((await refused(connect, { auth: { token: oldToken } })).message, 'unauthorized')
})

test.serial('createToken refuses bad arguments with ERR_INVALID_OPTIONS naming the field', (t) => {
  t.throws(() => hub.createToken({ userId: 'u', expiresIn: 60 }), { code: 'ERR_INVALID_OPTIONS', message: /^secret:/ })
  t.throws(() => hub.createToken({ userId: 'u', expiresIn: 60, secret: 'short' }), { code: 'ERR_INVALID_OPTIONS', message: /^secret:/ })
  t.throws(() => hub.createToken({ userId: '', expiresIn: 60, secret: SECRET }), { code: 'ERR_INVALID_OPTIONS', message: /^userId:/ })
  t.throws(() => hub.createToken({ userId: 'u', secret: SECRET }), { code: 'ERR_INVALID_OPTIONS', message: /^expiresIn:/ })
  t.throws(() => hub.createToken({ userId: 'u', expiresIn: '1y', secret: SECRET }), { code: 'ERR_INVALID_OPTIONS', message: /^expiresIn:/ })
  t.throws(() => hub.createToken({ userId: 'u', rooms: ['a b'], expiresIn: 1, secret: SECRET }), { code: 'ERR_INVALID_OPTIONS', message: /^rooms\[0\]:/ })
  t.throws(() => hub.createToken('u'), { code: 'ERR_INVALID_OPTIONS' })
})

// ---------------------------------------------------------------------------------------------
// authenticate

test.serial('authenticate: null, a throw, a bad value and a timeout are unauthorized; the process lives on; the user id feeds presence', async (t) => {
  const seen = []
  const { connect } = await setup(t, {
    authTimeoutMs: 300,
    authenticate: (handshake) => {
      seen.push(handshake)
      switch (handshake.auth?.mode) {
        case 'ok':
          return Promise.resolve({ userId: `user-${handshake.cookies.session}`, rooms: ['project-a-*', 'stream'] })
        case 'sync-throw':
          throw new Error('boom')
        case 'reject':
          return Promise.reject(new Error('no'))
        case 'bad':
          return { userId: 42 }
        case 'hang':
          return new Promise(() => {})
        default:
          return null
      }
    },
  })
  const stream = await honestStream(t, connect, { auth: { mode: 'ok' }, extraHeaders: { cookie: 'session=honest' } })
  for (const mode of ['null', 'sync-throw', 'reject', 'bad', 'hang']) {
    const err = await refused(connect, { auth: { mode } })
    t.is(err.message, 'unauthorized', mode)
    t.is(err.data, undefined)
  }
  const alice = await connect({ auth: { mode: 'ok' }, extraHeaders: { cookie: 'session=alice; theme=dark' }, query: { tab: '1' } })
  t.deepEqual(hub.getUserPresence('user-alice').map((p) => p.socketId), [alice.id])
  const hs = seen.at(-1)
  t.deepEqual(Object.keys(hs).sort(), ['address', 'auth', 'cookies', 'headers', 'query'])
  t.deepEqual(hs.cookies, { session: 'alice', theme: 'dark' })
  t.is(hs.query.tab, '1')
  t.deepEqual(hs.auth, { mode: 'ok' })
  t.is(hs.address, '127.0.0.1')
  t.regex(hs.headers.host, /^127\.0\.0\.1:\d+$/)
  // The join ack and presence events name the authenticated user.
  const ack = await request(alice, 'join:room', { roomId: 'project-a-1' })
  t.deepEqual(ack.members, [{ socketId: alice.id, userId: 'user-alice' }])
  await stream.stop()
})

test.serial('a token is used before authenticate; with a secret and authenticate, a connection without a token goes to authenticate', async (t) => {
  let calls = 0
  const { connect } = await setup(t, {
    secret: SECRET,
    authenticate: () => {
      calls++
      return { userId: 'from-cookie' }
    },
  })
  const a = await connect({ auth: { token: hub.createToken({ userId: 'from-token', expiresIn: 60 }) } })
  t.is(calls, 0, 'no JS call for a valid token')
  const b = await connect()
  t.is(calls, 1)
  t.is((await refused(connect, { auth: { token: 'forged.token' } })).message, 'unauthorized', 'a bad token is not handed to authenticate')
  t.is(calls, 1)
  t.is(hub.getPresence().find((p) => p.socketId === a.id).userId, 'from-token')
  t.is(hub.getPresence().find((p) => p.socketId === b.id).userId, 'from-cookie')
})

// ---------------------------------------------------------------------------------------------
// Room permissions

test.serial("room patterns from the token: another project's room is FORBIDDEN and its events never arrive", async (t) => {
  const { connect } = await setup(t, { secret: SECRET })
  const token = hub.createToken({ userId: 'alice', rooms: ['project-a-*', 'stream'], expiresIn: 60 })
  const stream = await honestStream(t, connect, { auth: { token } })
  const alice = await connect({ auth: { token } })
  t.like(await request(alice, 'join:room', { roomId: 'project-a-logs' }), { ok: true })
  const ack = await request(alice, 'join:room', { roomId: 'project-b-logs' })
  t.like(ack, { ok: false, error: { code: 'FORBIDDEN' } })
  t.true(alice.log.some((e) => e.event === 'error' && e.arg.code === 'FORBIDDEN'))
  t.deepEqual(hub.getRoomMembers('project-b-logs'), [])
  hub.emit('secret-b', { x: 1 }, 'project-b-logs')
  hub.emit('mine', { x: 1 }, 'project-a-logs')
  await sentinel([alice])
  t.deepEqual(emitted(alice).map((e) => e.event), ['mine', 'test:sentinel'])
  t.is(hub.getStats().joinsForbidden, 1)
  await stream.stop()
})

test.serial('authorizeRoom (async) decides joins; a throw, a non-true value or a timeout is FORBIDDEN', async (t) => {
  const calls = []
  const { connect } = await setup(t, {
    authTimeoutMs: 300,
    authorizeRoom: async (userId, room) => {
      calls.push([userId, room])
      if (room === 'throws') throw new Error('boom')
      if (room === 'hangs') return new Promise(() => {})
      if (room === 'truthy') return 1
      await sleep(5)
      return room.startsWith('ok-')
    },
  })
  const s = await connect()
  t.like(await request(s, 'join:room', { roomId: 'ok-1' }), { ok: true, room: 'ok-1' })
  for (const room of ['no-1', 'throws', 'hangs', 'truthy']) {
    t.like(await request(s, 'join:room', { roomId: room }), { ok: false, error: { code: 'FORBIDDEN' } }, room)
  }
  t.deepEqual(calls[0], ['anonymous', 'ok-1'])
  t.deepEqual(hub.getPresence()[0].rooms, ['ok-1'])
})

test.serial('a sync authorizeRoom works too, and patterns and authorizeRoom must both allow', async (t) => {
  const { connect } = await setup(t, {
    secret: SECRET,
    authorizeRoom: (userId, room) => room !== 'project-a-closed',
  })
  const s = await connect({ auth: { token: hub.createToken({ userId: 'u', rooms: ['project-a-*'], expiresIn: 60 }) } })
  t.like(await request(s, 'join:room', { roomId: 'project-a-open' }), { ok: true })
  t.like(await request(s, 'join:room', { roomId: 'project-a-closed' }), { ok: false, error: { code: 'FORBIDDEN' } })
  t.like(await request(s, 'join:room', { roomId: 'project-b-open' }), { ok: false, error: { code: 'FORBIDDEN' } })
})

test.serial("with an async authorizeRoom one socket's joins and leaves still apply in packet order", async (t) => {
  const { connect } = await setup(t, {
    rateLimit: { packetsPerSecond: 0 },
    authorizeRoom: async (_user, room) => {
      // Slower for some rooms, so that a later request would overtake an earlier one if the
      // hub did not keep them in order.
      await sleep(room.endsWith('slow') ? 20 : 0)
      return true
    },
  })
  const s = await connect()
  let wrong = 0
  for (let round = 0; round < 40; round++) {
    s.emit('join:room', { roomId: 'a-slow' })
    s.emit('join:room', { roomId: 'b' })
    s.emit('leave:room', { roomId: 'a-slow' })
    s.emit('join:room', { roomId: 'c-slow' })
    s.emit('leave:room', { roomId: 'b' })
    const last = await request(s, 'leave:room', { roomId: 'c-slow' })
    t.true(last.ok)
    if (hub.getPresence()[0].rooms.length !== 0) wrong++
  }
  t.is(wrong, 0)
  s.emit('join:room', { roomId: 'b' })
  s.emit('leave:room', { roomId: 'b' })
  const ack = await request(s, 'join:room', { roomId: 'z-slow' })
  t.true(ack.ok)
  t.deepEqual(hub.getPresence()[0].rooms, ['z-slow'])
})

test.serial('bad function options are ERR_INVALID_OPTIONS naming the option', async (t) => {
  await t.throwsAsync(hub.startHub({ port: 0, authenticate: 'yes' }), { code: 'ERR_INVALID_OPTIONS', message: /^authenticate: expected a function, got a string/ })
  await t.throwsAsync(hub.startHub({ port: 0, authorizeRoom: 5 }), { code: 'ERR_INVALID_OPTIONS', message: /^authorizeRoom: expected a function/ })
  await t.throwsAsync(hub.startHub({ port: 0, secret: 'short' }), { code: 'ERR_INVALID_OPTIONS', message: /^secret:/ })
  await t.throwsAsync(hub.startHub({ port: 0, secret: [] }), { code: 'ERR_INVALID_OPTIONS', message: /^secret:/ })
  await t.throwsAsync(hub.startHub({ port: 0, allowedOrigins: ['example.com'] }), { code: 'ERR_INVALID_OPTIONS', message: /^allowedOrigins\[0\]:/ })
  await t.throwsAsync(hub.startHub({ port: 0, allowedOrigins: 'yes' }), { code: 'ERR_INVALID_OPTIONS', message: /^allowedOrigins:/ })
  await t.throwsAsync(hub.startHub({ port: 0, rateLimit: { packetsPerSecond: -1 } }), { code: 'ERR_INVALID_OPTIONS', message: /^rateLimit.packetsPerSecond:/ })
  await t.throwsAsync(hub.startHub({ port: 0, rateLimit: { perSecond: 1 } }), { code: 'ERR_INVALID_OPTIONS', message: /unknown option 'rateLimit.perSecond'/ })
  await t.throwsAsync(hub.startHub({ port: 0, rateLimit: true }), { code: 'ERR_INVALID_OPTIONS', message: /^rateLimit:/ })
  await t.throwsAsync(hub.startHub({ port: 0, authTimeoutMs: 0 }), { code: 'ERR_INVALID_OPTIONS', message: /^authTimeoutMs:/ })
  await t.throwsAsync(hub.startHub({ port: 0, trustProxy: 'yes' }), { code: 'ERR_INVALID_OPTIONS', message: /^trustProxy:/ })
  t.is(hub.hubInfo(), null)
})

test.serial('startHub again with the same options and functions resolves to the running hub; adding a function is a difference', async (t) => {
  const opts = { port: 0, authenticate: () => ({ userId: 'a' }) }
  const info = await hub.startHub(opts)
  t.teardown(() => hub.stopHub())
  t.deepEqual(await hub.startHub({ ...opts, authenticate: () => ({ userId: 'b' }) }), info)
  await t.throwsAsync(hub.startHub({ ...opts, authorizeRoom: () => true }), { code: 'ERR_HUB_RUNNING', message: /authorizeRoom/ })
})

// ---------------------------------------------------------------------------------------------
// Origins and CORS

test.serial('cross-origin WebSocket upgrades and polling requests get 403; allowed origins get CORS headers', async (t) => {
  const { info, connect } = await setup(t)
  const stream = await honestStream(t, connect)
  const evil = { origin: 'https://evil.example' }
  t.is((await http(info, { headers: evil })).status, 403, 'polling handshake')
  const err = await rawSocket(info, { headers: evil }).then(() => null, (e) => e)
  t.is(err?.status, 403, 'websocket upgrade')
  t.is((await http(info, { method: 'OPTIONS', headers: { ...evil, 'access-control-request-method': 'POST' } })).status, 403, 'preflight')
  // An established polling session cannot be used from another origin either.
  const open = await http(info)
  const sid = JSON.parse(open.text.slice(1)).sid
  t.is((await http(info, { query: `EIO=4&transport=polling&sid=${sid}`, headers: evil })).status, 403)
  t.is((await http(info, { method: 'POST', query: `EIO=4&transport=polling&sid=${sid}`, headers: evil, body: '40' })).status, 403)
  const noCors = await http(info, { headers: evil })
  t.is(noCors.headers.get('access-control-allow-origin'), null)

  for (const origin of ['http://localhost:3000', 'http://127.0.0.1:5173', 'http://[::1]:8080', info.url]) {
    const ok = await http(info, { headers: { origin } })
    t.is(ok.status, 200, origin)
    t.is(ok.headers.get('access-control-allow-origin'), origin)
    t.is(ok.headers.get('access-control-allow-credentials'), 'true')
    t.regex(ok.headers.get('vary') ?? '', /Origin/)
  }
  const pre = await http(info, { method: 'OPTIONS', headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } })
  t.is(pre.status, 204)
  t.is(pre.headers.get('access-control-allow-origin'), 'http://localhost:3000')
  t.regex(pre.headers.get('access-control-allow-methods'), /POST/)
  const ws = await rawSocket(info, { headers: { origin: 'http://localhost:3000' } })
  ws.terminate()
  t.is((await http(info)).status, 200, 'no Origin (not a browser): allowed')
  t.true(hub.getStats().originRefusals >= 5)
  await stream.stop()
})

test.serial("allowedOrigins: exactly the listed origins; '*' allows any", async (t) => {
  {
    const { info } = await setup(t, { allowedOrigins: ['https://admin.example.com'] })
    t.is((await http(info, { headers: { origin: 'https://admin.example.com' } })).status, 200)
    t.is((await http(info, { headers: { origin: 'https://ADMIN.example.com:443' } })).status, 200)
    t.is((await http(info, { headers: { origin: 'http://admin.example.com' } })).status, 403)
    t.is((await http(info, { headers: { origin: 'http://localhost:3000' } })).status, 403)
    await hub.stopHub()
  }
  const { info } = await setup(t, { allowedOrigins: '*' })
  const res = await http(info, { headers: { origin: 'https://anything.example' } })
  t.is(res.status, 200)
  t.is(res.headers.get('access-control-allow-origin'), 'https://anything.example')
})

// ---------------------------------------------------------------------------------------------
// Payload limits through the real client

test.serial('a client packet over maxPayloadBytes closes that connection only', async (t) => {
  const { connect } = await setup(t, { maxPayloadBytes: 4096 })
  const stream = await honestStream(t, connect)
  const big = await connect()
  big.emit('presence:set', { state: { blob: 'x'.repeat(10_000) } })
  await waitFor(() => big.disconnects.length > 0)
  const polling = await connect({ transports: ['polling'] })
  polling.emit('presence:set', { state: { blob: 'x'.repeat(10_000) } })
  await waitFor(() => polling.disconnects.length > 0)
  await stream.stop()
  t.pass()
})

test.serial('a client packet just under maxPayloadBytes arrives whole, over WebSocket and polling', async (t) => {
  // The hub's WebSocket read buffer (1 KiB, `WS_READ_BUFFER` in src/hub.rs) is far smaller than
  // a packet may be: it grows for a large frame, which must arrive whole.
  const { connect } = await setup(t)
  const pad = 'x'.repeat(60_000)
  for (const transports of [['websocket'], ['polling']]) {
    const c = await connect({ transports })
    const ack = await request(c, 'heartbeat', { pad })
    t.truthy(ack.timestamp, `${transports[0]}: the 60 KB heartbeat is acknowledged`)
    t.like(await request(c, 'join:room', { roomId: 'after-big' }), { ok: true })
    t.true(c.connected, `${transports[0]}: still connected`)
  }
})

test.serial('binary attachments over maxBinaryAttachments close the connection; within it they are ignored', async (t) => {
  const { connect } = await setup(t, { maxBinaryAttachments: 2 })
  const stream = await honestStream(t, connect)
  const s = await connect()
  s.emit('custom', Buffer.from([1]), Buffer.from([2]))
  t.truthy(await request(s, 'heartbeat'))
  s.emit('custom', Buffer.from([1]), Buffer.from([2]), Buffer.from([3]))
  await waitFor(() => s.disconnects.length > 0)
  await stream.stop()
})

test.serial('a client that goes away while authenticate runs does not break the hub', async (t) => {
  let release
  let calls = 0
  const gate = new Promise((r) => (release = r))
  const { info, connect } = await setup(t, {
    authenticate: async () => {
      calls++
      await gate
      return { userId: 'late' }
    },
  })
  const ws = await rawSocket(info)
  ws.send('40')
  await waitFor(() => calls === 1)
  ws.terminate()
  release()
  const s = await connect()
  t.true(s.connected)
  t.like(await request(s, 'join:room', { roomId: 'r' }), { ok: true })
  // socketioxide drops that connect without a disconnect handler; the hub removes what it had
  // registered for it once the connect grace (5 s) has passed.
  await waitFor(() => hub.getPresence().length === 1, 15_000, 'the stillborn socket leaves presence')
  t.deepEqual(hub.getPresence().map((p) => p.userId), ['late'])
  t.is(hub.getStats().connections, 1)
})
