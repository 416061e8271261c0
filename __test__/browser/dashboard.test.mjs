// The dashboard example in a real browser: Debian's Chromium (headless) driven by playwright-core,
// against `next start` of examples/dashboard with the hub inside that Next.js process, installed
// from `npm pack` tarballs (scripts/dashboard.mjs prepares all of it).
//
// Run by `npm test` after the main suite (ava.browser.config.mjs); alone: `npm run test:browser`.
// Chromium: CHROMIUM=/path, else /usr/bin/chromium (apt-get install chromium).

import test from 'ava'
import { existsSync, mkdirSync } from 'node:fs'
import { createServer } from 'node:net'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { app, builtHubPort, prepare, root, start } from '../../scripts/dashboard.mjs'

const chromiumPath = [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p && existsSync(p))
const outputDir = join(root, 'test-output')
const screenshot = join(outputDir, 'dashboard.png')

/** A free TCP port on 127.0.0.1, or `preferred` when that one is free. */
async function freePort(preferred = 0) {
  const listen = (port) =>
    new Promise((resolve, reject) => {
      const s = createServer()
      s.once('error', reject)
      s.listen(port, '127.0.0.1', () => {
        const { port: p } = s.address()
        s.close(() => resolve(p))
      })
    })
  return listen(preferred).catch(() => listen(0))
}

let dashboard
let browser
let context

test.before(async () => {
  if (!chromiumPath) throw new Error('no Chromium: apt-get install chromium, or set CHROMIUM to its path')
  // The rewrite's hub port is fixed at build time: reuse the last build's port when it is free.
  const hubPort = await freePort(builtHubPort() ?? 0)
  prepare({ hubPort })
  const port = await freePort()
  dashboard = await start({
    port,
    hubPort,
    quiet: true,
    // Short Engine.IO timeouts: a tab that goes away uncleanly still leaves presence within 5 s.
    env: { REALTIME_PING_INTERVAL_MS: '1000', REALTIME_PING_TIMEOUT_MS: '1000' },
  })
  const { chromium } = createRequire(join(app, 'package.json'))('playwright-core')
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  })
  context = await browser.newContext({ viewport: { width: 1400, height: 1000 } })
})

test.after.always(async () => {
  await browser?.close()
  if (dashboard && dashboard.child.exitCode === null) await dashboard.stop()
})

/** A new tab on `path`, failing the test on uncaught page errors. */
async function open(t, path = '/') {
  const page = await context.newPage()
  page.on('pageerror', (e) => t.fail(`page error in ${path}: ${e.message}`))
  await page.goto(`${dashboard.url}${path}`)
  await badgeIs(page, 'connected', 15_000)
  return page
}
const badge = (page) => page.getByTestId('connection-badge')
/** Waits for the badge to show `state` (connected, reconnecting, disconnected). */
const badgeIs = (page, state, timeout) => page.locator(`[data-testid="connection-badge"][data-state="${state}"]`).waitFor({ timeout })
const logLines = (page) => page.locator('[data-testid="logs"] .line')

/** Waits until the project's viewers list has joined its room. */
async function joined(page) {
  await page.getByTestId('viewers').filter({ hasNotText: 'joining' }).waitFor({ timeout: 10_000 })
}

let main

test.serial('the badge reaches Connected and the services come up', async (t) => {
  main = await open(t)
  t.regex(await badge(main).textContent(), /^\s*Connected$/)
  await main.locator('[data-testid="service-postgres"][data-status="running"]').waitFor({ timeout: 15_000 })
  t.pass()
})

test.serial('a service card changes after its restart action, then comes back', async (t) => {
  const card = main.getByTestId('service-redis')
  await main.locator('[data-testid="service-redis"][data-status="running"]').waitFor({ timeout: 15_000 })
  await card.getByRole('button', { name: 'Restart' }).click()
  await main.locator('[data-testid="service-redis"][data-status="stopping"]').waitFor({ timeout: 5_000 })
  await main.locator('[data-testid="service-redis"][data-status="running"]').waitFor({ timeout: 15_000 })
  t.pass()
})

test.serial('a build runs to 100% with every step shown', async (t) => {
  await joined(main)
  await main.getByRole('button', { name: 'Start build' }).click()
  await main.getByTestId('build-percent').filter({ hasText: '100%' }).waitFor({ timeout: 30_000 })
  t.regex(await main.getByTestId('build-step').textContent(), /^Step 6 of 6: /)
  const steps = await main.locator('[data-testid="build"] ol li').allTextContents()
  t.is(steps.length, 6, steps.join('\n'))
  t.true(steps.every((s, i) => s.startsWith(['Validate', 'Generate docker', 'Generate nginx', 'Build custom', 'Apply database', 'Export Hasura'][i])), steps.join('\n'))
})

test.serial('500 log lines emitted in a burst all appear, in order', async (t) => {
  const logs = main.getByTestId('logs')
  await logs.getByRole('button', { name: 'functions' }).click()
  await logs.getByRole('button', { name: 'Clear' }).click()
  await logs.getByRole('button', { name: 'Burst 500' }).click()
  const burst = logLines(main).filter({ hasText: /burst \d+\/500/ })
  await burst.nth(499).waitFor({ timeout: 15_000 })
  const seen = (await burst.allTextContents()).map((l) => Number(/burst (\d+)\/500/.exec(l)[1]))
  t.deepEqual(seen, Array.from({ length: 500 }, (_, i) => i + 1))
})

