// `soliloquy history` (experiments, --runs to expand them; --flat for the old list of runs), `soliloquy show
// EXPERIMENT|RUN`, `soliloquy experiment note|title|tag|untag|star|unstar ID …`, `soliloquy table EXPERIMENT
// --format md|csv`, `soliloquy diff RUN RUN`-style data lives in the lab (methods.ts); this is only its face.
import { writeFileSync } from 'node:fs'
import { InputError } from '../../engine/engine'
import {
  experimentKinds,
  experimentSortKeys,
  runStatuses,
  type ExperimentFilter,
  type ExperimentKind,
  type ExperimentSummary,
  type RunRecord,
  type RunStatus,
} from '../../../shared/api'
import { Flags, fmt, formatTable, int, labFlags, oneLine, printJson, str, withLab } from '../common'
import { choices, date } from '../args'
import { historyCommand, historyOptions, showCommand } from './history'
import { parseId, type IdKind } from '../ids'
import { UNREADABLE_CELL } from '../../lab/history/cells'

export const experimentsHistoryOptions = {
  ...historyOptions,
  runs: { type: 'boolean' },
  flat: { type: 'boolean' },
  tag: { type: 'string' },
  starred: { type: 'boolean' },
  text: { type: 'string' },
} as const

export function experimentFilter(flags: Flags): ExperimentFilter {
  const f: ExperimentFilter = {}
  const model = str(flags, 'model')
  if (model !== undefined) f.model = /^\d+$/.test(model) ? Number(model) : model
  f.kind = choices<ExperimentKind>(flags, 'kind', experimentKinds)
  f.status = choices<RunStatus>(flags, 'status', runStatuses)
  f.tag = str(flags, 'tag')
  if (flags.starred) f.starred = true
  f.text = str(flags, 'text')
  f.from = date(flags, 'from')
  f.to = date(flags, 'to')
  const sort = str(flags, 'sort')
  if (sort !== undefined) {
    if (!(experimentSortKeys as readonly string[]).includes(sort))
      throw new InputError(`--sort: "${sort}" is not one of ${experimentSortKeys.join(', ')} (runs: use --flat)`)
    f.sort = sort as ExperimentFilter['sort']
  }
  f.order = flags.asc ? 'asc' : 'desc'
  f.limit = int(flags, 'limit', 30)
  f.offset = int(flags, 'offset', 0)
  for (const k of Object.keys(f) as (keyof ExperimentFilter)[]) if (f[k] === undefined) delete f[k]
  return f
}

function base(e: { base: ExperimentSummary['base'] }): string {
  if (!e.base) return ''
  return e.base.state === 'live' ? e.base.name : `${e.base.name} (${e.base.state})`
}

/** A run under its experiment in `history --runs`: the same columns as the experiment, its metrics in the last. */
function runRow(r: RunRecord): (string | number)[] {
  const m = r.metrics
  const recall = m.recall === undefined ? '' : `recall ${m.recall}${m.recallOf !== undefined ? `/${m.recallOf}` : ''}, `
  const text = r.status === 'done' || r.outputText ? r.outputText : (r.error ?? '')
  const metrics = r.unreadable?.includes('metrics') ? `metrics ${UNREADABLE_CELL}` : `${recall}KL ${fmt(m.stabilityKl)}, rep ${fmt(m.repetition, 3)}`
  return [`  r${r.id}`, r.kind, r.status, r.lr ?? '', oneLine(r.prefix ? `(prefixed) ${r.prompt}` : r.prompt, 16), r.maxGen, '',
    r.base ? base(r) : '', '', r.startedAt.replace('T', ' ').slice(0, 19),
    oneLine(`${metrics}: ${text}`, 60)]
}

