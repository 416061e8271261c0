// Evaluated once per JS thread by src/binding.rs: the emitters' JSON.stringify.
// Returns the JSON text, or { __nselfError: message } naming the field that cannot be sent.
// `strict` (the six typed events): NaN and +-Infinity are refused, not turned into null.
(() => {
  const findBad = (root, strict) => {
    const seen = new Set()
    const walk = (v, path) => {
      const here = path || 'data'
      if (typeof v === 'bigint') return `${here}: expected a number, got a bigint (${v}n)`
      if (strict && typeof v === 'number' && !Number.isFinite(v)) {
        return `${here}: expected a finite number, got ${v}`
      }
      if (v === null || typeof v !== 'object' || seen.has(v) || typeof v.toJSON === 'function') {
        return null
      }
      seen.add(v)
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          const bad = walk(v[i], `${here}[${i}]`)
          if (bad) return bad
        }
        return null
      }
      for (const key of Object.keys(v)) {
        const bad = walk(v[key], path ? `${path}.${key}` : key)
        if (bad) return bad
      }
      return null
    }
    return walk(root, '')
  }
  return (value, strict) => {
    let json
    try {
      json = JSON.stringify(value)
    } catch (e) {
      const reason = (e && e.message) || String(e)
      return { __nselfError: findBad(value, strict) || `data: expected a JSON-serialisable value (${reason})` }
    }
    // Only a payload whose JSON holds a null can hide a NaN or an Infinity: walk just those.
    if (strict && json !== undefined && json.includes('null')) {
      const bad = findBad(value, true)
      if (bad) return { __nselfError: bad }
    }
    return json
  }
})()
