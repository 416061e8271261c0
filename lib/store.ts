/**
 * The framework-agnostic state behind `nself-realtime/react`: stores over a `WebSocketClient`,
 * each with `subscribe(listener) => unsubscribe`, `getSnapshot()` and `getServerSnapshot()`, the
 * shape `useSyncExternalStore` (and Svelte, Vue or Solid adapters) expect. Imports no React.
 *
 * Two kinds of state live here:
 * - event stores (one per hook instance): they listen to one event type while they have
 *   subscribers, fold what arrives into an immutable snapshot, and replace the snapshot only when
 *   something changed;
 * - the room registry (one per client): room holds counted across every component, so that
 *   two components in one room join once and leave after the last one lets go.
 */
import { RealtimeClientError, type ConnectionStatus, type WebSocketClient } from './client.js'
import {
  EventType,
  type BuildProgressEvent,
  type DbQueryResultEvent,
  type DeployProgressEvent,
  type DockerStatsEvent,
  type Environment,
  type LogStreamEvent,
  type ProgressState,
  type RoomMember,
  type ServiceStatusEvent,
} from './events.js'

/** What `useSyncExternalStore` needs. Snapshots are the same object until the state changes. */
export interface ExternalStore<S> {
  subscribe(listener: () => void): () => void
  getSnapshot(): S
  /** The snapshot of the server render, and of the client's first (hydrating) render. */
  getServerSnapshot(): S
}

/** The status before any connection: what the server renders and what hydration starts from. */
export const INITIAL_STATUS: ConnectionStatus = Object.freeze({ connected: false, reconnecting: false, reconnectAttempts: 0 })

const EMPTY: readonly never[] = Object.freeze([])

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

// ---------------------------------------------------------------------------------------------
// Subscription primitive (TanStack's `Subscribable`): work starts with the first listener and
// stops after the last, so a store that nobody watches holds no client listener. State is kept
// across that gap: StrictMode's unsubscribe-resubscribe loses nothing.

export abstract class Subscribable {
  private readonly listeners = new Set<() => void>()

  constructor() {
    this.subscribe = this.subscribe.bind(this)
  }

  subscribe(listener: () => void): () => void {
    // Wrapped, so that subscribing the same function twice needs two unsubscribes.
    const entry = () => listener()
    this.listeners.add(entry)
    if (this.listeners.size === 1) this.onSubscribe()
    return () => {
      if (!this.listeners.delete(entry)) return
      if (this.listeners.size === 0) this.onUnsubscribe()
    }
  }

  protected notify(): void {
    for (const listener of [...this.listeners]) listener()
  }

  protected onSubscribe(): void {}
  protected onUnsubscribe(): void {}
}

/**
 * One event type folded into a snapshot. Events that arrive in one tick (a `batch` packet is
 * unpacked into many) are reduced together in a microtask: one new snapshot, one notification.
 */
export abstract class EventStore<E, S> extends Subscribable implements ExternalStore<S> {
  private snapshot: S
  private readonly initial: S
  private pending: E[] = []
  private flushScheduled = false
  private stopListening: (() => void) | null = null

  constructor(
    protected readonly client: WebSocketClient,
    private readonly type: string,
    initial: S,
  ) {
    super()
    this.snapshot = initial
    this.initial = initial
    this.getSnapshot = this.getSnapshot.bind(this)
    this.getServerSnapshot = this.getServerSnapshot.bind(this)
  }

  getSnapshot(): S {
    return this.snapshot
  }

  getServerSnapshot(): S {
    return this.initial
  }

  /** Whether an event's data belongs to this store (e.g. the right service). */
  protected abstract accept(data: unknown): data is E
  /** The next state after `events` (in arrival order); the same object when nothing changed. */
  protected abstract reduce(state: S, events: readonly E[]): S

  /** Replaces the state (and drops events not yet folded in). */
  protected setState(next: S): void {
    this.pending = []
    if (next === this.snapshot) return
    this.snapshot = next
    this.notify()
  }

