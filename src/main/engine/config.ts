// config.json of a Hugging Face Llama-family checkpoint → the engine's configuration, read as transformers reads it:
// model_type llama, mistral (sliding window) and qwen2 (q/k/v biases); GQA, head_dim, tied embeddings, bos/eos;
// RoPE of rope_type default, llama3, linear, dynamic and yarn, from legacy rope_scaling + rope_theta or transformers ≥ 5
// rope_parameters; attention_bias / mlp_bias. Settings the engine does not implement are refused with a message
// naming the field, never silently ignored.
import { statSync } from 'node:fs'
import { fsProblem } from './fserrors'
import { ModelFormatError, shownValue } from './modelFormatError'
import { checkPretrainingTp, checkRopeFrequencies, checkRopeTheta, checkSpecialIds } from './configFields'
import { openRegularFile, readModelJson } from './modelFiles'

export { clipped, MAX_ERROR_CHARS, ModelFormatError, shownValue } from './modelFormatError'

export interface LlamaConfig {
  vocab: number
  dim: number
  ffn: number
  layers: number
  heads: number
  kvHeads: number
  headDim: number
  eps: number
  ropeTheta: number
  /** rope_type after reading rope_scaling / rope_parameters: default, llama3, linear or dynamic */
  ropeType: RopeType
  /** the rope_scaling / rope_parameters fields of that type (factor, low_freq_factor, …) */
  ropeScaling: RopeScaling
  /** RoPE inverse frequencies [headDim / 2] in float32, as transformers computes them for ropeType */
  ropeInvFreq: Float32Array
  /** HF's attention_scaling: cos and sin are multiplied by it (YaRN's attention factor; 1 for the other rope_types) */
  ropeScale: number
  /** longrope (phi3.ts): the long factors' inverse frequencies, turning every position of a forward call whose
   *  sequence is longer than ropeLongAfter (original_max_position_embeddings); undefined = none */
  ropeInvFreqLong?: Float32Array
  ropeLongAfter?: number
  /** Mistral's sliding window (a key at distance ≥ window is masked); 0 = none */
  slidingWindow: number
  /** biases of q_proj, k_proj, v_proj (attention_bias, or Qwen2) */
  biasQKV: boolean
  /** bias of o_proj (attention_bias) */
  biasO: boolean
  /** biases of gate_proj, up_proj, down_proj (mlp_bias) */
  biasMLP: boolean
  tied: boolean
  bos: number
  eos: number
  /** every id that ends a generation (eos_token_id may be a list, as in Llama-3) */
  eosIds: number[]
  /** positions the engine may use: max_position_embeddings (capped at 65536) */
  maxPos: number
  /** q/k weight rows in Meta's interleaved RoPE order (Meta .pth and GGUF files); false for HF checkpoints */
  ropeInterleaved: boolean
  /** dtype named in config.json (informational; tensors carry their own) */
  dtype: string
  raw: Record<string, unknown>
}

export type RopeType = 'default' | 'llama3' | 'linear' | 'dynamic' | 'yarn'

export interface RopeScaling {
  factor?: number
  lowFreqFactor?: number
  highFreqFactor?: number
  originalMaxPositionEmbeddings?: number
  /** dynamic: the config's max_position_embeddings, the length up to which transformers keeps the base frequencies */
  maxPositionEmbeddings?: number
  /** yarn: the rotation counts that bound the ramp between extrapolated and interpolated frequencies (32, 1) */
  betaFast?: number
  betaSlow?: number
  /** yarn: whether the ramp's bounds are rounded to whole dimensions (floor / ceil); GPT-OSS sets it false */
  truncate?: boolean
  /** yarn: cos and sin × this (attention_factor, or from factor and mscale / mscale_all_dim as transformers derives it) */
  attentionFactor?: number
}

/** The engine indexes with 32-bit ints: a dimension past this cannot be addressed (and no real model has one). */
export const MAX_DIMENSION = 2147483647

/**
 * The largest value of each field the engine takes: the same limits as check_config in native/src/loader.cpp, so a
 * config is refused here, in the same words, before anything sized by it is computed (a head_dim of 2^30 made the RoPE
 * table below a 4 GiB loop).
 */
