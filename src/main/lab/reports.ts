// What leaves the lab: an experiment as a JSON document, the seed's table of a sweep as Markdown/CSV, and the diff
// of two runs (completions aligned token by token, settings and metrics side by side).
import type { DiffOp, ExperimentSummary, RunDiff, RunRecord, TableFormat } from '../../shared/api'
import { seedTableCsv, seedTableMarkdown, seedWords } from '../../shared/seedTable'

/**
 * Alignment of two token sequences by their longest common subsequence (dynamic programming, O(n·m)): 'same' for
 * tokens in the LCS, 'del' for tokens only in a, 'ins' for tokens only in b, in reading order.
 */
export function alignTokens(a: readonly number[], b: readonly number[], text: (id: number) => string): { ops: DiffOp[]; common: number } {
  const n = a.length
  const m = b.length
  // lcs[i][j]: LCS length of a[i..] and b[j..]
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1))
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--) lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1])
  const ops: DiffOp[] = []
  let i = 0
  let j = 0
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      ops.push({ op: 'same', id: a[i], text: text(a[i]), a: i, b: j })
      i++
      j++
    } else if (j < m && (i === n || lcs[i][j + 1] >= lcs[i + 1][j])) {
      ops.push({ op: 'ins', id: b[j], text: text(b[j]), a: null, b: j })
      j++
    } else {
      ops.push({ op: 'del', id: a[i], text: text(a[i]), a: i, b: null })
      i++
    }
  }
  return { ops, common: lcs[0][0] }
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

export function diffRuns(a: RunRecord, b: RunRecord, text: (id: number) => string): RunDiff {
  const { ops, common } = alignTokens(a.outputIds, b.outputIds, text)
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
    settings: settingKeys.map(([key, label, f]) => {
      const va = f(a)
      const vb = f(b)
      return { key, label, a: va, b: vb, same: JSON.stringify(va) === JSON.stringify(vb) }
    }),
    metrics: METRIC_LABELS.filter(([k]) => a.metrics[k] !== undefined || b.metrics[k] !== undefined).map(([key, label]) => {
      const va = scalar(a.metrics[key])
      const vb = scalar(b.metrics[key])
      return { key: String(key), label, a: va, b: vb, delta: va !== null && vb !== null ? vb - va : null }
    }),
  }
}

/** The seed's table of a sweep-like experiment (one column per run with a step size, in its order). */
export function experimentTable(e: ExperimentSummary, runs: RunRecord[], format: TableFormat): { text: string; filename: string } {
  const cols = runs.filter((r) => r.lr !== null).map((r) => ({ lr: r.lr as number, words: seedWords(r.fullText) }))
  const text = format === 'csv' ? seedTableCsv(cols) : seedTableMarkdown(cols)
  return { text, filename: `experiment-${e.id}-${e.kind}.${format}` }
}
