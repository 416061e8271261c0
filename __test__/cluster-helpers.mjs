// Helpers of the cluster tests: a real redis-server on a free port (never the system one),
// and hubs in child processes (cluster-hub.mjs) driven over IPC.
import { fork, spawn } from 'node:child_process'
import net from 'node:net'
import { fileURLToPath } from 'node:url'

import { waitFor } from './helpers.mjs'

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

function ping(port) {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1')
    let buf = ''
    c.on('connect', () => c.write('PING\r\n'))
    c.on('data', (d) => {
      buf += d
      if (buf.includes('PONG')) {
        c.destroy()
        resolve(true)
      }
    })
    c.on('error', () => resolve(false))
    setTimeout(() => {
      c.destroy()
      resolve(false)
    }, 500)
  })
}

/** A redis-server of this test file; `stop()` / `start()` to take it away and back (same port). */
export async function redisServer(port) {
  port ??= await freePort()
  const r = {
    port,
    url: `redis://127.0.0.1:${port}`,
    proc: null,
    async start() {
      this.proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
        stdio: 'ignore',
      })
      await waitFor(() => ping(port), 10_000, `redis-server on ${port}`)
    },
    async stop() {
      const p = this.proc
      if (!p || p.exitCode !== null) return
      const exited = new Promise((res) => p.once('exit', res))
      p.kill('SIGKILL')
      await exited
    },
  }
  await r.start()
  return r
}

const HUB_SCRIPT = fileURLToPath(new URL('./cluster-hub.mjs', import.meta.url))

/** A hub in a child process. `call(cmd, ...args)` resolves to what the command returned. */
export async function childHub(options) {
  const proc = fork(HUB_SCRIPT, [JSON.stringify(options)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  let next = 1
  const pending = new Map()
  const info = await new Promise((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`hub process exited with ${code}`)))
    proc.on('message', (m) => {
      if (m.ready) return resolve(m.ready)
      const p = pending.get(m.id)
      if (!p) return
      pending.delete(m.id)
      if (m.ok) p.resolve(m.value)
      else p.reject(Object.assign(new Error(m.error.message), { code: m.error.code }))
    })
  })
  return {
    info,
    proc,
    call(cmd, ...args) {
      const id = next++
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject })
        proc.send({ id, cmd, args })
      })
    },
    kill(signal = 'SIGKILL') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal)
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return
      const exited = new Promise((res) => proc.once('exit', res))
      this.call('stop').catch(() => {})
      await Promise.race([exited, new Promise((r) => setTimeout(r, 4000))])
      this.kill()
    },
  }
}

/**
 * A TCP forwarder standing in for a load balancer: clients connect to `port`; `target(port)`
 * sends new connections elsewhere and cuts the open ones (their clients reconnect).
 */
export async function balancer(firstTarget) {
  let target = firstTarget
  const open = new Set()
  const server = net.createServer((inbound) => {
    const outbound = net.connect(target, '127.0.0.1')
    open.add(inbound)
    open.add(outbound)
    inbound.pipe(outbound).pipe(inbound)
    const end = () => {
      inbound.destroy()
      outbound.destroy()
      open.delete(inbound)
      open.delete(outbound)
    }
    inbound.on('error', end).on('close', end)
    outbound.on('error', end).on('close', end)
  })
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  return {
    port: server.address().port,
    target(port) {
      target = port
      for (const s of open) s.destroy()
    },
    close() {
      for (const s of open) s.destroy()
      server.close()
    },
  }
}
