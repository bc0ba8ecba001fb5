// What a sweep's table exports carry besides the words: the model, prompt and phrase the sweep was run with and each
// column's metrics (those the Lab's table shows, labelled as it labels them: "default probes" when measured against
// the shipped texts, "not measured" with the reason when not), so a table pasted elsewhere still says what it is; and
// the per-run metrics as their own CSV. Pure text, written under the seed's words by the one table writer
// (src/shared/seedTableExport.ts) that the Lab view's download and the CLI's `soliloquy table` share.
import { csvText } from './csvCell'
import { markdownCell, markdownTable } from './markdownCell'
import { stepSizeHeader } from './seedTable'
import { defaultTextLabel, unmeasuredReason } from './metricNotes'
import type { RunRecord } from './contract/records'

/** the metrics a column (one run) carries, in the order they are written, with the words a reader sees */
export const EXPORTED_METRICS: readonly { key: keyof RunRecord['metrics']; label: string }[] = [
  { key: 'recall', label: 'recall (words)' },
  { key: 'recallOf', label: 'recall of (words reachable)' },
  { key: 'phraseLossBefore', label: 'phrase loss before' },
  { key: 'phraseLossAfter', label: 'phrase loss after' },
  { key: 'stabilityKl', label: 'stability KL (nats)' },
  { key: 'locality', label: 'locality' },
  { key: 'generalisation', label: 'generalisation' },
  { key: 'repetition', label: 'token repetition' },
  { key: 'compressionRatio', label: 'compression ratio' },
]

/** the model a run was made on, as a person names it: the organism, a checkpoint, or the path given */
export function modelOf(r: Pick<RunRecord, 'modelRef'>): string {
  return r.modelRef === null ? 'organism (embedded)' : r.modelRef.startsWith('ckpt:') ? `checkpoint “${r.modelRef.slice(5)}”` : r.modelRef
}

const value = (v: unknown): string => (typeof v === 'number' && Number.isFinite(v) ? String(v) : '')

/** a metric's row label under the table: with "default probes" etc. when a column measured it against the shipped texts */
function rowLabel(m: (typeof EXPORTED_METRICS)[number], runs: readonly RunRecord[]): string {
  const note = runs.map((r) => defaultTextLabel(r.metrics, m.key)).find((l) => l !== '')
  return note ? `${m.label} · ${note}` : m.label
}

/** why each metric some column lacks was not measured, in words (once per metric) */
function unmeasured(runs: readonly RunRecord[]): [string, string][] {
  const out: [string, string][] = []
  for (const m of EXPORTED_METRICS) {
    const why = [...new Set(runs.filter((r) => !value(r.metrics[m.key])).map((r) => unmeasuredReason(r.metrics, m.key)).filter((x): x is string => !!x))]
    if (why.length) out.push([m.label, why.join('; ')])
  }
  return out
}

/** what the runs share, one line each: model, prompt, phrase (several values joined by " | " when they differ) */
function settings(runs: readonly RunRecord[]): [string, string][] {
  const one = (f: (r: RunRecord) => string): string => [...new Set(runs.map(f))].join(' | ')
  return [
    ['model', one(modelOf)],
    ['prompt', one((r) => r.prompt)],
    ['phrase', one((r) => r.phrase ?? '')],
  ]
}

/** rows to append under the seed table's CSV (as wide as it: gradStep + one cell per column) */
export function seedTableCsvContext(runs: readonly RunRecord[]): string {
  const pad = (cells: string[]): string[] => [...cells, ...Array(Math.max(0, runs.length + 1 - cells.length)).fill('')]
  const rows = [
    ...settings(runs).map(([k, v]) => pad([k, v])),
    ...EXPORTED_METRICS.map((m) => [rowLabel(m, runs), ...runs.map((r) => value(r.metrics[m.key]))]),
    ...unmeasured(runs).map(([label, why]) => pad([`${label} not measured`, why])),
  ]
  return csvText(rows)
}

/** Markdown to append under the seed table: the settings, then one row per metric with the table's columns */
export function seedTableMarkdownContext(runs: readonly RunRecord[]): string {
  const cell = markdownCell
  const header = ['metric', ...runs.map((r) => stepSizeHeader(r.lr, 'md'))]
  const metrics = EXPORTED_METRICS.map((m) => [rowLabel(m, runs), ...runs.map((r) => value(r.metrics[m.key]) || (unmeasuredReason(r.metrics, m.key) ? 'not measured' : '—'))])
  return [
    '',
    ...settings(runs).map(([k, v]) => `- ${k}: ${cell(v)}`),
    '',
    markdownTable([header, ...metrics]).trimEnd(),
    ...(unmeasured(runs).length ? ['', ...unmeasured(runs).map(([label, why]) => `- ${label} not measured: ${cell(why)}`)] : []),
  ].join('\n') + '\n'
}

/** every run's metrics, one row a run (run id, α, model, prompt, phrase, status, then EXPORTED_METRICS) */
export function runMetricsCsv(runs: readonly RunRecord[]): string {
  const header = ['run', 'α', 'model', 'prompt', 'phrase', 'status', ...EXPORTED_METRICS.map((m) => m.label)]
  const rows = runs.map((r) => [`r${r.id}`, r.lr === null ? '' : String(r.lr), modelOf(r), r.prompt, r.phrase ?? '', r.status, ...EXPORTED_METRICS.map((m) => value(r.metrics[m.key]))])
  return csvText([header, ...rows])
}
