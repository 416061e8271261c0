#!/usr/bin/env node
// Compiles lib/*.ts (the `events`, `client` and `react` entry points) twice with the project's
// TypeScript: ES modules to dist/esm and CommonJS to dist/cjs, each with its declarations beside
// it and a package.json that tells Node (and TypeScript) which module format the folder holds.
// `npm run build:ts` runs it; `npm run build` runs it after the addon build.

import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
const dist = join(root, 'dist')
// Compile into a fresh folder and swap it in at the end, so that a test or a second build running
// meanwhile sees the old dist/ or the new one, never a half-written one.
const staging = join(root, `dist.tmp-${process.pid}`)
rmSync(staging, { recursive: true, force: true })

for (const [format, type] of [
  ['esm', 'module'],
  ['cjs', 'commonjs'],
]) {
  const out = join(staging, format)
  const run = spawnSync(process.execPath, [tsc, '-p', join(root, `tsconfig.${format}.json`), '--outDir', out], {
    cwd: root,
    stdio: 'inherit',
  })
  if (run.status !== 0) {
    rmSync(staging, { recursive: true, force: true })
    console.error(`build:ts: tsc -p tsconfig.${format}.json failed (exit ${run.status ?? run.signal})`)
    process.exit(1)
  }
  mkdirSync(out, { recursive: true })
  writeFileSync(join(out, 'package.json'), JSON.stringify({ type }, null, 2) + '\n')
}

// Node's ESM loader resolves relative specifiers exactly as written, and tsc does not add the
// extension: an `import './events'` in lib/ would compile and then fail at run time for every
// ESM consumer. Catch it here, naming the file.
const bad = []
const walk = (dir) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) walk(path)
    else if (entry.name.endsWith('.js') || entry.name.endsWith('.d.ts')) {
      const text = readFileSync(path, 'utf8')
      const specifiers = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"]*)\1/g
      for (const m of text.matchAll(specifiers)) {
        if (!/\.(?:m?js|json)$/.test(m[2])) bad.push(`${relative(staging, path)}: '${m[2]}'`)
      }
    }
  }
}
walk(join(staging, 'esm'))
if (bad.length > 0) {
  rmSync(staging, { recursive: true, force: true })
  console.error(
    'build:ts: relative imports in lib/ must name the .js file (`from \'./events.js\'`), or Node ESM consumers fail:\n  ' +
      bad.join('\n  '),
  )
  process.exit(1)
}

rmSync(dist, { recursive: true, force: true })
renameSync(staging, dist)
