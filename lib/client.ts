/**
 * nself-realtime/client: the browser client over socket.io-client 4.x (SPEC §7).
 *
 * It owns the reconnect schedule (socket.io's own reconnection is off), tracks the connection
 * status, re-joins rooms and re-sends presence after every reconnect, unpacks `batch` packets,
 * isolates throwing listeners and buffers emits made while disconnected. It imports no React and
 * touches no `window` until `connect()`; on the server it never connects.
 */
import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client'

import {
  HEARTBEAT_INTERVAL,
  RECONNECT_DELAYS,
  isEnvelope,
  unpackBatch,
  isValidRoomName,
  type ClientToServerEvents,
  type Envelope,
  type RecoverAck,
  type ResyncEvent,
  type RoomAck,
  type RoomMember,
  type ServerToClientEvents,
  type WireError,
} from './events.js'

export type { Envelope, ResyncEvent } from './events.js'

// Bundlers replace `process.env.NEXT_PUBLIC_*`; elsewhere `process` may not exist at all.
declare const process: { env: Record<string, string | undefined> }

/** The connection as the UI shows it. Snapshots are immutable and replaced on change. */
export interface ConnectionStatus {
  readonly connected: boolean
  /** A reconnect is scheduled or under way. */
  readonly reconnecting: boolean
  /** Attempts since the last successful connect. */
  readonly reconnectAttempts: number
  readonly lastConnected?: Date
  readonly lastError?: string
  /**
   * After a reconnect: `true` when everything missed while away was replayed (in order, once),
   * `false` when some of it is gone (the hub restarted, or its history no longer reached back;
   * a `resync` event says which streams) and the app should refetch. Absent before a reconnect.
   */
  readonly recovered?: boolean
}

/** Timer functions, injectable for tests. */
export interface Timers {
  setTimeout: (fn: () => void, ms: number) => unknown
  clearTimeout: (handle: unknown) => void
  setInterval: (fn: () => void, ms: number) => unknown
  clearInterval: (handle: unknown) => void
}

export interface ClientOptions {
  /** Socket.IO request path. Default `'/api/ws'`. */
  path?: string
  /** Attempt n waits `reconnectDelays[min(n - 1, last)]` ms. Default `[1000, 2000, 4000, 8000, 16000]`. */
  reconnectDelays?: readonly number[]
  /** Adds up to this fraction of each delay at random (0.2 = up to +20 %). Default `0`. */
  jitter?: number
  /** `false` stops reconnecting after a lost connection. Default `true`. */
  reconnect?: boolean
  /** How often `heartbeat` is sent while connected (ms). Default `HEARTBEAT_INTERVAL` (30000). */
  heartbeatIntervalMs?: number
  /** Emits made while disconnected wait here, in order, and are sent after the next connect. Default `100`. */
  maxBufferedEmits?: number
  /** How long `joinRoom` / `leaveRoom` wait for the hub's answer once sent (ms). Default `10000`. */
  ackTimeoutMs?: number
  /** Engine.IO transports. Default `['websocket', 'polling']`. */
  transports?: Array<'websocket' | 'polling'>
  /** Sent in the Socket.IO handshake (`auth`), e.g. a token. */
  auth?: Record<string, unknown>
  /** Connect even where there is no `window` (Node scripts, tests). Default: only with an explicit url. */
  allowServer?: boolean
  /**
   * Recover missed events after a reconnect, and after a gap on a live connection, from the
   * hub's history (`recover` requests). Default `true`.
   */
  recovery?: boolean
  /** Where listener errors go. Default `console.error`. */
  onListenerError?: (error: unknown, type: string) => void
  /** Timer functions (tests). */
  timers?: Timers
  /** Extra socket.io-client options (not `reconnection`, `autoConnect`, `path`, `transports`). */
  socketOptions?: Partial<ManagerOptions & SocketOptions>
}

export type Listener<T = unknown> = (data: T, envelope: Envelope<T>) => void
export type StatusListener = (status: ConnectionStatus) => void

/** An error of the client: `code` is stable. */
export class RealtimeClientError extends Error {
  readonly code: string
  constructor(code: string, message: string) {
    super(message)
    this.name = 'RealtimeClientError'
    this.code = code
  }
}

const DISCONNECTED: ConnectionStatus = Object.freeze({ connected: false, reconnecting: false, reconnectAttempts: 0 })

const defaultTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (h) => clearInterval(h as ReturnType<typeof setInterval>),
}

/** The delay before reconnect attempt `attempt` (1-based), without jitter. */
export function reconnectDelay(attempt: number, delays: readonly number[] = RECONNECT_DELAYS): number {
  if (delays.length === 0) return 0
  return delays[Math.min(Math.max(attempt, 1) - 1, delays.length - 1)]
}