const FIELD_LIMITS: Record<string, number> = {
  vocab_size: MAX_DIMENSION,
  hidden_size: 1 << 20,
  intermediate_size: 1 << 22,
  num_hidden_layers: 1 << 12,
  num_attention_heads: 1 << 12,
  num_key_value_heads: 1 << 12,
  head_dim: 1 << 14,
}

function positiveInt(raw: Record<string, unknown>, key: string, file: string): number {
  const v = raw[key]
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
    throw new ModelFormatError(`${file}: ${key} must be a positive integer (found ${shownValue(v)})`)
  const most = FIELD_LIMITS[key] ?? MAX_DIMENSION
  if (v > most) throw new ModelFormatError(`${file}: ${key} ${v} is beyond what the engine can address (at most ${most})`)
  return v
}

function firstId(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v)) return v
  if (Array.isArray(v) && typeof v[0] === 'number') return v[0] as number
  return undefined
}

/** What transformers' config classes use for fields a config.json leaves out (kvHeads undefined: = heads). */
const MODEL_DEFAULTS: Record<string, { kvHeads?: number; maxPos: number }> = {
  llama: { maxPos: 2048 },
  mistral: { kvHeads: 8, maxPos: 4096 * 32 },
  qwen2: { kvHeads: 32, maxPos: 32768 },
}

