// CommonJS server code: the same API through `require` conditions.
import hub = require('nself-realtime')
import events = require('nself-realtime/events')

async function main(): Promise<void> {
  const info = await hub.startHub({ port: 0 })
  const event: events.BuildProgressEvent = {
    step: 'compile',
    progress: 50,
    status: 'in-progress',
    timestamp: new Date().toISOString(),
  }
  hub.emitBuildProgress(event)
  // @ts-expect-error: progress is a number
  hub.emitBuildProgress({ ...event, progress: 'half' })
  const total: number = hub.getStats().eventsEmitted
  const guard: (v: unknown) => v is events.BuildProgressEvent = events.isBuildProgressEvent
  await hub.stopHub()
  void [info.port, total, guard]
}
void main
