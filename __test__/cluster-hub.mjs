// A hub in its own process for the cluster tests: started with the options given as JSON in
// argv[2], then driven over IPC. Messages in: { id, cmd, args }; out: { id, ok, value | error },
// and { ready: hubInfo } once started. Commands: emit(event, data, room?), stats, presence,
// roomMembers(room), stop.
import { createRequire } from 'node:module'
import { performance } from 'node:perf_hooks'

const hub = createRequire(import.meta.url)('../index.js')
const options = JSON.parse(process.argv[2] ?? '{}')

const commands = {
  emit: (event, data, room) => hub.emit(event, data, room),
  emitMany: (event, from, n, room) => {
    for (let i = from; i < from + n; i++) hub.emit(event, { i }, room)
  },
  // bench/cluster.mjs: `n` events at `perSecond`, each stamped with the wall clock (ms, sub-ms
  // precision) at the moment of the emit call.
  emitTimed: async (event, n, perSecond, room) => {
    const gap = 1000 / perSecond
    const start = performance.now()
    for (let i = 0; i < n; i++) {
      const wait = start + i * gap - performance.now()
      if (wait > 0) await new Promise((r) => setTimeout(r, wait))
      hub.emit(event, { i, t: performance.timeOrigin + performance.now() }, room)
    }
  },
  stats: () => hub.getStats(),
  presence: () => hub.getPresence(),
  roomMembers: (room) => hub.getRoomMembers(room),
  stop: async () => {
    await hub.stopHub({ timeoutMs: 2000 })
    setImmediate(() => process.exit(0))
  },
}

process.on('message', async ({ id, cmd, args = [] }) => {
  try {
    const value = await commands[cmd](...args)
    process.send({ id, ok: true, value })
  } catch (e) {
    process.send({ id, ok: false, error: { message: e.message, code: e.code } })
  }
})
process.on('disconnect', () => process.exit(0))

const info = await hub.startHub({ port: 0, ...options })
process.send({ ready: info })
