'use client'
/**
 * nself-realtime/react: the React hooks of SPEC §7. Each one is `useSyncExternalStore` glue over
 * a store of ./store.ts (which imports no React) and calls `client.connect()` in an effect.
 *
 * The client is the `client` option, else the one of the nearest `<RealtimeProvider>`, else the
 * page's `getWebSocketClient()`. Every hook renders on the server (where the client is inert and
 * nothing connects) and hydrates from the same initial snapshot the server rendered.
 */
import {
  createContext,
  createElement,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useSyncExternalStore,
  type ReactElement,
  type ReactNode,
} from 'react'

import { getWebSocketClient, type ConnectionStatus, type WebSocketClient } from './client.js'
import type { Environment } from './events.js'
import {
  AllDockerStatsStore,
  BuildProgressStore,
  ContainerStatsStore,
  DbQueryResultStore,
  DeployProgressStore,
  INITIAL_STATUS,
  LogStreamStore,
  PresenceStore,
  ROOM_NOT_JOINED,
  ServiceStatusStore,
  roomRegistry,
  type AllDockerStatsSnapshot,
  type BuildProgressSnapshot,
  type ContainerStatsSnapshot,
  type DbQueryResultSnapshot,
  type DeployProgressSnapshot,
  type DockerStatsOptions,
  type ExternalStore,
  type LogStreamOptions,
  type LogStreamSnapshot,
  type PresenceSnapshot,
  type ProgressOptions,
  type RoomState,
  type ServiceStatusSnapshot,
} from './store.js'

export * from './store.js'

const RealtimeContext = createContext<WebSocketClient | null>(null)

export interface RealtimeProviderProps {
  /** The client the hooks below use (unless a hook is given its own `client` option). */
  client: WebSocketClient
  children?: ReactNode
}

/** Gives the hooks below a client other than the page's `getWebSocketClient()`. */
export function RealtimeProvider({ client, children }: RealtimeProviderProps): ReactElement {
  return createElement(RealtimeContext.Provider, { value: client }, children)
}

/** Options every hook takes. */
export interface RealtimeHookOptions {
  /** Overrides the provider's client and the page's `getWebSocketClient()`. */
  client?: WebSocketClient
}

/** The client the hooks use here (option, provider, page client), connected after mount. */
export function useRealtimeClient(client?: WebSocketClient): WebSocketClient {
  const provided = useContext(RealtimeContext)
  // On the server getWebSocketClient() hands out a fresh inert client; it never connects.
  const resolved = client ?? provided ?? getWebSocketClient()
  useEffect(() => {
    resolved.connect()
  }, [resolved])
  return resolved
}

function useStore<S>(store: ExternalStore<S>): S {
  return useSyncExternalStore(store.subscribe, store.getSnapshot, store.getServerSnapshot)
}

const getInitialStatus = () => INITIAL_STATUS
const getRoomNotJoined = () => ROOM_NOT_JOINED
const noop = () => undefined

// ---------------------------------------------------------------------------------------------

export interface UseWebSocketResult {
  status: ConnectionStatus
  connected: boolean
  reconnecting: boolean
  /**
   * After a reconnect: whether everything missed was replayed (`false`: refetch; listen to
   * `resync` for which streams). `undefined` before the first reconnect.
   */
  recovered: boolean | undefined
  /** `client.on`: listens to one event type; returns the unsubscribe. */
  on: WebSocketClient['on']
  /** `client.emit`. */
  emit: WebSocketClient['emit']
  /**
   * Joins a room, counted with `useRoom` and other components: each `joinRoom` is undone by one
   * `leaveRoom`, and the room is left after the last. Resolves once joined.
   */
  joinRoom: (roomId: string) => Promise<void>
  /** Undoes one `joinRoom`; resolves when the room is left (at once if others still hold it). */
  leaveRoom: (roomId: string) => Promise<void>
  client: WebSocketClient
}

/** The connection status and the client's functions (the same function objects on every render). */
export function useWebSocket(options?: RealtimeHookOptions): UseWebSocketResult {
  const client = useRealtimeClient(options?.client)
  const status = useSyncExternalStore(client.subscribe, client.getSnapshot, getInitialStatus)
  const rooms = roomRegistry(client)
  return useMemo(
    () => ({
      status,
      connected: status.connected,
      reconnecting: status.reconnecting,
      recovered: status.recovered,
      on: client.on,
      emit: client.emit,
      joinRoom: rooms.join,
      leaveRoom: rooms.leave,
      client,
    }),
    [status, client, rooms],
  )
}

/** The last `service:status` of one service (others are ignored); `{ status: null }` until then. */
export function useServiceStatus(service: string, options?: RealtimeHookOptions): ServiceStatusSnapshot {
  const client = useRealtimeClient(options?.client)
  const store = useMemo(() => new ServiceStatusStore(client, service), [client, service])
  return useStore(store)
}

export interface UseBuildProgressResult extends BuildProgressSnapshot {
  /** Forgets the current build. */
  reset: () => void
}

export type BuildProgressOptions = ProgressOptions & RealtimeHookOptions

/**
 * The last `build:progress` event and the events of the current build. A new build (any event
 * after `complete` or `failed`, or a return to step 1 / progress 0) starts a new history.
 */