  protected override onSubscribe(): void {
    this.stopListening = this.client.on(this.type, (data: unknown) => this.receive(data))
  }

  protected override onUnsubscribe(): void {
    this.stopListening?.()
    this.stopListening = null
  }

  private receive(data: unknown): void {
    if (!this.accept(data)) return
    this.pending.push(data)
    if (this.flushScheduled) return
    this.flushScheduled = true
    queueMicrotask(() => {
      this.flushScheduled = false
      const events = this.pending
      if (events.length === 0) return
      this.pending = []
      const next = this.reduce(this.snapshot, events)
      if (next === this.snapshot) return
      this.snapshot = next
      this.notify()
    })
  }
}

/** Keeps the last `max` items of `prev` followed by `added` (a new array; `prev` is not touched). */
function appendBounded<T>(prev: readonly T[], added: readonly T[], max: number): readonly T[] {
  const all = prev.length === 0 ? added.slice() : prev.concat(added)
  return all.length > max ? all.slice(all.length - max) : all
}

function checkLimit(name: string, value: number): number {
  if (!(value >= 1)) throw new RangeError(`${name}: expected a number >= 1, got ${value}`)
  return Math.floor(value)
}

// ---------------------------------------------------------------------------------------------
// service:status and db:query:result: the latest event with a given key.

export interface ServiceStatusSnapshot {
  /** The last `service:status` of the service, `null` until one arrives. */
  readonly status: ServiceStatusEvent | null
}

const NO_STATUS: ServiceStatusSnapshot = Object.freeze({ status: null })

export class ServiceStatusStore extends EventStore<ServiceStatusEvent, ServiceStatusSnapshot> {
  constructor(
    client: WebSocketClient,
    readonly service: string,
  ) {
    super(client, EventType.SERVICE_STATUS, NO_STATUS)
  }

  protected accept(data: unknown): data is ServiceStatusEvent {
    return isRecord(data) && data.service === this.service
  }

  protected reduce(_: ServiceStatusSnapshot, events: readonly ServiceStatusEvent[]): ServiceStatusSnapshot {
    return Object.freeze({ status: events[events.length - 1] })
  }
}

export interface DbQueryResultSnapshot {
  /** The last `db:query:result` of the query, `null` until one arrives. */
  readonly result: DbQueryResultEvent | null
}

const NO_RESULT: DbQueryResultSnapshot = Object.freeze({ result: null })

export class DbQueryResultStore extends EventStore<DbQueryResultEvent, DbQueryResultSnapshot> {
  /** `null`: no query yet, nothing matches. */
  constructor(
    client: WebSocketClient,
    readonly queryId: string | null,
  ) {
    super(client, EventType.DB_QUERY_RESULT, NO_RESULT)
  }

  protected accept(data: unknown): data is DbQueryResultEvent {
    return this.queryId !== null && isRecord(data) && data.queryId === this.queryId
  }

  protected reduce(_: DbQueryResultSnapshot, events: readonly DbQueryResultEvent[]): DbQueryResultSnapshot {
    return Object.freeze({ result: events[events.length - 1] })
  }
}

// ---------------------------------------------------------------------------------------------
// build:progress and deploy:progress: the latest event and the history of the current run.

interface ProgressLike {
  status: ProgressState
  progress?: number
  currentStep?: number
}

const isFinished = (e: ProgressLike) => e.status === 'complete' || e.status === 'failed'

/**
 * Whether `next` begins a new run rather than continuing the one `prev` belongs to: anything
 * after a `complete` or `failed` event does, and so does a return to the start (`currentStep` 1,
 * or without step numbers `progress` 0) of a run that had moved past it, e.g. a build restarted
 * without a `failed` event.
 */
export function startsNewRun(prev: ProgressLike, next: ProgressLike): boolean {
  if (isFinished(prev)) return true
  if (typeof next.currentStep === 'number' && typeof prev.currentStep === 'number') {
    return next.currentStep === 1 && prev.currentStep > 1
  }
  return next.progress === 0 && typeof prev.progress === 'number' && prev.progress > 0
}

