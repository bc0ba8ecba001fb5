// `soliloquy history [filters]` (recorded runs, filtered, sorted, paged) and `soliloquy show RUN` (one run in full).
import { InputError } from '../../engine/engine'
import { runKinds, runStatuses, sortKeys, type HistoryFilter, type RunKind, type RunStatus } from '../../../shared/api'
import { Flags, fmt, fmtBytes, formatTable, int, labFlags, num, oneLine, printJson, str, withLab } from '../common'
import { choices, date } from '../args'
import { describeRun } from './step'
import { expId, parseExperimentId, parseRunId, runId } from '../ids'
import { UNREADABLE_CELL } from '../../lab/history/cells'

export const historyOptions = {
  data: labFlags.data,
  model: labFlags.model,
  json: labFlags.json,
  phrase: { type: 'string' },
  'lr-min': { type: 'string' },
  'lr-max': { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  kind: { type: 'string' },
  status: { type: 'string' },
  /** the runs of one experiment (e12 or 12) */
  experiment: { type: 'string' },
  sort: { type: 'string' },
  asc: { type: 'boolean' },
  limit: { type: 'string' },
  offset: { type: 'string' },
} as const

const KINDS: readonly string[] = runKinds
const STATUSES: readonly string[] = runStatuses
const SORTS: readonly string[] = sortKeys

export function historyFilter(flags: Flags): HistoryFilter {
  const f: HistoryFilter = {}
  const model = str(flags, 'model')
  if (model !== undefined) f.model = /^\d+$/.test(model) ? Number(model) : model
  const phrase = str(flags, 'phrase')
  if (phrase !== undefined) f.phrase = phrase
  f.lrMin = num(flags, 'lr-min')
  f.lrMax = num(flags, 'lr-max')
  f.from = date(flags, 'from')
  f.to = date(flags, 'to')
  f.kind = choices(flags, 'kind', KINDS) as RunKind[] | undefined
  f.status = choices(flags, 'status', STATUSES) as RunStatus[] | undefined
  const e = str(flags, 'experiment')
  if (e !== undefined) f.experimentId = parseExperimentId(e, `--experiment: "${e}" is not an experiment id (e12 or 12)`)
  const sort = str(flags, 'sort')
  if (sort !== undefined) {
    if (!SORTS.includes(sort)) throw new InputError(`--sort: "${sort}" is not one of ${SORTS.join(', ')}`)
    f.sort = sort as HistoryFilter['sort']
  }
  f.order = flags.asc ? 'asc' : 'desc'
  f.limit = int(flags, 'limit', 30)
  f.offset = int(flags, 'offset', 0)
  for (const k of Object.keys(f) as (keyof HistoryFilter)[]) if (f[k] === undefined) delete f[k]
  return f
}

export async function historyCommand(flags: Flags): Promise<void> {
  const filter = historyFilter(flags)
  await withLab({ ...flags, model: undefined }, async (lab) => {
    const page = await lab.call('history', filter)
    if (flags.json) return printJson(page)
    if (page.runs.length === 0) {
      process.stdout.write(page.total ? `no runs on this page (${page.total} match)\n` : 'no runs recorded yet\n')
      return
    }
    process.stdout.write(
      formatTable(
        ['run', 'kind', 'status', 'experiment', 'α', 'recall', 'KL', 'loss after', 'distinct-2', 'started', 'completion'],
        page.runs.map((r) => [runId(r.id), r.kind, r.status, expId(r.experimentId), r.lr ?? '', r.metrics.recall ?? '', fmt(r.metrics.stabilityKl),
          fmt(r.metrics.phraseLossAfter), fmt(r.metrics.distinct2, 3), r.startedAt.replace('T', ' ').slice(0, 19),
          oneLine(r.status === 'done' ? r.outputText : (r.error ?? ''), 40)]),
      ) + '\n',
    )
    const off = filter.offset ?? 0
    process.stdout.write(`${off + 1}–${off + page.runs.length} of ${page.total}\n`)
  })
}

export const showOptions = { data: labFlags.data, json: labFlags.json } as const

export async function showCommand(flags: Flags, positionals: string[]): Promise<void> {
  const id = parseRunId(positionals[0], 'usage: soliloquy show RUN (r34 or 34: a run id from `soliloquy history --runs`)')
  await withLab(flags, async (lab) => {
    const d = await lab.call('run', { id })
    if (flags.json) return printJson(d)
    const r = d.run
    process.stdout.write(describeRun(r))
    const info: [string, string][] = [
      ['model', `${d.model.name ?? ''} (${d.model.path})${d.startedFrom ? `, from checkpoint "${d.startedFrom.name}"` : ''}`],
      ['prompt', JSON.stringify(r.prompt)],
      ['settings', `max_gen_len ${r.maxGen}, max_seq_len ${r.maxSeq}, temperature ${r.temperature}, top_p ${r.topP}, seed ${r.seed}`],
      ['started', `${r.startedAt}${r.ms !== null ? ` (${r.ms} ms)` : ''}`],
    ]
    if (r.chain.length) info.push(['after steps', r.chain.map((c) => `"${c.phrase}" α ${c.lr}`).join(' → ')])
    // an experiment of several runs (it kept its request); a generation or a step is its experiment's only run
    if (d.experiment?.args) info.push(['experiment', `${d.experiment.kind} ${expId(d.experiment.id)} (${d.experiment.runCount} runs)`])
    if (r.metrics.forgetting)
      info.push(['forgetting', r.metrics.forgetting.map((f) => `lesson ${f.lesson + 1}: loss ${fmt(f.loss, 4)}, recall ${f.recall}`).join('; ')])
    for (const c of d.saved) info.push(['saved as', `checkpoint "${c.name}" (${fmtBytes(c.bytes)})`])
    info.push(['output ids', JSON.stringify(r.outputIds)])
    if (r.unreadable) info.push(['unreadable', `${r.unreadable.join(', ')} ${UNREADABLE_CELL}`])
    const w = Math.max(...info.map(([k]) => k.length))
    process.stdout.write(info.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n') + '\n')
  })
}
