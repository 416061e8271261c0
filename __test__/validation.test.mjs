// Validation of payloads (SPEC §4), room names (§5), custom event names, payload size and
// startHub options (§3). Every refusal throws an Error with a code, names the field, and sends
// nothing.

import test from 'ava'

import { hub, setup, sentinel, waitFor, payloads, EMITTERS, now } from './helpers.mjs'

const p = payloads()
const without = (obj, key) => {
  const copy = structuredClone(obj)
  delete copy[key]
  return copy
}
const patch = (obj, fn) => {
  const copy = structuredClone(obj)
  fn(copy)
  return copy
}

/**
 * [description, event type, data, field the message must name, extra pattern the message must
 * match (what was expected or what came)]
 */
const INVALID = [
  // service:status
  ['status not in the enum', 'service:status', { ...p['service:status'], status: 'crashed' }, 'status', /"crashed"/],
  ['service missing', 'service:status', without(p['service:status'], 'service'), 'service', /nothing/],
  ['service not a string', 'service:status', { ...p['service:status'], service: 5 }, 'service', /5/],
  ['timestamp missing', 'service:status', without(p['service:status'], 'timestamp'), 'timestamp', /ISO-8601/],
  ['health.status not in the enum', 'service:status', patch(p['service:status'], (d) => (d.health.status = 'ok')), 'health.status', /"ok"/],
  ['health.lastCheck not a date-time', 'service:status', patch(p['service:status'], (d) => (d.health.lastCheck = 'now')), 'health.lastCheck', /"now"/],
  ['resources.cpu negative', 'service:status', patch(p['service:status'], (d) => (d.resources.cpu = -1)), 'resources.cpu', /-1/],
  ['containerId not a string', 'service:status', { ...p['service:status'], containerId: 7 }, 'containerId', /7/],
  // build:progress
  ['progress 150', 'build:progress', { ...p['build:progress'], progress: 150 }, 'progress', /expected a number from 0 to 100, got 150/],
  ['progress negative', 'build:progress', { ...p['build:progress'], progress: -0.5 }, 'progress', /-0\.5/],
  ['progress a string', 'build:progress', { ...p['build:progress'], progress: '50' }, 'progress', /"50"/],
  ['progress NaN', 'build:progress', { ...p['build:progress'], progress: NaN }, 'progress', /expected/],
  ['progress Infinity', 'build:progress', { ...p['build:progress'], progress: Infinity }, 'progress', /expected/],
  ['build status not in the enum', 'build:progress', { ...p['build:progress'], status: 'done' }, 'status', /"done"/],
  ['step missing', 'build:progress', without(p['build:progress'], 'step'), 'step', /nothing/],
  ['totalSteps negative', 'build:progress', { ...p['build:progress'], totalSteps: -1, currentStep: undefined }, 'totalSteps', /-1/],
  ['currentStep not an integer', 'build:progress', { ...p['build:progress'], currentStep: 1.5 }, 'currentStep', /1\.5/],
  ['currentStep > totalSteps', 'build:progress', { ...p['build:progress'], totalSteps: 3, currentStep: 4 }, 'currentStep', /totalSteps/],
  ['logs item not a string', 'build:progress', { ...p['build:progress'], logs: ['ok', 2] }, 'logs[1]', /2/],
  ['message not a string', 'build:progress', { ...p['build:progress'], message: {} }, 'message', /object/],
  // deploy:progress
  ['environment not in the enum', 'deploy:progress', { ...p['deploy:progress'], environment: 'prod' }, 'environment', /"prod"/],
  ['deploy logs missing', 'deploy:progress', without(p['deploy:progress'], 'logs'), 'logs', /array/],
  ['deploy logs not an array', 'deploy:progress', { ...p['deploy:progress'], logs: 'x' }, 'logs', /"x"/],
  ['deploy progress 101', 'deploy:progress', { ...p['deploy:progress'], progress: 101 }, 'progress', /101/],
  ['stage empty', 'deploy:progress', { ...p['deploy:progress'], stage: '' }, 'stage', /""/],
  // logs:stream
  ['line missing', 'logs:stream', without(p['logs:stream'], 'line'), 'line', /nothing/],
  ['level not in the enum', 'logs:stream', { ...p['logs:stream'], level: 'fatal' }, 'level', /"fatal"/],
  ['source not in the enum', 'logs:stream', { ...p['logs:stream'], source: 'stdin' }, 'source', /"stdin"/],
  ['timestamp not a date', 'logs:stream', { ...p['logs:stream'], timestamp: 'yesterday' }, 'timestamp', /"yesterday"/],
  ['timestamp an impossible date', 'logs:stream', { ...p['logs:stream'], timestamp: '2026-02-30T00:00:00.000Z' }, 'timestamp', /2026-02-30/],
  ['timestamp a number', 'logs:stream', { ...p['logs:stream'], timestamp: 1700000000000 }, 'timestamp', /1700000000000/],
  ['timestamp a date without time', 'logs:stream', { ...p['logs:stream'], timestamp: '2026-01-31' }, 'timestamp', /2026-01-31/],
  // docker:stats
  ['stats.cpu negative', 'docker:stats', patch(p['docker:stats'], (d) => (d.stats.cpu = -5)), 'stats.cpu', /-5/],
  ['stats.memory Infinity', 'docker:stats', patch(p['docker:stats'], (d) => (d.stats.memory = Infinity)), 'stats.memory', /expected/],
  ['stats.network missing', 'docker:stats', patch(p['docker:stats'], (d) => delete d.stats.network), 'stats.network', /object/],
  ['stats.blockIO.read negative', 'docker:stats', patch(p['docker:stats'], (d) => (d.stats.blockIO.read = -1)), 'stats.blockIO.read', /-1/],
  ['stats.network.tx a string', 'docker:stats', patch(p['docker:stats'], (d) => (d.stats.network.tx = '1')), 'stats.network.tx', /"1"/],
  ['stats missing', 'docker:stats', without(p['docker:stats'], 'stats'), 'stats', /object/],
  ['containerName missing', 'docker:stats', without(p['docker:stats'], 'containerName'), 'containerName', /string/],
  // db:query:result
  ['rowCount not an integer', 'db:query:result', { ...p['db:query:result'], rowCount: 1.5 }, 'rowCount', /1\.5/],
  ['rowCount negative', 'db:query:result', { ...p['db:query:result'], rowCount: -1 }, 'rowCount', /-1/],
  ['rows not an array', 'db:query:result', { ...p['db:query:result'], rows: {} }, 'rows', /array/],
  ['fields[0].dataTypeID missing', 'db:query:result', patch(p['db:query:result'], (d) => delete d.fields[0].dataTypeID), 'fields[0].dataTypeID', /nothing/],
  ['fields[1].name not a string', 'db:query:result', patch(p['db:query:result'], (d) => (d.fields[1].name = null)), 'fields[1].name', /string/],
  ['fields item not an object', 'db:query:result', { ...p['db:query:result'], fields: ['id'] }, 'fields[0]', /object/],
  ['executionTime negative', 'db:query:result', { ...p['db:query:result'], executionTime: -2 }, 'executionTime', /-2/],
  ['queryId missing', 'db:query:result', without(p['db:query:result'], 'queryId'), 'queryId', /nothing/],
  // non-object data, for every type
  ...Object.keys(EMITTERS).flatMap((type) => [
    [`${type} data a string`, type, 'hello', 'data', /"hello"/],
    [`${type} data an array`, type, [p[type]], 'data', /array/],
    [`${type} data null`, type, null, 'data', /null/],
    [`${type} data a number`, type, 42, 'data', /42/],
  ]),
  // values JSON cannot carry
  ['a circular object', 'db:query:result', (() => { const d = structuredClone(p['db:query:result']); d.self = d; return d })(), 'self', /circular/i],
]

