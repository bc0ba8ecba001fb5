// Phi-3 / 3.5 / 4 / 4-mini (model_type phi3, Phi3Config + modeling_phi3): the Llama block with
//   - fused projections: self_attn.qkv_proj [H·hd + 2·KVH·hd, D] (rows q, then k, then v) and mlp.gate_up_proj
//     [2F, D] (rows gate, then up). They are bound as the engine's q/k/v and gate/up by byte offsets into the same
//     mapped rows (nothing is copied) and written back fused by every export (phi3FusedLayout).
//   - partial_rotary_factor: RoPE turns the first int(head_dim · factor) values of each head (Phi-4-mini: 0.75).
//   - longrope: inverse frequencies 1 / (short_factor[i] · θ^(2i/rot)), or long_factor's, chosen as
//     transformers' dynamic_rope_update chooses them: per forward call, long when max(position_ids) + 1 exceeds
//     original_max_position_embeddings. A whole sequence past it (scoring, the step) is turned by the long factors
//     everywhere; in KV-cached generation each key keeps the rotation of the call that computed it — a prompt that
//     fits is prefilled with the short factors and every later position (one call each) turns by the long factors
//     from position original on. cos and sin × attention_factor (the same for both), given, or
//     √(1 + ln(factor) / ln(original)) with factor = max_position_embeddings / original (1 when ≤ 1). The native
//     engine picks the table by each call's last position (Model::cos_of).
//   - sliding_window (Phi-3-mini's 2047): every layer, Mistral's window.
// Phi-4 (14B) is phi3 without rope_scaling and with full rotary embeddings.
import { LlamaConfig, ModelFormatError, parseLlamaConfig, ropeInverseFrequencies, shownValue } from './config'
// (families.ts imports this file and adds the family's options: nothing here imports families.ts)
/** What the fused-tensor helpers read of a model's config (a ModelConfig of families.ts fits). */
type Phi3Shape = Pick<LlamaConfig, 'layers' | 'heads' | 'kvHeads' | 'headDim' | 'ffn'> & { family: string }

/** Phi3Config's defaults for the fields config.json may leave out. */
const PHI3_DEFAULTS: Record<string, unknown> = {
  vocab_size: 32064,
  max_position_embeddings: 4096,
  original_max_position_embeddings: 4096,
  rms_norm_eps: 1e-5,
  bos_token_id: 1,
  eos_token_id: 32000,
  tie_word_embeddings: false,
}

export function parsePhi3(raw: Record<string, unknown>, file: string): { config: LlamaConfig; slidingWindow: number; ropeDims: number } {
  const field = (key: string): unknown => raw[key] ?? PHI3_DEFAULTS[key]
  for (const flag of ['attention_bias', 'mlp_bias'])
    if (raw[flag] === true) throw new ModelFormatError(`${file}: ${flag} true is not supported (Phi-3 has no biases)`)
  const llama: Record<string, unknown> = { ...raw, model_type: 'llama' }
  for (const key of ['sliding_window', 'partial_rotary_factor', 'original_max_position_embeddings', 'rope_scaling', 'rope_parameters', 'attention_bias', 'mlp_bias'])
    delete llama[key]
  for (const key of Object.keys(PHI3_DEFAULTS)) if (llama[key] === undefined && key in PHI3_DEFAULTS && key !== 'original_max_position_embeddings') llama[key] = PHI3_DEFAULTS[key]
  // RoPE: longrope is read here; every other rope_type as the Llama reader reads it
  const rope = ropeFields(raw, file)
  const longrope = rope.type === 'longrope' || rope.type === 'su'
  if (!longrope) {
    if (raw.rope_parameters) llama.rope_parameters = stripPartial(raw.rope_parameters as Record<string, unknown>)
    else if (raw.rope_scaling) llama.rope_scaling = raw.rope_scaling
  } else if (raw.rope_parameters && (raw.rope_parameters as Record<string, unknown>).rope_theta !== undefined) {
    llama.rope_theta = (raw.rope_parameters as Record<string, unknown>).rope_theta
  }
  const c = parseLlamaConfig(llama, file)
  const partial = raw.partial_rotary_factor ?? rope.fields.partial_rotary_factor ?? 1
  if (typeof partial !== 'number' || !(partial > 0 && partial <= 1))
    throw new ModelFormatError(`${file}: partial_rotary_factor must be a number in (0, 1] (found ${shownValue(partial)})`)
  const rot = Math.floor(c.headDim * partial)
  if (rot < 2 || rot % 2 !== 0)
    throw new ModelFormatError(`${file}: head_dim ${c.headDim} × partial_rotary_factor ${partial} = ${rot} rotary dimensions; RoPE needs an even number`)
  const window = raw.sliding_window
  if (window !== undefined && window !== null && !(typeof window === 'number' && Number.isInteger(window) && window > 0))
    throw new ModelFormatError(`${file}: sliding_window must be a positive integer or null (found ${shownValue(window)})`)
  const original = field('original_max_position_embeddings')
  if (typeof original !== 'number' || !Number.isInteger(original) || original <= 0)
    throw new ModelFormatError(`${file}: original_max_position_embeddings must be a positive integer (found ${shownValue(original)})`)
  let out: LlamaConfig = { ...c, raw }
  if (longrope) out = { ...out, ...longropeOf(c, rope.fields, rot, original, file) }
  else if (rot !== c.headDim)
    out.ropeInvFreq = ropeInverseFrequencies({ headDim: rot, ropeTheta: c.ropeTheta, ropeType: c.ropeType, ropeScaling: c.ropeScaling }, file)
  return { config: out, slidingWindow: typeof window === 'number' ? window : 0, ropeDims: rot === c.headDim ? 0 : rot }
}