function validateOptions(o: ClientOptions): void {
  const bad = (name: string, expected: string, got: unknown) => {
    throw new RealtimeClientError('ERR_INVALID_OPTIONS', `${name}: expected ${expected}, got ${JSON.stringify(got) ?? String(got)}`)
  }
  const isMs = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0
  const d = o.reconnectDelays
  if (!Array.isArray(d) || d.length === 0 || !d.every(isMs)) bad('reconnectDelays', 'a non-empty array of delays in ms (finite, >= 0)', d)
  if (!isMs(o.jitter)) bad('jitter', 'a fraction >= 0', o.jitter)
  if (!isMs(o.heartbeatIntervalMs)) bad('heartbeatIntervalMs', 'ms >= 0 (0 = no heartbeat)', o.heartbeatIntervalMs)
  if (typeof o.recovery !== 'boolean') bad('recovery', 'a boolean', o.recovery)
  if (!Number.isInteger(o.maxBufferedEmits) || (o.maxBufferedEmits as number) < 0) bad('maxBufferedEmits', 'an integer >= 0', o.maxBufferedEmits)
  if (!isMs(o.ackTimeoutMs) || o.ackTimeoutMs === 0) bad('ackTimeoutMs', 'ms > 0', o.ackTimeoutMs)
}

/** Event names socket.io-client refuses to send (it throws); refused here before they are buffered. */
const RESERVED_EVENTS = new Set(['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener'])

interface PendingRoom {
  resolve: () => void
  reject: (e: Error) => void
}

/** The realtime URL for this page: `NEXT_PUBLIC_REALTIME_URL` when defined, else the page origin. */
function defaultUrl(): string | undefined {
  let configured: string | undefined
  try {
    // Written out in full so that Next.js inlines it at build time.
    configured = process.env.NEXT_PUBLIC_REALTIME_URL
  } catch {
    configured = undefined
  }
  if (configured) return configured
  return typeof window !== 'undefined' ? window.location.origin : undefined
}

export class WebSocketClient {
  private readonly explicitUrl: string | undefined
  private readonly options: Required<
    Pick<ClientOptions, 'path' | 'reconnectDelays' | 'jitter' | 'reconnect' | 'heartbeatIntervalMs' | 'maxBufferedEmits' | 'ackTimeoutMs' | 'recovery'>
  > &
    ClientOptions
  private readonly timers: Timers
  private socket: Socket<ServerToClientEvents, ClientToServerEvents> | null = null
  private status: ConnectionStatus = DISCONNECTED
  private readonly listeners = new Map<string, Set<Listener<never>>>()
  private readonly statusListeners = new Set<StatusListener>()
  /** Rooms to be in: joined again after every reconnect. */
  private readonly rooms = new Set<string>()
  /** Members each room's join ack listed, for `usePresence`. */
  private readonly roomMembers = new Map<string, Map<string, RoomMember>>()
  /** `getRoomMembers` arrays, built on demand: a presence event costs O(1), not a copy of the room. */
  private readonly memberLists = new Map<string, RoomMember[]>()
  private readonly pendingJoins = new Map<string, PendingRoom[]>()
  /**
   * Per room, for each `join:room` in flight: the presence events heard since it was sent. The hub
   * lists the members when it handles the join, but a `presence:*` event about a later change can
   * reach us before that ack does; replaying these over the ack's list keeps `getRoomMembers` right.
   */
  private readonly joinWindows = new Map<string, PresenceHeard[][]>()
  private presenceState: Record<string, unknown> | undefined
  private readonly buffer: Array<{ type: string; data: unknown }> = []
  /** `connect()` was called, and neither `disconnect()` nor a final refusal came since. */
  private wanted = false
  /** The scheduled reconnect; an object so that a stale timer (injected timers too) is recognised. */
  private pendingReconnect: { handle: unknown } | null = null
  private heartbeatTimer: { handle: unknown } | null = null
  /** The hub start whose numbers `lastSeq` holds. */
  private epoch: string | undefined
  /** Per stream (`"*"` or a room), the last `seq` delivered to listeners. */
  private readonly lastSeq = new Map<string, number>()
  /** Streams with a `recover` request in flight, and the live envelopes held back meanwhile. */
  private readonly held = new Map<string, Envelope[]>()
  /** Ids of recent `emitToSocket` events, so that a retry the hub sends is handled once. */
  private readonly seenIds = new Set<number>()
  /** `batch` packets that were neither form (`unpackBatch` threw), dropped whole. */
  private malformed = 0

