// The React hooks (nself-realtime/react) against the real hub: real WebSocketClient instances,
// React 19 in jsdom, StrictMode everywhere, server rendering and hydration. Plus the store layer
// on its own (no React, no hub) for the rules that need exact event sequences.

import { readFileSync } from 'node:fs'

import test from 'ava'
import { JSDOM } from 'jsdom'

import { hub, logLine, now } from './helpers.mjs'

// A DOM before react-dom and @testing-library/react load: they look for it at import time.
const dom = new JSDOM('<!doctype html><html><body></body></html>', { url: 'http://localhost/', pretendToBeVisual: true })
const DOM_GLOBALS = ['window', 'document', 'navigator']
for (const key of DOM_GLOBALS) {
  Object.defineProperty(globalThis, key, { value: key === 'window' ? dom.window : dom.window[key], configurable: true, writable: true })
}
for (const key of ['HTMLElement', 'Element', 'Node', 'Text', 'MutationObserver', 'getComputedStyle', 'requestAnimationFrame', 'cancelAnimationFrame']) {
  if (!(key in globalThis)) globalThis[key] = dom.window[key]
}
globalThis.IS_REACT_ACT_ENVIRONMENT = true

const React = await import('react')
const { renderToString } = await import('react-dom/server')
const { hydrateRoot } = await import('react-dom/client')
const { render, cleanup, waitFor, act } = await import('@testing-library/react')
const { WebSocketClient, getWebSocketClient } = await import('../dist/esm/client.js')
const R = await import('../dist/esm/react.js')
const S = await import('../dist/esm/store.js')

const h = React.createElement
const { StrictMode } = React

/** Waits (bounded) until `predicate()` is truthy; React updates meanwhile need no act(). */
const until = (predicate, what, timeout = 5000) =>
  waitFor(
    () => {
      if (!predicate()) throw new Error(`timed out after ${timeout} ms waiting for: ${what}`)
    },
    { timeout, interval: 5 },
  )

/** One macrotask: a room's deferred leave (setTimeout 0) has run by then. */
const nextTick = () => act(() => new Promise((r) => setTimeout(r, 0)))

/** A component that records every value `useHook(props)` returned, render by render. */
function probe(useHook) {
  const results = []
  function Probe(props) {
    results.push(useHook(props))
    return null
  }
  return {
    Probe,
    results,
    get last() {
      return results[results.length - 1]
    },
  }
}

/** `<StrictMode><RealtimeProvider client>{children}</RealtimeProvider></StrictMode>` */
const app = (client, ...children) => h(StrictMode, null, h(R.RealtimeProvider, { client }, ...children))

/**
 * Starts a hub for one test and returns a factory of real clients pointed at it. Teardown
 * unmounts React trees first, then disconnects the clients (so they do not try to reconnect to
 * the stopped hub), then stops the hub.
 */
async function setup(t) {
  const info = await hub.startHub({ port: 0 })
  const clients = []
  t.teardown(async () => {
    cleanup()
    for (const c of clients) c.disconnect()
    await hub.stopHub()
  })
  return {
    info,
    newClient(options = {}) {
      const client = new WebSocketClient(info.url, { path: info.path, allowServer: true, transports: ['websocket'], ...options })
      clients.push(client)
      return client
    },
  }
}

const status = (service, state) => ({ service, status: state, timestamp: now() })
const build = (step, progress, state, currentStep, extra = {}) => ({
  step,
  progress,
  status: state,
  timestamp: now(),
  currentStep,
  totalSteps: 3,
  ...extra,
})
const deploy = (environment, stage, state, progress) => ({ stage, environment, status: state, logs: [stage], timestamp: now(), progress })
const stats = (containerId, cpu) => ({
  containerId,
  containerName: `nself_${containerId}`,
  timestamp: now(),
  stats: { cpu, memory: 1, memoryLimit: 2, memoryPercent: 50, network: { rx: 0, tx: 0 }, blockIO: { read: 0, write: 0 } },
})
const queryResult = (queryId, rowCount) => ({
  queryId,
  rows: Array.from({ length: rowCount }, (_, id) => ({ id })),
  rowCount,
  fields: [{ name: 'id', dataTypeID: 23 }],
  timestamp: now(),
})