function stripPartial(p: Record<string, unknown>): Record<string, unknown> {
  const { partial_rotary_factor: _, ...rest } = p
  return rest
}

function ropeFields(raw: Record<string, unknown>, file: string): { type: string; fields: Record<string, unknown> } {
  const pick = (key: string): Record<string, unknown> => {
    const v = raw[key]
    if (v === undefined || v === null) return {}
    if (typeof v !== 'object' || Array.isArray(v)) throw new ModelFormatError(`${file}: ${key} must be an object`)
    return v as Record<string, unknown>
  }
  const fields = { ...pick('rope_scaling'), ...pick('rope_parameters') }
  return { type: String(fields.rope_type ?? fields.type ?? 'default'), fields }
}

/** longrope's short-factor frequencies and its attention factor, as transformers' _compute_longrope_parameters. */
function longropeOf(c: LlamaConfig, fields: Record<string, unknown>, rot: number, original: number, file: string): Partial<LlamaConfig> {
  const where = 'rope_scaling'
  const factors = (key: string): number[] => {
    const v = fields[key]
    if (!Array.isArray(v) || v.length !== rot / 2 || v.some((x) => typeof x !== 'number' || !Number.isFinite(x) || !(x > 0)))
      throw new ModelFormatError(`${file}: ${where}.${key} must be ${rot / 2} positive numbers (one per rotary frequency) for rope_type "longrope"`)
    return v as number[]
  }
  const short = factors('short_factor')
  const long = factors('long_factor')
  const maxPos = c.raw.max_position_embeddings ?? PHI3_DEFAULTS.max_position_embeddings
  const factor = fields.factor ?? (maxPos as number) / original
  if (typeof factor !== 'number' || !(factor > 0)) throw new ModelFormatError(`${file}: ${where}.factor must be a positive number (found ${shownValue(factor)})`)
  const given = fields.attention_factor
  if (given !== undefined && given !== null && !(typeof given === 'number' && given > 0))
    throw new ModelFormatError(`${file}: ${where}.attention_factor must be a positive number (found ${shownValue(given)})`)
  const attention = typeof given === 'number' ? given : factor <= 1 ? 1 : Math.sqrt(1 + Math.log(factor) / Math.log(original))
  const f = Math.fround
  const inverse = (ext: number[]): Float32Array => {
    const inv = new Float32Array(rot / 2)
    for (let i = 0; i < rot / 2; i++) inv[i] = f(1 / f(f(ext[i]) * f(Math.pow(c.ropeTheta, f(f(2 * i) / f(rot))))))
    return inv
  }
  return {
    ropeType: 'default',
    ropeInvFreq: inverse(short),
    ropeScale: attention,
    // a forward call whose sequence is longer than original turns every position by long_factor instead
    ropeInvFreqLong: inverse(long),
    ropeLongAfter: original,
  }
}

