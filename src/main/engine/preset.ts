// The small preset shipped beside a model: the experiment's defaults (prompt, phrase, step sizes, reference text,
// probe texts, paraphrased prompts) — preset.json in a model folder, or the soliloquy.* metadata of a GGUF file.
// A text the model does not bring is taken from the shipped defaults (the embedded organism's: the soliloquy, its
// probes and paraphrases), and `origin` says so, so that every metric is measured on every model and labelled.
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { SEED_DEFAULTS } from '../../shared/api'
import { ModelFormatError, readJson, shownValue } from './config'
import { readModelText, staysInside } from './modelFiles'
import { embeddedModelDir } from './native'
import { readGguf } from './formats/gguf/read'

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
  /** where each text came from: the model's own files ('model') or the shipped defaults ('default') */
  origin: PresetOrigin
}

export type TextFrom = 'model' | 'default'
export interface PresetOrigin {
  reference: TextFrom
  probes: TextFrom
  paraphrases: TextFrom
}

/** The texts a model's metrics are measured against (what GGUF metadata and the per-model texts carry). */
export interface MetricTexts {
  reference: string | null
  probes: Record<string, string>
  paraphrases: string[]
}

/** GGUF metadata keys of the texts (llama.cpp ignores keys it does not know). */
export const GGUF_TEXT_KEYS = {
  prompt: 'soliloquy.prompt',
  phrase: 'soliloquy.phrase',
  reference: 'soliloquy.reference',
  /** a JSON object name → text */
  probes: 'soliloquy.probes',
  /** an array of strings */
  paraphrases: 'soliloquy.paraphrases',
} as const

const ALL_MODEL: PresetOrigin = { reference: 'model', probes: 'model', paraphrases: 'model' }

/** The seed's own values (src/shared/api.ts holds them once), with no reference text or probes. */
export const SEED_PRESET: Preset = {
  prompt: SEED_DEFAULTS.prompt,
  phrase: SEED_DEFAULTS.phrase,
  lrs: [...SEED_DEFAULTS.lrs],
  reference: null,
  probes: {},
  engineeredPrefix: SEED_DEFAULTS.engineeredPrefix,
  paraphrases: [],
  origin: ALL_MODEL,
}

let shipped: MetricTexts | undefined

/** The shipped defaults: the embedded organism's reference (the soliloquy), probes and paraphrases (none in a build
 *  without the organism). Read once. */
export function shippedTexts(): MetricTexts {
  if (!shipped) {
    let own: Preset | undefined
    try {
      own = readOwnPreset(embeddedModelDir())
    } catch {
      /* a build without the organism: no defaults */
    }
    shipped = { reference: own?.reference ?? null, probes: own?.probes ?? {}, paraphrases: own?.paraphrases ?? [] }
  }
  return shipped
}

/**
 * A model's preset (a folder's preset.json, a GGUF file's soliloquy.* metadata), each text it does not bring taken
 * from the shipped defaults (origin 'default').
 */
export function readPreset(path: string): Preset {
  const own = readOwnPreset(path)
  const d = shippedTexts()
  const origin: PresetOrigin = { ...own.origin }
  const out = { ...own, origin }
  if (own.reference === null && own.origin.reference === 'default' && d.reference !== null) out.reference = d.reference
  else origin.reference = 'model'
  if (!Object.keys(own.probes).length && own.origin.probes === 'default' && Object.keys(d.probes).length) out.probes = { ...d.probes }
  else origin.probes = 'model'
  if (!own.paraphrases.length && own.origin.paraphrases === 'default' && d.paraphrases.length) out.paraphrases = [...d.paraphrases]
  else origin.paraphrases = 'model'
  return out
}

/** The model's own preset; origin 'default' marks each text it does not set (absent, not set to null/empty). */
export function readOwnPreset(path: string): Preset {
  const none: PresetOrigin = { reference: 'default', probes: 'default', paraphrases: 'default' }
  if (/\.gguf$/i.test(path) && existsSync(path) && statSync(path).isFile()) return ggufPreset(path)
  const p = join(path, 'preset.json')
  if (!existsSync(p)) return { ...SEED_PRESET, origin: none }
  const raw = readJson(p, 'preset.json')
  const str = (k: string, d: string): string => (typeof raw[k] === 'string' ? (raw[k] as string) : d)
  const lrs = Array.isArray(raw.lrs) && raw.lrs.every((x) => typeof x === 'number' && Number.isFinite(x))
    ? (raw.lrs as number[])
    : SEED_PRESET.lrs
  let reference: string | null = null
  // a name of a file in the folder, else the text itself; a file outside the folder is refused, never read
  const named = (key: string, v: string): string | undefined => {
    const at = join(path, v)
    if (!existsSync(at)) return undefined
    if (!staysInside(path, v))
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
    origin: {
      reference: 'reference' in raw ? 'model' : 'default',
      probes: 'probes' in raw ? 'model' : 'default',
      paraphrases: 'paraphrases' in raw ? 'model' : 'default',
    },
    prompt: str('prompt', SEED_PRESET.prompt),
    phrase: str('phrase', SEED_PRESET.phrase),
    lrs,
    reference,
    probes,
    engineeredPrefix: str('engineeredPrefix', SEED_PRESET.engineeredPrefix),
    paraphrases: Array.isArray(raw.paraphrases) ? raw.paraphrases.filter((x): x is string => typeof x === 'string' && x.trim().length > 0) : [],
  }
}

/** The texts a GGUF file carries under soliloquy.* (written by the lab's GGUF export); absent keys → defaults. */
function ggufPreset(path: string): Preset {
  const kv = readGguf(path).kv
  const str = (k: string): string | undefined => (typeof kv.get(k) === 'string' ? (kv.get(k) as string) : undefined)
  const reference = str(GGUF_TEXT_KEYS.reference)
  let probes: Record<string, string> | undefined
  const pj = str(GGUF_TEXT_KEYS.probes)
  if (pj !== undefined) {
    try {
      const o = JSON.parse(pj) as unknown
      if (o && typeof o === 'object' && !Array.isArray(o))
        probes = Object.fromEntries(Object.entries(o as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'))
    } catch {
      throw new ModelFormatError(`${GGUF_TEXT_KEYS.probes} in ${path} is not a JSON object of probe texts`)
    }
  }
  const pa = kv.get(GGUF_TEXT_KEYS.paraphrases)
  const paraphrases = Array.isArray(pa) ? pa.filter((x): x is string => typeof x === 'string' && x.trim().length > 0) : undefined
  return {
    ...SEED_PRESET,
    prompt: str(GGUF_TEXT_KEYS.prompt) ?? SEED_PRESET.prompt,
    phrase: str(GGUF_TEXT_KEYS.phrase) ?? SEED_PRESET.phrase,
    reference: reference ?? null,
    probes: probes ?? {},
    paraphrases: paraphrases ?? [],
    origin: {
      reference: reference !== undefined ? 'model' : 'default',
      probes: probes !== undefined ? 'model' : 'default',
      paraphrases: paraphrases !== undefined ? 'model' : 'default',
    },
  }
}
