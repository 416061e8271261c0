// nself-admin's module path, backed by the package (runs anywhere: browser and server).
export * from 'nself-realtime/events'
