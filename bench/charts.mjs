// Hand-written SVG bar charts for bench/run.mjs: one grouped bar chart per metric, scenarios on
// the x axis, one bar per peer. No dependencies; the files are small and diff well.

import fs from 'node:fs'
import path from 'node:path'

const COLORS = { 'socket.io': '#9aa5b1', socketioxide: '#e8a33d', 'nself-realtime': '#2f6fdf' }
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

function niceMax(v) {
  if (!(v > 0)) return 1
  const p = 10 ** Math.floor(Math.log10(v))
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p
  return 10 * p
}

const label = (v) => (v >= 100 ? Math.round(v).toLocaleString('en-US') : v >= 10 ? v.toFixed(1) : v.toFixed(2))

/** `groups`: [{ name, values: { peer: number|undefined } }]. */
export function barChart({ title, unit, groups, peers, note }) {
  const W = 760
  const H = 360
  const m = { l: 70, r: 20, t: 48, b: 78 }
  const pw = W - m.l - m.r
  const ph = H - m.t - m.b
  const max = niceMax(Math.max(0, ...groups.flatMap((g) => peers.map((p) => g.values[p] ?? 0))))
  const gw = pw / Math.max(1, groups.length)
  const bw = Math.min(36, (gw * 0.8) / peers.length)
  const y = (v) => m.t + ph - (ph * v) / max
  const out = []
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif" font-size="12">`)
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`)
  out.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="15" font-weight="600">${esc(title)}</text>`)
  if (note) out.push(`<text x="${W / 2}" y="37" text-anchor="middle" fill="#666">${esc(note)}</text>`)
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4
    out.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y(v)}" y2="${y(v)}" stroke="#e3e3e3"/>`)
    out.push(`<text x="${m.l - 6}" y="${y(v) + 4}" text-anchor="end" fill="#444">${label(v)}</text>`)
  }
  out.push(`<text transform="translate(16 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle" fill="#444">${esc(unit)}</text>`)
  groups.forEach((g, gi) => {
    const x0 = m.l + gi * gw + (gw - bw * peers.length) / 2
    peers.forEach((p, pi) => {
      const v = g.values[p]
      const x = x0 + pi * bw
      if (v === undefined || Number.isNaN(v)) {
        out.push(`<text x="${x + bw / 2}" y="${y(0) - 4}" text-anchor="middle" fill="#999" font-size="10">n/a</text>`)
        return
      }
      out.push(`<rect x="${x.toFixed(1)}" y="${y(v).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${(y(0) - y(v)).toFixed(1)}" fill="${COLORS[p] ?? '#555'}"><title>${esc(`${g.name} · ${p}: ${label(v)} ${unit}`)}</title></rect>`)
      out.push(`<text x="${(x + bw / 2 - 1).toFixed(1)}" y="${(y(v) - 3).toFixed(1)}" text-anchor="middle" font-size="9" fill="#333">${label(v)}</text>`)
    })
    out.push(`<text x="${m.l + gi * gw + gw / 2}" y="${m.t + ph + 16}" text-anchor="middle">${esc(g.name)}</text>`)
  })
  out.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y(0)}" y2="${y(0)}" stroke="#333"/>`)
  peers.forEach((p, i) => {
    const x = m.l + i * 170
    out.push(`<rect x="${x}" y="${H - 24}" width="12" height="12" fill="${COLORS[p] ?? '#555'}"/><text x="${x + 18}" y="${H - 14}">${esc(p)}</text>`)
  })
  out.push('</svg>')
  return out.join('\n') + '\n'
}

/** Writes the charts of one run; returns their paths. */
export function writeCharts(results, peers, dir, mode) {
  fs.mkdirSync(dir, { recursive: true })
  const files = []
  const note = `${mode} run, medians; bench/run.mjs`
  const chart = (file, title, unit, kinds, pick, names) => {
    const groups = results
      .filter((s) => kinds.includes(s.kind) && (!names || names.includes(s.name)))
      .map((s) => ({ name: s.name, values: Object.fromEntries(peers.map((p) => [p, s.peers[p] ? pick(s.peers[p]) : undefined])) }))
    if (groups.length === 0) return
    const f = path.join(dir, `${mode}-${file}.svg`)
    fs.writeFileSync(f, barChart({ title, unit, groups, peers, note }))
    files.push(f)
  }
  chart('latency-p99', 'Delivery latency p99 (emit call → client)', 'ms', ['run'], (m) => m.p99_ms)
  chart('cpu-per-event', 'Server CPU per delivered event', 'ns', ['run'], (m) => m.cpu_ns_per_event)
  chart('event-loop-p99', 'Event-loop delay p99 of the emitting Node process', 'ms', ['run'], (m) => m.eld_p99_ms)
  chart('rss-per-connection', 'RSS per idle connection', 'KB', ['idle'], (m) => m.rss_per_conn_kb, results.filter((s) => s.kind === 'idle' && !s.name.startsWith('hold')).map((s) => s.name))
  chart('emit-cost', 'JS-thread cost of one emit call', 'ns', ['emitcost'], (m) => m.emit_ns)
  const per = (m, k) => m[k] / Math.max(1, m.events_delivered)
  chart('batching-frames', 'Frames per delivered event, log stream, batching on vs off', 'frames / event', ['run'], (m) => per(m, 'frames'), ['logs-batch-on', 'logs-batch-off'])
  chart('batching-bytes', 'TCP bytes per delivered event, log stream, batching on vs off', 'bytes / event', ['run'], (m) => per(m, 'tcp_bytes'), ['logs-batch-on', 'logs-batch-off'])
  return files
}
