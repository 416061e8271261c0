// Peer (c) of the side-by-side benchmark: nself-realtime, the built addon in this Node process,
// driven through its public emitters exactly as an app would call them. Batching is the hub's
// own (`--batch off` starts it with `batch: { events: [] }`). See common.mjs for the control
// channel. Usage: node bench/peers/realtime-peer.mjs [--batch on|off]
import { createRequire } from 'node:module'
import { costStatus, emitCost, reply, runScenario, serveControl, stats } from './common.mjs'

// NSELF_REALTIME_ADDON=/path/to/build.node loads another build (e.g. one with symbols, to profile).
const hub = process.env.NSELF_REALTIME_ADDON
  ? (() => {
      const module = { exports: {} }
      process.dlopen(module, process.env.NSELF_REALTIME_ADDON)
      return module.exports
    })()
  : createRequire(import.meta.url)('../../index.js')
const batchOn = !process.argv.includes('off')

const emitters = {
  'service:status': hub.emitServiceStatus,
  'build:progress': hub.emitBuildProgress,
  'logs:stream': hub.emitLogStream,
  'docker:stats': hub.emitDockerStats,
}
const emit = (kind, data, room) => (emitters[kind] ?? ((d, r) => hub.emit(kind, d, r)))(data, room)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** Until the dispatcher queue and every pending batch are empty (max 10 s). */
async function drained() {
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    const s = hub.getStats()
    if (s.eventsQueued === 0 && s.eventsInBatches === 0) return
    await sleep(2)
  }
}

const info = await hub.startHub({
  host: '127.0.0.1',
  port: 0,
  // BENCH_BATCH_FORMAT=envelopes: the classic batch packet (an array of envelopes), to tell
  // the hub's batching apart from the cost of the compact form in the load generator.
  ...(batchOn
    ? process.env.BENCH_BATCH_FORMAT ? { batch: { format: process.env.BENCH_BATCH_FORMAT } } : {}
    : { batch: { events: [] } }),
  // The load generator is one address playing thousands of users: the per-address connection
  // limits (meant for the internet) stay out of the measurement.
  rateLimit: { connectionsPerSecondPerIp: 0, maxConnectionsPerIp: 0 },
})
reply('LISTEN', { port: info.port, path: info.path, pid: process.pid, batch: batchOn })

serveControl({
  async run(cmd) {
    const before = hub.getStats()
    const report = await runScenario(cmd, emit, { afterEmit: drained, peer: 'nself-realtime' })
    const after = hub.getStats()
    report.hub = {
      eventsEmitted: after.eventsEmitted - before.eventsEmitted,
      packetsSent: after.packetsSent - before.packetsSent,
      batchesSent: after.batchesSent - before.batchesSent,
      eventsDropped: after.eventsDropped - before.eventsDropped,
      connections: after.connections,
    }
    reply('DONE', report)
  },
  async emitcost(cmd) {
    const room = cmd.room ?? 'bench'
    const r = await emitCost(cmd, () => hub.emitServiceStatus(costStatus, room), async () => {
      await drained()
      await sleep(cmd.settle_ms ?? 200)
    })
    reply('COST', { peer: 'nself-realtime', call: 'emitServiceStatus(obj, room)', ...r, dropped: hub.getStats().eventsDropped })
  },
  async stats() {
    reply('STATS', { ...stats(), connections: hub.getStats().connections })
  },
  async quit() {
    await hub.stopHub({ timeoutMs: 1000 })
    process.exit(0)
  },
})