/** The history after `events`: the events of the current run, in order, at most `max`. */
function foldRuns<E extends ProgressLike>(history: readonly E[], events: readonly E[], max: number): readonly E[] {
  let kept = history
  let from = 0
  let prev: E | undefined = history[history.length - 1]
  events.forEach((event, i) => {
    if (prev !== undefined && startsNewRun(prev, event)) {
      kept = EMPTY
      from = i
    }
    prev = event
  })
  return appendBounded(kept, from === 0 ? events : events.slice(from), max)
}

export interface BuildProgressSnapshot {
  /** The last `build:progress` event, `null` before the first (and after `reset()`). */
  readonly progress: BuildProgressEvent | null
  /** The events of the current build, in order (at most `maxHistory`, oldest dropped first). */
  readonly history: readonly BuildProgressEvent[]
  /** The last status is `pending` or `in-progress`. */
  readonly isBuilding: boolean
  readonly isComplete: boolean
  readonly isFailed: boolean
}

const NO_BUILD: BuildProgressSnapshot = Object.freeze({
  progress: null,
  history: EMPTY,
  isBuilding: false,
  isComplete: false,
  isFailed: false,
})

export interface ProgressOptions {
  /** Most events kept in `history`. Default `1000`. */
  maxHistory?: number
}

export class BuildProgressStore extends EventStore<BuildProgressEvent, BuildProgressSnapshot> {
  private readonly maxHistory: number

  constructor(client: WebSocketClient, options: ProgressOptions = {}) {
    super(client, EventType.BUILD_PROGRESS, NO_BUILD)
    this.maxHistory = checkLimit('maxHistory', options.maxHistory ?? 1000)
    this.reset = this.reset.bind(this)
  }

  /** Forgets the current build: back to `progress: null` and an empty history. */
  reset(): void {
    this.setState(NO_BUILD)
  }

  protected accept(data: unknown): data is BuildProgressEvent {
    return isRecord(data) && typeof data.status === 'string'
  }

  protected reduce(state: BuildProgressSnapshot, events: readonly BuildProgressEvent[]): BuildProgressSnapshot {
    const progress = events[events.length - 1]
    return Object.freeze({
      progress,
      history: foldRuns(state.history, events, this.maxHistory),
      isBuilding: progress.status === 'pending' || progress.status === 'in-progress',
      isComplete: progress.status === 'complete',
      isFailed: progress.status === 'failed',
    })
  }
}

export interface DeployProgressSnapshot {
  /** The last `deploy:progress` event (of the environment, if one was given), `null` before the first. */
  readonly progress: DeployProgressEvent | null
  /** The events of the current deploy, in order (at most `maxHistory`, oldest dropped first). */
  readonly history: readonly DeployProgressEvent[]
  /** The last status is `pending` or `in-progress`. */
  readonly isDeploying: boolean
  readonly isComplete: boolean
  readonly isFailed: boolean
}

const NO_DEPLOY: DeployProgressSnapshot = Object.freeze({
  progress: null,
  history: EMPTY,
  isDeploying: false,
  isComplete: false,
  isFailed: false,
})

export class DeployProgressStore extends EventStore<DeployProgressEvent, DeployProgressSnapshot> {
  private readonly maxHistory: number

  constructor(
    client: WebSocketClient,
    readonly environment?: Environment,
    options: ProgressOptions = {},
  ) {
    super(client, EventType.DEPLOY_PROGRESS, NO_DEPLOY)
    this.maxHistory = checkLimit('maxHistory', options.maxHistory ?? 1000)
    this.reset = this.reset.bind(this)
  }

  /** Forgets the current deploy: back to `progress: null` and an empty history. */
  reset(): void {
    this.setState(NO_DEPLOY)
  }

  protected accept(data: unknown): data is DeployProgressEvent {
    return (
      isRecord(data) &&
      typeof data.status === 'string' &&
      (this.environment === undefined || data.environment === this.environment)
    )
  }

