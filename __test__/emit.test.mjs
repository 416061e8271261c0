// Emitters: room targeting, broadcast, envelope form (SPEC §3, §5).

import test from 'ava'

import {
  hub,
  setup,
  join,
  waitFor,
  sentinel,
  emitted,
  envelopes,
  payloads,
  EMITTERS,
  BATCHED,
  assertEnvelope,
} from './helpers.mjs'

for (const [type, fn] of Object.entries(EMITTERS)) {
  test.serial(`${fn} with a room reaches a member of that room and not a client outside it`, async (t) => {
    const { connect } = await setup(t)
    const insider = await connect()
    const outsider = await connect()
    await join(t, insider, 'project-1')
    const data = payloads()[type]

    hub[fn](data, 'project-1')

    await waitFor(() => emitted(insider).length === 1, 5000, `${type} on the insider`)
    const [got] = emitted(insider)
    if (BATCHED.has(type)) {
      t.is(got.event, 'batch')
      t.true(Array.isArray(got.arg))
      t.is(got.arg.length, 1)
      assertEnvelope(t, got.arg[0], { type, data, room: 'project-1' })
    } else {
      t.is(got.event, type)
      t.is(got.args.length, 1, 'one argument: the envelope')
      assertEnvelope(t, got.arg, { type, data, room: 'project-1' })
    }

    await sentinel([insider, outsider])
    t.deepEqual(
      outsider.log.map((e) => e.event),
      ['test:sentinel'],
      'the outsider got only the broadcast sentinel',
    )
    t.deepEqual(
      insider.log.map((e) => e.event),
      [BATCHED.has(type) ? 'batch' : type, 'test:sentinel'],
    )
  })
}

test.serial('each emitter without a room reaches every client, in call order, without a room field', async (t) => {
  const { connect } = await setup(t)
  const a = await connect()
  const b = await connect({ transports: ['polling'] })
  const p = payloads()

  for (const [type, fn] of Object.entries(EMITTERS)) hub[fn](p[type])

  for (const s of [a, b]) {
    // service, build, deploy one by one; logs + docker coalesced into one batch that the
    // (unbatched) db result flushes first; then db.
    await waitFor(() => emitted(s).length === 5, 5000, `5 packets on ${s.io.engine.transport.name}`)
    t.deepEqual(
      s.log.map((e) => e.event),
      ['service:status', 'build:progress', 'deploy:progress', 'batch', 'db:query:result'],
    )
    const envs = envelopes(s)
    t.deepEqual(
      envs.map((e) => e.type),
      Object.keys(EMITTERS),
    )
    for (const env of envs) assertEnvelope(t, env, { type: env.type, data: p[env.type] })
  }
})

test.serial('the envelope timestamp is the hub time of the emit', async (t) => {
  const { connect } = await setup(t)
  const s = await connect()
  const before = Date.now()
  hub.emit('clock:check', { n: 1 })
  const after = Date.now()
  await waitFor(() => s.log.length === 1)
  const ts = Date.parse(s.log[0].arg.timestamp)
  // ms resolution on both sides; allow a few ms of clock rounding
  t.true(ts >= before - 5 && ts <= after + 5, `${s.log[0].arg.timestamp} within [${before}, ${after}]`)
})

test.serial("emit('custom:event', data, room) reaches only the room, with the custom type", async (t) => {
  const { connect } = await setup(t)
  const insider = await connect()
  const outsider = await connect()
  await join(t, insider, 'ops')
  const data = { anything: ['goes', 1, null, { deep: true }], n: 0.1 }

  hub.emit('custom:event', data, 'ops')

  await waitFor(() => emitted(insider).length === 1)
  t.is(insider.log[0].event, 'custom:event')
  assertEnvelope(t, insider.log[0].arg, { type: 'custom:event', data, room: 'ops' })
  await sentinel([insider, outsider])
  t.deepEqual(outsider.log.map((e) => e.event), ['test:sentinel'])
})

test.serial("emit('custom:event', data) without a room reaches every client", async (t) => {
  const { connect } = await setup(t)
  const clients = [await connect(), await connect(), await connect({ transports: ['polling'] })]
  await join(t, clients[0], 'some-room')

  hub.emit('custom:event', 'a string is fine too')

  for (const s of clients) {
    await waitFor(() => emitted(s).length === 1)
    t.is(s.log.at(-1).event, 'custom:event')
    assertEnvelope(t, s.log.at(-1).arg, { type: 'custom:event', data: 'a string is fine too' })
  }
})

test.serial('custom data of every JSON kind passes through unchanged', async (t) => {
  const { connect } = await setup(t)
  const s = await connect()
  const values = [null, 0, -1.5, 1e300, true, false, '', 'unicode \u2603 \ud83d\ude00', [], {}, [[[]]], { a: { b: { c: [1] } } }]

  for (const v of values) hub.emit('kinds', v)

  await waitFor(() => s.log.length === values.length)
  t.deepEqual(
    s.log.map((e) => e.arg.data),
    values,
  )
  t.true(s.log.every((e) => e.event === 'kinds'))
})

test.serial('a typed event name passed to emit() gets that type and its validation', async (t) => {
  const { connect } = await setup(t)
  const s = await connect()
  const data = payloads()['service:status']

  const err = t.throws(() => hub.emit('service:status', { service: 'x' }))
  t.is(err.code, 'ERR_INVALID_EVENT')
  hub.emit('service:status', data)

  await waitFor(() => s.log.length === 1)
  t.is(s.log[0].event, 'service:status')
  assertEnvelope(t, s.log[0].arg, { type: 'service:status', data })
})

test.serial('a room member receives room and broadcast events in call order', async (t) => {
  const { connect } = await setup(t)
  const s = await connect()
  await join(t, s, 'r')

  for (let i = 0; i < 200; i++) hub.emit('seq', { i }, i % 2 ? 'r' : undefined)

  await waitFor(() => s.log.length === 200)
  // Room and everyone are two targets; SPEC only orders per target, so check each target.
  const room = s.log.filter((e) => e.arg.room === 'r').map((e) => e.arg.data.i)
  const all = s.log.filter((e) => e.arg.room === undefined).map((e) => e.arg.data.i)
  t.deepEqual(room, Array.from({ length: 100 }, (_, k) => 2 * k + 1))
  t.deepEqual(all, Array.from({ length: 100 }, (_, k) => 2 * k))
})
