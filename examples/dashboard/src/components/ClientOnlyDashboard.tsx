'use client'
// The dashboard renders in the browser only (ssr: false). Why: `serverExternalPackages:
// ['nself-realtime']` externalises every entry point of the package on the server, including
// `nself-realtime/react`, which then imports node_modules/react while the App Router renders with
// Next's own vendored React: two Reacts, and the hooks fail during prerender/SSR with
// "Cannot read properties of null (reading 'useContext')". In the browser bundle the package is
// bundled normally and the hooks work. See README.md, "Known issue".
import dynamic from 'next/dynamic'
import type { ProjectName } from '@/lib/stack'

const Dashboard = dynamic(() => import('./Dashboard').then((m) => m.Dashboard), {
  ssr: false,
  loading: () => <main className="muted">Loading the dashboard…</main>,
})

export function ClientOnlyDashboard(props: { project: ProjectName; realtimeUrl?: string }) {
  return <Dashboard {...props} />
}