test.serial('every invalid payload throws ERR_INVALID_EVENT naming the field, and nothing is sent', async (t) => {
  const { connect } = await setup(t)
  const s = await connect()
  for (const [what, type, data, field, detail] of INVALID) {
    const err = t.throws(() => hub[EMITTERS[type]](data), undefined, what)
    t.true(err instanceof Error, what)
    t.is(err.code, 'ERR_INVALID_EVENT', `${what}: ${err.message}`)
    t.true(err.message.includes(field), `${what}: message names ${field}: ${err.message}`)
    t.regex(err.message, detail, what)
    // the same through emit(type, ...)
    const err2 = t.throws(() => hub.emit(type, data), undefined, `${what} via emit()`)
    t.is(err2.code, 'ERR_INVALID_EVENT', `${what} via emit()`)
  }
  t.is(hub.getStats().eventsEmitted, 0)
  await sentinel([s])
  t.deepEqual(s.log.map((e) => e.event), ['test:sentinel'], 'the first thing received is the sentinel')
})

test.serial('every invalid payload is refused for a room target too, and nothing reaches the room', async (t) => {
  const { connect } = await setup(t)
  const s = await connect()
  const ack = await s.timeout(5000).emitWithAck('join:room', { roomId: 'r' })
  t.true(ack.ok)
  for (const [what, type, data] of INVALID) {
    const err = t.throws(() => hub[EMITTERS[type]](data, 'r'), undefined, what)
    t.is(err.code, 'ERR_INVALID_EVENT', what)
  }
  await sentinel([s], { flushRooms: ['r'] })
  t.deepEqual(s.log.map((e) => e.event), ['test:flush', 'test:sentinel'])
})

