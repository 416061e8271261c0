// nself-admin's module path, backed by nself-realtime/react.
export { useDbQueryResult } from 'nself-realtime/react'
