/**
 * nself-realtime/events: the event types, payload interfaces, wire protocol maps, type guards and
 * constants shared by the server (the addon's emitter types come from here) and the browser.
 * Runs anywhere: no Node, DOM or React APIs.
 */

/** The six event types the hub knows (SPEC §4). */
export const EventType = {
  SERVICE_STATUS: 'service:status',
  BUILD_PROGRESS: 'build:progress',
  DEPLOY_PROGRESS: 'deploy:progress',
  LOGS_STREAM: 'logs:stream',
  DOCKER_STATS: 'docker:stats',
  DB_QUERY_RESULT: 'db:query:result',
} as const

export type EventType = (typeof EventType)[keyof typeof EventType]

/** ISO-8601 date-time, e.g. `new Date().toISOString()`. */
export type IsoDateTime = string

export type ServiceState = 'running' | 'stopped' | 'starting' | 'stopping' | 'unhealthy'
export type HealthState = 'healthy' | 'unhealthy' | 'pending'
export type ProgressState = 'pending' | 'in-progress' | 'complete' | 'failed'
export type Environment = 'local' | 'staging' | 'production'
export type LogLevel = 'info' | 'warn' | 'error' | 'debug'
export type LogSource = 'stdout' | 'stderr'

export interface ServiceStatusEvent {
  service: string
  status: ServiceState
  timestamp: IsoDateTime
  containerId?: string
  health?: { status: HealthState; lastCheck?: IsoDateTime }
  resources?: { cpu?: number; memory?: number }
  [extra: string]: unknown
}

export interface BuildProgressEvent {
  step: string
  /** 0..100 */
  progress: number
  status: ProgressState
  message?: string
  timestamp: IsoDateTime
  totalSteps?: number
  currentStep?: number
  logs?: string[]
  [extra: string]: unknown
}

export interface DeployProgressEvent {
  stage: string
  environment: Environment
  status: ProgressState
  logs: string[]
  timestamp: IsoDateTime
  /** 0..100 */
  progress?: number
  error?: string
  [extra: string]: unknown
}

export interface LogStreamEvent {
  service: string
  line: string
  timestamp: IsoDateTime
  level?: LogLevel
  source?: LogSource
  [extra: string]: unknown
}

export interface DockerStatsEvent {
  containerId: string
  containerName: string
  timestamp: IsoDateTime
  stats: {
    cpu: number
    memory: number
    memoryLimit: number
    memoryPercent: number
    network: { rx: number; tx: number }
    blockIO: { read: number; write: number }
  }
  [extra: string]: unknown
}

export interface DbQueryResultEvent {
  queryId: string
  rows: unknown[]
  rowCount: number
  fields: Array<{ name: string; dataTypeID: number }>
  executionTime?: number
  timestamp: IsoDateTime
  error?: string
  [extra: string]: unknown
}

/** Payload type of each event type. */
export interface EventPayloads {
  'service:status': ServiceStatusEvent
  'build:progress': BuildProgressEvent
  'deploy:progress': DeployProgressEvent
  'logs:stream': LogStreamEvent
  'docker:stats': DockerStatsEvent
  'db:query:result': DbQueryResultEvent
}

/** What the hub sends for every event: the payload, the hub's time of the emit, the room. */
export interface Envelope<T = unknown> {
  type: string
  data: T
  timestamp: IsoDateTime
  /** Absent for broadcasts. */
  room?: string
  /**
   * Position in its stream (the room's, or everyone's when `room` is absent): 1, 2, 3, … per hub
   * start. The client uses it to drop repeats and to recover what it missed.
   */
  seq?: number
  /** The hub start (`HubInfo.epoch`) that numbered it: numbers of another epoch do not compare. */
  epoch?: string
  /** Events sent to one socket (`emitToSocket`): no `seq`, an `id` the client acks. */
  id?: number
}

/** A presence change in a room, sent to its other members. */
export interface PresenceEvent {
  room: string
  socketId: string
  userId: string
}

export interface PresenceUpdateEvent extends PresenceEvent {
  state: Record<string, unknown>
}

/** A member of a room as the `join:room` ack lists it. */
export interface RoomMember {
  socketId: string
  userId: string
  state?: Record<string, unknown>
}

export interface WireError {
  code: string
  message: string
}

export type RoomAck =
  | { ok: true; room: string; members?: RoomMember[]; seq?: number; epoch?: string }
  | { ok: false; error: WireError }

/** `recover`: "in `epoch` I saw each stream up to `seq`; send what followed". `"*"` is everyone's stream. */
export interface RecoverRequest {
  epoch: string
  streams: Record<string, number>
  /** A gap seen on a live connection (not a reconnect). */
  gap?: boolean
}

