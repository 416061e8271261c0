// nself-admin's module path, backed by nself-realtime/react.
export { useLogStream } from 'nself-realtime/react'
