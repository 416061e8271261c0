// The browser tests (__test__/browser): run after the main suite by `npm test`, alone by
// `npm run test:browser`. Separate because they build and serve the Next.js example (minutes on a
// fresh machine) and should not compete for the CPU with the main suite.
export default {
  files: ['__test__/browser/**/*.test.mjs'],
  workerThreads: false,
  timeout: '10m',
}