// ---------------------------------------------------------------------------------------------

test.serial('useWebSocket connects the client, reflects the status and keeps its functions across re-renders', async (t) => {
  const { newClient } = await setup(t)
  const client = newClient()
  const ws = probe(() => R.useWebSocket())
  const view = render(app(client, h(ws.Probe, { n: 1 })))
  const first = ws.results[0]
  t.false(first.connected)
  t.is(first.client, client)

  await until(() => ws.last.connected, 'connected')
  t.true(ws.last.status.connected)
  t.false(ws.last.reconnecting)
  t.is(ws.last.status, client.getSnapshot())

  view.rerender(app(client, h(ws.Probe, { n: 2 })))
  view.rerender(app(client, h(ws.Probe, { n: 3 })))
  t.true(ws.results.length >= 4)
  for (const r of ws.results) {
    t.is(r.on, first.on)
    t.is(r.emit, first.emit)
    t.is(r.joinRoom, first.joinRoom)
    t.is(r.leaveRoom, first.leaveRoom)
    t.is(r.client, client)
  }
  t.is(first.on, client.on)
  t.is(first.emit, client.emit)
  // Re-renders without a status change return the same object.
  t.is(ws.results[ws.results.length - 1], ws.results[ws.results.length - 2])

  act(() => client.disconnect())
  t.false(ws.last.connected)
  t.false(ws.last.reconnecting)
})

test.serial('useServiceStatus tracks its service and ignores the others', async (t) => {
  const { newClient } = await setup(t)
  const client = newClient()
  const svc = probe(() => R.useServiceStatus('postgres'))
  render(app(client, h(svc.Probe)))
  t.deepEqual(svc.last, { status: null })
  await until(() => client.isConnected(), 'connected')

  let seen = 0
  client.on('service:status', () => seen++)
  hub.emitServiceStatus(status('redis', 'stopped'))
  hub.emitServiceStatus(status('postgres', 'running'))
  hub.emitServiceStatus(status('redis', 'unhealthy'))
  await until(() => seen === 3 && svc.last.status?.status === 'running', 'postgres running')
  await act(async () => {})
  t.is(svc.last.status.service, 'postgres')
  t.is(svc.last.status.status, 'running')

  hub.emitServiceStatus({ ...status('postgres', 'unhealthy'), health: { status: 'unhealthy' } })
  hub.emitServiceStatus(status('hasura', 'running'))
  await until(() => seen === 5, 'five events')
  await act(async () => {})
  t.like(svc.last.status, { service: 'postgres', status: 'unhealthy', health: { status: 'unhealthy' } })
})