  constructor(url?: string, options: ClientOptions = {}) {
    this.explicitUrl = url
    // `{ jitter: undefined }` (an option passed through from props) means the default, not NaN.
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as ClientOptions
    this.options = {
      path: '/api/ws',
      reconnectDelays: RECONNECT_DELAYS,
      jitter: 0,
      reconnect: true,
      heartbeatIntervalMs: HEARTBEAT_INTERVAL,
      maxBufferedEmits: 100,
      ackTimeoutMs: 10_000,
      recovery: true,
      ...given,
    }
    validateOptions(this.options)
    this.timers = this.options.timers ?? defaultTimers
    // Stable identities: hooks and components can pass these around.
    this.connect = this.connect.bind(this)
    this.disconnect = this.disconnect.bind(this)
    this.on = this.on.bind(this)
    this.off = this.off.bind(this)
    this.onStatusChange = this.onStatusChange.bind(this)
    this.emit = this.emit.bind(this)
    this.joinRoom = this.joinRoom.bind(this)
    this.leaveRoom = this.leaveRoom.bind(this)
    this.setPresence = this.setPresence.bind(this)
    this.getStatus = this.getStatus.bind(this)
    this.isConnected = this.isConnected.bind(this)
    this.subscribe = this.subscribe.bind(this)
    this.getSnapshot = this.getSnapshot.bind(this)
    this.getRooms = this.getRooms.bind(this)
    this.getRoomMembers = this.getRoomMembers.bind(this)
  }

  /** Opens the connection (idempotent). On the server, without an explicit url, it does nothing. */
  connect(): void {
    if (this.wanted) return
    const onServer = typeof window === 'undefined'
    if (onServer && !this.explicitUrl && !this.options.allowServer) return
    const url = this.explicitUrl ?? defaultUrl()
    if (!url) return
    this.wanted = true
    if (!this.socket) {
      this.socket = io(url, {
        // With `transports: ['websocket', 'polling']` socket.io-client gives up when the websocket
        // fails (a proxy that refuses upgrades) unless it may try the next transport.
        tryAllTransports: true,
        ...this.options.socketOptions,
        path: this.options.path,
        transports: this.options.transports ?? ['websocket', 'polling'],
        auth: this.options.auth,
        // The schedule of SPEC §7 is ours (see scheduleReconnect), not socket.io's backoff.
        reconnection: false,
        autoConnect: false,
        forceNew: true,
      })
      this.attach(this.socket)
    }
    this.socket.connect()
  }

  /** Closes the connection and stops reconnecting. Rooms, presence and listeners are kept for `connect()`. */
  disconnect(): void {
    this.wanted = false
    this.clearReconnect()
    this.stopHeartbeat()
    this.socket?.disconnect()
    this.setStatus({ ...this.status, connected: false, reconnecting: false, reconnectAttempts: 0 })
  }

  /** Listens to one event type (batches are unpacked). Returns the unsubscribe function. */
  on<T = unknown>(type: string, listener: Listener<T>): () => void {
    let set = this.listeners.get(type)
    if (!set) {
      set = new Set()
      this.listeners.set(type, set)
    }
    set.add(listener as Listener<never>)
    return () => this.off(type, listener)
  }

  off<T = unknown>(type: string, listener: Listener<T>): void {
    const set = this.listeners.get(type)
    set?.delete(listener as Listener<never>)
    if (set && set.size === 0) this.listeners.delete(type)
  }

  /** Called at once with the current status, then on every change. Returns the unsubscribe. */
  onStatusChange(listener: StatusListener): () => void {
    this.statusListeners.add(listener)
    this.safeCall(() => listener(this.status), 'status')
    return () => {
      this.statusListeners.delete(listener)
    }
  }

  /** `useSyncExternalStore` subscription to status changes. */
  subscribe(listener: () => void): () => void {
    const wrapped: StatusListener = () => listener()
    this.statusListeners.add(wrapped)
    return () => {
      this.statusListeners.delete(wrapped)
    }
  }

  /** The current status snapshot (same frozen object until it changes). */
  getSnapshot(): ConnectionStatus {
    return this.status
  }

  getStatus(): ConnectionStatus {
    return this.status
  }

  isConnected(): boolean {
    return this.status.connected
  }

