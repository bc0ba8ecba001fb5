// `soliloquy texts [--model M] show|set|reset`: the reference text, probes and paraphrased prompts a model's metrics
// are measured against (saved per model; the model's own preset, else the shipped defaults — labelled so).
import { readFileSync } from 'node:fs'
import { InputError } from '../../engine/engine'
import type { ModelTexts, UpdateModelTextsRequest } from '../../../shared/api'
import { Flags, labFlags, modelRef, oneLine, printJson, str, withLab } from '../common'
import { readJsonArg } from './step'

export const textsOptions = {
  ...labFlags,
  reference: { type: 'string' },
  'no-reference': { type: 'boolean' },
  probes: { type: 'string' },
  paraphrases: { type: 'string' },
} as const

const FROM: Record<ModelTexts['from']['reference'], string> = {
  model: "the model's own",
  saved: 'saved in the lab',
  request: 'given with the request',
  default: 'the shipped default (the model has none of its own)',
}

/** The texts in words, each with where it comes from. */
export function describeTexts(t: ModelTexts): string {
  const lines = [`texts of model ${t.modelId} (${t.source === 'saved' ? `saved ${t.updatedAt ?? ''}`.trim() : 'not edited'})`, '']
  lines.push(`reference (recall, reference log-prob) — ${FROM[t.from.reference]}:`)
  lines.push(t.reference === null ? '  none: recall is not measured' : `  ${oneLine(t.reference, 100)} (${t.reference.length} characters)`)
  lines.push(`probes (KL, perplexity change, locality) — ${FROM[t.from.probes]}:`)
  const probes = Object.entries(t.probes)
  if (!probes.length) lines.push('  none: KL and locality are not measured')
  for (const [k, v] of probes) lines.push(`  ${k}: ${oneLine(v, 90)}`)
  lines.push(`paraphrased prompts (generalisation) — ${FROM[t.from.paraphrases]}:`)
  if (!t.paraphrases.length) lines.push('  none: generalisation is not measured')
  for (const p of t.paraphrases) lines.push(`  ${oneLine(p, 90)}`)
  return lines.join('\n') + '\n'
}

export async function textsCommand(flags: Flags, positionals: string[]): Promise<void> {
  const action = positionals[0] ?? 'show'
  if (positionals.length > 1) throw new InputError(`texts takes one action (show, set or reset), got ${positionals.length}`)
  const model = modelRef(flags)
  await withLab(flags, async (lab) => {
    let t: ModelTexts
    if (action === 'show') t = await lab.call('modelTexts', { model })
    else if (action === 'reset') t = await lab.call('updateModelTexts', { model, reset: true })
    else if (action === 'set') {
      const req: UpdateModelTextsRequest = { model }
      const ref = str(flags, 'reference')
      if (flags['no-reference']) req.reference = null
      else if (ref !== undefined) {
        try {
          req.reference = readFileSync(ref, 'utf8')
        } catch (e) {
          throw new InputError(`--reference ${ref} cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`)
        }
      }
      const probes = str(flags, 'probes')
      if (probes !== undefined) req.probes = readJsonArg(probes, '--probes') as Record<string, string>
      const para = str(flags, 'paraphrases')
      if (para !== undefined) req.paraphrases = readJsonArg(para, '--paraphrases') as string[]
      if (req.reference === undefined && !req.probes && !req.paraphrases)
        throw new InputError('texts set needs --reference FILE, --no-reference, --probes FILE (JSON {name: text}) or --paraphrases FILE (JSON [text, …])')
      t = await lab.call('updateModelTexts', req)
    } else throw new InputError(`texts: unknown action "${action}" (show, set or reset)`)
    if (flags.json) return printJson(t)
    process.stdout.write(describeTexts(t))
  })
}