/** A run in `show EXPERIMENT`: its metrics as columns. */
function runMetricsRow(r: RunRecord): (string | number)[] {
  const m = r.metrics
  const completion = oneLine(r.status === 'done' || r.outputText ? r.outputText : (r.error ?? ''), 40)
  // a metrics cell the history cannot read: its columns say so, the rest of the row is shown
  if (r.unreadable?.includes('metrics'))
    return [`r${r.id}`, r.status, r.lr ?? '', r.prefix ? 'yes' : '', r.maxGen, '?', '?', '?', '?', '?', '?', '?', `metrics ${UNREADABLE_CELL} ${completion}`]
  return [`r${r.id}`, r.status, r.lr ?? '', r.prefix ? 'yes' : '', r.maxGen, m.recall ?? '', m.recallOf ?? '', fmt(m.stabilityKl),
    fmt(m.repetition, 3), fmt(m.compressionRatio, 3), fmt(m.generalisation, 3), fmt(m.locality, 3), completion]
}

/** `soliloquy history`: experiments (one per action), newest first; --runs lists each one's runs under it. */
export async function experimentsHistoryCommand(flags: Flags): Promise<void> {
  if (flags.flat) return historyCommand(flags)
  const filter = experimentFilter(flags)
  await withLab({ ...flags, model: undefined }, async (lab) => {
    const page = await lab.call('experiments', filter)
    const runs = new Map<number, RunRecord[]>()
    if (flags.runs) for (const e of page.experiments) runs.set(e.id, (await lab.call('experiment', { id: e.id })).runs)
    if (flags.json) {
      if (!flags.runs) return printJson(page)
      return printJson({ ...page, experiments: page.experiments.map((e) => ({ ...e, runs: runs.get(e.id) ?? [] })) })
    }
    if (page.experiments.length === 0) {
      process.stdout.write(page.total ? `no experiments on this page (${page.total} match)\n` : 'no experiments recorded yet\n')
      return
    }
    const rows: (string | number)[][] = []
    for (const e of page.experiments) {
      rows.push([`e${e.id}${e.starred ? ' ★' : ''}`, e.kind, e.status, e.lrs.length > 6 ? `${e.lrs.length} sizes` : e.lrs.join(' '),
        oneLine(e.prompt, 16), e.maxGen ?? '', e.runCount, base(e), e.tags.join(','), e.createdAt.replace('T', ' ').slice(0, 19),
        oneLine(e.title || e.notes || (e.phrase ?? ''), 40)])
      for (const r of runs.get(e.id) ?? []) rows.push(runRow(r))
    }
    process.stdout.write(
      formatTable(['id', 'kind', 'status', 'α', 'prompt', 'max tokens', 'runs', 'base', 'tags', 'created', 'title / notes / phrase'], rows) + '\n',
    )
    const off = filter.offset ?? 0
    process.stdout.write(`${off + 1}–${off + page.experiments.length} of ${page.total} experiments${flags.runs ? '' : ' (--runs lists their runs)'}\n`)
  })
}

/** An id as `show` and the other commands take it: "e12"/"exp:12"/"12" → experiment; "r12"/"run:12" → run. */
export function parseTarget(s: string | undefined, usage: string): { kind: IdKind; id: number } {
  return parseId(s, 'experiment', usage)
}

export const showExperimentOptions = { data: labFlags.data, json: labFlags.json } as const