/** The hub's answer: per stream, what followed (in order) when its history still holds all of it. */
export type RecoverAck =
  | {
      ok: true
      /** The hub's epoch now: another one than asked means nothing could be recovered. */
      epoch: string
      streams: Array<{ stream: string; recovered: boolean; seq: number; events: Envelope[] }>
    }
  | { ok: false; error: WireError }

/** Told to listeners of `resync` when events were missed for good: refetch the state they carried. */
export interface ResyncEvent {
  /** The streams with a hole: `"*"` (broadcasts) or room names. */
  streams: string[]
  /** `epoch`: the hub restarted (its history went with it); `history`: it no longer held the gap. */
  reason: 'epoch' | 'history'
}

/**
 * The compact `batch` argument (hub option `batch.format: 'compact'`, the default): the events of
 * one batch as a table. Item i is the envelope `{ type: types[item[0]], data, timestamp:
 * timestamp + item[1] ms, room?, seq: seqs?.[i] ?? seq + i, epoch }`, where `data` is an object
 * with the keys `shapes[item[2]]` and the values `item[3..]`, or, when `item[2]` is `-1`, `item[3]`
 * itself. `unpackBatch` does this.
 */
export interface CompactBatch {
  epoch: string
  /** The first item's `seq`. */
  seq: number
  /** The first item's timestamp; items carry their offset from it in ms. */
  timestamp: IsoDateTime
  /** Absent for broadcasts. */
  room?: string
  /** The distinct event types of the batch. */
  types: string[]
  /** The distinct key lists of its object payloads. */
  shapes: string[][]
  /** `[typeIdx, ms, shapeIdx, ...values]`, or `[typeIdx, ms, -1, data]`. */
  items: unknown[][]
  /** Each item's `seq`, present only when they do not run `seq, seq + 1, ...`. */
  seqs?: number[]
}

/** What a `batch` packet carries: envelopes (`batch.format: 'envelopes'`) or a `CompactBatch`. */
export type BatchPacket = Envelope[] | CompactBatch

/** Events the hub sends (socket.io-client `Socket<ServerToClientEvents, ...>`). */
export interface ServerToClientEvents {
  'service:status': (envelope: Envelope<ServiceStatusEvent>) => void
  'build:progress': (envelope: Envelope<BuildProgressEvent>) => void
  'deploy:progress': (envelope: Envelope<DeployProgressEvent>) => void
  'logs:stream': (envelope: Envelope<LogStreamEvent>) => void
  'docker:stats': (envelope: Envelope<DockerStatsEvent>) => void
  'db:query:result': (envelope: Envelope<DbQueryResultEvent>) => void
  /** Several events of one stream in one packet: pass the argument to `unpackBatch`. */
  batch: (batch: BatchPacket) => void
  'presence:join': (event: PresenceEvent) => void
  'presence:leave': (event: PresenceEvent) => void
  'presence:update': (event: PresenceUpdateEvent) => void
  pong: (event: { timestamp: IsoDateTime }) => void
  error: (error: WireError) => void
}

/** Events a client sends. */
export interface ClientToServerEvents {
  'join:room': (request: { roomId: string }, ack?: (ack: RoomAck) => void) => void
  'leave:room': (request: { roomId: string }, ack?: (ack: RoomAck) => void) => void
  heartbeat: (ack?: (ack: { timestamp: IsoDateTime }) => void) => void
  recover: (request: RecoverRequest, ack?: (ack: RecoverAck) => void) => void
  'presence:set': (
    request: { state: Record<string, unknown> },
    ack?: (ack: { ok: true } | { ok: false; error: WireError }) => void,
  ) => void
}

/** How often the client sends `heartbeat` (ms); the hub's Engine.IO ping interval too. */
export const HEARTBEAT_INTERVAL = 30_000

/** Reconnect delays (ms): attempt n waits `RECONNECT_DELAYS[min(n - 1, 4)]`. */
export const RECONNECT_DELAYS: readonly number[] = Object.freeze([1000, 2000, 4000, 8000, 16000])

/** The hub's default batching (SPEC §6). */
export const DEFAULT_BATCH_CONFIG: Readonly<{
  maxSize: number
  maxWaitMs: number
  events: readonly EventType[]
  format: 'compact' | 'envelopes'
}> = Object.freeze({
  maxSize: 10,
  maxWaitMs: 100,
  events: Object.freeze([EventType.LOGS_STREAM, EventType.DOCKER_STATS] as EventType[]),
  format: 'compact' as const,
})

/** Room names: 1-128 characters of `[A-Za-z0-9_.:-]`. */
export const ROOM_NAME = /^[A-Za-z0-9_.:-]{1,128}$/

export function isValidRoomName(room: unknown): room is string {
  return typeof room === 'string' && ROOM_NAME.test(room)
}

