import { ClientOnlyDashboard } from '@/components/ClientOnlyDashboard'

export default function Page() {
  return <ClientOnlyDashboard />
}
