// nself-admin's module path, backed by nself-realtime/react.
export { useRoom } from 'nself-realtime/react'
