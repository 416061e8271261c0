import { ClientOnlyDashboard } from '@/components/ClientOnlyDashboard'
import { DEFAULT_PROJECT, isProject } from '@/lib/stack'

// `/?project=alpha` shows that project: its room's builds, deploys, logs, queries and viewers.
//
// REALTIME_PUBLIC_URL (read per request, so no rebuild is needed) makes the browser connect to the
// hub directly, e.g. `http://localhost:3022`, instead of through this app's `/api/ws/` rewrite.
export default async function Page({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const { project } = await searchParams
  const realtimeUrl = process.env.REALTIME_PUBLIC_URL || undefined
  return <ClientOnlyDashboard project={isProject(project) ? project : DEFAULT_PROJECT} realtimeUrl={realtimeUrl} />
}
