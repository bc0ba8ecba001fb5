// Several sweeps on one chart: each sweep experiment's recall and stability KL against α, one curve per experiment,
// built from the scatter's points (they already carry experiment, α and both metrics). α = 0 cannot sit on a log axis,
// so a curve holds the positive step sizes only.
import type { ScatterPoint } from '@shared/api'

export interface SweepCurve {
  experimentId: number
  /** the phrase the sweep stepped on (the curve's legend) */
  phrase: string
  /** [α, value] pairs, α ascending; a value not measured is null (a gap) */
  recall: [number, number | null][]
  kl: [number, number | null][]
}

/** the sweeps among the points, newest experiment first */
export function sweepExperiments(points: readonly ScatterPoint[]): number[] {
  return [...new Set(points.filter((p) => p.kind === 'sweep' && p.experimentId !== null).map((p) => p.experimentId as number))].sort((a, b) => b - a)
}

/** one curve per chosen sweep experiment, in the order chosen */
export function sweepCurves(points: readonly ScatterPoint[], experimentIds: readonly number[]): SweepCurve[] {
  return experimentIds.flatMap((id) => {
    const ps = points.filter((p) => p.kind === 'sweep' && p.experimentId === id && p.lr !== null && p.lr > 0).sort((a, b) => a.lr! - b.lr!)
    if (ps.length === 0) return []
    return [{ experimentId: id, phrase: ps[0].phrase ?? '', recall: ps.map((p) => [p.lr!, p.recall] as [number, number | null]), kl: ps.map((p) => [p.lr!, p.stabilityKl] as [number, number | null]) }]
  })
}