  /**
   * Sends an event to the hub. While disconnected it is buffered (in order, up to
   * `maxBufferedEmits`) and sent after the next connect, before anything sent later; past that it
   * throws `ERR_CLIENT_BUFFER_FULL` rather than drop anything silently. A name Socket.IO reserves
   * (`connect`, `disconnect`, ...) throws `ERR_INVALID_EVENT` at once, buffered or not.
   */
  emit(type: string, data?: unknown): void {
    if (typeof type !== 'string' || type.length === 0 || RESERVED_EVENTS.has(type)) {
      throw new RealtimeClientError(
        'ERR_INVALID_EVENT',
        `type: expected an event name that Socket.IO does not reserve, got ${JSON.stringify(type) ?? String(type)}`,
      )
    }
    if (this.socket && this.status.connected) {
      this.sendRaw(type, data)
      return
    }
    if (this.buffer.length >= this.options.maxBufferedEmits) {
      throw new RealtimeClientError(
        'ERR_CLIENT_BUFFER_FULL',
        `not connected and ${this.buffer.length} emits already wait (maxBufferedEmits); "${type}" was not sent`,
      )
    }
    this.buffer.push({ type, data })
  }

  /**
   * Joins a room now (or at the next connect) and again after every reconnect. Resolves when the
   * hub accepted; rejects with `ERR_INVALID_ROOM` (no request made), with the hub's code when it
   * refused (the room is then forgotten), with `ERR_ROOM_LEFT` when `leaveRoom` came first, or with
   * `ERR_TIMEOUT` when the hub did not answer within `ackTimeoutMs` (the room is still re-joined
   * after the next reconnect).
   */
  joinRoom(roomId: string): Promise<void> {
    if (!isValidRoomName(roomId)) return Promise.reject(invalidRoom(roomId))
    this.rooms.add(roomId)
    const done = new Promise<void>((resolve, reject) => {
      const waiting = this.pendingJoins.get(roomId) ?? []
      waiting.push({ resolve, reject })
      this.pendingJoins.set(roomId, waiting)
    })
    if (this.socket && this.status.connected) this.sendJoin(roomId)
    return done
  }

  /**
   * Leaves a room and stops re-joining it. Resolves at once while disconnected (the hub forgot the
   * socket's rooms with the socket); rejects with `ERR_INVALID_ROOM` (no request made), with the
   * hub's code when it refused, or with `ERR_TIMEOUT`.
   */
  leaveRoom(roomId: string): Promise<void> {
    if (!isValidRoomName(roomId)) return Promise.reject(invalidRoom(roomId))
    this.rooms.delete(roomId)
    this.roomMembers.delete(roomId)
    this.memberLists.delete(roomId)
    this.lastSeq.delete(roomId)
    this.held.delete(roomId)
    this.settleJoins(roomId, new RealtimeClientError('ERR_ROOM_LEFT', `left ${roomId} before it was joined`))
    if (!this.socket || !this.status.connected) return Promise.resolve()
    return this.request('leave:room', roomId).then(
      (ack) => {
        if (!ack.ok) throw new RealtimeClientError(ack.error.code, ack.error.message)
      },
      (error: unknown) => {
        // A connection lost before the answer is fine: the hub dropped the socket's rooms with it.
        if (isAckTimeout(error)) throw this.timeoutError('leave:room', roomId)
      },
    )
  }

  /** Rooms this client is in (or will join at the next connect). */
  getRooms(): string[] {
    return [...this.rooms]
  }

  /** The members of a room as its last join ack listed them (others' later changes come as presence:* events). */
  getRoomMembers(roomId: string): RoomMember[] {
    let list = this.memberLists.get(roomId)
    if (!list) {
      const members = this.roomMembers.get(roomId)
      if (!members) return []
      list = [...members.values()]
      this.memberLists.set(roomId, list)
    }
    return list
  }

  /** Sends `presence:set` ("who is viewing what"), now and after every reconnect. */
  setPresence(state: Record<string, unknown>): void {
    this.presenceState = state
    if (this.socket && this.status.connected) this.socket.emit('presence:set', { state })
  }

  /** `batch` packets dropped because they were not a batch (neither form `unpackBatch` reads). */
  get malformedBatches(): number {
    return this.malformed
  }

  /** The socket id while connected. */
  get id(): string | undefined {
    return this.socket?.id
  }

  // -------------------------------------------------------------------------------------------

