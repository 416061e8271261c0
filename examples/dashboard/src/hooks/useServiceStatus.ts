// nself-admin's module path, backed by nself-realtime/react.
export { useServiceStatus } from 'nself-realtime/react'
