// `soliloquy study`: a grid of phrases × prompts × step sizes × models; embedded (cell after cell here, resumable) or
// on a queue (--queue redis://…, or $SOLILOQUY_QUEUE so credentials stay off the command line) for `soliloquy worker`s.
// `study collect ID`, `study status ID`, `study cancel ID`. And `soliloquy worker`.
import { readFileSync } from 'node:fs'
import { delimiter } from 'node:path'
import type { StudyStatus } from '../../../shared/api'
import { InputError } from '../../engine/engine'
import { runWorker } from '../../lab/study/worker'
import { Flags, fmt, formatTable, int, numList, oneLine, printJson, str, withLab } from '../common'
import { restrictionFlags, restrictionOptions } from './restrict'

export const studyOptions = {
  phrases: { type: 'string' },
  prompts: { type: 'string' },
  lrs: { type: 'string' },
  models: { type: 'string' },
  queue: { type: 'string' },
  follow: { type: 'boolean' },
  title: { type: 'string' },
  'max-gen': { type: 'string' },
  ...restrictionOptions,
  data: { type: 'string' },
  threads: { type: 'string' },
  json: { type: 'boolean' },
} as const

/** One entry per line (blank lines and lines starting with # skipped). */
function linesOf(file: string, what: string): string[] {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    throw new InputError(`--${what}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`)
  }
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '' && !l.startsWith('#'))
  if (!lines.length) throw new InputError(`--${what}: ${file} has no ${what} (one per line)`)
  return lines
}

function queueOf(flags: Flags): string | undefined {
  return str(flags, 'queue') ?? (process.env.SOLILOQUY_QUEUE || undefined)
}

function printStatus(s: StudyStatus, json: boolean): void {
  if (json) return printJson(s)
  const c = s.counts
  process.stdout.write(
    `study ${s.id} (${s.where}): ${s.status} — ${c.done}/${s.total} cells done` +
      [c.running && `${c.running} running`, c.queued && `${c.queued} queued`, c.refused && `${c.refused} refused`, c.failed && `${c.failed} failed`, c.cancelled && `${c.cancelled} cancelled`]
        .filter(Boolean)
        .map((x) => `, ${x}`)
        .join('') +
      '\n',
  )
  if (s.workers.length)
    process.stdout.write(formatTable(['worker', 'done', 'running', 'refused', 'mean ms'], s.workers.map((w) => [w.host, w.done, w.running, w.refused, fmt(w.meanMs)])) + '\n')
  if (s.windows.length)
    process.stdout.write(
      formatTable(['model', 'prompt', 'phrase', 'α_learn', 'α_break'], s.windows.map((w) => [oneLine(w.model, 24), oneLine(w.prompt, 20), oneLine(w.phrase, 40), fmt(w.alphaLearn), fmt(w.alphaBreak)])) + '\n',
    )
  for (const cell of s.cells) if (cell.reason) process.stdout.write(`cell ${cell.index} (${oneLine(cell.phrase, 30)}): ${cell.state} — ${oneLine(cell.reason, 160)}\n`)
}

export async function studyCommand(flags: Flags, positionals: string[]): Promise<void> {
  const [sub, idText] = positionals
  if (sub !== undefined) {
    const id = Number(idText)
    if (!['collect', 'status', 'cancel'].includes(sub)) throw new InputError(`unknown study command "${sub}" (collect, status or cancel ID)`)
    if (!Number.isInteger(id) || id < 0) throw new InputError(`study ${sub}: give the study's id (got ${JSON.stringify(idText ?? '')})`)
    const queue = queueOf(flags)
    await withLab(flags, async (lab) => {
      const ref = { id, ...(queue ? { queue } : {}) }
      const s = sub === 'collect' ? await lab.call('studyCollect', ref) : sub === 'cancel' ? await lab.call('cancelStudy', ref) : await lab.call('studyStatus', ref)
      printStatus(s, !!flags.json)
    })
    return
  }
  const phrasesFile = str(flags, 'phrases')
  if (!phrasesFile) throw new InputError('--phrases FILE is needed (one phrase per line)')
  const promptsFile = str(flags, 'prompts')
  const lrs = numList(flags, 'lrs')
  if (!lrs) throw new InputError('--lrs is needed (e.g. --lrs 0.001,0.003,0.01,0.03)')
  const models = str(flags, 'models')
  const queue = queueOf(flags)
  const maxGen = str(flags, 'max-gen') !== undefined ? int(flags, 'max-gen', 0) : undefined
  await withLab({ ...flags, models: undefined }, async (lab) => {
    const s = await lab.call('study', {
      phrases: linesOf(phrasesFile, 'phrases'),
      ...(promptsFile ? { prompts: linesOf(promptsFile, 'prompts') } : {}),
      lrs,
      ...(models ? { models: models.split(',').map((m) => (m === 'organism' || m === '' ? null : m)) } : {}),
      ...(queue ? { queue, follow: !!flags.follow } : {}),
      ...(maxGen !== undefined ? { maxGen } : {}),
      restrict: restrictionFlags(flags),
      ...(str(flags, 'title') ? { title: str(flags, 'title') } : {}),
    })
    printStatus(s, !!flags.json)
    if (!flags.json && queue && !flags.follow)
      process.stderr.write(`submitted; run \`soliloquy study collect ${s.id} --queue …\` to bring finished cells home\n`)
  })
}

export const workerOptions = {
  queue: { type: 'string' },
  concurrency: { type: 'string' },
  models: { type: 'string', multiple: true },
  threads: { type: 'string' },
  'lock-ms': { type: 'string' },
} as const

export async function workerCommand(flags: Flags): Promise<void> {
  const queue = queueOf(flags)
  if (!queue) throw new InputError('--queue redis://[user:pass@]HOST:PORT[/db] is needed (or $SOLILOQUY_QUEUE)')
  const dirs = (Array.isArray(flags.models) ? flags.models : typeof flags.models === 'string' ? [flags.models] : []).flatMap((d) => d.split(delimiter)).filter(Boolean)
  const concurrency = int(flags, 'concurrency', 1)
  if (concurrency < 1) throw new InputError('--concurrency: at least 1')
  const lock = str(flags, 'lock-ms') !== undefined ? int(flags, 'lock-ms', 10_000) : undefined
  const stop = new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve())
    process.once('SIGTERM', () => resolve())
  })
  await runWorker(
    { queue, concurrency, modelDirs: dirs, threads: int(flags, 'threads', 0), lockMs: lock, log: (l) => process.stderr.write(`${new Date().toISOString()} ${l}\n`) },
    stop,
  )
}
