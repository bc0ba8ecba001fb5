// A log axis bounded to its data: echarts' own log axis, left to itself, spans the decades it guesses (1e-10…1e10
// for a KL between 1e-6 and 1e-1), which squeezes the data into a sliver. These bounds are the whole decades around
// the data's smallest and largest positive value — a log axis cannot show 0 or a negative value, so those are left
// out (the chart drops them too).

/** the whole decades [10^floor(log10 min), 10^ceil(log10 max)] around the positive finite values; one decade when
 *  they all sit on one power of ten; undefined when there is none (the caller leaves the axis to echarts then) */
export function logAxisBounds(values: readonly unknown[]): { min: number; max: number } | undefined {
  const pos = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0)
  if (pos.length === 0) return undefined
  const lo = Math.floor(Math.log10(Math.min(...pos)))
  let hi = Math.ceil(Math.log10(Math.max(...pos)))
  if (hi <= lo) hi = lo + 1
  return { min: 10 ** lo, max: 10 ** hi }
}
