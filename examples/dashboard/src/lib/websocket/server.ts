// Starts the hub inside this Next.js process (called from src/instrumentation.ts). Server only.
//
// Idempotent: Next.js may call register() more than once, and startHub() with the same options
// resolves to the running hub. Signal handlers and the simulator are installed once per process
// (flags on globalThis, which every bundle of this app shares).

import { startHub, stopHub, type HubInfo, type HubOptions } from 'nself-realtime'
import { getSimulator, stopSimulator } from '@/lib/simulator'

const KEY = Symbol.for('nself-dashboard.realtime')
type State = { signals?: boolean; starting?: Promise<HubInfo> }
const state = (((globalThis as Record<symbol, unknown>)[KEY] as State | undefined) ??= {}) as State
;(globalThis as Record<symbol, unknown>)[KEY] = state

export function realtimePort(): number {
  const raw = process.env.REALTIME_PORT
  const port = raw === undefined || raw === '' ? 3022 : Number(raw)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`REALTIME_PORT must be a port number, got ${JSON.stringify(raw)}`)
  return port
}

/** A positive whole number of milliseconds from the environment, or undefined when unset. */
function msFromEnv(name: string): number | undefined {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return undefined
  const ms = Number(raw)
  if (!Number.isInteger(ms) || ms <= 0) throw new Error(`${name} must be a positive number of milliseconds, got ${JSON.stringify(raw)}`)
  return ms
}

// Timeouts can be shortened from the environment (the browser tests do: a closed tab must leave
// the presence list quickly even when the browser does not close its socket cleanly).
const hubOptions = (): HubOptions => {
  const staleAfterMs = msFromEnv('REALTIME_STALE_AFTER_MS')
  const sweepIntervalMs = msFromEnv('REALTIME_SWEEP_INTERVAL_MS')
  // Comma-separated page origins allowed to connect to the hub directly (default: its own host
  // and localhost), e.g. `https://admin.example.com`.
  const origins = process.env.REALTIME_ALLOWED_ORIGINS?.split(',').map((o) => o.trim()).filter(Boolean)
  return {
    ...(origins?.length ? { allowedOrigins: origins } : {}),
    host: process.env.REALTIME_HOST ?? '127.0.0.1',
    port: realtimePort(),
    pingIntervalMs: msFromEnv('REALTIME_PING_INTERVAL_MS'),
    pingTimeoutMs: msFromEnv('REALTIME_PING_TIMEOUT_MS'),
    ...(staleAfterMs || sweepIntervalMs ? { presence: { staleAfterMs, sweepIntervalMs } } : {}),
  }
}

/** Stops the hub and starts it again on the same port (demo: watch the badge reconnect). */
export async function restartRealtime(downMs = 2000): Promise<HubInfo> {
  await (state.starting ?? Promise.resolve()).catch(() => undefined)
  state.starting = undefined
  await stopHub({ timeoutMs: 2000 })
  await new Promise((r) => setTimeout(r, downMs))
  return startRealtime()
}

export async function startRealtime(): Promise<HubInfo> {
  state.starting ??= startHub(hubOptions())
  let info: HubInfo
  try {
    info = await state.starting
  } catch (err) {
    state.starting = undefined
    throw err
  }

  if (!state.signals) {
    state.signals = true
    // Deliver what is queued before the process goes away. `npm start` sets
    // NEXT_MANUAL_SIG_HANDLE=true so that Next.js leaves SIGTERM/SIGINT to this handler.
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        stopSimulator()
        stopHub({ timeoutMs: 5000 })
          .catch((err: unknown) => console.error('[realtime] stopHub failed:', err))
          .finally(() => process.exit(0))
      })
    }
    console.log(`[realtime] hub listening on ${info.url}${info.path} (epoch ${info.epoch})`)
  }

  if (process.env.DEMO_SIMULATOR !== '0') getSimulator()
  return info
}
