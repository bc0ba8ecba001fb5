// `soliloquy step` (one SGD step on a phrase at α, then generate; optionally saved as a checkpoint) and
// `soliloquy generate` (a prompt on a model or checkpoint). Both are recorded in the history.
import { readFileSync } from 'node:fs'
import { InputError } from '../../engine/engine'
import { SEED_DEFAULTS, type ExperimentBase, type RunRecord } from '../../../shared/api'
import { restrictionFlags, restrictionOptions } from './restrict'
import { Flags, fmt, fmtBytes, int, labFlags, modelRef, num, printJson, str, withLab } from '../common'

/** Settings shared by the experiment commands. */
export const experimentFlags = {
  ...labFlags,
  prompt: { type: 'string' },
  'max-gen': { type: 'string' },
  'max-seq': { type: 'string' },
  temperature: { type: 'string' },
  seed: { type: 'string' },
  reference: { type: 'string' },
  'no-reference': { type: 'boolean' },
  probes: { type: 'string' },
  /** apply the model's chat template to the prompt, the phrase and the probes (generate, step, sweep, compare) */
  chat: { type: 'boolean' },
} as const

function readJsonFile(path: string, what: string): unknown {
  let t: string
  try {
    t = readFileSync(path, 'utf8')
  } catch (e) {
    throw new InputError(`${what} ${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`)
  }
  try {
    return JSON.parse(t)
  } catch (e) {
    throw new InputError(`${what} ${path} is not valid JSON (${(e as Error).message})`)
  }
}

export function readJsonArg(path: string, what: string): unknown {
  return readJsonFile(path, what)
}

/** --prompt, --max-gen, --reference FILE, --probes FILE … → the lab's ExperimentBase. */
export function experimentArgs(flags: Flags): ExperimentBase {
  const a: ExperimentBase & { chatTemplate?: boolean } = { model: modelRef(flags) }
  if (flags.chat) a.chatTemplate = true
  const prompt = str(flags, 'prompt')
  if (prompt !== undefined) a.prompt = prompt
  if (str(flags, 'max-gen') !== undefined) a.maxGen = int(flags, 'max-gen', SEED_DEFAULTS.maxGen)
  if (str(flags, 'max-seq') !== undefined) a.maxSeq = int(flags, 'max-seq', SEED_DEFAULTS.maxSeq)
  const temp = num(flags, 'temperature')
  if (temp !== undefined) a.temperature = temp
  if (str(flags, 'seed') !== undefined) a.seed = int(flags, 'seed', SEED_DEFAULTS.seed)
  const ref = str(flags, 'reference')
  if (flags['no-reference']) a.reference = null
  else if (ref !== undefined) {
    try {
      a.reference = readFileSync(ref, 'utf8')
    } catch (e) {
      throw new InputError(`--reference ${ref} cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`)
    }
  }
  const probes = str(flags, 'probes')
  if (probes !== undefined) a.probes = readJsonFile(probes, '--probes') as Record<string, string>
  return a
}

/** The readable summary of one run: its text and every metric. */
export function describeRun(r: RunRecord): string {
  const m = r.metrics
  const lines = [
    `run ${r.id} (${r.kind}, ${r.status})${r.lr !== null ? `  α = ${r.lr}` : ''}${r.phrase ? `  phrase "${r.phrase}"` : ''}`,
    '',
    r.fullText,
    '',
  ]
  const rows: [string, string][] = []
  const add = (k: string, v: string | undefined): void => {
    if (v !== undefined && v !== '') rows.push([k, v])
  }
  add('phrase loss', m.phraseLossBefore !== undefined ? `${fmt(m.phraseLossBefore, 6)} → ${fmt(m.phraseLossAfter, 6)}` : undefined)
  add('recall (words)', m.recall !== undefined ? String(m.recall) : undefined)
  add('reference log-prob', m.referenceLogprob !== undefined ? `${fmt(m.referenceLogprob, 5)} (mean CE ${fmt(m.referenceLoss, 5)})` : undefined)
  add('stability KL', m.stabilityKl !== undefined ? `${fmt(m.stabilityKl, 5)}  (${Object.entries(m.probeKl ?? {}).map(([k, v]) => `${k} ${fmt(v, 4)}`).join(', ')})` : undefined)
  add('probe perplexity Δ', m.probePerplexityDelta !== undefined ? fmt(m.probePerplexityDelta, 4) : undefined)
  add('distinct-2', m.distinct2 !== undefined ? fmt(m.distinct2, 3) : undefined)
  add('longest repeat', m.longestRepeat !== undefined ? `${m.longestRepeat} words` : undefined)
  add('min margin', m.minMargin !== undefined ? fmt(m.minMargin, 3) : undefined)
  if (m.layerUpdateNorms)
    add('‖α∇W‖ per layer', Object.entries(m.layerUpdateNorms).map(([k, v]) => `${k} ${fmt(v, 3)}`).join(', '))
  if (m.timings) add('time', Object.entries(m.timings).map(([k, v]) => `${k.replace(/Ms$/, '')} ${v} ms`).join(', '))
  if (r.error) add('error', r.error)
  const w = Math.max(...rows.map(([k]) => k.length))
  return lines.concat(rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`)).join('\n') + '\n'
}

export const stepOptions = {
  ...experimentFlags,
  phrase: { type: 'string' },
  lr: { type: 'string' },
  save: { type: 'string' },
  ...restrictionOptions,
} as const

export async function stepCommand(flags: Flags): Promise<void> {
  const lr = num(flags, 'lr')
  if (lr === undefined) throw new InputError('--lr α is required (e.g. --lr 0.03)')
  const args = { ...experimentArgs(flags), phrase: str(flags, 'phrase'), lr, save: str(flags, 'save'), restrict: restrictionFlags(flags) }
  await withLab(flags, async (lab) => {
    const r = await lab.call('step', args)
    if (flags.json) return printJson(r)
    process.stdout.write(describeRun(r.run))
    if (r.checkpoint)
      process.stdout.write(`saved as checkpoint "${r.checkpoint.name}" (${fmtBytes(r.checkpoint.bytes)}, sha256 ${r.checkpoint.sha256.slice(0, 12)}…)\n`)
  })
}

export const generateOptions = experimentFlags

export async function generateCommand(flags: Flags): Promise<void> {
  await withLab(flags, async (lab) => {
    const r = await lab.call('generate', experimentArgs(flags))
    if (flags.json) return printJson(r)
    process.stdout.write(describeRun(r.run))
  })
}
