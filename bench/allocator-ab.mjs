// A/B of two builds of the addon in one process, rounds interleaved: the JS-thread cost of
// emitServiceStatus with each. Usage: node bench/allocator-ab.mjs A.node B.node
// (bench/emit-cost.mjs measures the emit paths of one build; this compares builds.)
import { createRequire } from 'node:module'
import os from 'node:os'

const [aPath, bPath] = process.argv.slice(2)
if (!aPath || !bPath) {
  console.error('usage: node bench/allocator-ab.mjs A.node B.node')
  process.exit(2)
}
const load = (path) => {
  const module = { exports: {} }
  process.dlopen(module, path)
  return module.exports
}
const builds = [
  { name: aPath, hub: load(aPath) },
  { name: bPath, hub: load(bPath) },
]
for (const b of builds) await b.hub.startHub({ port: 0, unref: true })

const event = {
  service: 'postgres', status: 'running', timestamp: new Date().toISOString(), containerId: 'abc123def456',
  health: { status: 'healthy', lastCheck: new Date().toISOString() }, resources: { cpu: 12.5, memory: 268435456 }, region: 'eu',
}
const CALLS = Number(process.env.CALLS ?? 100000)
const ROUNDS = Number(process.env.ROUNDS ?? 9)
const drained = async (hub) => {
  while (hub.getStats().eventsQueued > 0) await new Promise((r) => setTimeout(r, 5))
}
const samples = builds.map(() => [])
for (let i = 0; i < 20000; i++) for (const b of builds) b.hub.emitServiceStatus(event)
for (let round = 0; round < ROUNDS; round++) {
  for (let k = 0; k < builds.length; k++) {
    const b = builds[(round + k) % builds.length]
    await drained(b.hub)
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < CALLS; i++) b.hub.emitServiceStatus(event)
    samples[builds.indexOf(b)].push(Number(process.hrtime.bigint() - t0) / CALLS)
  }
}
const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]
console.log(`${os.cpus()[0].model}, ${os.cpus().length} CPUs, node ${process.version}; ${ROUNDS} rounds x ${CALLS} calls, interleaved`)
console.log('| build | median ns/call | min ns/call | median / first |')
console.log('|---|---:|---:|---:|')
const base = median(samples[0])
builds.forEach((b, i) => {
  console.log(`| ${b.name} | ${median(samples[i]).toFixed(0)} | ${Math.min(...samples[i]).toFixed(0)} | ${(median(samples[i]) / base).toFixed(2)} |`)
})
for (const b of builds) await b.hub.stopHub()
