// Several sweeps overlaid (src/renderer/src/lib/sweepCurves.ts): one recall curve and one KL curve per sweep
// experiment, α ascending, α = 0 and other kinds left out.
import { describe, expect, it } from 'vitest'
import type { ScatterPoint } from '../src/shared/api'
import { sweepCurves, sweepExperiments } from '../src/renderer/src/lib/sweepCurves'

const pt = (runId: number, experimentId: number, kind: string, lr: number, recall: number | null, kl: number | null, phrase = 'To be'): ScatterPoint =>
  ({ runId, experimentId, kind, lr, recall, stabilityKl: kl, phrase }) as unknown as ScatterPoint

const points = [
  pt(1, 1, 'sweep', 0, 2, 0), pt(2, 1, 'sweep', 0.1, 5, 0.4), pt(3, 1, 'sweep', 0.03, 45, 0.01),
  pt(4, 2, 'compare', 0.03, 40, 0.01),
  pt(5, 3, 'sweep', 0.01, 3, null, 'Hello'), pt(6, 3, 'sweep', 0.003, 1, 0.001, 'Hello'),
]

describe('sweep curves', () => {
  it('lists the sweep experiments, newest first', () => {
    expect(sweepExperiments(points)).toEqual([3, 1])
  })
  it('one curve per chosen sweep: positive α ascending, recall and KL side by side, gaps kept', () => {
    const [a, b] = sweepCurves(points, [1, 3])
    expect(a).toEqual({ experimentId: 1, phrase: 'To be', recall: [[0.03, 45], [0.1, 5]], kl: [[0.03, 0.01], [0.1, 0.4]] })
    expect(b.recall).toEqual([[0.003, 1], [0.01, 3]])
    expect(b.kl).toEqual([[0.003, 0.001], [0.01, null]])
  })
  it('a compare, or an experiment with no positive α, draws no curve', () => {
    expect(sweepCurves(points, [2])).toEqual([])
    expect(sweepCurves([pt(1, 9, 'sweep', 0, 1, 0)], [9])).toEqual([])
  })
})
