// The small preset shipped beside a model: the experiment's defaults (prompt, phrase, step sizes, reference text,
// probe texts). Without one, the seed's values.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { readJson } from './config'

export interface Preset {
  prompt: string
  phrase: string
  lrs: number[]
  /** the continuation recall is measured against (default: Hamlet's soliloquy when shipped) */
  reference: string | null
  /** unrelated texts for the stability metric */
  probes: Record<string, string>
  engineeredPrefix: string
  /** rewordings of the prompt for generalisation (EasyEdit's paraphrased prompts) */
  paraphrases: string[]
}

export const SEED_PRESET: Preset = {
  prompt: 'To be',
  phrase: 'To be, or not to be, that is the question',
  lrs: [0, 1e-4, 1e-3, 2e-3, 3e-3, 5e-3, 1e-2, 1e-1],
  reference: null,
  probes: {},
  engineeredPrefix: "Here is one of Shakespeare's more famous works: ",
  paraphrases: [],
}

export function readPreset(dir: string): Preset {
  const p = join(dir, 'preset.json')
  if (!existsSync(p)) return { ...SEED_PRESET }
  const raw = readJson(p, 'preset.json')
  const str = (k: string, d: string): string => (typeof raw[k] === 'string' ? (raw[k] as string) : d)
  const lrs = Array.isArray(raw.lrs) && raw.lrs.every((x) => typeof x === 'number' && Number.isFinite(x))
    ? (raw.lrs as number[])
    : SEED_PRESET.lrs
  let reference: string | null = null
  if (typeof raw.reference === 'string') {
    const rp = join(dir, raw.reference)
    reference = existsSync(rp) ? readFileSync(rp, 'utf8') : raw.reference
  }
  let probes: Record<string, string> = {}
  if (typeof raw.probes === 'string' && existsSync(join(dir, raw.probes))) {
    probes = readJson(join(dir, raw.probes), raw.probes) as Record<string, string>
  } else if (raw.probes && typeof raw.probes === 'object') {
    probes = raw.probes as Record<string, string>
  }
  return {
    prompt: str('prompt', SEED_PRESET.prompt),
    phrase: str('phrase', SEED_PRESET.phrase),
    lrs,
    reference,
    probes,
    engineeredPrefix: str('engineeredPrefix', SEED_PRESET.engineeredPrefix),
    paraphrases: Array.isArray(raw.paraphrases) ? raw.paraphrases.filter((x): x is string => typeof x === 'string' && x.trim().length > 0) : [],
  }
}
