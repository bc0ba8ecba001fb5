// config.json of a Hugging Face Llama checkpoint → the engine's configuration. The whole Llama config is
// honoured (GQA, head_dim, rope_theta flat or in rope_parameters, tied embeddings, bos/eos); settings the engine
// does not implement are refused with a message naming the field, never silently ignored.
import { readFileSync, statSync } from 'node:fs'
import { fsProblem } from './fserrors'

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
  tied: boolean
  bos: number
  eos: number
  /** every id that ends a generation (eos_token_id may be a list, as in Llama-3) */
  eosIds: number[]
  maxPos: number
  /** q/k weight rows in Meta's interleaved RoPE order (Meta .pth and GGUF files); false for HF checkpoints */
  ropeInterleaved: boolean
  /** dtype named in config.json (informational; tensors carry their own) */
  dtype: string
  raw: Record<string, unknown>
}

export class ModelFormatError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ModelFormatError'
  }
}

/** The engine indexes with 32-bit ints: a dimension past this cannot be addressed (and no real model has one). */
export const MAX_DIMENSION = 2147483647

function positiveInt(raw: Record<string, unknown>, key: string, file: string): number {
  const v = raw[key]
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
    throw new ModelFormatError(`${file}: ${key} must be a positive integer (found ${JSON.stringify(v)})`)
  if (v > MAX_DIMENSION)
    throw new ModelFormatError(`${file}: ${key} ${v} is beyond what the engine can address (at most ${MAX_DIMENSION})`)
  return v
}

function firstId(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v)) return v
  if (Array.isArray(v) && typeof v[0] === 'number') return v[0] as number
  return undefined
}

export function parseLlamaConfig(raw: Record<string, unknown>, file = 'config.json'): LlamaConfig {
  const mt = raw.model_type
  if (mt !== undefined && mt !== 'llama' && mt !== 'mistral')
    throw new ModelFormatError(`${file}: model_type "${String(mt)}" is not a Llama model`)
  const vocab = positiveInt(raw, 'vocab_size', file)
  const dim = positiveInt(raw, 'hidden_size', file)
  const ffn = positiveInt(raw, 'intermediate_size', file)
  const layers = positiveInt(raw, 'num_hidden_layers', file)
  const heads = positiveInt(raw, 'num_attention_heads', file)
  const kvHeads = raw.num_key_value_heads === undefined || raw.num_key_value_heads === null
    ? heads
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
  const eps = raw.rms_norm_eps ?? 1e-6
  if (typeof eps !== 'number' || !(eps > 0)) throw new ModelFormatError(`${file}: rms_norm_eps must be a positive number`)

  // rope: flat rope_theta (transformers ≤ 4) or rope_parameters.rope_theta (transformers ≥ 5)
  const ropeParams = raw.rope_parameters as Record<string, unknown> | undefined | null
  const ropeScaling = raw.rope_scaling as Record<string, unknown> | undefined | null
  let ropeTheta: unknown = raw.rope_theta
  if (ropeParams && typeof ropeParams === 'object') {
    if (ropeParams.rope_theta !== undefined) ropeTheta = ropeParams.rope_theta
    const type = ropeParams.rope_type ?? ropeParams.type ?? 'default'
    if (type !== 'default')
      throw new ModelFormatError(`${file}: rope_parameters.rope_type "${String(type)}" is not supported (only default RoPE)`)
  }
  if (ropeScaling && typeof ropeScaling === 'object') {
    const type = ropeScaling.rope_type ?? ropeScaling.type
    if (type !== undefined && type !== 'default')
      throw new ModelFormatError(`${file}: rope_scaling type "${String(type)}" is not supported (only default RoPE)`)
  }
  if (ropeTheta === undefined || ropeTheta === null) ropeTheta = 10000
  if (typeof ropeTheta !== 'number' || !(ropeTheta > 0))
    throw new ModelFormatError(`${file}: rope_theta must be a positive number`)

  for (const flag of ['attention_bias', 'mlp_bias'] as const)
    if (raw[flag] === true) throw new ModelFormatError(`${file}: ${flag} = true is not supported (Llama has no biases)`)
  const act = raw.hidden_act ?? 'silu'
  if (act !== 'silu') throw new ModelFormatError(`${file}: hidden_act "${String(act)}" is not supported (only silu)`)
  const tp = raw.pretraining_tp
  if (tp !== undefined && tp !== null && tp !== 1)
    throw new ModelFormatError(`${file}: pretraining_tp ${String(tp)} is not supported (only 1)`)
  const sw = raw.sliding_window
  if (sw !== undefined && sw !== null)
    throw new ModelFormatError(`${file}: sliding_window ${String(sw)} is not supported`)

  const maxPosRaw = raw.max_position_embeddings
  const maxPos = typeof maxPosRaw === 'number' && maxPosRaw > 0 ? Math.min(maxPosRaw, 1 << 16) : 4096
  return {
    vocab, dim, ffn, layers, heads, kvHeads, headDim, eps, ropeTheta,
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

export function readJson(path: string, label: string): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    throw new ModelFormatError(`${label}: cannot be read: ${fsProblem(e)}`)
  }
  try {
    const v: unknown = JSON.parse(text)
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object')
    return v as Record<string, unknown>
  } catch (e) {
    throw new ModelFormatError(`${label}: is not valid JSON (${(e as Error).message})`)
  }
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
