// Installs nself-realtime into this example the way a user gets it: as real packages from
// `npm pack` tarballs (not a workspace symlink, which breaks `serverExternalPackages`).
//
//   node scripts/install-local.mjs            pack the repo's current build and install it
//   node scripts/install-local.mjs --build    run `npm run build` at the repo root first
//
// The root tarball holds index.js, index.d.ts and dist/ but not the native binary; that ships in
// the platform package npm/<platform> (as in __test__/package.test.mjs). Both tarballs are written
// to .packs/ and installed with `npm install`, which records them in package.json as
// `file:.packs/...` (the platform one as an optional dependency).

import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const app = join(dirname(fileURLToPath(import.meta.url)), '..')
const root = join(app, '..', '..')
const packs = join(app, '.packs')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))

function platformSuffix() {
  const { platform, arch } = process
  if (platform === 'linux') {
    const glibc = process.report.getReport().header.glibcVersionRuntime
    return `linux-${arch}-${glibc ? 'gnu' : 'musl'}`
  }
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

function run(cmd, args, cwd) {
  console.log(`$ (cd ${relative(process.cwd(), cwd) || '.'} && ${cmd} ${args.join(' ')})`)
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], shell: process.platform === 'win32' })
  if (r.status !== 0) {
    console.error(r.stdout)
    process.exit(r.status ?? 1)
  }
  return r.stdout
}

if (process.argv.includes('--build')) run('npm', ['run', 'build'], root)

const suffix = platformSuffix()
const binary = `${pkg.napi.binaryName}.${suffix}.node`
const missing = ['index.js', 'index.d.ts', binary, 'dist/esm/client.js', 'dist/cjs/client.js', 'dist/esm/react.js'].filter(
  (f) => !existsSync(join(root, f)),
)
if (missing.length > 0) {
  console.error(`missing build output at ${root}: ${missing.join(', ')}\nrun \`npm run build\` there, or this script with --build`)
  process.exit(1)
}
if (!existsSync(join(root, 'npm', suffix, 'package.json'))) {
  console.error(`no platform package npm/${suffix}: this platform is not in napi.targets`)
  process.exit(1)
}

// The tarballs change with every build, and with them their hash in package-lock.json: drop the
// hash of these two local packages so that the committed lockfile does not change each time.
function forgetIntegrity(keys) {
  const file = join(app, 'package-lock.json')
  const lock = JSON.parse(readFileSync(file, 'utf8'))
  for (const key of keys) if (lock.packages?.[key]) delete lock.packages[key].integrity
  writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`)
}

rmSync(packs, { recursive: true, force: true })
mkdirSync(packs)

// The platform package as `napi artifacts` leaves it: npm/<suffix> plus the built binary.
const staging = mkdtempSync(join(tmpdir(), 'nself-realtime-platform-'))
try {
  cpSync(join(root, 'npm', suffix), staging, { recursive: true })
  cpSync(join(root, binary), join(staging, binary))
  // --ignore-scripts: `prepack` would rebuild dist/; this packs what the last build produced.
  const rootTgz = JSON.parse(run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', packs], root))[0].filename
  const platTgz = JSON.parse(run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', packs], staging))[0].filename
  const flags = ['--no-audit', '--no-fund']
  run('npm', ['install', ...flags, `file:.packs/${rootTgz}`], app)
  run('npm', ['install', ...flags, '--save-optional', `file:.packs/${platTgz}`], app)
  forgetIntegrity([`node_modules/${pkg.name}`, `node_modules/${pkg.name}-${suffix}`])
  console.log(`installed ${rootTgz} and ${platTgz} into ${relative(process.cwd(), app) || '.'}/node_modules`)
} finally {
  rmSync(staging, { recursive: true, force: true })
}