export function useBuildProgress(options?: BuildProgressOptions): UseBuildProgressResult {
  const client = useRealtimeClient(options?.client)
  const maxHistory = options?.maxHistory
  const store = useMemo(() => new BuildProgressStore(client, { maxHistory }), [client, maxHistory])
  const snapshot = useStore(store)
  return useMemo(() => ({ ...snapshot, reset: store.reset }), [snapshot, store])
}

export interface UseDeployProgressResult extends DeployProgressSnapshot {
  /** Forgets the current deploy. */
  reset: () => void
}

export type DeployProgressOptions = ProgressOptions & RealtimeHookOptions

/** As `useBuildProgress`, for `deploy:progress`; only `environment`'s events when it is given. */
export function useDeployProgress(environment?: Environment, options?: DeployProgressOptions): UseDeployProgressResult {
  const client = useRealtimeClient(options?.client)
  const maxHistory = options?.maxHistory
  const store = useMemo(() => new DeployProgressStore(client, environment, { maxHistory }), [client, environment, maxHistory])
  const snapshot = useStore(store)
  return useMemo(() => ({ ...snapshot, reset: store.reset }), [snapshot, store])
}

export interface UseLogStreamResult extends LogStreamSnapshot {
  /** Empties `lines`. */
  clear: () => void
}

export type UseLogStreamOptions = LogStreamOptions & RealtimeHookOptions

/**
 * The last `maxLines` (default 1000) `logs:stream` events, of one service or of all, oldest
 * first. A new `service` or `maxLines` starts an empty tail.
 */
export function useLogStream(service?: string, options?: UseLogStreamOptions): UseLogStreamResult {
  const client = useRealtimeClient(options?.client)
  const maxLines = options?.maxLines
  const store = useMemo(() => new LogStreamStore(client, service, { maxLines }), [client, service, maxLines])
  const snapshot = useStore(store)
  return useMemo(() => ({ ...snapshot, clear: store.clear }), [snapshot, store])
}

export type UseDockerStatsOptions = DockerStatsOptions & RealtimeHookOptions

/** One container: its last `docker:stats` sample and its last `historySize` (default 60) samples. */
export function useDockerStats(containerId: string, options?: UseDockerStatsOptions): ContainerStatsSnapshot
/** Every container: the last sample and the recent samples of each, by container id. */
export function useDockerStats(containerId?: undefined, options?: UseDockerStatsOptions): AllDockerStatsSnapshot
export function useDockerStats(
  containerId?: string,
  options?: UseDockerStatsOptions,
): ContainerStatsSnapshot | AllDockerStatsSnapshot
export function useDockerStats(
  containerId?: string,
  options?: UseDockerStatsOptions,
): ContainerStatsSnapshot | AllDockerStatsSnapshot {
  const client = useRealtimeClient(options?.client)
  const historySize = options?.historySize
  const store = useMemo<ExternalStore<ContainerStatsSnapshot | AllDockerStatsSnapshot>>(
    () =>
      containerId === undefined
        ? new AllDockerStatsStore(client, { historySize })
        : new ContainerStatsStore(client, containerId, { historySize }),
    [client, containerId, historySize],
  )
  return useStore(store)
}

/** The last `db:query:result` of one query; `{ result: null }` until then (or while `queryId` is null). */
export function useDbQueryResult(queryId: string | null | undefined, options?: RealtimeHookOptions): DbQueryResultSnapshot {
  const client = useRealtimeClient(options?.client)
  const store = useMemo(() => new DbQueryResultStore(client, queryId ?? null), [client, queryId])
  return useStore(store)
}

/**
 * Holds a room while mounted: joins on mount, leaves on unmount. Holds are counted across
 * components (and `useWebSocket().joinRoom`): one join for the first, one leave after the last.
 * StrictMode's extra unmount-mount neither leaves nor joins again. `null` holds nothing.
 */
export function useRoom(roomId: string | null | undefined, options?: RealtimeHookOptions): RoomState {
  const client = useRealtimeClient(options?.client)
  const rooms = roomRegistry(client)
  const room = roomId ?? null
  const subscribe = useCallback((listener: () => void) => (room === null ? noop : rooms.subscribe(room, listener)), [rooms, room])
  const getSnapshot = useCallback(() => (room === null ? ROOM_NOT_JOINED : rooms.getSnapshot(room)), [rooms, room])
  const state = useSyncExternalStore(subscribe, getSnapshot, getRoomNotJoined)
  useEffect(() => (room === null ? undefined : rooms.acquire(room)), [rooms, room])
  return state
}

export interface UsePresenceResult extends PresenceSnapshot, RoomState {}

/**
 * Holds a room (as `useRoom`) and returns its members with their `state` ("who is viewing
 * what"): the join ack's list, kept current by `presence:join` / `presence:leave` /
 * `presence:update`.
 */
export function usePresence(room: string | null | undefined, options?: RealtimeHookOptions): UsePresenceResult {
  const client = useRealtimeClient(options?.client)
  const { joined, error } = useRoom(room, { client })
  const store = useMemo(() => new PresenceStore(client, room ?? null), [client, room])
  const { members, others } = useStore(store)
  return useMemo(() => ({ members, others, joined, error }), [members, others, joined, error])
}