test.serial('useBuildProgress goes from in-progress to complete with the history of the build, and a new build starts a new history', async (t) => {
  const { newClient } = await setup(t)
  const client = newClient()
  const b = probe(() => R.useBuildProgress())
  render(app(client, h(b.Probe)))
  t.like(b.last, { progress: null, history: [], isBuilding: false, isComplete: false, isFailed: false })
  await until(() => client.isConnected(), 'connected')

  hub.emitBuildProgress(build('install', 0, 'in-progress', 1))
  hub.emitBuildProgress(build('compile', 50, 'in-progress', 2))
  await until(() => b.last.progress?.step === 'compile', 'compile')
  t.like(b.last, { isBuilding: true, isComplete: false, isFailed: false })
  t.deepEqual(b.last.history.map((e) => e.step), ['install', 'compile'])

  hub.emitBuildProgress(build('package', 100, 'complete', 3))
  await until(() => b.last.isComplete, 'complete')
  t.like(b.last, { isBuilding: false, isFailed: false, progress: { step: 'package', progress: 100 } })
  t.deepEqual(b.last.history.map((e) => [e.step, e.status]), [
    ['install', 'in-progress'],
    ['compile', 'in-progress'],
    ['package', 'complete'],
  ])

  // The next build: its first event replaces the history.
  hub.emitBuildProgress(build('install', 0, 'in-progress', 1))
  await until(() => b.last.isBuilding, 'second build')
  t.deepEqual(b.last.history.map((e) => e.step), ['install'])
  hub.emitBuildProgress(build('compile', 40, 'failed', 2, { message: 'tsc: 3 errors' }))
  await until(() => b.last.isFailed, 'failed')
  t.is(b.last.progress.message, 'tsc: 3 errors')
  t.deepEqual(b.last.history.map((e) => e.status), ['in-progress', 'failed'])

  const { reset } = b.last
  act(() => reset())
  t.like(b.last, { progress: null, history: [], isBuilding: false, isComplete: false, isFailed: false })
  t.is(b.last.reset, reset)
})

test.serial('useLogStream keeps the last maxLines lines in order, of its service only', async (t) => {
  const { newClient } = await setup(t)
  const client = newClient()
  const api = probe(() => R.useLogStream('api', { maxLines: 10 }))
  const all = probe(() => R.useLogStream(undefined, { maxLines: 7 }))
  render(app(client, h(api.Probe), h(all.Probe)))
  await until(() => client.isConnected(), 'connected')

  // 35 api lines with 12 worker lines among them: several `batch` packets, unpacked by the client.
  const sent = []
  for (let i = 0; i < 35; i++) {
    hub.emitLogStream(logLine(i))
    sent.push(`api ${i}`)
    if (i % 3 === 0) {
      hub.emitLogStream(logLine(100 + i, { service: 'worker' }))
      sent.push(`worker ${100 + i}`)
    }
  }
  await until(() => api.last.lines.at(-1)?.seq === 34 && all.last.lines.at(-1)?.seq === 34, 'line 34')
  t.deepEqual(
    api.last.lines.map((l) => l.seq),
    Array.from({ length: 10 }, (_, i) => 25 + i),
  )
  t.true(api.last.lines.every((l) => l.service === 'api'))
  t.deepEqual(
    all.last.lines.map((l) => `${l.service} ${l.seq}`),
    sent.slice(-7),
  )
  t.true(api.results.every((r) => r.lines.length <= 10))
  t.true(hub.getStats().batchesSent > 0)

  act(() => api.last.clear())
  t.deepEqual(api.last.lines, [])
  t.is(all.last.lines.length, 7)
  hub.emitLogStream(logLine(35))
  await until(() => api.last.lines.length === 1, 'a line after clear')
  t.is(api.last.lines[0].seq, 35)
})

test.serial('useRoom under StrictMode: two components join once and leave only after both unmount', async (t) => {
  const { newClient } = await setup(t)
  const client = newClient()
  const calls = { join: 0, leave: 0 }
  const { joinRoom, leaveRoom } = client
  client.joinRoom = (room) => (calls.join++, joinRoom(room))
  client.leaveRoom = (room) => (calls.leave++, leaveRoom(room))

  const a = probe(() => R.useRoom('project-abc123'))
  const b = probe(() => R.useRoom('project-abc123'))
  const view = render(app(client, h(a.Probe), h(b.Probe)))
  await until(() => a.last.joined && b.last.joined, 'both joined')
  t.is(a.last, b.last)
  t.is(a.last.error, null)
  t.is(calls.join, 1)
  t.is(calls.leave, 0)
  t.deepEqual(
    hub.getRoomMembers('project-abc123').map((m) => m.socketId),
    [client.id],
  )

  view.rerender(app(client, null, h(b.Probe)))
  await nextTick()
  t.is(calls.leave, 0)
  t.true(b.last.joined)
  t.is(hub.getRoomMembers('project-abc123').length, 1)

  view.rerender(app(client, null, null))
  await until(() => hub.getRoomMembers('project-abc123').length === 0, 'room empty')
  t.is(calls.join, 1)
  t.is(calls.leave, 1)
  t.deepEqual(client.getRooms(), [])
})

