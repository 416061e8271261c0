// Opens a running dashboard (`npm start`) in headless Chromium (Debian's: apt-get install chromium)
// and checks what a person would see; writes a full-page screenshot.
//   node scripts/check-browser.mjs [http://127.0.0.1:3100] [screenshot.png]
import { chromium } from 'playwright-core'

const base = process.argv[2] ?? 'http://127.0.0.1:3100'
const shot = process.argv[3] ?? 'dashboard.png'
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
})
let failed = 0
const ok = (m) => console.log(`ok   ${m}`)
const check = async (what, fn) => {
  try {
    ok(`${what}${(await fn()) ?? ''}`)
  } catch (err) {
    failed += 1
    console.log(`FAIL ${what}: ${err.message.split('\n')[0]}`)
  }
}
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } })
  const a = await context.newPage()
  const errors = []
  a.on('pageerror', (e) => errors.push(e.message))
  a.on('console', (m) => m.type() === 'error' && errors.push(m.text()))
  await a.goto(base)
  await check('badge reaches Connected', async () => {
    await a.getByTestId('connection-badge').filter({ hasText: 'Connected' }).waitFor({ timeout: 10_000 })
  })
  await check('services grid shows running services', async () => {
    await a.locator('[data-testid="service-postgres"][data-status="running"]').waitFor({ timeout: 10_000 })
    return `: ${await a.locator('[data-status="running"]').count()} running`
  })
  await check('restart changes the redis card', async () => {
    await a.locator('[data-testid="service-redis"][data-status="running"]').waitFor({ timeout: 10_000 })
    await a.getByTestId('service-redis').getByRole('button', { name: 'Restart' }).click()
    await a.locator('[data-testid="service-redis"]:not([data-status="running"])').waitFor({ timeout: 5_000 })
    await a.locator('[data-testid="service-redis"][data-status="running"]').waitFor({ timeout: 10_000 })
  })
  await check('a build runs to 100% with every step', async () => {
    await a.getByRole('button', { name: 'Start build' }).click()
    await a.getByTestId('build-percent').filter({ hasText: '100%' }).waitFor({ timeout: 20_000 })
    return `: ${await a.getByTestId('build-step').textContent()}, ${await a.locator('[data-testid="build"] ol li').count()} steps listed`
  })
  await check('deploy to staging progresses', async () => {
    await a.getByTestId('deploy-staging').getByRole('button', { name: 'Deploy' }).click()
    await a.getByTestId('deploy-staging').locator('li').first().waitFor({ timeout: 5_000 })
  })
  await check('log viewer shows lines', async () => {
    await a.locator('[data-testid="logs"] .line').first().waitFor({ timeout: 15_000 })
  })
  await check('docker stats draw sparklines', async () => {
    await a.locator('[data-testid="docker-stats"] svg.spark polyline').first().waitFor({ timeout: 10_000 })
    return `: ${await a.locator('[data-testid="docker-stats"] tbody tr').count()} containers`
  })
  await check('query runner shows the db:query:result table', async () => {
    await a.getByTestId('query').getByRole('button', { name: 'Run' }).click()
    await a.getByTestId('query-summary').filter({ hasText: 'rows' }).waitFor({ timeout: 5_000 })
    return `: ${await a.getByTestId('query-summary').textContent()}, ${await a.locator('[data-testid="query"] tbody tr').count()} rows shown`
  })
  await check('a bad query shows its error', async () => {
    await a.getByTestId('query').locator('textarea').fill('SELECT nope FROM nowhere')
    await a.getByTestId('query').getByRole('button', { name: 'Run' }).click()
    await a.getByTestId('query-summary').filter({ hasText: 'no such table' }).waitFor({ timeout: 5_000 })
  })
  await a.getByTestId('query').locator('textarea').fill('SELECT name, image, port, memory_limit_mb FROM services')
  await a.getByTestId('query').getByRole('button', { name: 'Run' }).click()
  const b = await context.newPage()
  await b.goto(base)
  await check('a second tab appears in the first tab\'s viewers', async () => {
    await a.getByTestId('viewers').locator('.viewer').first().waitFor({ timeout: 10_000 })
    return `: ${await a.getByTestId('viewers').textContent()}`
  })
  await check('closing it removes it within 5 s', async () => {
    await b.close()
    await a.getByTestId('viewers').filter({ hasText: 'only you are viewing' }).waitFor({ timeout: 5_000 })
  })
  await check('hub restart: Reconnecting, then Connected, room joined again', async () => {
    await a.getByRole('button', { name: 'Restart hub' }).click()
    const badge = a.getByTestId('connection-badge')
    await badge.filter({ hasText: 'Reconnecting' }).waitFor({ timeout: 5_000 })
    const seen = await badge.textContent()
    await badge.filter({ hasText: 'Connected' }).waitFor({ timeout: 15_000 })
    // Room events flow again: a new build's progress reaches the page.
    await a.getByRole('button', { name: 'Reset' }).click()
    await a.getByRole('button', { name: 'Start build' }).click()
    await a.getByTestId('build-percent').filter({ hasText: '100%' }).waitFor({ timeout: 20_000 })
    return `: saw "${seen.trim()}"`
  })
  await a.waitForTimeout(1500)
  await a.screenshot({ path: shot, fullPage: true })
  ok(`screenshot ${shot}`)
  if (errors.length) console.log(`page errors:\n  ${errors.join('\n  ')}`)
} finally {
  await browser.close()
}
console.log(failed ? `${failed} check(s) failed` : 'all checks passed')
process.exit(failed ? 1 : 0)