test.serial('the spec example message: progress: expected a number from 0 to 100, got 150', async (t) => {
  await setup(t)
  const err = t.throws(() => hub.emitBuildProgress({ ...p['build:progress'], progress: 150 }))
  t.is(err.message, 'progress: expected a number from 0 to 100, got 150')
})

// SPEC §4: "Numbers are finite". JSON.stringify turns NaN/Infinity into null, which an
// optional field otherwise accepts as "absent": the hub must still refuse them.
const NON_FINITE_OPTIONAL = [
  ['db executionTime NaN', 'db:query:result', { ...p['db:query:result'], executionTime: NaN }, 'executionTime'],
  ['service resources.cpu Infinity', 'service:status', patch(p['service:status'], (d) => (d.resources.cpu = Infinity)), 'resources.cpu'],
  ['deploy progress -Infinity', 'deploy:progress', { ...p['deploy:progress'], progress: -Infinity }, 'progress'],
  ['build totalSteps NaN', 'build:progress', { ...p['build:progress'], totalSteps: NaN, currentStep: undefined }, 'totalSteps'],
]

test.serial('a NaN or Infinity in an optional number field is refused with ERR_INVALID_EVENT, and nothing is sent', async (t) => {
  const { connect } = await setup(t)
  const s = await connect()
  const accepted = []
  for (const [what, type, data, field] of NON_FINITE_OPTIONAL) {
    try {
      hub[EMITTERS[type]](data)
      accepted.push(what)
    } catch (err) {
      t.is(err.code, 'ERR_INVALID_EVENT', what)
      t.true(err.message.includes(field), `${what}: ${err.message}`)
    }
  }
  await sentinel([s])
  const sent = s.log.filter((e) => e.event !== 'test:sentinel').map((e) => e.event)
  t.deepEqual(accepted, [], `accepted, and sent to the client with the number as null: ${sent.join(', ')}`)
  t.deepEqual(s.log.map((e) => e.event), ['test:sentinel'])
})

test.serial('a NaN in a required number is reported as what came (NaN), not as a missing field', async (t) => {
  await setup(t)
  const err = t.throws(() => hub.emitBuildProgress({ ...p['build:progress'], progress: NaN }))
  t.is(err.code, 'ERR_INVALID_EVENT')
  t.regex(err.message, /^progress: .*NaN/)
})

test.serial('a BigInt throws ERR_INVALID_EVENT naming the field that holds it, and nothing is sent', async (t) => {
  const { connect } = await setup(t)
  const s = await connect()
  const err = t.throws(() => hub.emitDbQueryResult({ ...p['db:query:result'], rowCount: 2n }))
  t.is(err.code, 'ERR_INVALID_EVENT')
  t.regex(err.message, /BigInt/i, 'says what came')
  await sentinel([s])
  t.deepEqual(s.log.map((e) => e.event), ['test:sentinel'])
  t.true(err.message.includes('rowCount'), `message names the field: ${err.message}`)
})

test.serial('a BigInt or a circular value in custom data throws ERR_INVALID_EVENT', async (t) => {
  const { connect } = await setup(t)
  const s = await connect()
  t.is(t.throws(() => hub.emit('custom', { n: 1n })).code, 'ERR_INVALID_EVENT')
  const circ = { a: [] }
  circ.a.push(circ)
  const err = t.throws(() => hub.emit('custom', circ))
  t.is(err.code, 'ERR_INVALID_EVENT')
  t.regex(err.message, /^data: .*circular/is)
  await sentinel([s])
  t.deepEqual(s.log.map((e) => e.event), ['test:sentinel'])
})

