// The browser entry points as a bundler sees them: esbuild bundles `nself-realtime/client` and
// `nself-realtime/react` for the browser (through the package's own `exports`, both the `import`
// and the `require` condition) and the bundles must hold nothing of the native side: no `.node`
// file, no napi-rs loader, no Node built-ins. Runs after `npm run build` (it bundles dist/).

import test from 'ava'
import { build } from 'esbuild'
import { existsSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

/** What must never reach a browser bundle, with why. */
const FORBIDDEN = [
  [/\.node\b['"`]/, 'a .node file name'],
  [/nself-realtime\.[a-z0-9-]+\.node/, 'the native binary'],
  [/nself-realtime-(linux|darwin|win32|android|freebsd)/, 'a platform package'],
  [/@napi-rs/, '@napi-rs'],
  [/__napiBindingTarget|NAPI_RS_|napi-rs/i, 'the napi-rs loader (index.js)'],
  [/process\.dlopen/, 'process.dlopen'],
  [/child_process/, 'child_process'],
  [/require\(\s*['"](node:)?fs['"]\s*\)/, "require('fs')"],
  [/from\s*['"](node:)?fs['"]/, "import from 'fs'"],
  [/['"]node:[a-z_/]+['"]/, 'a node: import'],
]

/** The browser build of socket.io-client must be the one picked, not its Node transports. */
const NODE_ONLY_PACKAGES = ['ws', 'xmlhttprequest-ssl', 'bufferutil', 'utf-8-validate']

async function bundle(t, entry, format) {
  const contents =
    format === 'esm' ? `export * from '${entry}'` : `module.exports = require('${entry}')`
  const result = await build({
    stdin: { contents, resolveDir: root, sourcefile: `${format}-consumer.js`, loader: 'js' },
    bundle: true,
    write: false,
    platform: 'browser',
    format: format === 'esm' ? 'esm' : 'iife',
    target: 'es2022',
    external: ['react', 'react-dom', 'react/jsx-runtime'],
    metafile: true,
    logLevel: 'silent',
  })
  t.deepEqual(result.errors, [], `esbuild errors for ${entry} (${format})`)
  t.deepEqual(result.warnings, [], `esbuild warnings for ${entry} (${format})`)
  return { text: result.outputFiles[0].text, inputs: Object.keys(result.metafile.inputs) }
}

for (const [entry, dist] of [
  ['nself-realtime/client', 'client'],
  ['nself-realtime/react', 'react'],
]) {
  for (const format of ['esm', 'cjs']) {
    test(`${entry} (${format === 'esm' ? 'import' : 'require'}) bundles for the browser without the native side`, async (t) => {
      const built = join(root, 'dist', format, `${dist}.js`)
      if (!existsSync(built)) {
        t.fail(`${relative(root, built)} is missing: run \`npm run build\` (it compiles lib/${dist}.ts)`)
        return
      }
      const { text, inputs } = await bundle(t, entry, format)

      // Resolved through the package's exports to the compiled file of this format.
      t.true(inputs.includes(`dist/${format}/${dist}.js`), `inputs: ${inputs.join(', ')}`)
      t.false(inputs.includes('index.js'), 'the napi-rs loader index.js is in the bundle')
      const nodeOnly = inputs.filter((i) => NODE_ONLY_PACKAGES.some((p) => i.startsWith(`node_modules/${p}/`)))
      t.deepEqual(nodeOnly, [], 'Node-only packages in the browser bundle')
      const builtins = inputs.filter((i) => builtinModules.includes(i.replace(/^node:/, '')))
      t.deepEqual(builtins, [], 'Node built-ins in the browser bundle')

      for (const [pattern, what] of FORBIDDEN) {
        const m = pattern.exec(text)
        t.is(m, null, `${what} in the bundle: ...${m ? text.slice(Math.max(0, m.index - 80), m.index + 80) : ''}...`)
      }
      t.log(`${(text.length / 1024).toFixed(1)} kB unminified, ${inputs.length} inputs`)
    })
  }
}
