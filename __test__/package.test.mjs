// The package as a user gets it: `npm pack` of the root and of this platform's binary package,
// installed into a fresh project by npm from the two tarballs, then used from Node with no Rust
// toolchain on PATH. Runs after `npm run build` (it packs what the build produced: index.js,
// index.d.ts, dist/ and the .node file, which ships in the platform package).
//
// Nothing here is skipped: a missing build output, an unsupported platform or a PATH that cannot
// be separated from cargo fails with a message saying so.

import test from 'ava'
import { spawnSync } from 'node:child_process'
import { accessSync, constants, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const ENTRY_POINTS = ['nself-realtime', 'nself-realtime/events', 'nself-realtime/client', 'nself-realtime/react']

/** The napi-rs platform suffix of this machine, as in `npm/<suffix>` and `<binary>.<suffix>.node`. */
function platformSuffix() {
  const { platform, arch } = process
  if (platform === 'linux') {
    const glibc = process.report.getReport().header.glibcVersionRuntime
    return `linux-${arch}-${glibc ? 'gnu' : 'musl'}`
  }
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

/** `process.env` without npm's per-script variables, Rust's, and any PATH entry holding cargo or rustc. */
function envWithoutRust() {
  const isRustDir = (dir) =>
    ['cargo', 'rustc', 'cargo.exe', 'rustc.exe'].some((bin) => {
      try {
        accessSync(join(dir, bin), constants.X_OK)
        return true
      } catch {
        return false
      }
    })
  const path = (process.env.PATH ?? '').split(delimiter).filter((dir) => dir && !isRustDir(dir))
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(npm_|CARGO|RUSTUP|RUSTC)/i.test(k) && k.toUpperCase() !== 'PATH'),
  )
  env.PATH = path.join(delimiter)
  return { env, path }
}

function run(cmd, args, options) {
  const started = performance.now()
  // npm is npm.cmd on Windows, which Node only spawns through a shell.
  const shell = cmd === 'npm' && process.platform === 'win32'
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, shell, ...options })
  const ms = Math.round(performance.now() - started)
  const out = `$ ${cmd} ${args.join(' ')}  (${ms} ms, exit ${r.status ?? r.signal ?? r.error?.code})\n${r.stdout ?? ''}${r.stderr ?? ''}`
  if (r.error || r.status !== 0) throw new Error(`command failed:\n${out}`)
  return { stdout: r.stdout, out, ms }
}

/** Bare module specifiers imported or required by the compiled entry points (dist/esm and dist/cjs). */
function bareImports() {
  const found = new Set()
  for (const format of ['esm', 'cjs']) {
    const dir = join(root, 'dist', format)
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.js'))) {
      const text = readFileSync(join(dir, file), 'utf8')
      for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^import\s+)(['"])([^'"]+)\1/gm)) {
        if (!m[2].startsWith('.')) found.add(m[2])
      }
    }
  }
  return found
}

/** `react/jsx-runtime` -> `react`, `@scope/x/y` -> `@scope/x`. */
const packageOf = (specifier) => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/')

const suffix = platformSuffix()
const binaryFile = `${pkg.napi.binaryName}.${suffix}.node`
const log = []
let work
let app
let packed
let installEnv

test.before(() => {
  const missing = [
    'index.js',
    'index.d.ts',
    binaryFile,
    ...['esm', 'cjs'].flatMap((f) => ['events', 'client', 'react'].flatMap((e) => [`dist/${f}/${e}.js`, `dist/${f}/${e}.d.ts`])),
  ].filter((f) => !existsSync(join(root, f)))
  if (missing.length > 0) {
    throw new Error(
      `missing build output: ${missing.join(', ')}. Run \`npm run build\` first` +
        (missing.some((f) => f.includes('/react.')) ? ' (dist/*/react.* come from lib/react.ts)' : ''),
    )
  }
  if (!existsSync(join(root, 'npm', suffix, 'package.json'))) {
    throw new Error(`no platform package npm/${suffix} (napi targets: ${pkg.napi.targets.join(', ')}); this test packs the binary of the machine it runs on`)
  }

  const { env, path } = envWithoutRust()
  if (!path.some((dir) => existsSync(join(dir, 'npm')) || existsSync(join(dir, 'npm.cmd')))) {
    throw new Error(`npm is not on PATH once the directories holding cargo/rustc are removed: ${path.join(delimiter)}`)
  }
  installEnv = env

  work = mkdtempSync(join(tmpdir(), 'nself-realtime-package-'))
  // The platform package as `napi artifacts` would leave it: npm/<suffix> plus the built binary.
  const platformDir = join(work, 'platform')
  cpSync(join(root, 'npm', suffix), platformDir, { recursive: true })
  cpSync(join(root, binaryFile), join(platformDir, binaryFile))

  // --ignore-scripts: `prepack` would rebuild dist/ under the feet of the other test files.
  const rootPack = run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: root })
  const platformPack = run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: platformDir })
  log.push(rootPack.out.split('\n')[0], platformPack.out.split('\n')[0])
  packed = { root: JSON.parse(rootPack.stdout)[0], platform: JSON.parse(platformPack.stdout)[0] }

  // Peers the entry points import (react for `nself-realtime/react`) are the user's to install;
  // install exactly those, at the version this repo develops against.
  const peers = [...new Set([...bareImports()].map(packageOf))].filter((p) => pkg.peerDependencies?.[p])
  app = join(work, 'app')
  mkdirSync(app)
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'commonjs' }, null, 2))
  const install = run(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      join(work, packed.root.filename),
      join(work, packed.platform.filename),
      ...peers.map((p) => `${p}@${pkg.devDependencies[p]}`),
    ],
    { cwd: app, env },
  )
  log.push(install.out.split('\n')[0])
})

