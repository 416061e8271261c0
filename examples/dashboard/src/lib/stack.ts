// What the page and the server agree on (safe to import from client components).

/** The projects the page can show (`/?project=alpha`); each has its room `project-<name>`. */
export const PROJECTS = ['demo', 'alpha', 'beta'] as const
export type ProjectName = (typeof PROJECTS)[number]
export const DEFAULT_PROJECT: ProjectName = 'demo'

/** The hub room of a project: build, deploy and log events go there, and presence is kept there. */
export const projectRoom = (project: ProjectName) => `project-${project}`

export function isProject(name: unknown): name is ProjectName {
  return typeof name === 'string' && (PROJECTS as readonly string[]).includes(name)
}

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

/** A project named in a request body or query: absent -> the default, unknown -> null. */
export function projectOf(value: unknown): ProjectName | null {
  if (value === undefined || value === null || value === '') return DEFAULT_PROJECT
  return isProject(value) ? value : null
}
