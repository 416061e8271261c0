// An inline SVG sparkline of the last values (no chart library).
export function Sparkline({
  values,
  max,
  width = 140,
  height = 32,
  color = '#4ade80',
  label,
  fit = false,
}: {
  values: readonly number[]
  /** Top of the scale (default: the largest value). */
  max?: number
  /** Scale from the smallest value instead of 0 (for slow-moving series such as memory). */
  fit?: boolean
  width?: number
  height?: number
  color?: string
  label: string
}) {
  const lo = fit && values.length > 0 ? Math.min(...values) : 0
  const top = Math.max(max ?? 0, ...values, lo + 1e-9)
  const n = values.length
  const x = (i: number) => (n <= 1 ? width : (i / (n - 1)) * width)
  const y = (v: number) => height - 1 - ((Math.max(lo, v) - lo) / (top - lo)) * (height - 2)
  const points = values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')
  return (
    <svg className="spark" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={label}>
      <title>{label}</title>
      {n > 1 && <polygon points={`0,${height} ${points} ${width},${height}`} fill={color} opacity={0.15} />}
      {n > 0 && <polyline points={points} fill="none" stroke={color} strokeWidth={1.5} />}
    </svg>
  )
}