test.serial('useRoom reports a refused join as error', async (t) => {
  const { newClient } = await setup(t)
  const client = newClient()
  const room = probe(() => R.useRoom('not a room'))
  render(app(client, h(room.Probe)))
  await until(() => room.last.error, 'error')
  t.false(room.last.joined)
  t.is(room.last.error.code, 'ERR_INVALID_ROOM')
})

test.serial("the README's rooms example (useWebSocket joinRoom/leaveRoom in an effect) joins once under StrictMode", async (t) => {
  const { newClient } = await setup(t)
  const client = newClient()
  const calls = { join: 0, leave: 0 }
  const { joinRoom, leaveRoom } = client
  client.joinRoom = (room) => (calls.join++, joinRoom(room))
  client.leaveRoom = (room) => (calls.leave++, leaveRoom(room))

  function MyComponent() {
    const { joinRoom, leaveRoom } = R.useWebSocket()
    React.useEffect(() => {
      joinRoom('project-abc123')
      return () => {
        leaveRoom('project-abc123')
      }
    }, [])
    return null
  }
  const view = render(app(client, h(MyComponent)))
  await until(() => hub.getRoomMembers('project-abc123').length === 1, 'joined')
  await nextTick()
  t.is(calls.join, 1)
  t.is(calls.leave, 0)
  view.unmount()
  await until(() => hub.getRoomMembers('project-abc123').length === 0, 'left')
  t.is(calls.leave, 1)
})

test.serial("usePresence lists the room's members with their presence:set state, kept current", async (t) => {
  const { newClient } = await setup(t)
  const a = newClient()
  const early = newClient()
  const late = newClient()
  // `early` is in the room with a state before `a` joins: `a` learns it from the join ack.
  early.connect()
  await early.joinRoom('team')
  early.setPresence({ page: '/build' })
  await until(() => hub.getRoomMembers('team')[0]?.state?.page === '/build', 'early state stored')

  const p = probe(() => R.usePresence('team'))
  render(app(a, h(p.Probe)))
  t.deepEqual(p.last.members, [])
  await until(() => p.last.joined && p.last.members.length === 2, 'joined with two members')
  t.deepEqual(
    p.last.others.map((m) => [m.socketId, m.userId, m.state]),
    [[early.id, 'anonymous', { page: '/build' }]],
  )
  t.true(p.last.members.some((m) => m.socketId === a.id))

  late.connect()
  late.joinRoom('team') // not awaited: `a` hears of it meanwhile, inside the bounded wait below
  await until(() => p.last.others.some((m) => m.socketId === late.id), 'presence:join')
  late.setPresence({ page: '/services' })
  await until(() => p.last.others.find((m) => m.socketId === late.id)?.state?.page === '/services', 'presence:update')
  t.deepEqual(p.last.others.find((m) => m.socketId === early.id).state, { page: '/build' })

  const earlyId = early.id
  early.disconnect()
  await until(() => !p.last.others.some((m) => m.socketId === earlyId), 'presence:leave')
  t.deepEqual(
    p.last.others.map((m) => m.socketId),
    [late.id],
  )
  t.is(p.last.members.length, 2)
})