export function parseLlamaConfig(raw: Record<string, unknown>, file = 'config.json'): LlamaConfig {
  const mt = raw.model_type
  if (mt !== undefined && mt !== 'llama' && mt !== 'mistral' && mt !== 'qwen2')
    throw new ModelFormatError(`${file}: model_type "${String(mt)}" is not a Llama-family model (llama, mistral, qwen2)`)
  const vocab = positiveInt(raw, 'vocab_size', file)
  const dim = positiveInt(raw, 'hidden_size', file)
  const ffn = positiveInt(raw, 'intermediate_size', file)
  const layers = positiveInt(raw, 'num_hidden_layers', file)
  const heads = positiveInt(raw, 'num_attention_heads', file)
  // absent fields take the model class's defaults (LlamaConfig, MistralConfig, Qwen2Config); null means "as heads"
  const defaults = MODEL_DEFAULTS[(mt as string | undefined) ?? 'llama']
  const kvHeads = raw.num_key_value_heads === null
    ? heads
    : raw.num_key_value_heads === undefined
      ? defaults.kvHeads ?? heads
      : positiveInt(raw, 'num_key_value_heads', file)
  if (heads % kvHeads !== 0)
    throw new ModelFormatError(`${file}: num_key_value_heads ${kvHeads} does not divide num_attention_heads ${heads}`)
  let headDim: number
  if (raw.head_dim === undefined || raw.head_dim === null) {
    if (dim % heads !== 0)
      throw new ModelFormatError(`${file}: hidden_size ${dim} is not a multiple of num_attention_heads ${heads}`)
    headDim = dim / heads
  } else {
    headDim = positiveInt(raw, 'head_dim', file)
  }
  if (headDim % 2 !== 0) throw new ModelFormatError(`${file}: head_dim ${headDim} must be even for rotary embeddings`)
  if (heads * headDim > 1 << 20)
    throw new ModelFormatError(`${file}: num_attention_heads × head_dim (${heads} × ${headDim}) is beyond what the engine can address (at most ${1 << 20})`)
  const eps = raw.rms_norm_eps ?? 1e-6
  if (typeof eps !== 'number' || !(eps > 0)) throw new ModelFormatError(`${file}: rms_norm_eps must be a positive number`)

  const rope = readRope(raw, file)

  // biases: LlamaForCausalLM's attention_bias (q, k, v, o) and mlp_bias (gate, up, down); Qwen2 has q/k/v biases
  for (const flag of ['attention_bias', 'mlp_bias'] as const)
    if (raw[flag] !== undefined && raw[flag] !== null && typeof raw[flag] !== 'boolean')
      throw new ModelFormatError(`${file}: ${flag} must be true or false (found ${shownValue(raw[flag])})`)
  const isQwen2 = mt === 'qwen2'
  const attnBias = raw.attention_bias === true
  const biasQKV = attnBias || isQwen2
  const biasO = attnBias && !isQwen2
  const biasMLP = raw.mlp_bias === true && !isQwen2
  if (isQwen2 && (raw.attention_bias === true || raw.mlp_bias === true))
    throw new ModelFormatError(`${file}: ${raw.attention_bias === true ? 'attention_bias' : 'mlp_bias'} is not a Qwen2 setting (Qwen2 always has q/k/v biases and no others)`)
  // MistralForCausalLM builds its linears without biases whatever the config says: refuse rather than ignore
  if (mt === 'mistral' && (raw.attention_bias === true || raw.mlp_bias === true))
    throw new ModelFormatError(`${file}: ${raw.attention_bias === true ? 'attention_bias' : 'mlp_bias'} is not a Mistral setting (Mistral has no biases)`)

  const slidingWindow = readSlidingWindow(raw, file, mt as string | undefined)
  const act = raw.hidden_act ?? 'silu'
  if (act !== 'silu') throw new ModelFormatError(`${file}: hidden_act "${String(act)}" is not supported (only silu)`)
  checkPretrainingTp(raw, file)

  // absent (or null): the model class's default; anything else must be a positive whole number (-5, "abc" or 0
  // became the default silently before); a larger context than the engine uses is capped, not refused
  const maxPosRaw = raw.max_position_embeddings ?? defaults.maxPos
  if (typeof maxPosRaw !== 'number' || !Number.isSafeInteger(maxPosRaw) || maxPosRaw <= 0)
    throw new ModelFormatError(`${file}: max_position_embeddings must be a positive integer (found ${shownValue(maxPosRaw)})`)
  const maxPos = Math.min(maxPosRaw, 1 << 16)
  if (Array.isArray(raw.layer_types) && raw.layer_types.some((t) => t !== 'full_attention'))
    throw new ModelFormatError(`${file}: layer_types other than "full_attention" are not supported (per-layer attention kinds)`)
  const partial = raw.partial_rotary_factor ?? rope.fields.partial_rotary_factor
  if (partial !== undefined && partial !== null && partial !== 1)
    throw new ModelFormatError(`${file}: partial_rotary_factor ${String(partial)} is not supported (only 1)`)
  const ropeInvFreq = ropeInverseFrequencies({ headDim, ropeTheta: rope.theta, ropeType: rope.type, ropeScaling: rope.scaling }, file)
  checkRopeFrequencies(ropeInvFreq, rope.theta, rope.fields, raw.rope_parameters ? 'rope_parameters' : 'rope_scaling', file)
  checkSpecialIds(raw, vocab, file)
  return {
    vocab, dim, ffn, layers, heads, kvHeads, headDim, eps,
    ropeTheta: rope.theta,
    ropeType: rope.type,
    ropeScaling: rope.scaling,
    ropeInvFreq,
    ropeScale: rope.type === 'yarn' ? rope.scaling.attentionFactor! : 1,
    slidingWindow,
    biasQKV,
    biasO,
    biasMLP,
    tied: raw.tie_word_embeddings === true,
    bos: firstId(raw.bos_token_id) ?? 1,
    eos: firstId(raw.eos_token_id) ?? 2,
    eosIds: Array.isArray(raw.eos_token_id)
      ? (raw.eos_token_id as unknown[]).filter((x): x is number => typeof x === 'number')
      : [firstId(raw.eos_token_id) ?? 2],
    maxPos,
    ropeInterleaved: false,
    dtype: String(raw.dtype ?? raw.torch_dtype ?? 'float32'),
    raw,
  }
}

/**
 * rope_type and its fields, merged as transformers ≥ 5 standardises them: legacy `rope_scaling` (with `type` or
 * `rope_type`) + flat `rope_theta`, or `rope_parameters` holding rope_theta, rope_type and the scaling fields.
 */