  private attach(socket: Socket<ServerToClientEvents, ClientToServerEvents>): void {
    socket.on('connect', () => this.onConnect())
    socket.on('disconnect', (reason) => this.onDisconnect(reason))
    socket.on('connect_error', (err) => this.onConnectError(err))
    socket.onAny((event: string, ...args: unknown[]) => {
      // socket.io-client appends the ack function when the hub asked for one (emitToSocket).
      const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as (answer: unknown) => void) : undefined
      this.dispatchPacket(event, args[0])
      ack?.({ ok: true })
    })
  }

  private onConnect(): void {
    this.clearReconnect()
    // What the hub is owed goes out before anyone hears "connected": an emit made by a status
    // listener then cannot overtake the buffered ones.
    for (const room of this.rooms) this.sendJoin(room)
    // After the joins (the hub handles one socket's packets in order): what was missed meanwhile.
    const reconnected = this.status.lastConnected !== undefined
    const known = this.recoverable()
    if (this.options.recovery && this.epoch !== undefined && known.size > 0) this.recover(known, false)
    else if (reconnected) this.recoveredAs(this.epoch === undefined || known.size === 0)
    if (this.presenceState) this.socket?.emit('presence:set', { state: this.presenceState })
    for (const { type, data } of this.buffer.splice(0)) {
      try {
        this.sendRaw(type, data)
      } catch (error) {
        // Data socket.io cannot encode (a cycle): the caller is long gone, so report it.
        this.report(error, type)
      }
    }
    this.startHeartbeat()
    this.setStatus({ connected: true, reconnecting: false, reconnectAttempts: 0, lastConnected: new Date() })
  }

  private onDisconnect(reason: string): void {
    this.stopHeartbeat()
    // Held envelopes come again with the replay after the reconnect.
    this.held.clear()
    if (!this.wanted || reason === 'io client disconnect') {
      this.setStatus({ ...this.status, connected: false, reconnecting: false })
      return
    }
    if (reason === 'io server disconnect') {
      // The hub removed this socket on purpose (e.g. the stale sweep): like socket.io, do not
      // fight it; `connect()` again to come back. (`stopHub` closes the transport instead, which
      // arrives as "transport close" and is retried below.)
      this.wanted = false
      this.setStatus({ ...this.status, connected: false, reconnecting: false, lastError: 'disconnected by the server' })
      return
    }
    this.scheduleReconnect(reason)
  }

  private onConnectError(err: Error): void {
    if (!this.wanted) {
      this.setStatus({ ...this.status, connected: false, lastError: err.message })
      return
    }
    if (this.socket && !this.socket.active) {
      // socket.io-client deactivates the socket when the hub answered the connect with a refusal
      // (a namespace it does not serve, a middleware that said no): like socket.io, do not retry
      // that on a timer. Transport failures (hub down) keep the socket active and are retried.
      this.wanted = false
      this.setStatus({ ...this.status, connected: false, reconnecting: false, lastError: err.message })
      return
    }
    this.scheduleReconnect(err.message)
  }

  /** Attempt n waits `reconnectDelays[min(n - 1, last)]` (+ up to `jitter` of it); one status change. */
  private scheduleReconnect(lastError: string): void {
    if (!this.options.reconnect) {
      this.wanted = false // so that `connect()` opens again
      this.setStatus({ ...this.status, connected: false, reconnecting: false, lastError })
      return
    }
    if (this.pendingReconnect !== null) {
      this.setStatus({ ...this.status, connected: false, lastError })
      return
    }
    const attempt = this.status.reconnectAttempts + 1
    const base = reconnectDelay(attempt, this.options.reconnectDelays)
    const delay = this.options.jitter > 0 ? base + base * this.options.jitter * Math.random() : base
    this.setStatus({ ...this.status, connected: false, reconnecting: true, reconnectAttempts: attempt, lastError })
    const pending: { handle: unknown } = { handle: undefined }
    this.pendingReconnect = pending
    pending.handle = this.timers.setTimeout(() => {
      // A timer that fires after it was cleared (or replaced) does nothing.
      if (this.pendingReconnect !== pending) return
      this.pendingReconnect = null
      if (this.wanted && this.socket && !this.socket.connected) this.socket.connect()
    }, delay)
  }

  private clearReconnect(): void {
    if (this.pendingReconnect !== null) {
      this.timers.clearTimeout(this.pendingReconnect.handle)
      this.pendingReconnect = null
    }
  }

  private startHeartbeat(): void {
    this.stopHeartbeat()
    if (this.options.heartbeatIntervalMs <= 0) return
    const running: { handle: unknown } = { handle: undefined }
    this.heartbeatTimer = running
    running.handle = this.timers.setInterval(() => {
      // Only while connected: socket.io-client would otherwise buffer it for the next connect.
      if (this.heartbeatTimer === running && this.socket?.connected) this.socket.emit('heartbeat')
    }, this.options.heartbeatIntervalMs)
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer !== null) {
      this.timers.clearInterval(this.heartbeatTimer.handle)
      this.heartbeatTimer = null
    }
  }

  private sendRaw(type: string, data: unknown): void {
    // Custom events go out as they are: the hub and other listeners define their shape.
    ;(this.socket as unknown as { emit: (ev: string, ...args: unknown[]) => void }).emit(
      type,
      ...(data === undefined ? [] : [data]),
    )
  }

  private sendJoin(roomId: string): void {
    const heard: PresenceHeard[] = []
    const windows = this.joinWindows.get(roomId) ?? []
    windows.push(heard)
    this.joinWindows.set(roomId, windows)
    const closeWindow = () => {
      const open = this.joinWindows.get(roomId)
      const at = open?.indexOf(heard) ?? -1
      if (open && at >= 0) open.splice(at, 1)
      if (open?.length === 0) this.joinWindows.delete(roomId)
    }
    this.request('join:room', roomId).then(
      (ack) => {
        closeWindow()
        // Left (leaveRoom) while the request was on its way: that call settled the promises.
        if (!this.rooms.has(roomId)) return
        if (ack.ok) {
          // Where the room's stream stood when we joined: the starting point for recovery.
          if (typeof ack.seq === 'number' && ack.epoch !== undefined) {
            if (this.epoch === undefined) this.epoch = ack.epoch
            if (ack.epoch === this.epoch && !this.lastSeq.has(roomId) && !this.held.has(roomId)) this.lastSeq.set(roomId, ack.seq)
          }
          const members = new Map((ack.members ?? []).map((m) => [m.socketId, m] as const))
          for (const h of heard) applyPresence(members, h)
          this.roomMembers.set(roomId, members)
          this.memberLists.delete(roomId)
          this.settleJoins(roomId)
        } else {
          // Refused (TOO_MANY_ROOMS, ...): not re-joined later either.
          this.rooms.delete(roomId)
          this.roomMembers.delete(roomId)
          this.memberLists.delete(roomId)
          this.settleJoins(roomId, new RealtimeClientError(ack.error.code, ack.error.message))
        }
      },
      (error: unknown) => {
        closeWindow()
        // A lost connection: the join is sent again at the next connect, which settles it.
        if (isAckTimeout(error) && this.rooms.has(roomId)) this.settleJoins(roomId, this.timeoutError('join:room', roomId))
      },
    )
  }

  private request(event: 'join:room' | 'leave:room', roomId: string): Promise<RoomAck> {
    const socket = this.socket
    if (!socket) return Promise.reject(new RealtimeClientError('ERR_NOT_CONNECTED', 'not connected'))
    return socket.timeout(this.options.ackTimeoutMs).emitWithAck(event, { roomId }) as Promise<RoomAck>
  }

  private timeoutError(event: string, roomId: string): RealtimeClientError {
    return new RealtimeClientError('ERR_TIMEOUT', `${event} ${roomId}: no answer from the hub within ${this.options.ackTimeoutMs} ms`)
  }

  private settleJoins(roomId: string, error?: Error): void {
    const waiting = this.pendingJoins.get(roomId)
    if (!waiting) return
    this.pendingJoins.delete(roomId)
    for (const p of waiting) {
      if (error) p.reject(error)
      else p.resolve()
    }
  }

  private dispatchPacket(event: string, payload: unknown): void {
    if (event === 'batch') {
      let envelopes: Envelope[]
      try {
        envelopes = unpackBatch(payload)
      } catch {
        // Not a batch this client can read: dropped whole. If it held numbered events, the next
        // event of that stream shows the gap and recovery fetches them from the hub's history.
        this.malformed += 1
        return
      }
      for (const envelope of envelopes) this.receive(envelope)
      return
    }
    if (isEnvelope(payload) && payload.type === event) {
      this.receive(payload)
      return
    }
    if (event === 'pong') this.checkHeads(payload)
    this.trackPresence(event, payload)
    // Protocol events (presence:*, pong, error) and custom shapes: wrapped so listeners get
    // the same (data, envelope) signature.
    this.dispatch(event, { type: event, data: payload, timestamp: new Date().toISOString() })
  }

  /**
   * One event from the hub, in the order of its stream: delivered when it is the next `seq`,
   * dropped when already delivered (a replay and the live copy), held when something before it
   * is missing while that is fetched from the hub's history.
   */
  private receive(envelope: Envelope): void {
    if (typeof envelope.id === 'number') {
      // Sent to this socket alone (emitToSocket): a retry of one already handled is acked only.
      if (this.seenIds.has(envelope.id)) return
      this.seenIds.add(envelope.id)
      if (this.seenIds.size > 1000) this.seenIds.delete(this.seenIds.values().next().value as number)
      this.dispatch(envelope.type, envelope)
      return
    }
    const { seq, epoch } = envelope
    if (typeof seq !== 'number' || typeof epoch !== 'string') {
      this.dispatch(envelope.type, envelope) // a hub without sequence numbers
      return
    }
    const stream = envelope.room ?? '*'
    const held = this.held.get(stream)
    if (held) {
      held.push(envelope)
      return
    }
    if (epoch !== this.epoch) {
      // Another hub start, seen first on a live event: the old numbers mean nothing there.
      if (this.epoch !== undefined && this.lastSeq.size > 0) this.resync([...this.lastSeq.keys()], 'epoch')
      this.epoch = epoch
      this.lastSeq.clear()
    }
    const last = this.lastSeq.get(stream)
    if (last !== undefined && seq <= last) return
    if (last === undefined || seq === last + 1 || !this.options.recovery) {
      this.lastSeq.set(stream, seq)
      this.dispatch(envelope.type, envelope)
      return
    }
    // A hole: the hub dropped events for this socket (its queue was full). Fetch them.
    this.recover(new Map([[stream, last]]), true)
    this.held.get(stream)?.push(envelope)
  }

  /**
   * The `pong` to a heartbeat lists where this socket's streams stand: events missed at the end
   * of a stream (nothing came after them to show the hole) are fetched now.
   */
  private checkHeads(payload: unknown): void {
    if (!this.options.recovery || typeof payload !== 'object' || payload === null) return
    const { epoch, seq } = payload as { epoch?: unknown; seq?: unknown }
    if (epoch !== this.epoch || typeof seq !== 'object' || seq === null) return
    const heads = Object.entries(seq as Record<string, unknown>).filter((e): e is [string, number] => typeof e[1] === 'number')
    // Events numbered before the pong may still be on their way (a batch waits up to maxWaitMs):
    // only what has not arrived a second later is missing.
    this.timers.setTimeout(() => {
      if (this.epoch !== epoch || !this.socket?.connected) return
      const behind = new Map<string, number>()
      for (const [stream, head] of heads) {
        const last = this.lastSeq.get(stream)
        if (last !== undefined && head > last && !this.held.has(stream)) behind.set(stream, last)
      }
      if (behind.size > 0) this.recover(behind, true)
    }, 1000)
  }

  /** The streams this client can ask the hub about: everyone's, and the rooms it is in. */
  private recoverable(): Map<string, number> {
    const known = new Map<string, number>()
    for (const [stream, seq] of this.lastSeq) {
      if (stream === '*' || this.rooms.has(stream)) known.set(stream, seq)
      else this.lastSeq.delete(stream)
    }
    return known
  }

  /**
   * Asks the hub for what followed `streams` (stream -> last seq); holds their live events
   * meanwhile. `gap`: a hole on a live connection (not a reconnect); `report`: tell the hub so
   * (not on a retry: the hub counted the hole when it answered the first request).
   */
  private recover(streams: Map<string, number>, gap: boolean, report = gap): void {
    const socket = this.socket
    const epoch = this.epoch
    if (!socket || epoch === undefined) return
    for (const stream of streams.keys()) if (!this.held.has(stream)) this.held.set(stream, [])
    const request = { epoch, streams: Object.fromEntries(streams), gap: report }
    ;(socket.timeout(this.options.ackTimeoutMs).emitWithAck('recover', request) as Promise<RecoverAck>).then(
      (answer) => this.applyRecovery(streams, answer, gap),
      () => {
        // No answer: the connection dropped (the reconnect asks again) or the answer was lost
        // in a full queue; ask again from where delivery stands now.
        if (socket !== this.socket || !socket.connected) return
        const again = new Map<string, number>()
        for (const stream of streams.keys()) {
          this.held.delete(stream)
          const last = this.lastSeq.get(stream)
          if (last !== undefined) again.set(stream, last)
        }
        // Not flagged as a gap again: the hub counted the hole when it answered the first time
        // (an answer that is merely slow, such as a large replay, arrives after this).
        if (again.size > 0) this.recover(again, gap, false)
      },
    )
  }

  private applyRecovery(asked: Map<string, number>, answer: RecoverAck, gap: boolean): void {
    const lost: string[] = []
    const newEpoch = answer.ok && answer.epoch !== this.epoch
    if (newEpoch && answer.ok) {
      // The hub restarted: every stream starts again; nothing of before can be recovered.
      for (const stream of this.lastSeq.keys()) if (!asked.has(stream)) lost.push(stream)
      this.lastSeq.clear()
      this.epoch = answer.epoch
    }
    const results = new Map(answer.ok ? answer.streams.map((r) => [r.stream, r] as const) : [])
    for (const stream of asked.keys()) {
      const held = this.held.get(stream) ?? []
      this.held.delete(stream)
      const result = results.get(stream)
      if (result?.recovered && !newEpoch) {
        for (const envelope of result.events) if (isEnvelope(envelope)) this.receive(envelope)
      } else {
        lost.push(stream)
        // Start again from where the hub stands; what was held (newer) still goes out, in order.
        // (After a restart, held events of the new epoch set it instead when there are any.)
        this.lastSeq.delete(stream)
        if (result && (!newEpoch || held.length === 0)) this.lastSeq.set(stream, result.seq)
      }
      held.sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0))
      for (const envelope of held) this.receive(envelope)
    }
    if (lost.length > 0) this.resync(lost, newEpoch ? 'epoch' : 'history')
    if (!gap) this.recoveredAs(lost.length === 0)
  }

  /** Tells `resync` listeners which streams have a hole for good. */
  private resync(streams: string[], reason: ResyncEvent['reason']): void {
    const data: ResyncEvent = { streams, reason }
    this.dispatch('resync', { type: 'resync', data, timestamp: new Date().toISOString() })
  }

  private recoveredAs(recovered: boolean): void {
    if (this.status.recovered !== recovered) this.setStatus({ ...this.status, recovered })
  }

  private trackPresence(event: string, payload: unknown): void {
    if (event !== 'presence:join' && event !== 'presence:leave' && event !== 'presence:update') return
    if (typeof payload !== 'object' || payload === null) return
    const p = payload as PresenceHeard['payload']
    if (typeof p.room !== 'string' || typeof p.socketId !== 'string') return
    const heard: PresenceHeard = { event, payload: p }
    for (const open of this.joinWindows.get(p.room) ?? []) open.push(heard)
    const members = this.roomMembers.get(p.room)
    if (members) {
      applyPresence(members, heard)
      this.memberLists.delete(p.room)
    }
  }

  private dispatch(type: string, envelope: Envelope): void {
    const set = this.listeners.get(type)
    if (!set) return
    for (const listener of [...set]) {
      this.safeCall(() => (listener as Listener<unknown>)(envelope.data, envelope), type)
    }
  }

  private safeCall(fn: () => void, type: string): void {
    try {
      fn()
    } catch (error) {
      this.report(error, type)
    }
  }

  /** A listener threw: tell `onListenerError` (default `console.error`); never let it reach socket.io. */
  private report(error: unknown, type: string): void {
    try {
      if (this.options.onListenerError) this.options.onListenerError(error, type)
      else console.error(`nself-realtime: a "${type}" listener threw`, error)
    } catch {
      // An error handler that throws must not stop delivery to the other listeners.
    }
  }

  private setStatus(next: ConnectionStatus): void {
    const prev = this.status
    if (
      prev.connected === next.connected &&
      prev.reconnecting === next.reconnecting &&
      prev.reconnectAttempts === next.reconnectAttempts &&
      prev.lastConnected === next.lastConnected &&
      prev.lastError === next.lastError &&
      prev.recovered === next.recovered
    ) {
      return
    }
    this.status = Object.freeze({ ...next })
    for (const listener of [...this.statusListeners]) this.safeCall(() => listener(this.status), 'status')
  }
}