// ---------------------------------------------------------------------------------------------
// Type guards: they check types and enum values, as the hub's validation does.

type Obj = Record<string, unknown>

const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)
const isString = (v: unknown): v is string => typeof v === 'string'
const isNonEmpty = (v: unknown): v is string => typeof v === 'string' && v.length > 0
const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)
const isNonNegative = (v: unknown): v is number => isFiniteNumber(v) && v >= 0
const isCount = (v: unknown): v is number => isNonNegative(v) && Number.isInteger(v)
const isPercent = (v: unknown): v is number => isFiniteNumber(v) && v >= 0 && v <= 100
const oneOf =
  <T extends string>(...values: T[]) =>
  (v: unknown): v is T =>
    typeof v === 'string' && (values as string[]).includes(v)
const optional =
  <T>(guard: (v: unknown) => v is T) =>
  (v: unknown): v is T | undefined =>
    v === undefined || guard(v)
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString)

const ISO_DATETIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:[Zz]|[+-]\d{2}:\d{2})?$/

/** An ISO-8601 date-time as the hub accepts it. */
export function isIsoDateTime(v: unknown): v is IsoDateTime {
  if (typeof v !== 'string') return false
  const m = ISO_DATETIME.exec(v)
  if (!m) return false
  const [year, month, day, hour, minute, second] = m.slice(1).map((x) => (x === undefined ? 0 : Number(x)))
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate()
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth && hour <= 23 && minute <= 59 && second <= 60
}

const isServiceState = oneOf<ServiceState>('running', 'stopped', 'starting', 'stopping', 'unhealthy')
const isHealthState = oneOf<HealthState>('healthy', 'unhealthy', 'pending')
const isProgressState = oneOf<ProgressState>('pending', 'in-progress', 'complete', 'failed')
const isEnvironment = oneOf<Environment>('local', 'staging', 'production')

export function isServiceStatusEvent(v: unknown): v is ServiceStatusEvent {
  if (!isObject(v)) return false
  const { health, resources } = v
  return (
    isNonEmpty(v.service) &&
    isServiceState(v.status) &&
    isIsoDateTime(v.timestamp) &&
    optional(isString)(v.containerId) &&
    (health === undefined ||
      (isObject(health) && isHealthState(health.status) && optional(isIsoDateTime)(health.lastCheck))) &&
    (resources === undefined ||
      (isObject(resources) && optional(isNonNegative)(resources.cpu) && optional(isNonNegative)(resources.memory)))
  )
}

export function isBuildProgressEvent(v: unknown): v is BuildProgressEvent {
  if (!isObject(v)) return false
  const steps =
    v.totalSteps === undefined || v.currentStep === undefined || (v.currentStep as number) <= (v.totalSteps as number)
  return (
    isNonEmpty(v.step) &&
    isPercent(v.progress) &&
    isProgressState(v.status) &&
    optional(isString)(v.message) &&
    isIsoDateTime(v.timestamp) &&
    optional(isCount)(v.totalSteps) &&
    optional(isCount)(v.currentStep) &&
    steps &&
    optional(isStringArray)(v.logs)
  )
}

export function isDeployProgressEvent(v: unknown): v is DeployProgressEvent {
  return (
    isObject(v) &&
    isNonEmpty(v.stage) &&
    isEnvironment(v.environment) &&
    isProgressState(v.status) &&
    isStringArray(v.logs) &&
    isIsoDateTime(v.timestamp) &&
    optional(isPercent)(v.progress) &&
    optional(isString)(v.error)
  )
}

export function isLogStreamEvent(v: unknown): v is LogStreamEvent {
  return (
    isObject(v) &&
    isNonEmpty(v.service) &&
    isString(v.line) &&
    isIsoDateTime(v.timestamp) &&
    optional(oneOf<LogLevel>('info', 'warn', 'error', 'debug'))(v.level) &&
    optional(oneOf<LogSource>('stdout', 'stderr'))(v.source)
  )
}

export function isDockerStatsEvent(v: unknown): v is DockerStatsEvent {
  if (!isObject(v) || !isObject(v.stats)) return false
  const s = v.stats
  return (
    isNonEmpty(v.containerId) &&
    isString(v.containerName) &&
    isIsoDateTime(v.timestamp) &&
    isNonNegative(s.cpu) &&
    isNonNegative(s.memory) &&
    isNonNegative(s.memoryLimit) &&
    isNonNegative(s.memoryPercent) &&
    isObject(s.network) &&
    isNonNegative(s.network.rx) &&
    isNonNegative(s.network.tx) &&
    isObject(s.blockIO) &&
    isNonNegative(s.blockIO.read) &&
    isNonNegative(s.blockIO.write)
  )
}