function readRope(
  raw: Record<string, unknown>,
  file: string,
): { theta: number; type: RopeType; scaling: RopeScaling; fields: Record<string, unknown> } {
  const obj = (key: string): Record<string, unknown> | undefined => {
    const v = raw[key]
    if (v === undefined || v === null) return undefined
    if (typeof v !== 'object' || Array.isArray(v)) throw new ModelFormatError(`${file}: ${key} must be an object`)
    return v as Record<string, unknown>
  }
  const params = obj('rope_parameters')
  const legacy = obj('rope_scaling')
  const fields: Record<string, unknown> = { ...(legacy ?? {}), ...(params ?? {}) }
  const where = params ? 'rope_parameters' : 'rope_scaling'
  let theta: unknown = params?.rope_theta ?? raw.rope_theta
  if (theta === undefined || theta === null) theta = 10000
  if (typeof theta !== 'number' || !(theta > 0)) throw new ModelFormatError(`${file}: rope_theta must be a positive number`)
  checkRopeTheta(theta, file)
  const type = fields.rope_type ?? fields.type ?? 'default'
  const num = (key: string, positive = true): number => {
    const v = fields[key]
    if (typeof v !== 'number' || !Number.isFinite(v) || (positive && !(v > 0)))
      throw new ModelFormatError(`${file}: ${where}.${key} must be a positive number for rope_type "${String(type)}" (found ${shownValue(v)})`)
    return v
  }
  switch (type) {
    case 'default':
      return { theta, type: 'default', scaling: {}, fields }
    case 'linear':
      return { theta, type: 'linear', scaling: { factor: num('factor') }, fields }
    case 'dynamic':
      // Dynamic NTK only changes the frequencies once a sequence runs past max_position_embeddings (transformers
      // recomputes them from the current length, and a KV cache then holds keys rotated under older frequencies).
      // The engine never runs past max_position_embeddings (generation, scoring and gradients refuse longer
      // sequences: see maxPos), and within it transformers' dynamic frequencies are exactly the default ones.
      return { theta, type: 'dynamic', scaling: { factor: num('factor'), maxPositionEmbeddings: positiveInt(raw, 'max_position_embeddings', file) }, fields }
    case 'llama3': {
      const scaling = {
        factor: num('factor'),
        lowFreqFactor: num('low_freq_factor'),
        highFreqFactor: num('high_freq_factor'),
        originalMaxPositionEmbeddings: num('original_max_position_embeddings'),
      }
      if (!(scaling.highFreqFactor > scaling.lowFreqFactor))
        throw new ModelFormatError(`${file}: ${where}.high_freq_factor ${scaling.highFreqFactor} must exceed low_freq_factor ${scaling.lowFreqFactor}`)
      return { theta, type: 'llama3', scaling, fields }
    }
    case 'yarn':
      return { theta, type: 'yarn', scaling: readYarn(raw, fields, where, num, file), fields }
    default:
      throw new ModelFormatError(
        `${file}: ${where} rope_type "${String(type)}" is not supported (supported: default, llama3, linear, dynamic, yarn)`,
      )
  }
}

/**
 * YaRN's fields as transformers ≥ 5 reads them (modeling_rope_utils: the config's standardisation, then
 * _compute_yarn_parameters): `factor` as given; the pre-extension length from a top-level
 * original_max_position_embeddings (which wins, as for Phi-3), else the rope field, else max_position_embeddings;
 * beta_fast / beta_slow default to 32 / 1 (a 0 too: transformers reads them with `or`); truncate defaults to true;
 * attention_factor as given, else get_mscale(factor, mscale) / get_mscale(factor, mscale_all_dim) when both are
 * non-zero, else get_mscale(factor) — with get_mscale(s, m) = 1 for s ≤ 1, else 0.1·m·ln s + 1, in float64.
 * (transformers 4.4x–4.5x replaced `factor` by max_position_embeddings / original_max_position_embeddings whenever the
 * latter was given; the engine follows the current definition, which is also llama.cpp's: rope.scaling.factor.)
 */