test.serial('valid edge values are accepted: progress 0 and 100, currentStep == totalSteps, empty line, other ISO forms', async (t) => {
  const { connect } = await setup(t)
  const s = await connect()
  const accepted = [
    ['build:progress', { ...p['build:progress'], progress: 0 }],
    ['build:progress', { ...p['build:progress'], progress: 100, totalSteps: 4, currentStep: 4 }],
    ['logs:stream', { service: 'a', line: '', timestamp: '2026-01-31T12:00:00Z' }],
    ['logs:stream', { service: 'a', line: 'x', timestamp: '2026-01-31T12:00:00.123456+02:00' }],
    ['db:query:result', { queryId: 'q', rows: [], rowCount: 0, fields: [], timestamp: now() }],
    ['docker:stats', patch(p['docker:stats'], (d) => (d.stats = { cpu: 0, memory: 0, memoryLimit: 0, memoryPercent: 0, network: { rx: 0, tx: 0 }, blockIO: { read: 0, write: 0 } }))],
    ['service:status', { service: 's', status: 'unhealthy', timestamp: now() }],
    ['deploy:progress', { stage: 's', environment: 'production', status: 'failed', logs: [], timestamp: now(), error: 'boom' }],
  ]
  for (const [type, data] of accepted) {
    t.notThrows(() => hub[EMITTERS[type]](data), JSON.stringify(data))
  }
  await waitFor(() => s.log.length === 7) // 8 events, logs lines in one batch
  const received = s.log.flatMap((e) => (e.event === 'batch' ? e.arg : [e.arg]))
  t.deepEqual(received.map((e) => e.data), accepted.map(([, d]) => d))
})

const BAD_ROOMS = [
  ['a space', 'a b'],
  ['129 characters', 'x'.repeat(129)],
  ['empty', ''],
  ['a slash', 'a/b'],
  ['non-ASCII', 'r\u00e9union'],
  ['a number', 42],
  ['an object', { room: 'r' }],
  ['a boolean', true],
]

test.serial('bad room names throw ERR_INVALID_ROOM from every emitter, and nothing is sent', async (t) => {
  const { connect } = await setup(t)
  const s = await connect()
  for (const [what, room] of BAD_ROOMS) {
    for (const [type, fn] of Object.entries(EMITTERS)) {
      const err = t.throws(() => hub[fn](p[type], room), undefined, `${fn}, room ${what}`)
      t.is(err.code, 'ERR_INVALID_ROOM', `${fn}, room ${what}: ${err.message}`)
      t.true(err.message.includes('room'), err.message)
    }
    const err = t.throws(() => hub.emit('custom', {}, room), undefined, `emit, room ${what}`)
    t.is(err.code, 'ERR_INVALID_ROOM', `emit, room ${what}`)
  }
  t.is(hub.getStats().eventsEmitted, 0)
  await sentinel([s])
  t.deepEqual(s.log.map((e) => e.event), ['test:sentinel'])
})

test.serial('a 128-character room name of every allowed character class is accepted', async (t) => {
  const { connect } = await setup(t)
  const s = await connect()
  const room = ('Az09_.:-'.repeat(16)).slice(0, 128)
  t.is(room.length, 128)
  const ack = await s.timeout(5000).emitWithAck('join:room', { roomId: room })
  t.deepEqual(ack, { ok: true, room, members: [{ socketId: s.id, userId: 'anonymous' }], seq: 0, epoch: hub.hubInfo().epoch })
  hub.emit('custom', { ok: 1 }, room)
  await waitFor(() => s.log.length === 1)
  t.is(s.log[0].arg.room, room)
})

const BAD_EVENT_NAMES = [
  'connect',
  'connect_error',
  'disconnect',
  'disconnecting',
  'newListener',
  'removeListener',
  'batch',
  'presence:join',
  'presence:leave',
  'presence:update',
  'presence:set',
  'presence:anything',
  'join:room',
  'leave:room',
  'heartbeat',
  'pong',
  'error',
  '',
  'a'.repeat(65),
  'has space',
  'slash/ed',
  'caf\u00e9',
  42,
  null,
  undefined,
]

test.serial('reserved and invalid custom event names throw ERR_INVALID_EVENT, and nothing is sent', async (t) => {
  const { connect } = await setup(t)
  const s = await connect()
  for (const name of BAD_EVENT_NAMES) {
    const err = t.throws(() => hub.emit(name, { x: 1 }), undefined, String(name))
    t.is(err.code, 'ERR_INVALID_EVENT', `${JSON.stringify(name)}: ${err.message}`)
    t.true(err.message.startsWith('event'), `message names the event: ${err.message}`)
  }
  t.is(hub.getStats().eventsEmitted, 0)
  await sentinel([s])
  t.deepEqual(s.log.map((e) => e.event), ['test:sentinel'])
})

test.serial('a 64-character custom event name of allowed characters is accepted', async (t) => {
  const { connect } = await setup(t)
  const s = await connect()
  const name = 'Az09_.:-'.repeat(8)
  t.is(name.length, 64)
  hub.emit(name, 1)
  await waitFor(() => s.log.length === 1)
  t.is(s.log[0].event, name)
})