interface PresenceHeard {
  event: 'presence:join' | 'presence:leave' | 'presence:update'
  payload: { room: string; socketId: string; userId?: unknown; state?: unknown }
}

/** Applies one `presence:*` event to a room's members (in place; `getRoomMembers` makes new arrays). */
function applyPresence(members: Map<string, RoomMember>, { event, payload: p }: PresenceHeard): void {
  if (event === 'presence:leave') {
    members.delete(p.socketId)
    return
  }
  const known = members.get(p.socketId)
  const member: RoomMember = {
    socketId: p.socketId,
    userId: typeof p.userId === 'string' ? p.userId : (known?.userId ?? 'anonymous'),
  }
  const state = event === 'presence:update' ? (p.state as Record<string, unknown> | undefined) : known?.state
  if (state !== undefined) member.state = state
  // Re-inserted, so that the latest arrival comes last, as before.
  members.delete(p.socketId)
  members.set(p.socketId, member)
}

function invalidRoom(roomId: unknown): RealtimeClientError {
  return new RealtimeClientError(
    'ERR_INVALID_ROOM',
    `room: expected 1-128 characters [A-Za-z0-9_.:-], got ${JSON.stringify(roomId) ?? String(roomId)}`,
  )
}

/** socket.io-client's `timeout(ms).emitWithAck` rejects with this message when no ack came. */
function isAckTimeout(error: unknown): boolean {
  return error instanceof Error && error.message === 'operation has timed out'
}

const SINGLETON = Symbol.for('nself-realtime.client')

/** The page's one client (kept on `globalThis`, so hot reloads share it). Not connected until `connect()`. */
export function getWebSocketClient(options?: ClientOptions): WebSocketClient {
  const g = globalThis as typeof globalThis & { [SINGLETON]?: WebSocketClient }
  if (typeof window === 'undefined') {
    // On the server every caller gets an inert client: nothing is shared between requests.
    return new WebSocketClient(undefined, options)
  }
  g[SINGLETON] ??= new WebSocketClient(undefined, options)
  return g[SINGLETON]
}

export type { WireError }