function readYarn(
  raw: Record<string, unknown>,
  fields: Record<string, unknown>,
  where: string,
  num: (key: string) => number,
  file: string,
): RopeScaling {
  const factor = num('factor')
  const optional = (key: string, positive: boolean): number | undefined => {
    const v = fields[key]
    if (v === undefined || v === null) return undefined
    if (typeof v !== 'number' || !Number.isFinite(v) || (positive ? !(v > 0) : v < 0))
      throw new ModelFormatError(`${file}: ${where}.${key} must be a ${positive ? 'positive' : 'non-negative'} number for rope_type "yarn" (found ${shownValue(v)})`)
    return v
  }
  const topOriginal = raw.original_max_position_embeddings
  let original: number
  if (topOriginal !== undefined && topOriginal !== null) original = positiveInt(raw, 'original_max_position_embeddings', file)
  else if (fields.original_max_position_embeddings !== undefined && fields.original_max_position_embeddings !== null) original = num('original_max_position_embeddings')
  else if (raw.max_position_embeddings !== undefined && raw.max_position_embeddings !== null) original = positiveInt(raw, 'max_position_embeddings', file)
  else original = MODEL_DEFAULTS[typeof raw.model_type === 'string' && raw.model_type in MODEL_DEFAULTS ? raw.model_type : 'llama'].maxPos
  if (!Number.isInteger(original)) throw new ModelFormatError(`${file}: ${where}.original_max_position_embeddings must be a whole number of positions (found ${original})`)
  const truncate = fields.truncate ?? true
  if (typeof truncate !== 'boolean') throw new ModelFormatError(`${file}: ${where}.truncate must be true or false (found ${shownValue(truncate)})`)
  const mscale = optional('mscale', false)
  const mscaleAllDim = optional('mscale_all_dim', false)
  const getMscale = (s: number, m = 1): number => (s <= 1 ? 1 : 0.1 * m * Math.log(s) + 1)
  const attentionFactor =
    optional('attention_factor', true) ?? (mscale && mscaleAllDim ? getMscale(factor, mscale) / getMscale(factor, mscaleAllDim) : getMscale(factor))
  const betaFast = optional('beta_fast', false) || 32
  const betaSlow = optional('beta_slow', false) || 1
  return { factor, originalMaxPositionEmbeddings: original, betaFast, betaSlow, truncate, attentionFactor }
}

/**
 * Mistral's sliding_window: a query at position p attends to keys u with p − u < window (HF's sliding-window mask).
 * An absent field in a mistral config means transformers' MistralConfig default, 4096; null means no window.
 * Qwen2 applies a window only with use_sliding_window (and then per layer from max_window_layers): refused here.
 * LlamaConfig has no such setting; a window in a llama config is refused rather than silently dropped.
 */
function readSlidingWindow(raw: Record<string, unknown>, file: string, mt: string | undefined): number {
  const sw = raw.sliding_window
  if (mt === 'qwen2') {
    if (raw.use_sliding_window === true)
      throw new ModelFormatError(`${file}: use_sliding_window true is not supported (Qwen2's per-layer window from max_window_layers)`)
    return 0
  }
  if (mt === 'mistral') {
    if (sw === null) return 0
    if (sw === undefined) return 4096
    if (typeof sw !== 'number' || !Number.isInteger(sw) || sw <= 0)
      throw new ModelFormatError(`${file}: sliding_window must be a positive integer or null (found ${shownValue(sw)})`)
    return sw
  }
  if (sw !== undefined && sw !== null)
    throw new ModelFormatError(`${file}: sliding_window ${String(sw)} is not supported for model_type ${mt ?? 'llama'} (use model_type mistral)`)
  return 0
}

/**
 * RoPE inverse frequencies [headDim / 2] in float32, computed as transformers' modeling_rope_utils does, in float32
 * step by step (Math.fround after every operation torch performs in float32). Exported so that a GGUF reader can
 * multiply in a file's per-frequency factors (llama.cpp's rope_freqs tensor).
 */
