// Next.js calls register() once per server process (sometimes more than once: startRealtime is
// idempotent). `next build` does not call it, so nothing binds a port at build time.
export async function register() {
  if (process.env.NEXT_RUNTIME !== 'nodejs') return
  const { startRealtime } = await import('./lib/websocket/server')
  try {
    await startRealtime()
  } catch (err) {
    const e = err as { code?: string; message?: string }
    console.error(`[realtime] could not start the hub: ${e.code ?? ''} ${e.message ?? err}`)
    if (e.code === 'EADDRINUSE') console.error('[realtime] set REALTIME_PORT to a free port (and restart: next.config reads it too)')
  }
}