/** `soliloquy show EXPERIMENT|RUN`: an experiment with its runs (--json: the complete export), or one run. */
export async function showAnyCommand(flags: Flags, positionals: string[]): Promise<void> {
  const t = parseTarget(positionals[0], 'usage: soliloquy show EXPERIMENT|RUN (e12 or 12: experiment 12; r34: run 34 — ids from `soliloquy history --runs`)')
  if (t.kind === 'run') return showCommand(flags, [String(t.id)])
  await withLab(flags, async (lab) => {
    if (flags.json) return printJson(await lab.call('exportExperiment', { id: t.id }))
    const { experiment: e, runs } = await lab.call('experiment', { id: t.id })
    const info: [string, string][] = [
      ['experiment', `e${e.id} ${e.kind}, ${e.status}${e.starred ? ', starred' : ''}`],
      ['model', `${e.modelName ?? ''}${e.modelRef ? ` (${e.modelRef})` : ''}, fingerprint ${e.modelFingerprint.slice(0, 12)}`],
      ['base', base(e) || 'the plain model'],
      ['prompt', JSON.stringify(e.prompt)],
      ['phrase', e.phrase === null ? '—' : JSON.stringify(e.phrase)],
      ['settings', `max tokens ${e.maxGen ?? '—'}, max_seq_len ${e.maxSeq ?? '—'}, step sizes ${e.lrs.join(', ') || '—'}`],
      ['created', `${e.createdAt}${e.finishedAt ? ` → ${e.finishedAt}` : ''}`],
    ]
    if (e.error) info.push(['error', e.error])
    if (e.title) info.push(['title', e.title])
    if (e.tags.length) info.push(['tags', e.tags.join(', ')])
    if (e.notes) info.push(['notes', e.notes])
    const w = Math.max(...info.map(([k]) => k.length))
    process.stdout.write(info.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n') + '\n\n')
    process.stdout.write(
      formatTable(
        ['run', 'status', 'α', 'prefixed', 'max tokens', 'recall', 'of', 'KL', 'repetition', 'compression', 'generalisation', 'locality', 'completion'],
        runs.map(runMetricsRow),
      ) + '\n',
    )
  })
}

export const experimentOptions = { data: labFlags.data, json: labFlags.json } as const

/** `soliloquy experiment note|title|tag|untag|star|unstar EXPERIMENT [TEXT|TAG…]` */
export async function experimentCommand(flags: Flags, positionals: string[]): Promise<void> {
  const usage = 'usage: soliloquy experiment note|title|tag|untag|star|unstar EXPERIMENT [TEXT | TAG…]'
  const [action, target, ...rest] = positionals
  if (!action || !['note', 'title', 'tag', 'untag', 'star', 'unstar'].includes(action)) throw new InputError(usage)
  const t = parseTarget(target, usage)
  if (t.kind !== 'experiment') throw new InputError(`${action}: notes, tags and stars belong to experiments (got run ${t.id})`)
  await withLab(flags, async (lab) => {
    const cur = (await lab.call('experiment', { id: t.id })).experiment
    const text = rest.join(' ')
    const tags = rest.flatMap((x) => x.split(',')).map((x) => x.trim()).filter(Boolean)
    if ((action === 'tag' || action === 'untag') && !tags.length) throw new InputError(`${action}: give at least one tag`)
    const update =
      action === 'note'
        ? { notes: text }
        : action === 'title'
          ? { title: text }
          : action === 'tag'
            ? { tags: [...cur.tags, ...tags] }
            : action === 'untag'
              ? { tags: cur.tags.filter((x) => !tags.some((y) => y.toLowerCase() === x.toLowerCase())) }
              : { starred: action === 'star' }
    const e = await lab.call('updateExperiment', { id: t.id, ...update })
    if (flags.json) return printJson(e)
    process.stdout.write(`e${e.id}: ${e.starred ? '★ ' : ''}${e.title ? `"${e.title}" ` : ''}tags [${e.tags.join(', ')}]${e.notes ? `, notes: ${oneLine(e.notes, 60)}` : ''}\n`)
  })
}

export const tableOptions = { data: labFlags.data, json: labFlags.json, format: { type: 'string' }, out: { type: 'string' } } as const

/** `soliloquy table EXPERIMENT --format md|csv [--out FILE]`: the seed's table of a sweep. */
export async function tableCommand(flags: Flags, positionals: string[]): Promise<void> {
  const t = parseTarget(positionals[0], 'usage: soliloquy table EXPERIMENT [--format md|csv] [--out FILE]')
  if (t.kind !== 'experiment') throw new InputError(`table: give an experiment (a sweep), not run ${t.id}`)
  const format = str(flags, 'format') ?? 'md'
  if (format !== 'md' && format !== 'csv') throw new InputError(`--format: "${format}" is not one of md, csv`)
  await withLab(flags, async (lab) => {
    const r = await lab.call('experimentTable', { id: t.id, format })
    const out = str(flags, 'out')
    if (out) writeFileSync(out, r.text)
    if (flags.json) return printJson({ ...r, ...(out ? { out } : {}) })
    if (!out) process.stdout.write(r.text)
    else process.stdout.write(`wrote ${out} (${r.format}, ${r.text.length} characters)\n`)
  })
}