test.serial('two tabs in different project rooms each see only their own room', async (t) => {
  const alpha = await open(t, '/?project=alpha')
  const beta = await open(t, '/?project=beta')
  await Promise.all([joined(alpha), joined(beta)])
  t.is(await alpha.getByTestId('project-room').textContent(), 'room project-alpha')

  // A build in alpha reaches alpha only; a log burst in beta reaches beta only.
  await alpha.getByRole('button', { name: 'Start build' }).click()
  await beta.getByTestId('logs').getByRole('button', { name: 'Burst 500' }).click()
  await alpha.getByTestId('build-percent').filter({ hasText: '100%' }).waitFor({ timeout: 30_000 })
  await logLines(beta).filter({ hasText: 'burst 500/500' }).waitFor({ timeout: 15_000 })

  // Per-client order: beta received its burst after alpha's build had finished, so any build
  // event leaked to beta would already be on its page (and any burst line leaked to alpha).
  t.is(await beta.getByTestId('build').locator('p.muted').textContent(), 'No build yet. Start one.')
  t.is(await logLines(alpha).filter({ hasText: /burst \d+\/500/ }).count(), 0)
  // And neither lists the other as a viewer: presence is per room.
  t.regex(await alpha.getByTestId('viewers').textContent(), /only you are viewing/)
  await Promise.all([alpha.close(), beta.close()])
})

test.serial('closing a tab removes it from the other tab\'s viewers within 5 s', async (t) => {
  const second = await open(t, '/')
  await joined(second)
  await main.getByTestId('viewers').locator('.viewer').first().waitFor({ timeout: 10_000 })
  t.is(await main.getByTestId('viewers').locator('.viewer').count(), 1)
  const closed = Date.now()
  await second.close()
  await main.getByTestId('viewers').filter({ hasText: 'only you are viewing' }).waitFor({ timeout: 5_000 })
  t.log(`removed after ${Date.now() - closed} ms`)
})

test.serial('hub stopped and started again: Reconnecting, then Connected, rooms joined again, events flow', async (t) => {
  const watcher = await open(t, '/') // joins the same room; must be listed again after the restart
  await main.getByTestId('viewers').locator('.viewer').first().waitFor({ timeout: 10_000 })
  await main.getByRole('button', { name: 'Restart hub' }).click()
  await badgeIs(main, 'reconnecting', 5_000)
  const down = (await badge(main).textContent()).trim()
  t.regex(down, /^Reconnecting, attempt \d+$/)
  t.log(`badge while the hub is down: "${down}"`)
  await badgeIs(main, 'connected', 20_000)
  // The room was joined again: presence lists the other tab, and room events (a build) arrive.
  await main.getByTestId('viewers').locator('.viewer').first().waitFor({ timeout: 10_000 })
  await main.getByTestId('build').getByRole('button', { name: 'Reset' }).click()
  await main.getByRole('button', { name: 'Start build' }).click()
  await main.getByTestId('build-percent').filter({ hasText: '100%' }).waitFor({ timeout: 30_000 })
  await watcher.getByTestId('build-percent').filter({ hasText: '100%' }).waitFor({ timeout: 5_000 })
  await watcher.close()
  t.pass()
})

test.serial('a screenshot of the full dashboard is written', async (t) => {
  // Fill the panels that are empty after the restart so the picture shows a working page.
  await main.getByTestId('deploy-staging').getByRole('button', { name: 'Deploy' }).click()
  await main.getByTestId('query').getByRole('button', { name: 'Run' }).click()
  await main.getByTestId('query-summary').filter({ hasText: 'rows' }).waitFor({ timeout: 10_000 })
  await main.locator('[data-testid="docker-stats"] svg.spark polyline').first().waitFor({ timeout: 10_000 })
  await main.getByTestId('deploy-staging').locator('li').nth(1).waitFor({ timeout: 10_000 })
  mkdirSync(outputDir, { recursive: true })
  await main.screenshot({ path: screenshot, fullPage: true })
  t.true(existsSync(screenshot))
  t.log(`screenshot: ${screenshot}`)
})

test.serial('the app stops its hub and exits 0 on SIGTERM', async (t) => {
  await context.close()
  t.is(await dashboard.stop(), 0, dashboard.output())
})

test.serial('direct mode: with REALTIME_PUBLIC_URL the browser connects to the hub port itself (its origin allowed by default)', async (t) => {
  const port = await freePort()
  dashboard = await start({
    port,
    hubPort: dashboard.hubPort,
    quiet: true,
    env: { REALTIME_PUBLIC_URL: `http://127.0.0.1:${dashboard.hubPort}` },
  })
  context = await browser.newContext()
  const page = await context.newPage()
  const sockets = []
  const requests = []
  page.on('websocket', (ws) => sockets.push(ws.url()))
  page.on('request', (r) => r.url().includes('EIO=4') && requests.push(r.url()))
  page.on('pageerror', (e) => t.fail(`page error: ${e.message}`))
  await page.goto(dashboard.url)
  await badgeIs(page, 'connected', 15_000)
  await page.locator('[data-testid="service-postgres"][data-status="running"]').waitFor({ timeout: 15_000 })
  const hub = `127.0.0.1:${dashboard.hubPort}/api/ws/`
  t.true(sockets.some((u) => u.includes(hub)), `a WebSocket to the hub port: ${sockets.join(', ')}`)
  t.true(requests.every((u) => !u.startsWith(dashboard.url)), 'nothing went through the Next.js rewrite')
  await context.close()
  t.is(await dashboard.stop(), 0)
})