export function isDbQueryResultEvent(v: unknown): v is DbQueryResultEvent {
  return (
    isObject(v) &&
    isNonEmpty(v.queryId) &&
    Array.isArray(v.rows) &&
    isCount(v.rowCount) &&
    Array.isArray(v.fields) &&
    v.fields.every((f) => isObject(f) && isString(f.name) && isCount(f.dataTypeID)) &&
    optional(isNonNegative)(v.executionTime) &&
    isIsoDateTime(v.timestamp) &&
    optional(isString)(v.error)
  )
}

/** The guard of each event type. */
export const eventGuards: { [K in EventType]: (v: unknown) => v is EventPayloads[K] } = {
  'service:status': isServiceStatusEvent,
  'build:progress': isBuildProgressEvent,
  'deploy:progress': isDeployProgressEvent,
  'logs:stream': isLogStreamEvent,
  'docker:stats': isDockerStatsEvent,
  'db:query:result': isDbQueryResultEvent,
}

/** An envelope as the hub sends it. */
export function isEnvelope(v: unknown): v is Envelope {
  return isObject(v) && isString(v.type) && 'data' in v && isString(v.timestamp) && optional(isString)(v.room)
}

/**
 * The envelopes of a `batch` packet's argument, in order, from either form (an array of
 * envelopes, or a `CompactBatch`): exactly the envelopes the hub would have sent one by one.
 * Throws an `Error` saying what is wrong when `arg` is neither.
 */
export function unpackBatch(arg: unknown): Envelope[] {
  const bad = (what: string): Error => new Error(`nself-realtime: malformed batch: ${what}`)
  if (Array.isArray(arg)) {
    arg.forEach((e, i) => {
      if (!isEnvelope(e)) throw bad(`[${i}]: expected an envelope { type, data, timestamp, room? }`)
    })
    return arg.slice() as Envelope[]
  }
  if (!isObject(arg)) throw bad('expected an array of envelopes or a compact batch object')
  const { epoch, seq, timestamp, room, types, shapes, items, seqs } = arg
  if (!isString(epoch)) throw bad('epoch: expected a string')
  if (!isSeq(seq)) throw bad('seq: expected an integer >= 0')
  const t0 = isString(timestamp) ? Date.parse(timestamp) : Number.NaN
  if (!isString(timestamp) || !Number.isFinite(t0)) throw bad('timestamp: expected an ISO date-time')
  if (room !== undefined && !isString(room)) throw bad('room: expected a string')
  if (!isStringArray(types)) throw bad('types: expected an array of strings')
  if (!Array.isArray(shapes) || !shapes.every(isStringArray)) throw bad('shapes: expected an array of arrays of strings')
  if (!Array.isArray(items)) throw bad('items: expected an array')
  if (seqs !== undefined && !(Array.isArray(seqs) && seqs.length === items.length && seqs.every(isSeq))) {
    throw bad('seqs: expected one integer >= 0 per item')
  }
  return items.map((item: unknown, i): Envelope => {
    if (!Array.isArray(item)) throw bad(`items[${i}]: expected an array`)
    const [k, ms, s] = item as unknown[]
    if (!isIndex(k, types.length)) throw bad(`items[${i}][0]: expected an index into types`)
    if (!Number.isInteger(ms) || !(Math.abs(t0 + (ms as number)) <= 8.64e15)) {
      throw bad(`items[${i}][1]: expected an offset in ms`)
    }
    let data: unknown
    if (s === -1) {
      if (item.length !== 4) throw bad(`items[${i}]: expected [typeIdx, ms, -1, data]`)
      data = item[3]
    } else if (isIndex(s, shapes.length)) {
      const keys = shapes[s] as string[]
      if (item.length !== 3 + keys.length) throw bad(`items[${i}]: expected ${keys.length} values for shapes[${s}]`)
      const obj: Record<string, unknown> = {}
      keys.forEach((key, j) => {
        // As JSON.parse does: an own property, even for "__proto__".
        Object.defineProperty(obj, key, { value: item[3 + j], enumerable: true, writable: true, configurable: true })
      })
      data = obj
    } else {
      throw bad(`items[${i}][2]: expected -1 or an index into shapes`)
    }
    const envelope: Envelope = {
      type: types[k as number] as string,
      data,
      timestamp: ms === 0 ? timestamp : new Date(t0 + (ms as number)).toISOString(),
    }
    if (room !== undefined) envelope.room = room
    envelope.seq = seqs ? (seqs[i] as number) : seq + i
    envelope.epoch = epoch
    return envelope
  })
}

const isSeq = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0
const isIndex = (v: unknown, length: number): v is number => Number.isInteger(v) && (v as number) >= 0 && (v as number) < length
