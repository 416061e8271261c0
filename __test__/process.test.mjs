// Process behaviour (SPEC §3): a running hub keeps Node alive like a listening net.Server (unless
// `unref`), a stopped hub keeps nothing alive, and exiting with a hub running never crashes or
// hangs. Each case runs in a child Node process.

import test from 'ava'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const ADDON = JSON.stringify(path.join(ROOT, 'index.js'))

/** Preamble of every child: the addon as `h`, socket.io-client as `io`, and `started(info)`. */
const PRELUDE = `
const h = require(${ADDON});
const { io } = require('socket.io-client');
const started = (info) => console.log('STARTED ' + JSON.stringify(info));
`

/**
 * Runs `code` in a child Node process. Returns `{ child, stdout, stderr, exit, started }`:
 * `exit` resolves to `{ code, signal, ms }` (ms since spawn), `started` to the HubInfo the child
 * printed.
 */
function run(t, code) {
  const t0 = Date.now()
  const child = spawn(process.execPath, ['-e', PRELUDE + code], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const out = { stdout: '', stderr: '' }
  child.stdout.on('data', (d) => (out.stdout += d))
  child.stderr.on('data', (d) => (out.stderr += d))
  const exit = new Promise((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, ms: Date.now() - t0 })),
  )
  const startedLine = new Promise((resolve, reject) => {
    const check = () => {
      const m = /STARTED (.*)\n/.exec(out.stdout)
      if (m) resolve(JSON.parse(m[1]))
    }
    child.stdout.on('data', check)
    exit.then(() => {
      check()
      reject(new Error(`child exited before starting: ${out.stderr}`))
    })
  })
  startedLine.catch(() => {})
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  return { child, out, exit, started: startedLine }
}

/** `exit`, or throws if the child has not exited within `ms`. */
function within(exit, ms, out) {
  return Promise.race([
    exit,
    new Promise((_, reject) =>
      setTimeout(() => reject(new Error(`child still running after ${ms} ms; stderr: ${out.stderr}`)), ms),
    ),
  ])
}

const CRASH = /panic|fatal|segmentation|abort|core dumped/i

test('a child that starts a hub and calls process.exit(0) exits with code 0 and no crash', async (t) => {
  const { exit, out, started } = run(t, `
    h.startHub({ port: 0 }).then((info) => { started(info); process.exit(0) })
  `)
  await started
  const r = await within(exit, 5000, out)
  t.is(r.signal, null)
  t.is(r.code, 0, out.stderr)
  t.notRegex(out.stderr, CRASH)
})

test('process.exit(0) with connected clients and events in flight exits with code 0 and no crash', async (t) => {
  const { exit, out, started } = run(t, `
    h.startHub({ port: 0 }).then(async (info) => {
      const sockets = [];
      for (const transports of [['websocket'], ['polling']]) {
        const s = io(info.url, { path: info.path, transports, forceNew: true, reconnection: false });
        await new Promise((r) => s.once('connect', r));
        sockets.push(s);
      }
      for (let i = 0; i < 5000; i++) h.emit('n', { i });
      for (let i = 0; i < 500; i++) h.emitLogStream({ service: 's', line: 'l', timestamp: new Date().toISOString() });
      started(info);
      process.exit(0);
    })
  `)
  await started
  const r = await within(exit, 5000, out)
  t.is(r.signal, null)
  t.is(r.code, 0, out.stderr)
  t.notRegex(out.stderr, CRASH)
})

test('a child that starts a hub and then awaits stopHub() exits on its own with code 0', async (t) => {
  const { exit, out, started } = run(t, `
    (async () => {
      const info = await h.startHub({ port: 0 });
      started(info);
      await h.stopHub();
      console.log('STOPPED');
    })()
  `)
  await started
  const r = await within(exit, 5000, out)
  t.is(r.signal, null)
  t.is(r.code, 0, out.stderr)
  t.regex(out.stdout, /STOPPED/)
  t.notRegex(out.stderr, CRASH)
})

test('after stopHub with clients that were connected, nothing keeps the child alive', async (t) => {
  const { exit, out, started } = run(t, `
    (async () => {
      const info = await h.startHub({ port: 0 });
      const sockets = [];
      for (const transports of [['websocket'], ['polling']]) {
        const s = io(info.url, { path: info.path, transports, forceNew: true, reconnection: false });
        await new Promise((r) => s.once('connect', r));
        s.emit('join:room', { roomId: 'r' });
        sockets.push(s);
      }
      for (let i = 0; i < 1000; i++) h.emit('n', { i }, 'r');
      started(info);
      const gone = sockets.map((s) => new Promise((r) => s.once('disconnect', r)));
      await h.stopHub();
      console.log('REASONS ' + JSON.stringify(await Promise.all(gone)));
    })()
  `)
  await started
  const r = await within(exit, 5000, out)
  t.is(r.signal, null)
  t.is(r.code, 0, out.stderr)
  t.regex(out.stdout, /REASONS \["transport close","transport close"\]/)
})

test('start, stop, start again, stop: the child still exits on its own', async (t) => {
  const { exit, out, started } = run(t, `
    (async () => {
      await h.startHub({ port: 0 });
      await h.stopHub();
      const info = await h.startHub({ port: 0 });
      started(info);
      await h.stopHub();
    })()
  `)
  await started
  const r = await within(exit, 5000, out)
  t.is(r.code, 0, out.stderr)
})

