// nself-admin's module path, backed by nself-realtime/react.
export { usePresence } from 'nself-realtime/react'