  protected reduce(state: DeployProgressSnapshot, events: readonly DeployProgressEvent[]): DeployProgressSnapshot {
    const progress = events[events.length - 1]
    return Object.freeze({
      progress,
      history: foldRuns(state.history, events, this.maxHistory),
      isDeploying: progress.status === 'pending' || progress.status === 'in-progress',
      isComplete: progress.status === 'complete',
      isFailed: progress.status === 'failed',
    })
  }
}

// ---------------------------------------------------------------------------------------------
// logs:stream: a bounded tail.

export interface LogStreamSnapshot {
  /** The last `maxLines` log events (of the service, if one was given), oldest first. */
  readonly lines: readonly LogStreamEvent[]
}

const NO_LINES: LogStreamSnapshot = Object.freeze({ lines: EMPTY })

export interface LogStreamOptions {
  /** Most lines kept; older ones are dropped first. Default `1000`. */
  maxLines?: number
}

export class LogStreamStore extends EventStore<LogStreamEvent, LogStreamSnapshot> {
  readonly maxLines: number

  constructor(
    client: WebSocketClient,
    readonly service?: string,
    options: LogStreamOptions = {},
  ) {
    super(client, EventType.LOGS_STREAM, NO_LINES)
    this.maxLines = checkLimit('maxLines', options.maxLines ?? 1000)
    this.clear = this.clear.bind(this)
  }

  /** Empties the tail. */
  clear(): void {
    this.setState(NO_LINES)
  }

  protected accept(data: unknown): data is LogStreamEvent {
    return isRecord(data) && (this.service === undefined || data.service === this.service)
  }

  protected reduce(state: LogStreamSnapshot, events: readonly LogStreamEvent[]): LogStreamSnapshot {
    return Object.freeze({ lines: appendBounded(state.lines, events, this.maxLines) })
  }
}

// ---------------------------------------------------------------------------------------------
// docker:stats: the latest sample and a short history (for sparklines), of one container or all.

export interface DockerStatsOptions {
  /** Samples kept per container in `history`. Default `60`. */
  historySize?: number
}

export interface ContainerStatsSnapshot {
  /** The container's last sample, `null` until one arrives. */
  readonly stats: DockerStatsEvent | null
  /** Its last `historySize` samples, oldest first. */
  readonly history: readonly DockerStatsEvent[]
}

const NO_CONTAINER_STATS: ContainerStatsSnapshot = Object.freeze({ stats: null, history: EMPTY })

export class ContainerStatsStore extends EventStore<DockerStatsEvent, ContainerStatsSnapshot> {
  private readonly historySize: number

  constructor(
    client: WebSocketClient,
    readonly containerId: string,
    options: DockerStatsOptions = {},
  ) {
    super(client, EventType.DOCKER_STATS, NO_CONTAINER_STATS)
    this.historySize = checkLimit('historySize', options.historySize ?? 60)
  }

  protected accept(data: unknown): data is DockerStatsEvent {
    return isRecord(data) && data.containerId === this.containerId
  }

  protected reduce(state: ContainerStatsSnapshot, events: readonly DockerStatsEvent[]): ContainerStatsSnapshot {
    return Object.freeze({
      stats: events[events.length - 1],
      history: appendBounded(state.history, events, this.historySize),
    })
  }
}

/** Records keyed by container id have no prototype, so an id such as `constructor` is just a key. */
export type ByContainer<T> = Readonly<Record<string, T>>

export interface AllDockerStatsSnapshot {
  /** The last sample of every container seen, by container id. */
  readonly stats: ByContainer<DockerStatsEvent>
  /** The last `historySize` samples of every container, by container id, oldest first. */
  readonly history: ByContainer<readonly DockerStatsEvent[]>
}

const NO_STATS: AllDockerStatsSnapshot = Object.freeze({
  stats: Object.freeze(Object.create(null) as ByContainer<DockerStatsEvent>),
  history: Object.freeze(Object.create(null) as ByContainer<readonly DockerStatsEvent[]>),
})