test('a child that starts a hub without stopping it is still alive after 1.5 s (the hub keeps it alive)', async (t) => {
  const { child, exit, out, started } = run(t, `
    h.startHub({ port: 0 }).then(started)
  `)
  const info = await started
  const early = await Promise.race([exit, new Promise((r) => setTimeout(() => r(null), 1500))])
  t.is(early, null, `child exited early: ${JSON.stringify(early)} ${out.stderr}`)
  // and the hub in it is serving
  const res = await fetch(`${info.url}${info.path}/?EIO=4&transport=polling`)
  t.is(res.status, 200)
  t.regex(await res.text(), /^0\{"sid":/)
  child.kill('SIGTERM')
  const r = await within(exit, 5000, out)
  t.is(r.signal, 'SIGTERM')
})

test('a child with unref: true that never stops the hub exits on its own with code 0', async (t) => {
  const { exit, out, started } = run(t, `
    h.startHub({ port: 0, unref: true }).then(started)
  `)
  await started
  const r = await within(exit, 5000, out)
  t.is(r.signal, null)
  t.is(r.code, 0, out.stderr)
  t.notRegex(out.stderr, CRASH)
})

test('a failed startHub (port taken) keeps nothing alive', async (t) => {
  const { exit, out, started } = run(t, `
    const net = require('node:net');
    const srv = net.createServer().listen(0, '127.0.0.1', async () => {
      try { await h.startHub({ port: srv.address().port }) } catch (e) { console.log('CODE ' + e.code) }
      srv.close();
      started({});
    });
  `)
  await started
  const r = await within(exit, 5000, out)
  t.is(r.code, 0, out.stderr)
  t.regex(out.stdout, /CODE EADDRINUSE/)
})

test('an uncaught exception with a hub running ends the child with code 1, no hang and no crash signal', async (t) => {
  const { exit, out, started } = run(t, `
    h.startHub({ port: 0 }).then((info) => { started(info); setImmediate(() => { throw new Error('boom') }) })
  `)
  await started
  const r = await within(exit, 5000, out)
  t.is(r.signal, null)
  t.is(r.code, 1)
  t.regex(out.stderr, /boom/)
  t.notRegex(out.stderr, CRASH)
})

test('stopping a hub whose clients are in rooms, with emits still queued, panics nowhere', async (t) => {
  // The disconnect handlers (presence:leave) and the dispatcher's last drain run while socketioxide
  // closes; they must not reach for namespaces that close() already removed.
  const { exit, out } = run(t, `
    (async () => {
      const info = await h.startHub({ port: 0 })
      const clients = []
      for (let i = 0; i < 4; i++) {
        const c = io(info.url, { path: info.path, transports: [i % 2 ? 'polling' : 'websocket'], reconnection: false, forceNew: true })
        await new Promise((r) => c.once('connect', r))
        await c.timeout(5000).emitWithAck('join:room', { roomId: 'r' + (i % 2) })
        clients.push(c)
      }
      for (let round = 0; round < 5; round++) {
        for (let i = 0; i < 200; i++) h.emitLogStream({ service: 's', line: 'l' + i, timestamp: new Date().toISOString() }, 'r' + (i % 2))
        h.emit('custom:x', { round })
      }
      await h.stopHub()
      for (const c of clients) c.close()
      console.log('DONE')
    })().catch((e) => { console.error(e); process.exit(1) })
  `)
  const r = await within(exit, 15000, out)
  t.is(r.code, 0, out.stderr)
  t.regex(out.stdout, /DONE/)
  t.notRegex(out.stderr, CRASH)
})

test('authenticate and authorizeRoom (weak threadsafe functions) keep nothing alive: with unref the child exits after they ran', async (t) => {
  const { exit, out, started } = run(t, `
    (async () => {
      const info = await h.startHub({
        port: 0,
        unref: true,
        authenticate: async () => ({ userId: 'u' }),
        authorizeRoom: () => true,
      });
      started(info);
      const s = io(info.url, { path: info.path, transports: ['websocket'], reconnection: false });
      s.on('connect', () => s.emit('join:room', { roomId: 'r' }, (ack) => {
        console.log('JOINED ' + ack.ok);
        s.close();
      }));
    })()
  `)
  await started
  const r = await within(exit, 5000, out)
  t.is(r.code, 0, out.stderr)
  t.regex(out.stdout, /JOINED true/)
  t.notRegex(out.stderr, CRASH)
})

test('an authenticate that throws synchronously refuses the connection and the child lives on and exits normally', async (t) => {
  const { exit, out, started } = run(t, `
    (async () => {
      const info = await h.startHub({ port: 0, authenticate: () => { throw new Error('boom') } });
      started(info);
      const s = io(info.url, { path: info.path, transports: ['websocket'], reconnection: false });
      s.on('connect_error', async (err) => {
        console.log('REFUSED ' + err.message);
        s.close();
        await h.stopHub();
        console.log('STOPPED');
      });
    })()
  `)
  await started
  const r = await within(exit, 5000, out)
  t.is(r.code, 0, out.stderr)
  t.regex(out.stdout, /REFUSED unauthorized/)
  t.regex(out.stdout, /STOPPED/)
  t.notRegex(out.stderr, CRASH)
})