test.serial('after a hub restart, useRoom is joined again once the re-join is acknowledged and usePresence has the new member list', async (t) => {
  const { info, newClient } = await setup(t)
  const a = newClient({ reconnectDelays: [50] })
  const other = newClient({ reconnectDelays: [50] })
  const calls = { join: 0 }
  const { joinRoom } = a
  a.joinRoom = (room) => (calls.join++, joinRoom(room))
  other.connect()
  await other.joinRoom('team')

  const room = probe(() => R.useRoom('team'))
  const p = probe(() => R.usePresence('team'))
  render(app(a, h(room.Probe), h(p.Probe)))
  await until(() => room.last.joined && p.last.others.length === 1, 'joined, one other')
  const [oldA, oldOther] = [a.id, other.id]

  // A restarted hub knows no rooms: both clients reconnect (new socket ids) and re-join.
  await hub.stopHub()
  await until(() => !room.last.joined && !a.isConnected(), 'not joined while disconnected')
  await hub.startHub({ port: info.port })
  await until(() => room.last.joined && p.last.joined, 'joined again', 10_000)
  await until(() => p.last.others.length === 1 && p.last.others[0].socketId === other.id, 'the other, re-joined')
  t.not(a.id, oldA)
  t.not(other.id, oldOther)
  t.deepEqual(
    p.last.members.map((m) => m.socketId).sort(),
    [a.id, other.id].sort(),
  )
  t.deepEqual(
    hub.getRoomMembers('team').map((m) => m.socketId).sort(),
    [a.id, other.id].sort(),
  )
  // The registry asked for the re-join's promise while disconnected; the client sent one join per connect.
  t.is(calls.join, 2)
})

test.serial('useDeployProgress follows one environment; useDockerStats keeps bounded samples; useDbQueryResult follows one query', async (t) => {
  const { newClient } = await setup(t)
  const client = newClient()
  const prod = probe(() => R.useDeployProgress('production'))
  const anyEnv = probe(() => R.useDeployProgress())
  const one = probe(() => R.useDockerStats('abc', { historySize: 3 }))
  const every = probe(() => R.useDockerStats(undefined, { historySize: 2 }))
  const q = probe(() => R.useDbQueryResult('q-2'))
  render(app(client, h(prod.Probe), h(anyEnv.Probe), h(one.Probe), h(every.Probe), h(q.Probe)))
  t.deepEqual(one.last, { stats: null, history: [] })
  t.deepEqual(Object.keys(every.last.stats), [])
  await until(() => client.isConnected(), 'connected')

  hub.emitDeployProgress(deploy('staging', 'build', 'in-progress', 10))
  hub.emitDeployProgress(deploy('production', 'build', 'in-progress', 20))
  hub.emitDeployProgress(deploy('production', 'rollout', 'complete', 100))
  hub.emitDeployProgress(deploy('staging', 'rollout', 'in-progress', 60))
  await until(() => prod.last.isComplete && anyEnv.last.progress?.progress === 60, 'deploys')
  t.deepEqual(prod.last.history.map((e) => e.stage), ['build', 'rollout'])
  t.true(prod.last.history.every((e) => e.environment === 'production'))
  t.like(prod.last, { isDeploying: false, isFailed: false })
  t.like(anyEnv.last, { isDeploying: true, progress: { environment: 'staging', stage: 'rollout' } })

  for (let i = 1; i <= 5; i++) {
    hub.emitDockerStats(stats('abc', i))
    hub.emitDockerStats(stats('def', 10 * i))
  }
  await until(() => one.last.stats?.stats.cpu === 5 && every.last.stats.def?.stats.cpu === 50, 'stats')
  t.deepEqual(
    one.last.history.map((e) => e.stats.cpu),
    [3, 4, 5],
  )
  t.deepEqual(Object.keys(every.last.stats).sort(), ['abc', 'def'])
  t.deepEqual(
    every.last.history.abc.map((e) => e.stats.cpu),
    [4, 5],
  )
  t.deepEqual(
    every.last.history.def.map((e) => e.stats.cpu),
    [40, 50],
  )

  hub.emitDbQueryResult(queryResult('q-1', 1))
  hub.emitDbQueryResult(queryResult('q-2', 2))
  hub.emitDbQueryResult(queryResult('q-3', 3))
  await until(() => q.last.result, 'query result')
  t.is(q.last.result.queryId, 'q-2')
  t.is(q.last.result.rowCount, 2)
})

