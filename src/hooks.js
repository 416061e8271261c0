// Evaluated once per JS thread by src/binding.rs: takes the function options (`authenticate`,
// `authorizeRoom`) out of startHub's options, so that the rest can be read as JSON.
// Each function is wrapped so that calling it never throws synchronously: it always returns a
// promise of a JSON string (a throw or a rejection becomes a rejected promise, which the hub
// treats as a refusal). Values that are not functions are returned as they came, for Rust to
// refuse with the option named.
(() => (options) => {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    return { rest: options }
  }
  const { authenticate, authorizeRoom, ...rest } = options
  return {
    rest,
    authenticate:
      typeof authenticate === 'function'
        ? (json) =>
            Promise.resolve()
              .then(() => authenticate(JSON.parse(json)))
              .then((r) => JSON.stringify(r === undefined ? null : r) ?? 'null')
        : authenticate,
    authorizeRoom:
      typeof authorizeRoom === 'function'
        ? (json) =>
            Promise.resolve()
              .then(() => {
                const [userId, room] = JSON.parse(json)
                return authorizeRoom(userId, room)
              })
              .then((ok) => (ok === true ? 'true' : 'false'))
        : authorizeRoom,
  }
})()
