// A process that runs no hub and only emits through createEmitter (cluster tests): options and
// a plan in argv[2] as JSON ({ options, room, from, n }); it tries bad calls, emits the plan,
// closes the emitter, reports over IPC and then exits by itself (the emitter must not keep it
// alive).
import { createRequire } from 'node:module'

const { createEmitter, hubInfo } = createRequire(import.meta.url)('../index.js')
const { options, room, from, n } = JSON.parse(process.argv[2])
const now = () => new Date().toISOString()
const code = (f) => {
  try {
    f()
    return null
  } catch (e) {
    return e.code
  }
}

const emitter = createEmitter(options)
const refused = {
  badPayload: code(() =>
    emitter.emitBuildProgress({ step: 'x', progress: 150, status: 'in-progress', timestamp: now() }, room),
  ),
  reservedName: code(() => emitter.emit('connect', {}, room)),
  badRoom: code(() => emitter.emit('test:room', {}, 'no spaces')),
}
for (let i = from; i < from + n; i++) emitter.emit('test:room', { i }, room)
for (let i = 0; i < 3; i++) emitter.emitLogStream({ service: 'api', line: `line ${i}`, timestamp: now() }, room)
emitter.emitServiceStatus({ service: 'api', status: 'running', timestamp: now() })
await emitter.close()
refused.afterClose = code(() => emitter.emit('test:room', {}, room))
process.send({ refused, stats: emitter.stats(), hub: hubInfo() }, () => process.disconnect())
