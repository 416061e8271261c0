'use client'
import { useDockerStats } from '@/hooks/useDockerStats'
import { Sparkline } from './Sparkline'

const MiB = 1024 * 1024

export function DockerStats() {
  const { stats, history } = useDockerStats(undefined, { historySize: 60 })
  const containers = Object.values(stats).sort((a, b) => a.containerName.localeCompare(b.containerName))
  return (
    <section className="panel" data-testid="docker-stats">
      <h2>Containers</h2>
      {containers.length === 0 && <p className="muted">waiting for docker:stats…</p>}
      <table className="stats small">
        <thead>
          <tr>
            <th>container</th>
            <th>CPU</th>
            <th />
            <th>memory</th>
            <th />
            <th>net rx / tx</th>
          </tr>
        </thead>
        <tbody>
          {containers.map((c) => {
            const h = history[c.containerId] ?? []
            return (
              <tr key={c.containerId}>
                <td title={c.containerId}>{c.containerName}</td>
                <td className="num">{c.stats.cpu.toFixed(1)}%</td>
                <td>
                  <Sparkline values={h.map((s) => s.stats.cpu)} label={`${c.containerName} CPU, last ${h.length} s`} />
                </td>
                <td className="num">
                  {(c.stats.memory / MiB).toFixed(0)} MiB ({c.stats.memoryPercent.toFixed(1)}%)
                </td>
                <td>
                  <Sparkline
                    values={h.map((s) => s.stats.memoryPercent)}
                    color="#60a5fa"
                    fit
                    label={`${c.containerName} memory %, last ${h.length} s`}
                  />
                </td>
                <td className="num muted">
                  {(c.stats.network.rx / MiB).toFixed(1)} / {(c.stats.network.tx / MiB).toFixed(1)} MiB
                </td>
              </tr>
            )
          })}
        </tbody>
      </table>
    </section>
  )
}
