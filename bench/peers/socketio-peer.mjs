// Peer (a) of the side-by-side benchmark: Node socket.io 4.8 in the emitting process, as the
// original nself-admin server had it: rooms, `join:room` with an ack, `presence:join` to the
// other members, `heartbeat` -> `pong`, and event batching written in JS (per room, 10 events or
// 100 ms; an unbatched emit flushes the room's batch first, so per-room order holds). The
// envelope `{ type, data, timestamp, room }` is the hub's. See common.mjs for the control channel.
// Usage: node bench/peers/socketio-peer.mjs [--batch on|off]
import http from 'node:http'
import { Server } from 'socket.io'
import { BATCHED, BATCH_MAX, BATCH_WAIT_MS, costStatus, emitCost, reply, runScenario, serveControl, stats } from './common.mjs'

let batchOn = !process.argv.includes('off')
const httpServer = http.createServer()
const io = new Server(httpServer, {
  path: '/api/ws',
  serveClient: false,
  pingInterval: 30_000,
  pingTimeout: 10_000,
  maxHttpBufferSize: 65_536,
  transports: ['websocket', 'polling'],
})

const presence = new Map() // socket id -> { userId, rooms, lastSeen }
io.on('connection', (socket) => {
  presence.set(socket.id, { userId: 'anonymous', rooms: new Set(), connectedAt: Date.now(), lastSeen: Date.now() })
  const seen = () => {
    const p = presence.get(socket.id)
    if (p) p.lastSeen = Date.now()
  }
  socket.on('join:room', (req, ack) => {
    seen()
    const room = req?.roomId ?? req?.data?.roomId
    if (typeof room !== 'string' || !/^[A-Za-z0-9_.:-]{1,128}$/.test(room)) {
      if (typeof ack === 'function') ack({ ok: false, error: { code: 'INVALID_ROOM', message: 'bad room' } })
      return
    }
    socket.join(room)
    presence.get(socket.id)?.rooms.add(room)
    if (typeof ack === 'function') ack({ ok: true, room })
    socket.to(room).emit('presence:join', { room, socketId: socket.id, userId: 'anonymous' })
  })
  socket.on('heartbeat', (ack) => {
    seen()
    const body = { timestamp: new Date().toISOString() }
    socket.emit('pong', body)
    if (typeof ack === 'function') ack(body)
  })
  socket.on('disconnect', () => {
    const p = presence.get(socket.id)
    presence.delete(socket.id)
    for (const room of p?.rooms ?? []) io.to(room).emit('presence:leave', { room, socketId: socket.id, userId: 'anonymous' })
  })
})

// Batching, as nself-admin's server.ts did it: a queue and a timer per target.
const pending = new Map() // room -> { envelopes, timer }
let framesEmitted = 0
function flush(room) {
  const p = pending.get(room)
  if (!p || p.envelopes.length === 0) return
  clearTimeout(p.timer)
  const envelopes = p.envelopes
  pending.delete(room)
  framesEmitted++
  io.to(room).emit('batch', envelopes)
}
function emit(type, data, room) {
  const envelope = { type, data, timestamp: new Date().toISOString(), room }
  if (batchOn && BATCHED.has(type)) {
    let p = pending.get(room)
    if (!p) {
      p = { envelopes: [], timer: setTimeout(() => flush(room), BATCH_WAIT_MS) }
      pending.set(room, p)
    }
    p.envelopes.push(envelope)
    if (p.envelopes.length >= BATCH_MAX) flush(room)
  } else {
    flush(room)
    framesEmitted++
    io.to(room).emit(type, envelope)
  }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
async function drained() {
  while (pending.size > 0) await sleep(2)
}

await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve))
reply('LISTEN', { port: httpServer.address().port, path: '/api/ws', pid: process.pid, batch: batchOn })

serveControl({
  async run(cmd) {
    if (typeof cmd.batch === 'boolean') batchOn = cmd.batch
    const f0 = framesEmitted
    const report = await runScenario(cmd, emit, { afterEmit: drained, peer: 'socket.io' })
    report.frames_emitted = framesEmitted - f0
    reply('DONE', report)
  },
  async emitcost(cmd) {
    const room = cmd.room ?? 'bench'
    const r = await emitCost(cmd, () => emit('service:status', costStatus, room), async () => {
      await drained()
      await sleep(cmd.settle_ms ?? 200)
    })
    reply('COST', { peer: 'socket.io', call: 'io.to(room).emit(type, envelope)', ...r })
  },
  async stats() {
    reply('STATS', { ...stats(), connections: io.engine.clientsCount })
  },
  async quit() {
    io.close()
    process.exit(0)
  },
})
