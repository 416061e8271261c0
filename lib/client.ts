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
  isValidRoomName,
  type ClientToServerEvents,
  type Envelope,
  type RoomAck,
  type RoomMember,
  type ServerToClientEvents,
  type WireError,
} from './events.js'

export type { Envelope } from './events.js'

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
    Pick<ClientOptions, 'path' | 'reconnectDelays' | 'jitter' | 'reconnect' | 'heartbeatIntervalMs' | 'maxBufferedEmits' | 'ackTimeoutMs'>
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
  private readonly roomMembers = new Map<string, RoomMember[]>()
  private readonly pendingJoins = new Map<string, PendingRoom[]>()
  private presenceState: Record<string, unknown> | undefined
  private readonly buffer: Array<{ type: string; data: unknown }> = []
  private wanted = false
  private reconnectTimer: unknown = null
  private heartbeatTimer: unknown = null

  constructor(url?: string, options: ClientOptions = {}) {
    this.explicitUrl = url
    this.options = {
      path: '/api/ws',
      reconnectDelays: RECONNECT_DELAYS,
      jitter: 0,
      reconnect: true,
      heartbeatIntervalMs: HEARTBEAT_INTERVAL,
      maxBufferedEmits: 100,
      ackTimeoutMs: 10_000,
      ...options,
    }
    this.timers = options.timers ?? defaultTimers
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
        ...this.options.socketOptions,
        path: this.options.path,
        transports: this.options.transports ?? ['websocket', 'polling'],
        auth: this.options.auth,
        reconnection: false,
        autoConnect: false,
        forceNew: true,
      })
      this.attach(this.socket)
    }
    this.socket.connect()
  }

  /** Closes the connection and stops reconnecting. Rooms and listeners are kept for `connect()`. */
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

  /** The current status snapshot (same object until it changes). */
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
   * `maxBufferedEmits`) and sent after the next connect; past that it throws
   * `ERR_CLIENT_BUFFER_FULL` rather than drop anything silently.
   */
  emit(type: string, data?: unknown): void {
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

  /** Joins a room now (or at the next connect) and after every reconnect. */
  joinRoom(roomId: string): Promise<void> {
    if (!isValidRoomName(roomId)) {
      return Promise.reject(
        new RealtimeClientError('ERR_INVALID_ROOM', `room: expected 1-128 characters [A-Za-z0-9_.:-], got ${JSON.stringify(roomId)}`),
      )
    }
    this.rooms.add(roomId)
    const done = new Promise<void>((resolve, reject) => {
      const waiting = this.pendingJoins.get(roomId) ?? []
      waiting.push({ resolve, reject })
      this.pendingJoins.set(roomId, waiting)
    })
    if (this.socket && this.status.connected) this.sendJoin(roomId)
    return done
  }

  /** Leaves a room and stops re-joining it. */
  leaveRoom(roomId: string): Promise<void> {
    this.rooms.delete(roomId)
    this.roomMembers.delete(roomId)
    this.settleJoins(roomId, new RealtimeClientError('ERR_ROOM_LEFT', `left ${roomId} before it was joined`))
    if (!this.socket || !this.status.connected) return Promise.resolve()
    return this.request('leave:room', roomId).then(() => undefined)
  }

  /** Rooms this client is in (or will join at the next connect). */
  getRooms(): string[] {
    return [...this.rooms]
  }

  /** The members of a room as its last join ack listed them (others' later changes come as presence:* events). */
  getRoomMembers(roomId: string): RoomMember[] {
    return this.roomMembers.get(roomId) ?? []
  }

  /** Sends `presence:set` ("who is viewing what"), now and after every reconnect. */
  setPresence(state: Record<string, unknown>): void {
    this.presenceState = state
    if (this.socket && this.status.connected) this.socket.emit('presence:set', { state })
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
    socket.onAny((event: string, payload: unknown) => this.dispatchPacket(event, payload))
  }

  private onConnect(): void {
    this.clearReconnect()
    this.setStatus({ connected: true, reconnecting: false, reconnectAttempts: 0, lastConnected: new Date() })
    for (const room of this.rooms) this.sendJoin(room)
    if (this.presenceState) this.socket?.emit('presence:set', { state: this.presenceState })
    const waiting = this.buffer.splice(0)
    for (const { type, data } of waiting) this.sendRaw(type, data)
    this.startHeartbeat()
  }

  private onDisconnect(reason: string): void {
    this.stopHeartbeat()
    if (!this.wanted || reason === 'io client disconnect') {
      this.setStatus({ ...this.status, connected: false, reconnecting: false })
      return
    }
    if (reason === 'io server disconnect') {
      // The hub removed this socket on purpose (e.g. the stale sweep): like socket.io, do not
      // fight it; `connect()` again to come back.
      this.wanted = false
      this.setStatus({ ...this.status, connected: false, reconnecting: false, lastError: 'disconnected by the server' })
      return
    }
    this.setStatus({ ...this.status, connected: false, lastError: reason })
    this.scheduleReconnect()
  }

  private onConnectError(err: Error): void {
    this.setStatus({ ...this.status, connected: false, lastError: err.message })
    if (this.wanted) this.scheduleReconnect()
  }

  private scheduleReconnect(): void {
    if (!this.options.reconnect || this.reconnectTimer !== null) {
      if (!this.options.reconnect) this.setStatus({ ...this.status, reconnecting: false })
      return
    }
    const attempt = this.status.reconnectAttempts + 1
    const base = reconnectDelay(attempt, this.options.reconnectDelays)
    const delay = base + base * this.options.jitter * Math.random()
    this.setStatus({ ...this.status, connected: false, reconnecting: true, reconnectAttempts: attempt })
    this.reconnectTimer = this.timers.setTimeout(() => {
      this.reconnectTimer = null
      if (this.wanted && this.socket && !this.status.connected) this.socket.connect()
    }, delay)
  }

  private clearReconnect(): void {
    if (this.reconnectTimer !== null) {
      this.timers.clearTimeout(this.reconnectTimer)
      this.reconnectTimer = null
    }
  }

  private startHeartbeat(): void {
    this.stopHeartbeat()
    if (this.options.heartbeatIntervalMs > 0) {
      this.heartbeatTimer = this.timers.setInterval(() => this.socket?.emit('heartbeat'), this.options.heartbeatIntervalMs)
    }
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer !== null) {
      this.timers.clearInterval(this.heartbeatTimer)
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
    this.request('join:room', roomId).then(
      (ack) => {
        if (ack.ok) {
          this.roomMembers.set(roomId, ack.members ?? [])
          this.settleJoins(roomId)
        } else {
          this.rooms.delete(roomId)
          this.settleJoins(roomId, new RealtimeClientError(ack.error.code, ack.error.message))
        }
      },
      // A timeout or a lost connection: the join is sent again at the next connect.
      () => undefined,
    )
  }

  private request(event: 'join:room' | 'leave:room', roomId: string): Promise<RoomAck> {
    const socket = this.socket
    if (!socket) return Promise.reject(new RealtimeClientError('ERR_NOT_CONNECTED', 'not connected'))
    return socket.timeout(this.options.ackTimeoutMs).emitWithAck(event, { roomId }) as Promise<RoomAck>
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
    if (event === 'batch' && Array.isArray(payload)) {
      for (const envelope of payload) {
        if (isEnvelope(envelope)) this.dispatch(envelope.type, envelope)
      }
      return
    }
    if (isEnvelope(payload) && payload.type === event) {
      this.dispatch(event, payload)
      return
    }
    this.trackPresence(event, payload)
    // Protocol events (presence:*, pong, error) and custom shapes: wrapped so listeners get
    // the same (data, envelope) signature.
    this.dispatch(event, { type: event, data: payload, timestamp: new Date().toISOString() })
  }

  private trackPresence(event: string, payload: unknown): void {
    if (typeof payload !== 'object' || payload === null) return
    const p = payload as { room?: unknown; socketId?: unknown; userId?: unknown; state?: unknown }
    if (typeof p.room !== 'string' || typeof p.socketId !== 'string' || !this.roomMembers.has(p.room)) return
    const members = this.roomMembers.get(p.room) ?? []
    const rest = members.filter((m) => m.socketId !== p.socketId)
    const member: RoomMember = {
      socketId: p.socketId,
      userId: typeof p.userId === 'string' ? p.userId : 'anonymous',
      state: (p.state as Record<string, unknown> | undefined) ?? members.find((m) => m.socketId === p.socketId)?.state,
    }
    if (event === 'presence:join' || event === 'presence:update') this.roomMembers.set(p.room, [...rest, member])
    else if (event === 'presence:leave') this.roomMembers.set(p.room, rest)
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
      const report = this.options.onListenerError ?? ((e: unknown, t: string) => console.error(`nself-realtime: a "${t}" listener threw`, e))
      report(error, type)
    }
  }

  private setStatus(next: ConnectionStatus): void {
    const prev = this.status
    if (
      prev.connected === next.connected &&
      prev.reconnecting === next.reconnecting &&
      prev.reconnectAttempts === next.reconnectAttempts &&
      prev.lastConnected === next.lastConnected &&
      prev.lastError === next.lastError
    ) {
      return
    }
    this.status = Object.freeze({ ...next })
    for (const listener of [...this.statusListeners]) this.safeCall(() => listener(this.status), 'status')
  }
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
