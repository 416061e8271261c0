// nself-admin's module path, backed by nself-realtime/react.
export { useDeployProgress } from 'nself-realtime/react'
