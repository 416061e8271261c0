import type { NextConfig } from 'next'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))

// The hub (started by src/instrumentation.ts) listens on its own port; the browser reaches it
// on the page's origin through the rewrite below, so the client's default URL works.
const hubPort = Number(process.env.REALTIME_PORT || 3022) // a fixed port: the rewrite needs it (not 0)

const nextConfig: NextConfig = {
  // Native addons must not be bundled (they are loaded with require() at run time).
  // (better-sqlite3 is on Next's built-in list already; named here to say so.)
  serverExternalPackages: ['nself-realtime', 'better-sqlite3'],
  // This app sits inside the library's repo, which has its own lockfile: pin the roots here.
  turbopack: { root: here },
  outputFileTracingRoot: here,
  // socket.io-client requests `/api/ws/?EIO=4…`: without this, Next redirects it to `/api/ws`,
  // which the route handler src/app/api/ws/route.ts would answer.
  skipTrailingSlashRedirect: true,
  async rewrites() {
    return {
      // beforeFiles: checked before app routes, so `/api/ws/` (the Socket.IO path, polling and
      // WebSocket upgrades) goes to the hub, while `GET /api/ws` (no slash) stays with the route.
      beforeFiles: [{ source: '/api/ws/', destination: `http://127.0.0.1:${hubPort}/api/ws/` }],
      afterFiles: [],
      fallback: [],
    }
  },
}

export default nextConfig
