// One peer of the jitter benchmark (bench/jitter.mjs), in its own process: emits `tick`
// { n, t } to the room `jitter` 50 times a second from "go" until "stop" on stdin, then prints
// { emitted } as JSON and exits.
//   node bench/jitter-server.mjs <nself|nself-off|socketio|socketio-csr> <port> [ratePerSecond]
import { createRequire } from 'node:module'

const [peer, portArg, rateArg] = process.argv.slice(2)
const port = Number(portArg)
const rate = Number(rateArg ?? 50)
const require = createRequire(import.meta.url)
let emit
let stop

if (peer === 'nself' || peer === 'nself-off') {
  const hub = require('../index.js')
  await hub.startHub({
    port,
    // One address plays every client here: the per-address limits are for the internet.
    rateLimit: { connectionsPerSecondPerIp: 0, maxConnectionsPerIp: 0 },
    ...(peer === 'nself-off' ? { history: false } : {}),
  })
  emit = (data) => hub.emit('tick', data, 'jitter')
  stop = () => hub.stopHub({ timeoutMs: 1000 })
} else if (peer === 'socketio' || peer === 'socketio-csr') {
  const { Server } = require('socket.io')
  const io = new Server(port, {
    path: '/api/ws',
    transports: ['websocket', 'polling'],
    ...(peer === 'socketio-csr'
      ? { connectionStateRecovery: { maxDisconnectionDuration: 120_000, skipMiddlewares: true } }
      : {}),
  })
  io.on('connection', (socket) => {
    // A recovered socket is back in its rooms; a new one joins (as a join:room would).
    if (!socket.recovered) socket.join('jitter')
  })
  emit = (data) => io.to('jitter').emit('tick', data)
  stop = () => new Promise((resolve) => io.close(() => resolve()))
} else {
  console.error(`unknown peer ${peer}`)
  process.exit(2)
}

let n = 0
let timer
process.stdout.write('ready\n')
process.stdin.setEncoding('utf8')
process.stdin.on('data', async (d) => {
  // "go": every client is connected and in the room; the stream starts.
  if (d.includes('go')) {
    timer = setInterval(() => {
      n += 1
      emit({ n, t: Date.now() })
    }, 1000 / rate)
  }
  if (!d.includes('stop')) return
  clearInterval(timer)
  // Let the last ones go out before closing.
  await new Promise((r) => setTimeout(r, 2000))
  process.stdout.write(`${JSON.stringify({ emitted: n })}\n`)
  await stop()
  process.exit(0)
})
