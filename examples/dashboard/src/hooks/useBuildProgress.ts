// nself-admin's module path, backed by nself-realtime/react.
export { useBuildProgress } from 'nself-realtime/react'