export function ropeInverseFrequencies(
  c: { headDim: number; ropeTheta: number; ropeType: RopeType; ropeScaling: RopeScaling },
  file = 'config.json',
): Float32Array {
  const f = Math.fround
  const half = c.headDim / 2
  const inv = new Float32Array(half)
  // default: 1 / θ^(2i / hd), the exponent in float32 (the engine's native default RoPE computes the same)
  for (let i = 0; i < half; i++) inv[i] = f(1 / f(Math.pow(c.ropeTheta, f(f(2 * i) / f(c.headDim)))))
  const s = c.ropeScaling
  switch (c.ropeType) {
    case 'default':
      return inv
    case 'dynamic': {
      // transformers at any length L ≤ max_position_embeddings: base·((factor·L/L) − (factor − 1))^(hd/(hd − 2)),
      // which is θ itself up to the rounding of that double expression (see readRope)
      const L = s.maxPositionEmbeddings!
      if (c.headDim <= 2) throw new ModelFormatError(`${file}: dynamic RoPE needs head_dim > 2 (transformers divides by head_dim − 2)`)
      const base = c.ropeTheta * Math.pow((s.factor! * L) / L - (s.factor! - 1), c.headDim / (c.headDim - 2))
      for (let i = 0; i < half; i++) inv[i] = f(1 / f(Math.pow(base, f(f(2 * i) / f(c.headDim)))))
      return inv
    }
    case 'linear': {
      const factor = f(s.factor!)
      for (let i = 0; i < half; i++) inv[i] = f(inv[i] / factor)
      return inv
    }
    case 'llama3': {
      // wavelengths above original/low_freq_factor are divided by factor, those below original/high_freq_factor
      // kept, and the band between interpolated smoothly
      const factor = f(s.factor!)
      const low = s.lowFreqFactor!
      const high = s.highFreqFactor!
      const old = s.originalMaxPositionEmbeddings!
      const lowWavelen = f(old / low)
      const highWavelen = f(old / high)
      const twoPi = f(2 * Math.PI)
      for (let i = 0; i < half; i++) {
        const wavelen = f(twoPi / inv[i])
        const scaled = wavelen > lowWavelen ? f(inv[i] / factor) : inv[i]
        const medium = !(wavelen < highWavelen) && !(wavelen > lowWavelen)
        if (medium) {
          const smooth = f(f(f(f(old) / wavelen) - f(low)) / f(high - low))
          inv[i] = f(f(f(f(1 - smooth) * scaled) / factor) + f(smooth * scaled))
        } else {
          inv[i] = scaled
        }
      }
      return inv
    }
    case 'yarn': {
      // each frequency is a mix of itself (extrapolation) and itself ÷ factor (interpolation): pair i takes
      // extrapolation weight 1 − clamp((i − low) / (high − low), 0, 1), where low / high are the dimensions at which
      // a wavelength fits beta_fast / beta_slow times into the original context (floor / ceil unless truncate false)
      const dim = c.headDim
      const correctionDim = (rotations: number): number =>
        (dim * Math.log(s.originalMaxPositionEmbeddings! / (rotations * 2 * Math.PI))) / (2 * Math.log(c.ropeTheta))
      let low = correctionDim(s.betaFast!)
      let high = correctionDim(s.betaSlow!)
      if (s.truncate !== false) {
        low = Math.floor(low)
        high = Math.ceil(high)
      }
      low = Math.max(low, 0)
      high = Math.min(high, dim - 1)
      if (low === high) high += 0.001 // transformers' guard against a zero-width ramp
      const factor = f(s.factor!)
      const span = f(high - low)
      for (let i = 0; i < half; i++) {
        const pos = f(Math.pow(c.ropeTheta, f(f(2 * i) / f(dim)))) // base^(2i/dim) in float32, as the default's
        const extrapolation = f(1 / pos)
        const interpolation = f(1 / f(factor * pos))
        const ramp = Math.min(1, Math.max(0, f(f(i - f(low)) / span)))
        const extrapolationWeight = f(1 - ramp)
        inv[i] = f(f(interpolation * f(1 - extrapolationWeight)) + f(extrapolation * extrapolationWeight))
      }
      return inv
    }
    default:
      throw new ModelFormatError(`${file}: rope_type "${String(c.ropeType)}" is not supported`)
  }
}

/** A model file opened for reading (its descriptor), or a ModelFormatError saying in words why not. */
export function openModelFile(path: string, label: string): number {
  return openRegularFile(path, label)
}

/** A JSON object file of a model folder, read through the bounded reader (modelFiles.ts). */
export function readJson(path: string, label: string): Record<string, unknown> {
  const v = readModelJson(path, label)
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new ModelFormatError(`${label}: is not valid JSON (not an object)`)
  return v as Record<string, unknown>
}

/** Throws a ModelFormatError saying what `path` is when it is not a directory that can be read. */
export function requireModelDirectory(path: string, label = path): void {
  let st
  try {
    st = statSync(path)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new ModelFormatError(`${label}: no such model directory`)
    throw new ModelFormatError(`${label}: cannot open the model directory: ${fsProblem(e)}`)
  }
  if (!st.isDirectory()) {
    const kind = st.isFile() ? 'a file' : st.isFIFO() ? 'a named pipe' : st.isSocket() ? 'a socket' : 'a device'
    throw new ModelFormatError(`${label}: is ${kind}, not a model directory (give the folder that holds config.json)`)
  }
}