export class AllDockerStatsStore extends EventStore<DockerStatsEvent, AllDockerStatsSnapshot> {
  private readonly historySize: number

  constructor(client: WebSocketClient, options: DockerStatsOptions = {}) {
    super(client, EventType.DOCKER_STATS, NO_STATS)
    this.historySize = checkLimit('historySize', options.historySize ?? 60)
  }

  protected accept(data: unknown): data is DockerStatsEvent {
    return isRecord(data) && typeof data.containerId === 'string'
  }

  protected reduce(state: AllDockerStatsSnapshot, events: readonly DockerStatsEvent[]): AllDockerStatsSnapshot {
    const stats: Record<string, DockerStatsEvent> = Object.assign(Object.create(null), state.stats)
    const history: Record<string, readonly DockerStatsEvent[]> = Object.assign(Object.create(null), state.history)
    const added = new Map<string, DockerStatsEvent[]>()
    for (const e of events) {
      stats[e.containerId] = e
      const list = added.get(e.containerId)
      if (list) list.push(e)
      else added.set(e.containerId, [e])
    }
    for (const [id, list] of added) history[id] = appendBounded(history[id] ?? EMPTY, list, this.historySize)
    return Object.freeze({ stats: Object.freeze(stats), history: Object.freeze(history) })
  }
}

// ---------------------------------------------------------------------------------------------
// Rooms: holds counted per client.

export interface RoomState {
  /** The hub acknowledged the join and the connection has not dropped since. */
  readonly joined: boolean
  /**
   * Why the last join failed, its `code` e.g. `ERR_INVALID_ROOM`, `TOO_MANY_ROOMS` (refused) or
   * `ERR_TIMEOUT` (no answer: retried at the next connect, which clears it).
   */
  readonly error: Error | null
}

export const ROOM_NOT_JOINED: RoomState = Object.freeze({ joined: false, error: null })
const ROOM_JOINED: RoomState = Object.freeze({ joined: true, error: null })

interface Deferred {
  promise: Promise<void>
  resolve: () => void
  reject: (error: Error) => void
}