// ---------------------------------------------------------------------------------------------
// Server rendering and hydration.

function Dashboard() {
  const { connected, reconnecting } = R.useWebSocket()
  const { status } = R.useServiceStatus('postgres')
  const { progress, history, isBuilding } = R.useBuildProgress()
  const deploy = R.useDeployProgress('production')
  const { lines } = R.useLogStream('api', { maxLines: 50 })
  const container = R.useDockerStats('abc')
  const containers = R.useDockerStats()
  const { result } = R.useDbQueryResult('q-1')
  const room = R.useRoom('project-ssr')
  const { members } = R.usePresence('project-ssr')
  return h(
    'main',
    null,
    h('p', { id: 'conn' }, connected ? 'Connected' : reconnecting ? 'Reconnecting...' : 'Disconnected'),
    h('p', { id: 'svc' }, status ? status.status : 'Loading...'),
    h('p', { id: 'build' }, isBuilding ? `Building: ${progress?.step}` : `idle (${history.length})`),
    h('p', { id: 'deploy' }, deploy.progress ? deploy.progress.stage : 'no deploy'),
    h('ul', { id: 'logs' }, ...lines.map((l, i) => h('li', { key: i }, l.line))),
    h('p', { id: 'cpu' }, container.stats ? String(container.stats.stats.cpu) : 'no stats'),
    h('p', { id: 'containers' }, `${Object.keys(containers.stats).length} containers`),
    h('p', { id: 'query' }, result ? `${result.rowCount} rows` : 'no result'),
    h('p', { id: 'room' }, room.joined ? 'in room' : 'not in room'),
    h('p', { id: 'members' }, `${members.length} viewing`),
  )
}

/** Renders on the server as Next.js does: no window, no document, the default (inert) client. */
function renderOnServer(element) {
  const saved = DOM_GLOBALS.map((key) => [key, Object.getOwnPropertyDescriptor(globalThis, key)])
  for (const key of DOM_GLOBALS) delete globalThis[key]
  try {
    return renderToString(element)
  } finally {
    for (const [key, descriptor] of saved) Object.defineProperty(globalThis, key, descriptor)
  }
}

/** Hydrates `html` and collects console.error calls and recoverable errors until `whileHydrated` ends. */
async function hydrate(html, element, whileHydrated) {
  const container = document.createElement('div')
  container.innerHTML = html
  document.body.appendChild(container)
  const errors = []
  const consoleError = console.error
  console.error = (...args) => errors.push(args.map(String).join(' '))
  let root
  try {
    await act(async () => {
      root = hydrateRoot(container, element, { onRecoverableError: (error) => errors.push(`recoverable: ${error}`) })
    })
    await whileHydrated(container)
  } finally {
    console.error = consoleError
    act(() => root?.unmount())
    container.remove()
  }
  return errors
}

