// What the page and the server agree on (safe to import from client components).

export const PROJECT_ROOM = 'project-demo'

export const SERVICES = ['postgres', 'hasura', 'auth', 'minio', 'redis', 'nginx', 'functions'] as const
export type ServiceName = (typeof SERVICES)[number]

export const ENVIRONMENTS = ['local', 'staging', 'production'] as const

export const BUILD_STEPS = [
  'Validate configuration',
  'Generate docker-compose.yml',
  'Generate nginx routes and SSL',
  'Build custom service images',
  'Apply database migrations',
  'Export Hasura metadata',
] as const

export const containerName = (service: string) => `nself_${service}`

export function isService(name: string): name is ServiceName {
  return (SERVICES as readonly string[]).includes(name)
}
