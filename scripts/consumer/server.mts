// ESM server code: the native hub API from `nself-realtime`, payload types from both entry points.
import {
  createToken,
  emitServiceStatus,
  getStats,
  startHub,
  stopHub,
  type AuthHandshake,
  type AuthResult,
  type HubInfo,
  type HubStats,
} from 'nself-realtime'
import type { ServiceStatusEvent as RootServiceStatus } from 'nself-realtime'
import { EventType, isServiceStatusEvent, type ServiceStatusEvent } from 'nself-realtime/events'

const info: HubInfo = await startHub({ port: 0, batch: { maxWaitMs: 50 }, transports: ['websocket'] })
const port: number = info.port

const event: ServiceStatusEvent = { service: 'postgres', status: 'running', timestamp: new Date().toISOString() }
// One source of truth: the root's payload type is the events entry's.
const same: RootServiceStatus = event
emitServiceStatus(same, 'services')
emitServiceStatus({ ...event, health: { status: 'healthy' }, extraField: 1 })

// @ts-expect-error: 'exploded' is not a service status
emitServiceStatus({ service: 'postgres', status: 'exploded', timestamp: '2024-01-01T00:00:00Z' })
// @ts-expect-error: timestamp is required
emitServiceStatus({ service: 'postgres', status: 'running' })
// @ts-expect-error: not a port
await startHub({ port: 'eighty' })

const stats: HubStats = getStats()
const connections: number = stats.connections
// @ts-expect-error: stats fields are typed, not any
const wrong: string = stats.connections

const type: 'service:status' = EventType.SERVICE_STATUS
const candidate: unknown = JSON.parse('{}')
if (isServiceStatusEvent(candidate)) {
  const status: 'running' | 'stopped' | 'starting' | 'stopping' | 'unhealthy' = candidate.status
  void status
}
// Security options: functions typed, no `any`.
await startHub({
  secret: ['x'.repeat(32), 'y'.repeat(32)],
  allowedOrigins: ['https://admin.example.com'],
  rateLimit: { packetsPerSecond: 30, burst: 60, maxConnectionsPerIp: 100 },
  trustProxy: true,
  authenticate: async (handshake: AuthHandshake): Promise<AuthResult> => {
    const session: string | undefined = handshake.cookies['session']
    return session ? { userId: session, rooms: ['project-*'] } : null
  },
  authorizeRoom: (userId: string, room: string) => room.startsWith(`user-${userId}`),
})
await startHub({ rateLimit: false, allowedOrigins: '*' })
// @ts-expect-error: authenticate must return an identity or null
await startHub({ authenticate: () => 'alice' })
// @ts-expect-error: origins are a list or '*'
await startHub({ allowedOrigins: 'https://admin.example.com' })
const token: string = createToken({ userId: 'u', rooms: ['project-*'], expiresIn: '15m' })
// @ts-expect-error: expiresIn is required
createToken({ userId: 'u' })
const forbidden: number = stats.joinsForbidden

await stopHub({ timeoutMs: 1000 })
void [port, connections, wrong, type, token, forbidden]