test.serial('every hook renders on the server without a window and hydrates without a mismatch, with a client already connected and in the room', async (t) => {
  const { info } = await setup(t)
  const html = renderOnServer(h(StrictMode, null, h(Dashboard)))
  t.regex(html, /Disconnected/)
  t.regex(html, /Loading\.\.\./)
  t.regex(html, /not in room/)

  // The page's own client (no provider), configured as a Next.js app does, and already
  // connected and in the room before hydration: hydration still starts from the server's state.
  process.env.NEXT_PUBLIC_REALTIME_URL = info.url
  const page = getWebSocketClient()
  const rooms = R.roomRegistry(page)
  t.teardown(() => {
    page.disconnect()
    delete process.env.NEXT_PUBLIC_REALTIME_URL
  })
  page.connect()
  await rooms.join('project-ssr')
  t.true(page.isConnected())

  const errors = await hydrate(html, h(StrictMode, null, h(Dashboard)), async (container) => {
    const text = (id) => container.querySelector(`#${id}`).textContent
    await until(() => text('conn') === 'Connected' && text('room') === 'in room' && text('members') === '1 viewing', 'live after hydration')
    hub.emitServiceStatus(status('postgres', 'running'))
    hub.emitBuildProgress(build('compile', 50, 'in-progress', 2))
    hub.emitLogStream(logLine(1))
    hub.emitDockerStats(stats('abc', 7))
    hub.emitDbQueryResult(queryResult('q-1', 4))
    hub.emitDeployProgress(deploy('production', 'rollout', 'in-progress', 30))
    await until(
      () =>
        text('svc') === 'running' &&
        text('build') === 'Building: compile' &&
        text('logs') === 'line 1' &&
        text('cpu') === '7' &&
        text('containers') === '1 containers' &&
        text('query') === '4 rows' &&
        text('deploy') === 'rollout',
      'events rendered',
    )
  })
  t.deepEqual(errors, [])
  await rooms.leave('project-ssr')
})

test.serial('the hydration check sees a real mismatch (control)', async (t) => {
  function Mismatch() {
    return h('p', null, typeof window === 'undefined' ? 'server' : 'client')
  }
  const html = renderOnServer(h(Mismatch))
  t.is(html, '<p>server</p>')
  const errors = await hydrate(html, h(Mismatch), async () => {})
  t.true(errors.some((e) => /hydrat/i.test(e)), errors.join('\n'))
})

// ---------------------------------------------------------------------------------------------
// The store layer on its own.

/** Just enough of a WebSocketClient for an event store: `on`, and `deliver` to play the hub. */
function fakeClient() {
  const listeners = new Map()
  return {
    on(type, listener) {
      listeners.set(type, listener)
      return () => listeners.delete(type)
    },
    deliver(type, ...events) {
      for (const e of events) listeners.get(type)?.(e, { type, data: e, timestamp: now() })
    },
    listening: (type) => listeners.has(type),
  }
}

