// Browser code (ESM): the client and the event types.
import { WebSocketClient, getWebSocketClient, type ConnectionStatus } from 'nself-realtime/client'
import { unpackBatch, type BatchPacket, type CompactBatch, type Envelope, type LogStreamEvent } from 'nself-realtime/events'

const client = new WebSocketClient('http://localhost:3022', { reconnectDelays: [100, 200] })
const off: () => void = client.on<LogStreamEvent>('logs:stream', (data, envelope) => {
  const line: string = data.line
  const env: Envelope<LogStreamEvent> = envelope
  // @ts-expect-error: data is typed, not any
  const wrong: number = data.line
  void [line, env, wrong]
})
const stop: () => void = client.onStatusChange((s: ConnectionStatus) => {
  const connected: boolean = s.connected
  const attempts: number = s.reconnectAttempts
  void [connected, attempts]
})
client.connect()
const joined: Promise<void> = client.joinRoom('services')
client.emit('custom:event', { a: 1 })
const connected: boolean = client.isConnected()
const status: ConnectionStatus = client.getStatus()
client.disconnect()
off()
stop()
const page: WebSocketClient = getWebSocketClient()
void [joined, connected, status, page]

// A `batch` packet's argument, either form, to its envelopes.
const compact: CompactBatch = { epoch: 'e', seq: 1, timestamp: '2026-01-01T00:00:00.000Z', types: ['x'], shapes: [['a']], items: [[0, 0, 0, 1]] }
const packets: BatchPacket[] = [compact, [{ type: 'x', data: 1, timestamp: '2026-01-01T00:00:00.000Z' }]]
const unpacked: Envelope[][] = packets.map((p) => unpackBatch(p))
void unpacked
