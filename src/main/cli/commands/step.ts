// `soliloquy step` (one SGD step on a phrase at α, then generate; optionally saved as a checkpoint) and
// `soliloquy generate` (a prompt on a model or checkpoint). Both are recorded in the history.
import { InputError } from '../../engine/engine'
import { type ExperimentBase, type RunRecord } from '../../../shared/api'
import { restrictionFlags, restrictionOptions } from './restrict'
import { Flags, fmt, fmtBytes, labFlags, modelRef, num, printJson, str, withLab } from '../common'
import { readJsonArg, readTextArg, requestFields } from '../args'

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

// the one reader of JSON files named by flags (size-limited, errors in words): cli/args.ts
export { readJsonArg } from '../args'

/** --prompt, --max-gen, --reference FILE, --probes FILE … → the lab's ExperimentBase. */
export function experimentArgs(flags: Flags): ExperimentBase {
  const a: ExperimentBase & { chatTemplate?: boolean } = { model: modelRef(flags), ...requestFields('generate', flags, ['prompt', 'max-gen', 'max-seq', 'temperature', 'seed'], true) }
  if (flags.chat) a.chatTemplate = true
  const ref = str(flags, 'reference')
  if (flags['no-reference']) a.reference = null
  else if (ref !== undefined) a.reference = readTextArg(ref, '--reference')
  const probes = str(flags, 'probes')
  if (probes !== undefined) a.probes = readJsonArg(probes, '--probes') as Record<string, string>
  return a
}

/** The readable summary of one run: its text and every metric. */
export function describeRun(r: RunRecord): string {
  const m = r.metrics
  const lines = [
    `run r${r.id} (${r.kind}, ${r.status})${r.lr !== null ? `  α = ${r.lr}` : ''}${r.phrase ? `  phrase "${r.phrase}"` : ''}`,
    '',
    r.fullText,
    '',
  ]
  const rows: [string, string][] = []
  const add = (k: string, v: string | undefined): void => {
    if (v !== undefined && v !== '') rows.push([k, v])
  }
  const from = (which: 'reference' | 'probes' | 'paraphrases'): string => (m.texts?.[which] === 'default' ? `  (default ${which})` : '')
  const missing = (key: string): string | undefined => (m.unmeasured?.[key] ? `not measured: ${m.unmeasured[key]}` : undefined)
  add('phrase loss', m.phraseLossBefore !== undefined ? `${fmt(m.phraseLossBefore, 6)} → ${fmt(m.phraseLossAfter, 6)}` : undefined)
  add('recall (words)', m.recall !== undefined ? `${m.recall}${m.recallOf !== undefined ? ` of ${m.recallOf}` : ''}${from('reference')}` : missing('recall'))
  add('reference log-prob', m.referenceLogprob !== undefined ? `${fmt(m.referenceLogprob, 5)} (mean CE ${fmt(m.referenceLoss, 5)})${from('reference')}` : undefined)
  add('stability KL', m.stabilityKl !== undefined ? `${fmt(m.stabilityKl, 5)}  (${Object.entries(m.probeKl ?? {}).map(([k, v]) => `${k} ${fmt(v, 4)}`).join(', ')})${from('probes')}` : missing('stabilityKl'))
  add('locality', m.locality !== undefined ? `${fmt(m.locality, 4)} teacher-forced, KL ${fmt(m.localityKl, 4)}${from('probes')}` : missing('locality'))
  add('continuation unchanged', m.continuationUnchanged !== undefined ? `${fmt(m.continuationUnchanged, 4)} free-running (base's smallest margin ${fmt(m.baseMinMargin, 3)})` : undefined)
  add('generalisation', m.generalisation !== undefined ? `${fmt(m.generalisation, 4)} teacher-forced, free-running ${fmt(m.paraphraseRecall, 4)}${from('paraphrases')}` : missing('generalisation'))
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