/** A fused tensor and the engine tensors it holds, in row order. */
export interface FusedTensor {
  name: string
  parts: string[]
}

/** The fused tensors of a phi3 model (q/k/v → qkv_proj, gate/up → gate_up_proj), layer by layer. */
export function phi3FusedLayout(layers: number): FusedTensor[] {
  const out: FusedTensor[] = []
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}.`
    out.push({ name: `${p}self_attn.qkv_proj.weight`, parts: ['q_proj', 'k_proj', 'v_proj'].map((n) => `${p}self_attn.${n}.weight`) })
    out.push({ name: `${p}mlp.gate_up_proj.weight`, parts: ['gate_proj', 'up_proj'].map((n) => `${p}mlp.${n}.weight`) })
  }
  return out
}

/**
 * The tensors of an HF export in file order: each fused tensor once, at the place of its first part, with its parts
 * (written one after the other, they are the fused tensor's rows); every other tensor as itself.
 */
export function exportUnits(c: Phi3Shape, names: string[], shapeOf: (n: string) => number[]): { name: string; shape: number[]; parts: string[] }[] {
  const fusedOf = new Map<string, FusedTensor>()
  if (c.family === 'phi3') for (const f of phi3FusedLayout(c.layers)) for (const p of f.parts) fusedOf.set(p, f)
  const out: { name: string; shape: number[]; parts: string[] }[] = []
  const done = new Set<string>()
  for (const n of names) {
    const f = fusedOf.get(n)
    if (!f) {
      out.push({ name: n, shape: shapeOf(n), parts: [n] })
      continue
    }
    if (done.has(f.name)) continue
    done.add(f.name)
    const shapes = f.parts.map(shapeOf)
    out.push({ name: f.name, shape: [shapes.reduce((a, s) => a + s[0], 0), shapes[0][1]], parts: f.parts })
  }
  return out
}

const ELEMENT_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2 }

/**
 * A phi3 checkpoint's tensors with each fused projection bound as its parts: same file, the part's first row as its
 * offset (rows are contiguous, so a part is a plain tensor there). Other models' tensors pass through.
 */
export function splitFusedTensors<T extends { name: string; offset: number; dtype: string; shape: number[] }>(
  c: Phi3Shape,
  tensors: T[],
  label: string,
  rowBytes: (t: T, cols: number) => number = (t, cols) => cols * (ELEMENT_BYTES[t.dtype] ?? NaN),
): T[] {
  if (c.family !== 'phi3') return tensors
  const rows: Record<string, number> = { q_proj: c.heads * c.headDim, k_proj: c.kvHeads * c.headDim, v_proj: c.kvHeads * c.headDim, gate_proj: c.ffn, up_proj: c.ffn }
  const fused = new Map(phi3FusedLayout(c.layers).map((f) => [f.name, f.parts]))
  const out: T[] = []
  for (const t of tensors) {
    const parts = fused.get(t.name)
    if (!parts) {
      out.push(t)
      continue
    }
    const want = parts.reduce((a, p) => a + rows[p.split('.').slice(-2)[0]], 0)
    if (t.shape.length !== 2 || t.shape[0] !== want)
      throw new ModelFormatError(`${label}: ${t.name} has shape [${t.shape.join(', ')}]; the config needs [${want}, ${t.shape[1] ?? '?'}] (${parts.map((p) => p.split('.').slice(-2)[0]).join(' + ')})`)
    const bytes = rowBytes(t, t.shape[1])
    if (!Number.isFinite(bytes)) throw new ModelFormatError(`${label}: ${t.name} is stored as ${t.dtype}, which the engine cannot split into its parts`)
    let offset = t.offset
    for (const p of parts) {
      const r = rows[p.split('.').slice(-2)[0]]
      out.push({ ...t, name: p, offset, shape: [r, t.shape[1]] })
      offset += r * bytes
    }
  }
  return out
}
