// The dashboard example (examples/dashboard) as the repo's demo: builds what is missing or out of
// date, then serves it. `npm run demo` runs this file; the browser tests import it.
//
//   node scripts/dashboard.mjs            prepare, then `next start` on PORT (default 3100)
//   node scripts/dashboard.mjs --prepare  only prepare (addon, package install, next build)
//
// Steps, each skipped when its output is newer than its inputs:
//   1. the addon and dist/ (`npm run build` at the root; needs Rust)
//   2. nself-realtime installed into the example from `npm pack` tarballs (install-local.mjs)
//   3. `next build` of the example
// Environment: PORT (page), REALTIME_PORT (hub, default 3022), REALTIME_HOST, and the
// REALTIME_*_MS timeouts read by examples/dashboard/src/lib/websocket/server.ts.

import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = join(dirname(fileURLToPath(import.meta.url)), '..')
export const app = join(root, 'examples', 'dashboard')
const bin = (name) => join(app, 'node_modules', '.bin', name)

/** The newest modification time under `paths` (files or directories; missing ones count as 0). */
function newest(paths, skip = new Set(['node_modules', '.next', '.packs', 'target'])) {
  let max = 0
  const visit = (p) => {
    if (!existsSync(p)) return
    const st = statSync(p)
    if (st.isDirectory()) {
      for (const entry of readdirSync(p)) if (!skip.has(entry)) visit(join(p, entry))
    } else max = Math.max(max, st.mtimeMs)
  }
  paths.forEach(visit)
  return max
}

/** The oldest modification time of `files`, or 0 when one is missing (so: out of date). */
function oldest(files) {
  let min = Infinity
  for (const f of files) {
    if (!existsSync(f)) return 0
    min = Math.min(min, statSync(f).mtimeMs)
  }
  return min
}

function run(cmd, args, cwd, env = {}) {
  console.log(`$ (cd ${relative(process.cwd(), cwd) || '.'} && ${cmd} ${args.join(' ')})`)
  const r = spawnSync(cmd, args, { cwd, stdio: 'inherit', env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', ...env } })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`)
}

/** The hub port the last `next build` was made for (its `/api/ws/` rewrite), or undefined. */
export function builtHubPort() {
  const marker = join(app, '.next', 'nself-realtime.json')
  return existsSync(marker) ? JSON.parse(readFileSync(marker, 'utf8')).hubPort : undefined
}

/**
 * Builds what is missing or out of date, for a hub on `hubPort`: Next.js fixes the rewrite's
 * destination (next.config.ts reads REALTIME_PORT) at build time, so another port means a rebuild.
 * Returns the steps that ran.
 */
export function prepare({ hubPort = 3022 } = {}) {
  const ran = []
  const built = ['index.js', 'index.d.ts', 'dist/esm/react.js', 'dist/cjs/client.js'].map((f) => join(root, f))
  // The native binary (its name names the platform), or a name that does not exist.
  const binary = () => join(root, readdirSync(root).find((f) => f.endsWith('.node')) ?? 'missing.node')
  const addonInputs = ['src', 'lib', 'Cargo.toml', 'Cargo.lock', 'build.rs', 'package.json', 'scripts/build-ts.mjs'].map((f) => join(root, f))
  if (oldest([...built, binary()]) < newest(addonInputs)) {
    run('npm', ['run', 'build'], root)
    ran.push('addon')
  }

  const installed = join(app, 'node_modules', 'nself-realtime', 'package.json')
  const packs = join(app, '.packs')
  const packedAt = existsSync(packs) ? oldest(readdirSync(packs).map((f) => join(packs, f))) : 0
  const rootOutputs = newest([...built, binary(), join(root, 'dist')])
  if (!existsSync(installed) || !existsSync(bin('next')) || packedAt < rootOutputs) {
    run('node', ['scripts/install-local.mjs'], app)
    ran.push('install')
  }

  const buildId = join(app, '.next', 'BUILD_ID')
  const appInputs = ['src', 'next.config.ts', 'package.json', 'tsconfig.json', '.packs'].map((f) => join(app, f))
  if (oldest([buildId]) < newest(appInputs) || builtHubPort() !== hubPort) {
    run(bin('next'), ['build'], app, { REALTIME_PORT: String(hubPort) })
    writeFileSync(join(app, '.next', 'nself-realtime.json'), `${JSON.stringify({ hubPort })}\n`)
    ran.push('next build')
  }
  return ran
}

/**
 * Starts `next start` for the example; resolves once `GET /api/ws` answers with a running hub.
 * `env` adds to the environment (REALTIME_PORT, REALTIME_*_MS). Returns `{ url, hubPort, child, stop }`;
 * `stop()` sends SIGTERM (the app stops its hub, then exits) and resolves to the exit code.
 */
export async function start({ port = 3100, hubPort = 3022, env = {}, quiet = false, timeoutMs = 60_000 } = {}) {
  const child = spawn(bin('next'), ['start', '-p', String(port), '-H', '127.0.0.1'], {
    cwd: app,
    stdio: ['ignore', quiet ? 'pipe' : 'inherit', quiet ? 'pipe' : 'inherit'],
    env: {
      ...process.env,
      NEXT_TELEMETRY_DISABLED: '1',
      // Next.js leaves SIGTERM/SIGINT to the app, which stops the hub before it exits.
      NEXT_MANUAL_SIG_HANDLE: 'true',
      // The hub's allocator: ~4 KB less RSS per idle connection (README, "Threads and memory").
      MIMALLOC_ARENA_EAGER_COMMIT: process.env.MIMALLOC_ARENA_EAGER_COMMIT ?? '0',
      REALTIME_PORT: String(hubPort),
      ...env,
    },
  })
  let output = ''
  if (quiet) for (const s of [child.stdout, child.stderr]) s.on('data', (d) => (output = (output + d).slice(-20_000)))
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)))
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r(undefined), 250))])
    if (code !== undefined) throw new Error(`next start exited (${code}) before it served ${url}\n${output}`)
    const ok = await fetch(`${url}/api/ws`)
      .then((r) => r.ok)
      .catch(() => false)
    if (ok) break
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`${url}/api/ws did not answer with a running hub within ${timeoutMs} ms\n${output}`)
    }
  }
  return {
    url,
    hubPort,
    child,
    output: () => output,
    /** Resolves to the exit code (or signal) when the server exits. */
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      return exited
    },
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    const port = Number(process.env.PORT || 3100)
    const hubPort = Number(process.env.REALTIME_PORT || 3022)
    const ran = prepare({ hubPort })
    console.log(ran.length ? `prepared: ${ran.join(', ')}` : 'up to date: addon, package install, next build')
    if (!process.argv.includes('--prepare')) {
      const dashboard = await start({ port, hubPort })
      console.log(`\n  nself dashboard: http://localhost:${port}   (hub: http://127.0.0.1:${hubPort}/api/ws, Ctrl-C stops)\n`)
      for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => void dashboard.stop())
      const code = await dashboard.exited
      process.exit(typeof code === 'number' ? code : 1)
    }
  } catch (err) {
    console.error(err.message)
    process.exit(1)
  }
}
