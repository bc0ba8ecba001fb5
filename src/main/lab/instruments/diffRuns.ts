// Two runs side by side (issue 10, "a diff of any two runs"): completions token-aligned (src/shared/diff.ts) and
// every scalar metric of either.
import type { DiffRunsResult, RunRecord } from '../../../shared/api'
import { alignTokens, metricsSideBySide, sameFraction } from '../../../shared/diff'

export function diffRuns(a: RunRecord, b: RunRecord, pieces: (ids: number[]) => string[]): DiffRunsResult {
  const ops = alignTokens(a.outputIds, b.outputIds)
  const ta = pieces(a.outputIds)
  const tb = pieces(b.outputIds)
  return {
    a,
    b,
    ops: ops.map((o) =>
      o.op === 'b' ? { op: 'b', id: b.outputIds[o.index], text: tb[o.index] } : { op: o.op, id: a.outputIds[o.index], text: ta[o.index] },
    ),
    sameFraction: sameFraction(ops, a.outputIds.length, b.outputIds.length),
    metrics: metricsSideBySide(
      { lr: a.lr, ...(a.metrics as Record<string, unknown>) },
      { lr: b.lr, ...(b.metrics as Record<string, unknown>) },
    ),
  }
}
