// nself-admin's module path, backed by the package's browser client.
export * from 'nself-realtime/client'