test.serial('a payload over maxPayloadBytes throws ERR_PAYLOAD_TOO_LARGE, and one at the limit is sent', async (t) => {
  const { connect } = await setup(t, { maxPayloadBytes: 2048 })
  const s = await connect()
  const poller = await connect({ transports: ['polling'] })
  const atLimit = 'x'.repeat(2048 - 2) // JSON: the string plus two quotes
  t.is(JSON.stringify(atLimit).length, 2048)

  const big = t.throws(() => hub.emit('custom', atLimit + 'x'))
  t.is(big.code, 'ERR_PAYLOAD_TOO_LARGE')
  t.regex(big.message, /maxPayloadBytes/)
  const bigLog = t.throws(() => hub.emitLogStream({ ...p['logs:stream'], line: 'y'.repeat(3000) }, 'r'))
  t.is(bigLog.code, 'ERR_PAYLOAD_TOO_LARGE')
  const bigDb = t.throws(() => hub.emitDbQueryResult({ ...p['db:query:result'], rows: Array(300).fill({ id: 12345 }) }))
  t.is(bigDb.code, 'ERR_PAYLOAD_TOO_LARGE')
  t.is(hub.getStats().eventsEmitted, 0)

  await sentinel([s, poller])
  t.deepEqual(s.log.map((e) => e.event), ['test:sentinel'])
  t.deepEqual(poller.log.map((e) => e.event), ['test:sentinel'])

  hub.emit('custom', atLimit)
  for (const c of [s, poller]) {
    await waitFor(() => c.log.length === 2)
    t.is(c.log[1].event, 'custom')
    t.is(c.log[1].arg.data, atLimit)
  }
})

test.serial('the default maxPayloadBytes is 65536', async (t) => {
  await setup(t)
  t.notThrows(() => hub.emit('custom', 'x'.repeat(65536 - 2)))
  t.is(t.throws(() => hub.emit('custom', 'x'.repeat(65536 - 1))).code, 'ERR_PAYLOAD_TOO_LARGE')
})

const BAD_OPTIONS = [
  [{ port: 70000 }, 'port'],
  [{ port: -1 }, 'port'],
  [{ port: 1.5 }, 'port'],
  [{ port: '3022' }, 'port'],
  [{ prot: 0 }, 'prot'],
  [{ batch: { maxSize: 0 } }, 'batch.maxSize'],
  [{ batch: { maxWaitMs: -1 } }, 'batch.maxWaitMs'],
  [{ batch: { events: 'logs:stream' } }, 'batch.events'],
  [{ batch: { events: ['bad name'] } }, 'batch.events'],
  [{ batch: { size: 3 } }, 'size'],
  [{ presence: { staleAfterMs: 'soon' } }, 'presence.staleAfterMs'],
  [{ transports: [] }, 'transports'],
  [{ transports: ['carrier-pigeon'] }, 'transports'],
  [{ transports: 'websocket' }, 'transports'],
  [{ path: 'api/ws' }, 'path'],
  [{ host: '' }, 'host'],
  [{ pingIntervalMs: 0 }, 'pingIntervalMs'],
  [{ maxPayloadBytes: 'big' }, 'maxPayloadBytes'],
  [{ maxRoomsPerSocket: 0 }, 'maxRoomsPerSocket'],
  [{ maxQueuedPackets: 15 }, 'maxQueuedPackets'],
  [{ unref: 'yes' }, 'unref'],
]

test.serial('invalid startHub options reject with ERR_INVALID_OPTIONS naming the option, and no hub starts', async (t) => {
  t.teardown(() => hub.stopHub())
  for (const [opts, name] of BAD_OPTIONS) {
    const err = await t.throwsAsync(hub.startHub({ port: 0, ...opts }), undefined, JSON.stringify(opts))
    t.true(err instanceof Error)
    t.is(err.code, 'ERR_INVALID_OPTIONS', `${JSON.stringify(opts)}: ${err.message}`)
    t.true(err.message.includes(name), `${JSON.stringify(opts)}: message names ${name}: ${err.message}`)
    t.is(hub.hubInfo(), null)
  }
  const notObject = await t.throwsAsync(hub.startHub(5))
  t.is(notObject.code, 'ERR_INVALID_OPTIONS')
})

test.serial('invalid options reject even while a hub runs, and leave it running', async (t) => {
  const { info } = await setup(t)
  const err = await t.throwsAsync(hub.startHub({ port: 70000 }))
  t.is(err.code, 'ERR_INVALID_OPTIONS')
  t.is(hub.hubInfo()?.epoch, info.epoch)
})