test.after.always(() => {
  if (work) rmSync(work, { recursive: true, force: true })
})

test('the root tarball ships the loader, types and dist/, and no binary or sources', (t) => {
  const files = packed.root.files.map((f) => f.path)
  for (const f of ['package.json', 'README.md', 'index.js', 'index.d.ts']) t.true(files.includes(f), f)
  for (const format of ['esm', 'cjs']) {
    t.true(files.includes(`dist/${format}/package.json`), `dist/${format}/package.json`)
    for (const entry of ['events', 'client', 'react']) {
      t.true(files.includes(`dist/${format}/${entry}.js`), `dist/${format}/${entry}.js`)
      t.true(files.includes(`dist/${format}/${entry}.d.ts`), `dist/${format}/${entry}.d.ts`)
    }
  }
  const unwanted = files.filter((f) => /\.node$|^(src|lib|__test__|npm|scripts|target|demo|bench|\.github|\.ci)\//.test(f) || /^Cargo\./.test(f))
  t.deepEqual(unwanted, [])
  t.log(`${packed.root.filename}: ${files.length} files, ${(packed.root.size / 1024).toFixed(1)} kB packed`)
  t.log(log.join('\n'))
})

test('the platform tarball holds the binary and says which platform it is for', (t) => {
  const files = packed.platform.files.map((f) => f.path).sort()
  t.deepEqual(files, ['README.md', binaryFile, 'package.json'].sort())
  const platformPkg = JSON.parse(readFileSync(join(app, 'node_modules', `${pkg.name}-${suffix}`, 'package.json'), 'utf8'))
  t.is(platformPkg.version, pkg.version)
  t.deepEqual(platformPkg.os, [process.platform])
  t.deepEqual(platformPkg.cpu, [process.arch])
})

test('every bare import of the entry points is a dependency or a peer', (t) => {
  const declared = { ...pkg.dependencies, ...pkg.peerDependencies }
  const undeclared = [...bareImports()].map(packageOf).filter((p) => !declared[p])
  t.deepEqual(undeclared, [], 'imported by dist/ but not in dependencies or peerDependencies')
})

test('with no cargo on PATH, every entry point loads from ESM and CommonJS, and a hub delivers to the package client', (t) => {
  const probe = spawnSync('cargo', ['--version'], { env: installEnv, encoding: 'utf8' })
  t.is(probe.error?.code, 'ENOENT', `cargo is still reachable: ${probe.stdout}${probe.stderr}`)

  writeFileSync(
    join(app, 'smoke.mjs'),
    `// Written by __test__/package.test.mjs.
import { createRequire } from 'node:module'
import { emitServiceStatus, getStats, startHub, stopHub } from 'nself-realtime'
import { EventType, isServiceStatusEvent } from 'nself-realtime/events'
import { WebSocketClient, getWebSocketClient } from 'nself-realtime/client'
import * as react from 'nself-realtime/react'

const require = createRequire(import.meta.url)
const fail = (message) => { console.error('smoke: ' + message); process.exit(1) }
const watchdog = setTimeout(() => fail('timed out'), 20000)

const expected = {
  'nself-realtime': ['startHub', 'stopHub', 'emit', 'emitServiceStatus', 'getStats', 'getPresence', 'hubInfo'],
  'nself-realtime/events': ['isServiceStatusEvent', 'isEnvelope', 'isValidRoomName', 'unpackBatch'],
  'nself-realtime/client': ['WebSocketClient', 'getWebSocketClient'],
  'nself-realtime/react': ['useWebSocket', 'useServiceStatus', 'useBuildProgress', 'useDeployProgress',
    'useLogStream', 'useDockerStats', 'useDbQueryResult', 'useRoom', 'usePresence'],
}
for (const [entry, names] of Object.entries(expected)) {
  const cjs = require(entry)
  const esm = await import(entry)
  for (const name of names) {
    if (typeof cjs[name] !== 'function') fail(\`require('\${entry}').\${name} is \${typeof cjs[name]}\`)
    if (typeof esm[name] !== 'function') fail(\`import('\${entry}').\${name} is \${typeof esm[name]}\`)
  }
  console.log(\`\${entry}: require -> \${require.resolve(entry).replaceAll('\\\\', '/').split('node_modules/')[1]}, import ok\`)
}
if (require('nself-realtime').startHub !== startHub) fail('ESM and CJS startHub differ')
const binaries = Object.keys(require.cache).filter((f) => f.endsWith('.node')).map((f) => f.replaceAll('\\\\', '/'))
if (!binaries.some((f) => f.includes('node_modules/nself-realtime-${suffix}/'))) {
  fail('the native binary did not come from the platform package: ' + JSON.stringify(binaries))
}
console.log('native binary: ' + binaries.map((f) => f.split('node_modules/')[1]).join(', '))
if (typeof react.useWebSocket !== 'function') fail('static import of nself-realtime/react')
if (typeof getWebSocketClient !== 'function' || EventType.SERVICE_STATUS !== 'service:status') fail('static imports')

const info = await startHub({ host: '127.0.0.1', port: 0 })
const client = new WebSocketClient(\`http://127.0.0.1:\${info.port}\`, { transports: ['websocket'] })
const received = new Promise((resolve) => client.on('service:status', (data, envelope) => resolve({ data, envelope })))
const connected = new Promise((resolve) => client.onStatusChange((s) => s.connected && resolve()))
client.connect()
await connected
const payload = { service: 'postgres', status: 'running', timestamp: new Date().toISOString() }
emitServiceStatus(payload)
const { data, envelope } = await received
if (!isServiceStatusEvent(data) || data.service !== 'postgres' || envelope.type !== 'service:status') {
  fail('unexpected event ' + JSON.stringify({ data, envelope }))
}
if (getStats().eventsEmitted < 1) fail('getStats().eventsEmitted < 1')
client.disconnect()
await stopHub({ timeoutMs: 2000 })
clearTimeout(watchdog)
console.log('hub on port ' + info.port + ': the package client received ' + JSON.stringify(data))
`,
  )
  const smoke = run(process.execPath, ['smoke.mjs'], { cwd: app, env: installEnv, timeout: 30_000 })
  t.log(smoke.out.trim())
  t.regex(smoke.stdout, /the package client received/)
})

test('the browser entry points load no native binary and no root loader', (t) => {
  writeFileSync(
    join(app, 'browser-entries.mjs'),
    `// Written by __test__/package.test.mjs: importing the browser entry points must not dlopen.
import { createRequire } from 'node:module'
process.dlopen = (module, filename) => {
  console.error('browser entry point loaded a native binary: ' + filename)
  process.exit(1)
}
const require = createRequire(import.meta.url)
for (const entry of ['nself-realtime/events', 'nself-realtime/client', 'nself-realtime/react']) {
  await import(entry)
  require(entry)
}
const loader = Object.keys(require.cache).filter((f) => /nself-realtime[\\\\/]index\\.js$|\\.node$/.test(f))
if (loader.length > 0) {
  console.error('browser entry points loaded ' + loader.join(', '))
  process.exit(1)
}
console.log('no native binary, no loader')
`,
  )
  const r = run(process.execPath, ['browser-entries.mjs'], { cwd: app, env: installEnv, timeout: 30_000 })
  t.regex(r.stdout, /no native binary, no loader/)
})

test('the packed types type-check in a strict consumer (ESM and CommonJS; server, client and React)', (t) => {
  const consumer = join(root, 'scripts', 'consumer')
  const files = readdirSync(consumer).filter((f) => /\.(mts|cts|tsx)$/.test(f))
  for (const f of files) cpSync(join(consumer, f), join(app, f))
  const tsconfig = JSON.parse(readFileSync(join(consumer, 'tsconfig.json'), 'utf8').replace(/^\s*\/\/.*$/gm, ''))
  tsconfig.include = files
  // A TypeScript user of the React entry point has @types/react; lend this repo's to the app.
  const types = join(root, 'node_modules', '@types', 'react')
  tsconfig.compilerOptions.paths = {
    react: [join(types, 'index.d.ts')],
    'react/jsx-runtime': [join(types, 'jsx-runtime.d.ts')],
  }
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2))
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json', '--explainFiles'], { cwd: app, encoding: 'utf8' })
  t.is(r.status, 0, `tsc failed on ${files.join(', ')}:\n${r.stdout.split('\n').filter((l) => /error TS/.test(l)).join('\n')}${r.stderr}`)
  // The types came from the installed package, not from this repo.
  for (const d of ['index.d.ts', 'dist/esm/client.d.ts', 'dist/cjs/client.d.ts', 'dist/cjs/react.d.ts', 'dist/esm/events.d.ts', 'dist/cjs/events.d.ts']) {
    t.true(r.stdout.includes(`node_modules/nself-realtime/${d}`), `${d} was not part of the check`)
  }
})

test('the public declarations use no `any`', (t) => {
  const installed = join(app, 'node_modules', 'nself-realtime')
  const declarations = ['index.d.ts', ...['esm', 'cjs'].flatMap((f) => readdirSync(join(installed, 'dist', f)).filter((n) => n.endsWith('.d.ts')).map((n) => `dist/${f}/${n}`))]
  for (const d of declarations) {
    const code = readFileSync(join(installed, d), 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/\/\/.*$/gm, '')
    const hits = code.split('\n').filter((line) => /(?<![\w'"`.-])any(?![\w'"`-])/.test(line))
    t.deepEqual(hits, [], `${d} uses any`)
  }
})