test.serial('the store layer imports no React', (t) => {
  const source = readFileSync(new URL('../dist/esm/store.js', import.meta.url), 'utf8')
  t.false(/from ['"]react/.test(source))
  t.regex(readFileSync(new URL('../dist/esm/react.js', import.meta.url), 'utf8'), /^'use client';/)
})

test.serial('a build restarted at step 1 without a failed event starts a new history; a burst is one notification', async (t) => {
  const client = fakeClient()
  const store = new S.BuildProgressStore(client, { maxHistory: 3 })
  const initial = store.getSnapshot()
  t.is(store.getServerSnapshot(), initial)
  t.false(client.listening('build:progress'))
  let notified = 0
  const unsubscribe = store.subscribe(() => notified++)
  t.true(client.listening('build:progress'))

  client.deliver('build:progress', build('a', 0, 'pending', 1), build('b', 10, 'in-progress', 1), build('c', 40, 'in-progress', 2))
  t.is(store.getSnapshot(), initial) // folded in a microtask
  await Promise.resolve()
  t.is(notified, 1)
  const after = store.getSnapshot()
  t.is(store.getSnapshot(), after)
  t.deepEqual(after.history.map((e) => e.step), ['a', 'b', 'c'])

  // Back to step 1 with no complete/failed in between: a new build.
  client.deliver('build:progress', build('a', 0, 'in-progress', 1), build('b', 20, 'in-progress', 2))
  await Promise.resolve()
  t.deepEqual(store.getSnapshot().history.map((e) => e.step), ['a', 'b'])

  // maxHistory drops the oldest.
  client.deliver('build:progress', build('c', 50, 'in-progress', 3), build('c', 70, 'in-progress', 3))
  await Promise.resolve()
  t.deepEqual(store.getSnapshot().history.map((e) => e.progress), [20, 50, 70])

  // StrictMode's unsubscribe-resubscribe keeps the state.
  unsubscribe()
  t.false(client.listening('build:progress'))
  store.subscribe(() => notified++)
  t.deepEqual(store.getSnapshot().history.map((e) => e.progress), [20, 50, 70])
  t.is(notified, 3)

  t.throws(() => new S.LogStreamStore(client, 'api', { maxLines: 0 }), { instanceOf: RangeError, message: /maxLines/ })
})

/** Just enough of a WebSocketClient for the room registry; the test answers each join itself. */
function fakeRoomClient() {
  const rooms = new Set()
  const unanswered = new Map()
  const statusListeners = new Set()
  let status = { connected: true }
  return {
    calls: [],
    joinRoom(room) {
      this.calls.push(`join ${room}`)
      rooms.add(room)
      return new Promise((resolve, reject) => unanswered.set(room, { resolve, reject }))
    },
    leaveRoom(room) {
      this.calls.push(`leave ${room}`)
      rooms.delete(room)
      return Promise.resolve()
    },
    getRooms: () => [...rooms],
    subscribe(listener) {
      statusListeners.add(listener)
      return () => statusListeners.delete(listener)
    },
    getSnapshot: () => status,
    /** The hub's answer: ok, or a refusal (`forget`: the client drops the room, as for a hub refusal). */
    async answer(room, code, { forget = false } = {}) {
      const waiting = unanswered.get(room)
      unanswered.delete(room)
      if (forget) rooms.delete(room)
      if (code) waiting.reject(Object.assign(new Error(code), { code }))
      else waiting.resolve()
      await new Promise((r) => setTimeout(r, 0))
    },
    setConnected(connected) {
      status = { connected }
      for (const listener of [...statusListeners]) listener()
    },
  }
}

test.serial('room registry: a release and a re-acquire in one tick keep the room; a timed-out join is retried at the next connect and left at the end', async (t) => {
  const client = fakeRoomClient()
  const rooms = new S.RoomRegistry(client)
  let notified = 0
  rooms.subscribe('r', () => notified++)

  const release = rooms.acquire('r')
  release()
  release() // idempotent
  const releaseAgain = rooms.acquire('r')
  await new Promise((r) => setTimeout(r, 0))
  t.deepEqual(client.calls, ['join r'])
  t.is(rooms.holders('r'), 1)

  // socket.io's ack timed out: an error, but the client keeps the room and re-joins it on reconnect.
  await client.answer('r', 'ERR_TIMEOUT')
  t.is(rooms.getSnapshot('r').error.code, 'ERR_TIMEOUT')
  t.false(rooms.getSnapshot('r').joined)
  client.setConnected(false)
  t.deepEqual(client.calls, ['join r', 'join r'])
  t.is(rooms.getSnapshot('r'), S.ROOM_NOT_JOINED)
  client.setConnected(true)
  await client.answer('r')
  t.true(rooms.getSnapshot('r').joined)
  t.is(notified, 3) // error, not joined (retrying), joined

  releaseAgain()
  t.true(rooms.getSnapshot('r').joined) // until the next tick
  await new Promise((r) => setTimeout(r, 0))
  t.deepEqual(client.calls, ['join r', 'join r', 'leave r'])
  t.is(rooms.getSnapshot('r'), S.ROOM_NOT_JOINED)
})

test.serial('room registry: a refused join is not left, and join() waiters get the refusal', async (t) => {
  const client = fakeRoomClient()
  const rooms = new S.RoomRegistry(client)
  const joined = rooms.join('full')
  await client.answer('full', 'TOO_MANY_ROOMS', { forget: true })
  await t.throwsAsync(joined, { code: 'TOO_MANY_ROOMS' })
  client.setConnected(false) // no retry for a room the client dropped
  t.deepEqual(client.calls, ['join full'])
  await rooms.leave('full')
  t.deepEqual(client.calls, ['join full'])
  t.is(rooms.holders('full'), 0)
})