function deferred(): Deferred {
  let resolve!: () => void
  let reject!: (error: Error) => void
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

const noop = () => undefined

/** One held room of one client. */
class RoomHold {
  /** How many holders (components, `join()` calls) want the room. */
  refs = 0
  state: RoomState = ROOM_NOT_JOINED
  /** Set while the last holder's release waits one tick before leaving. */
  leaveTimer: ReturnType<typeof setTimeout> | undefined = undefined
  /** `join()` callers waiting for the ack. */
  joinWaiters: Deferred[] = []
  /** `leave()` callers waiting for the leave. */
  leaveWaiters: Deferred[] = []
  stopWatching: () => void = noop
  /** A `client.joinRoom` promise of this hold has not settled yet. */
  joinPending = false
  /** Left: answers to its old join requests are ignored. */
  gone = false

  constructor(readonly room: string) {}
}

/**
 * The rooms a client holds for its components. The first holder of a room joins it; the room is
 * left one macrotask after the last holder let go, unless someone holds it again by then, which
 * is what StrictMode's mount-unmount-mount and a component replaced by another in the same room
 * do: neither leaves nor joins twice. Use `roomRegistry(client)`; one exists per client.
 */
export class RoomRegistry {
  private readonly holds = new Map<string, RoomHold>()
  private readonly listeners = new Map<string, Set<() => void>>()

  constructor(private readonly client: WebSocketClient) {
    this.acquire = this.acquire.bind(this)
    this.join = this.join.bind(this)
    this.leave = this.leave.bind(this)
    this.subscribe = this.subscribe.bind(this)
    this.getSnapshot = this.getSnapshot.bind(this)
  }

  /** Holds `room` until the returned release is called (calling it again does nothing). */
  acquire(room: string): () => void {
    const hold = this.retain(room)
    let held = true
    return () => {
      if (!held) return
      held = false
      this.release(hold)
    }
  }

  /**
   * Holds `room` (counted): resolves once joined, rejects if the hub refuses. Each `join` is
   * undone by one `leave`; the room is left after the last.
   */
  join(room: string): Promise<void> {
    const hold = this.retain(room)
    if (hold.state.joined) return Promise.resolve()
    if (hold.state.error) return Promise.reject(hold.state.error)
    const waiter = deferred()
    hold.joinWaiters.push(waiter)
    return waiter.promise
  }

  /**
   * Undoes one `join`. Resolves when the room is left, or at once when other holders keep it.
   * A room this registry does not hold is left at once through the client.
   */
  leave(room: string): Promise<void> {
    const hold = this.holds.get(room)
    if (!hold) return this.client.leaveRoom(room)
    if (hold.refs > 1) {
      this.release(hold)
      return Promise.resolve()
    }
    const waiter = deferred()
    hold.leaveWaiters.push(waiter)
    this.release(hold)
    return waiter.promise
  }

  subscribe(room: string, listener: () => void): () => void {
    let set = this.listeners.get(room)
    if (!set) {
      set = new Set()
      this.listeners.set(room, set)
    }
    const entry = () => listener()
    set.add(entry)
    return () => {
      set.delete(entry)
      if (set.size === 0 && this.listeners.get(room) === set) this.listeners.delete(room)
    }
  }

  getSnapshot(room: string): RoomState {
    return this.holds.get(room)?.state ?? ROOM_NOT_JOINED
  }

  /** How many holders `room` has (0 also while its leave waits for the next tick). */
  holders(room: string): number {
    return this.holds.get(room)?.refs ?? 0
  }

  private retain(room: string): RoomHold {
    let hold = this.holds.get(room)
    if (!hold) {
      const created = new RoomHold(room)
      this.holds.set(room, created)
      created.stopWatching = this.client.subscribe(() => this.onStatus(created))
      this.requestJoin(created)
      hold = created
    }
    if (hold.leaveTimer !== undefined) {
      // Held again before the leave ran: the room stays, and those who asked to leave are done.
      clearTimeout(hold.leaveTimer)
      hold.leaveTimer = undefined
      for (const w of hold.leaveWaiters.splice(0)) w.resolve()
    }
    hold.refs++
    return hold
  }

  private release(hold: RoomHold): void {
    if (hold.refs === 0) return
    hold.refs--
    if (hold.refs > 0 || hold.leaveTimer !== undefined) return
    hold.leaveTimer = setTimeout(() => this.drop(hold), 0)
  }

  private drop(hold: RoomHold): void {
    hold.leaveTimer = undefined
    hold.gone = true
    this.holds.delete(hold.room)
    hold.stopWatching()
    const left = new RealtimeClientError('ERR_ROOM_LEFT', `left ${hold.room} before it was joined`)
    for (const w of hold.joinWaiters.splice(0)) {
      // Leaving early is what the holders asked for, not a failure worth an unhandled rejection;
      // a caller that awaits still sees it.
      w.promise.catch(noop)
      w.reject(left)
    }
    const waiters = hold.leaveWaiters.splice(0)
    // A refused join left nothing to leave; a timed-out one is still re-joined by the client.
    const done = this.client.getRooms().includes(hold.room) ? this.client.leaveRoom(hold.room) : Promise.resolve()
    done.then(
      () => waiters.forEach((w) => w.resolve()),
      (error: unknown) => waiters.forEach((w) => w.reject(toError(error))),
    )
    this.setState(hold, ROOM_NOT_JOINED)
  }

  private requestJoin(hold: RoomHold): void {
    hold.joinPending = true
    this.client.joinRoom(hold.room).then(
      () => {
        hold.joinPending = false
        if (hold.gone) return
        this.setState(hold, ROOM_JOINED)
        for (const w of hold.joinWaiters.splice(0)) w.resolve()
      },
      (error: unknown) => {
        hold.joinPending = false
        if (hold.gone) return
        const err = toError(error)
        this.setState(hold, Object.freeze({ joined: false, error: err }))
        for (const w of hold.joinWaiters.splice(0)) w.reject(err)
      },
    )
  }

  /**
   * A dropped connection takes the socket out of its rooms; the client joins them again at the
   * next connect. Asking the client to join once more while disconnected sends nothing extra: it
   * only gives a promise that settles with that re-join's ack, which is when `joined` is true
   * again (a join that timed out gets its retry this way too). Not needed while an earlier
   * request is still pending (the re-join settles it), nor for a room the client no longer
   * re-joins (refused).
   */
  private onStatus(hold: RoomHold): void {
    if (this.client.getSnapshot().connected || hold.joinPending) return
    if (!this.client.getRooms().includes(hold.room)) return
    this.setState(hold, ROOM_NOT_JOINED)
    this.requestJoin(hold)
  }

  private setState(hold: RoomHold, state: RoomState): void {
    if (hold.state === state) return
    hold.state = state
    const set = this.listeners.get(hold.room)
    if (set) for (const listener of [...set]) listener()
  }
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error))
}

