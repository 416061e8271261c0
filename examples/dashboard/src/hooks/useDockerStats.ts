// nself-admin's module path, backed by nself-realtime/react.
export { useDockerStats } from 'nself-realtime/react'
