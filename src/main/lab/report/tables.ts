// What leaves the lab: an experiment as a JSON document, the seed's table of a sweep as Markdown/CSV, and the diff
// of two runs (completions aligned token by token, settings and metrics side by side).
import type { DiffOp, ExperimentSummary, RunDiff, RunRecord, TableFormat } from '../../../shared/api'
import { alignTokens, metricsSideBySide, sameFraction } from '../../../shared/diff'
import { seedTableText } from '../../../shared/seedTableExport'

/**
 * The two completions aligned by their longest common subsequence (src/shared/diff.ts, the one implementation the
 * CLI's `soliloquy diff` shares): 'same' for tokens in the LCS, 'del' for tokens only in a, 'ins' for tokens only in
 * b, in reading order, each with its position in a and b.
 */
export function alignRunTokens(a: readonly number[], b: readonly number[], text: (ids: number[]) => string[]): { ops: DiffOp[]; common: number; sameFraction: number } {
  const aligned = alignTokens(a, b)
  const ta = text([...a])
  const tb = text([...b])
  const ops: DiffOp[] = []
  let i = 0
  let j = 0
  for (const o of aligned) {
    if (o.op === 'same') ops.push({ op: 'same', id: a[i], text: ta[i], a: i++, b: j++ })
    else if (o.op === 'a') ops.push({ op: 'del', id: a[i], text: ta[i], a: i++, b: null })
    else ops.push({ op: 'ins', id: b[j], text: tb[j], a: null, b: j++ })
  }
  const common = ops.filter((o) => o.op === 'same').length
  return { ops, common, sameFraction: sameFraction(aligned, a.length, b.length) }
}

const METRIC_LABELS: [keyof RunRecord['metrics'], string][] = [
  ['recall', 'Recall (words)'],
  ['recallOf', 'Recall out of (reachable words)'],
  ['recallShare', 'Recall share'],
  ['referenceLogprob', 'Reference log-prob'],
  ['referenceLoss', 'Reference loss'],
  ['phraseLossBefore', 'Phrase loss before'],
  ['phraseLossAfter', 'Phrase loss after'],
  ['stabilityKl', 'Probe KL (mean)'],
  ['probePerplexityDelta', 'Probe perplexity change'],
  ['repetition', 'Repetition (4-grams)'],
  ['compressionRatio', 'Compression ratio'],
  ['longestRepeat', 'Longest repeat (words)'],
  ['generalisation', 'Generalisation'],
  ['locality', 'Locality'],
  ['minMargin', 'Smallest top-1 margin'],
  ['distinct2', 'Distinct-2 (old rows)'],
]

function scalar(v: unknown): number | null {
  return typeof v === 'number' ? v : null
}

export function diffRuns(a: RunRecord, b: RunRecord, text: (ids: number[]) => string[]): RunDiff {
  const { ops, common, sameFraction } = alignRunTokens(a.outputIds, b.outputIds, text)
  const settingKeys: [string, string, (r: RunRecord) => unknown][] = [
    ['kind', 'Kind', (r) => r.kind],
    ['experimentId', 'Experiment', (r) => r.experimentId],
    ['modelId', 'Model', (r) => r.modelId],
    ['base', 'Started from', (r) => (r.base ? r.base.name : null)],
    ['prompt', 'Prompt', (r) => r.prompt],
    ['prefix', 'Prefix', (r) => r.prefix],
    ['phrase', 'Phrase', (r) => r.phrase],
    ['lr', 'Step size α', (r) => r.lr],
    ['maxGen', 'Max tokens', (r) => r.maxGen],
    ['maxSeq', 'Max sequence length', (r) => r.maxSeq],
    ['temperature', 'Temperature', (r) => r.temperature],
    ['topP', 'Top-p', (r) => r.topP],
    ['seed', 'Seed', (r) => r.seed],
    ['chain', 'Steps before', (r) => r.chain],
    ['status', 'Status', (r) => r.status],
  ]
  return {
    a,
    b,
    tokens: ops,
    common,
    sameFraction,
    settings: settingKeys.map(([key, label, f]) => {
      const va = f(a)
      const vb = f(b)
      return { key, label, a: va, b: vb, same: JSON.stringify(va) === JSON.stringify(vb) }
    }),
    metrics: diffMetrics(a, b),
  }
}

/** The labelled metrics first, in their order, then every other scalar metric either run has (keys sorted). */
function diffMetrics(a: RunRecord, b: RunRecord): RunDiff['metrics'] {
  const labelled = new Map<string, string>(METRIC_LABELS.map(([k, l]) => [String(k), l]))
  const all = metricsSideBySide(a.metrics as Record<string, unknown>, b.metrics as Record<string, unknown>)
  const rank = (k: string): number => {
    const i = METRIC_LABELS.findIndex(([key]) => key === k)
    return i < 0 ? METRIC_LABELS.length : i
  }
  return all
    .filter((m) => m.a !== null || m.b !== null || labelled.has(m.key))
    .sort((x, y) => rank(x.key) - rank(y.key))
    .map(({ key, a: va, b: vb }) => ({
      key,
      label: labelled.get(key) ?? key,
      a: scalar(va),
      b: scalar(vb),
      delta: va !== null && vb !== null ? vb - va : null,
    }))
}

/**
 * The seed's table of an experiment (one column per run, in its order; a run without a step size as a "no step"
 * column), then model, prompt, phrase and each column's metrics: the bytes the Lab's download writes for the same runs
 * (src/shared/seedTableExport.ts, the one writer).
 */
export function experimentTable(e: ExperimentSummary, runs: RunRecord[], format: TableFormat): { text: string; filename: string } {
  return { text: seedTableText(runs, format), filename: `experiment-${e.id}-${e.kind}.${format}` }
}