const registries = new WeakMap<WebSocketClient, RoomRegistry>()

/** The room registry of `client` (one per client). */
export function roomRegistry(client: WebSocketClient): RoomRegistry {
  let registry = registries.get(client)
  if (!registry) {
    registry = new RoomRegistry(client)
    registries.set(client, registry)
  }
  return registry
}

// ---------------------------------------------------------------------------------------------
// Presence: the members of a room, as the client tracks them.

export interface PresenceSnapshot {
  /** Everyone in the room, this client included (its own `state` is as of its join). */
  readonly members: readonly RoomMember[]
  /** The members other than this client. */
  readonly others: readonly RoomMember[]
}

const NO_MEMBERS: PresenceSnapshot = Object.freeze({ members: EMPTY, others: EMPTY })

/**
 * The members of a room: the list the client got with its join ack, kept current by the
 * `presence:join` / `presence:leave` / `presence:update` events it tracks. It does not hold the
 * room itself (the registry does).
 */
export class PresenceStore extends Subscribable implements ExternalStore<PresenceSnapshot> {
  private snapshot: PresenceSnapshot = NO_MEMBERS
  /** The client's list and socket id the snapshot was made from. */
  private source: readonly RoomMember[] = EMPTY
  private selfId: string | undefined = undefined
  private stop: Array<() => void> = []

  /** `null`: no room, no members. */
  constructor(
    private readonly client: WebSocketClient,
    readonly room: string | null,
  ) {
    super()
    this.getSnapshot = this.getSnapshot.bind(this)
    this.getServerSnapshot = this.getServerSnapshot.bind(this)
  }

  getSnapshot(): PresenceSnapshot {
    if (this.room === null) return NO_MEMBERS
    const list = this.client.getRoomMembers(this.room)
    // The client makes a new list on every change and `[]` on every call for a room it is not in.
    const source = list.length === 0 ? EMPTY : list
    const selfId = this.client.id
    if (source !== this.source || selfId !== this.selfId) {
      this.source = source
      this.selfId = selfId
      this.snapshot =
        source === EMPTY ? NO_MEMBERS : Object.freeze({ members: source, others: source.filter((m) => m.socketId !== selfId) })
    }
    return this.snapshot
  }

  getServerSnapshot(): PresenceSnapshot {
    return NO_MEMBERS
  }

  protected override onSubscribe(): void {
    const room = this.room
    if (room === null) return
    // The client updates its member lists before it calls these listeners.
    const onPresence = (data: unknown) => {
      if (isRecord(data) && data.room === room) this.notify()
    }
    const changed = () => this.notify()
    this.stop = [
      this.client.on('presence:join', onPresence),
      this.client.on('presence:leave', onPresence),
      this.client.on('presence:update', onPresence),
      // Join acks (the first and every re-join) replace the list; the socket id changes on reconnect.
      roomRegistry(this.client).subscribe(room, changed),
      this.client.subscribe(changed),
    ]
  }

  protected override onUnsubscribe(): void {
    for (const stop of this.stop.splice(0)) stop()
  }
}
