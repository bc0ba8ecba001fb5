// The small preset shipped beside a model: the experiment's defaults (prompt, phrase, step sizes, reference text,
// probe texts). Without one, the seed's values.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { SEED_DEFAULTS } from '../../shared/api'
import { ModelFormatError, readJson, shownValue } from './config'
import { readModelText, staysInside } from './modelFiles'

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

/** The seed's own values (src/shared/api.ts holds them once), with no reference text or probes. */
export const SEED_PRESET: Preset = {
  prompt: SEED_DEFAULTS.prompt,
  phrase: SEED_DEFAULTS.phrase,
  lrs: [...SEED_DEFAULTS.lrs],
  reference: null,
  probes: {},
  engineeredPrefix: SEED_DEFAULTS.engineeredPrefix,
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
  // a name of a file in the folder, else the text itself; a file outside the folder is refused, never read
  const named = (key: string, v: string): string | undefined => {
    const at = join(dir, v)
    if (!existsSync(at)) return undefined
    if (!staysInside(dir, v))
      throw new ModelFormatError(`preset.json: ${key} ${shownValue(v)} names a file outside the model folder; give a file inside it (or the text itself)`)
    return at
  }
  if (typeof raw.reference === 'string') {
    const rp = named('reference', raw.reference)
    reference = rp ? readModelText(rp, raw.reference) : raw.reference
  }
  let probes: Record<string, string> = {}
  const pp = typeof raw.probes === 'string' ? named('probes', raw.probes) : undefined
  if (typeof raw.probes === 'string' && pp) {
    probes = readJson(pp, raw.probes) as Record<string, string>
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
