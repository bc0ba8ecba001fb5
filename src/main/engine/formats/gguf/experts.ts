// Mixtures of experts in GGUF, as llama.cpp reads and writes them: "llama" with expert tensors (Mixtral), "qwen3moe",
// "olmoe", "granitemoe", "gpt-oss" (router and experts with biases: ffn_gate_inp.bias, ffn_*_exps.bias). The router is blk.N.ffn_gate_inp.weight [E, D]; the experts are three 3-D tensors per layer,
// blk.N.ffn_{gate,up}_exps.weight [E, F, D] and ffn_down_exps.weight [E, D, F] (row-major), expert e's rows after
// expert e−1's — cut here into the engine's per-expert 2-D tensors (a byte offset each, any ggml type) and written
// back as one tensor. llama.cpp's graphs (src/models/*.cpp) fix what the HF configs leave open: its llama (Mixtral),
// qwen3moe and granitemoe graphs always renormalise the top-k weights, olmoe never does; every layer has experts.
import { ModelFormatError } from '../../config'
import { ModelConfig } from '../../families'
import { ggmlBitsPerWeight, GgufFile, GgufTensorInfo, GgufValue } from './read'
import { StoredDType, StoredTensorEntry } from '../safetensors'

/** GGUF architectures whose layers are mixtures of experts → transformers' model_type and class */
export const MOE_ARCH_MODEL: Record<string, { modelType: string; cls: string }> = {
  qwen3moe: { modelType: 'qwen3_moe', cls: 'Qwen3MoeForCausalLM' },
  olmoe: { modelType: 'olmoe', cls: 'OlmoeForCausalLM' },
  granitemoe: { modelType: 'granitemoe', cls: 'GraniteMoeForCausalLM' },
  'gpt-oss': { modelType: 'gpt_oss', cls: 'GptOssForCausalLM' },
}

/** whether llama.cpp's graph of the architecture renormalises the top-k weights (build_moe_ffn's norm_w) */
const NORM_W: Record<string, boolean> = { llama: true, qwen3moe: true, granitemoe: true, olmoe: false, 'gpt-oss': true }

/** the three experts' tensors: llama.cpp's name → the engine's per-expert module */
const EXPERT_TENSORS: Record<string, string> = { ffn_gate_exps: 'gate_proj', ffn_up_exps: 'up_proj', ffn_down_exps: 'down_proj' }

/** Whether a "llama" file is a Mixtral (its layers have a router). */
export function ggufHasExperts(g: GgufFile): boolean {
  return g.tensors.some((t) => /^blk\.\d+\.ffn_gate_inp\.weight$/.test(t.name))
}

/** The MoE keys of a file's metadata as transformers' config.json fields of its model_type. */
export function ggufMoeConfig(g: GgufFile, arch: string, raw: Record<string, unknown>, label: string): void {
  const kv = g.kv
  const get = (key: string, required: boolean): number | undefined => {
    const v: GgufValue | undefined = kv.get(`${arch}.${key}`)
    if (v === undefined) {
      if (required) throw new ModelFormatError(`${label}: metadata has no ${arch}.${key}`)
      return undefined
    }
    if (typeof v !== 'number') throw new ModelFormatError(`${label}: ${arch}.${key} must be a number`)
    return v
  }
  const experts = get('expert_count', true)!
  const used = get('expert_used_count', true)!
  const perExpert = /^blk\.\d+\.ffn_(gate|up|down)\.\d+\.weight$/
  const old = g.tensors.find((t) => perExpert.test(t.name))
  if (old) throw new ModelFormatError(`${label}: ${old.name}: experts stored one tensor each (an old llama.cpp layout) are not supported; convert again with a current convert_hf_to_gguf.py`)
  const shared = g.tensors.find((t) => /_shexp\./.test(t.name))
  if (shared) throw new ModelFormatError(`${label}: ${shared.name}: shared experts are not supported`)
  if (arch === 'llama') {
    raw.model_type = 'mixtral'
    raw.architectures = ['MixtralForCausalLM']
    raw.sliding_window = null
  }
  raw[arch === 'llama' || arch === 'granitemoe' || arch === 'gpt-oss' ? 'num_local_experts' : 'num_experts'] = experts
  raw.num_experts_per_tok = used
  if (arch === 'qwen3moe' || arch === 'olmoe') raw.norm_topk_prob = NORM_W[arch]
  // the experts' width: qwen3moe's expert_feed_forward_length (else llama.cpp's n_ff / n_used), others n_ff itself
  const gate = g.tensors.find((t) => /^blk\.0\.ffn_gate_exps\.weight$/.test(t.name))
  // gpt-oss: its experts' width is its intermediate_size (llama.cpp's n_ff_exp)
  if (arch === 'gpt-oss') raw.intermediate_size = get('expert_feed_forward_length', false) ?? gate?.dims[1] ?? raw.intermediate_size
  if (arch === 'qwen3moe') raw.moe_intermediate_size = get('expert_feed_forward_length', false) ?? gate?.dims[1] ?? Math.floor((raw.intermediate_size as number) / used)
}

/** A GGUF tensor of a MoE layer under the engine's names: the router, or one 2-D tensor per expert. */
export function ggufExpertTensors(t: GgufTensorInfo, label: string): StoredTensorEntry[] | undefined {
  // gpt-oss's router and experts carry biases too: ffn_gate_inp.bias [E], ffn_*_exps.bias [E, rows]
  const m = /^blk\.(\d+)\.(ffn_gate_inp|ffn_gate_exps|ffn_up_exps|ffn_down_exps|ffn_gate_up_exps)\.(weight|bias)$/.exec(t.name)
  if (!m) return undefined
  const p = `model.layers.${m[1]}.`
  const shape = [...t.dims].reverse()
  if (m[2] === 'ffn_gate_up_exps') return fusedGateUp(t, shape, p, m[3], label)
  if (m[2] === 'ffn_gate_inp') return [{ name: `${p}mlp.gate.${m[3]}`, file: 0, offset: t.offset, dtype: t.typeName as StoredDType, shape }]
  if (m[3] === 'bias') {
    if (shape.length !== 2) throw new ModelFormatError(`${label}: ${t.name} must have 2 dimensions [experts, rows] (found ${shape.length})`)
    const [E, rows] = shape
    const bits = ggmlBitsPerWeight(t.typeName)
    if (bits === undefined || bits % 8 !== 0) throw new ModelFormatError(`${label}: ${t.name}: a bias must be F32, F16 or BF16 (found ${t.typeName})`)
    return Array.from({ length: E }, (_, e) => ({
      name: `${p}mlp.experts.${e}.${EXPERT_TENSORS[m[2]]}.bias`, file: 0, offset: t.offset + (e * rows * bits) / 8, dtype: t.typeName as StoredDType, shape: [rows],
    }))
  }
  if (shape.length !== 3) throw new ModelFormatError(`${label}: ${t.name} must have 3 dimensions [experts, rows, cols] (found ${shape.length})`)
  const [E, rows, cols] = shape
  const bits = ggmlBitsPerWeight(t.typeName)
  if (bits === undefined) throw new ModelFormatError(`${label}: ${t.name}: unknown ggml type ${t.typeName}`)
  const perExpert = (rows * cols * bits) / 8
  return Array.from({ length: E }, (_, e) => ({
    name: `${p}mlp.experts.${e}.${EXPERT_TENSORS[m[2]]}.weight`, file: 0, offset: t.offset + e * perExpert, dtype: t.typeName as StoredDType, shape: [rows, cols],
  }))
}

/**
 * llama.cpp's converter may fuse each layer's gate and up experts (ffn_gate_up_exps [E, 2F, D]: expert e's gate rows,
 * then its up rows; its bias [E, 2F] likewise): cut into the engine's per-expert tensors by byte offsets.
 */
function fusedGateUp(t: GgufTensorInfo, shape: number[], p: string, part: string, label: string): StoredTensorEntry[] {
  const bits = ggmlBitsPerWeight(t.typeName)
  if (bits === undefined) throw new ModelFormatError(`${label}: ${t.name}: unknown ggml type ${t.typeName}`)
  const bias = part === 'bias'
  if (shape.length !== (bias ? 2 : 3) || shape[1] % 2 !== 0)
    throw new ModelFormatError(`${label}: ${t.name} must be [experts, 2 × rows${bias ? '' : ', cols'}] (found ${JSON.stringify(shape)})`)
  const [E, two] = shape
  const F = two / 2
  const cols = bias ? 1 : shape[2]
  const half = (F * cols * bits) / 8
  const out: StoredTensorEntry[] = []
  for (let e = 0; e < E; e++)
    (['gate_proj', 'up_proj'] as const).forEach((name, j) =>
      out.push({ name: `${p}mlp.experts.${e}.${name}.${part}`, file: 0, offset: t.offset + (2 * e + j) * half, dtype: t.typeName as StoredDType, shape: bias ? [F] : [F, cols] }),
    )
  return out
}

/** The GGUF architecture a mixture of experts exports to, with what llama.cpp's graph cannot run refused by name. */
export function ggufMoeArch(c: ModelConfig): string | undefined {
  if (!c.experts) return undefined
  const arch = c.family === 'mixtral' ? 'llama' : c.family === 'qwen3_moe' ? 'qwen3moe' : c.family === 'gpt_oss' ? 'gpt-oss' : c.family
  const why = (s: string): Error => new ModelFormatError(`GGUF export: ${s} cannot be carried (llama.cpp's ${arch} architecture fixes it); export as a Hugging Face directory`)
  if (c.layerExperts?.some((x) => !x)) throw why('a layer with a dense MLP (mlp_only_layers / decoder_sparse_step)')
  if (c.normTopkProb !== NORM_W[arch]) throw why(`norm_topk_prob ${String(c.normTopkProb)}`)
  // its k_norm is over hidden_size: key/value heads as many as query heads
  if (arch === 'olmoe' && (c.kvHeads !== c.heads || c.headDim * c.heads !== c.dim))
    throw why(`num_key_value_heads ${c.kvHeads} ≠ num_attention_heads ${c.heads}`)
  if (arch === 'gpt-oss') {
    // llama.cpp's gpt-oss graph fixes the clamped SwiGLU's constants and slides every other layer (set_swa_pattern(2))
    if (c.gluLimit !== 7 || c.gluAlpha !== 1.702) throw why(`swiglu_limit ${c.gluLimit} / swiglu_alpha ${c.gluAlpha} (it uses 7 and 1.702)`)
    if (!c.layerSliding || c.layerSliding.some((s, l) => s !== (l % 2 === 0))) throw why('layer_types other than sliding on the even layers, full on the odd ones')
    if (!c.biasQKV || !c.biasO) throw why('attention without q/k/v/o biases')
  }
  return arch
}

/** The MoE metadata of an export. */
export function ggufMoeKv(c: ModelConfig, arch: string): [string, 'u32', number][] {
  const kv: [string, 'u32', number][] = [[`${arch}.expert_count`, 'u32', c.experts!], [`${arch}.expert_used_count`, 'u32', c.expertsPerToken!]]
  if (arch === 'qwen3moe' || arch === 'gpt-oss') kv.push([`${arch}.expert_feed_forward_length`, 'u32', c.expertFfn!])
  if (arch === 'gpt-oss') kv.push([`${arch}.attention.sliding_window`, 'u32', c.slidingWindow])
  return kv
}

/** One tensor of a GGUF export made of the engine's tensors one after another: the experts of a layer. */
export interface GgufFusedTensor {
  name: string
  /** row-major shape */
  shape: number[]
  parts: string[]
}

/** The engine's tensors grouped as a GGUF file holds them: each layer's experts fused, the router renamed. */
export function ggufMoeTensors(names: string[], shapeOf: (n: string) => number[], plainName: (n: string) => string): GgufFusedTensor[] {
  const out: GgufFusedTensor[] = []
  const fused = new Map<string, GgufFusedTensor>()
  const inverse = Object.fromEntries(Object.entries(EXPERT_TENSORS).map(([g, h]) => [h, g]))
  for (const n of names) {
    const r = /^model\.layers\.(\d+)\.mlp\.gate\.(weight|bias)$/.exec(n)
    if (r) {
      out.push({ name: `blk.${r[1]}.ffn_gate_inp.${r[2]}`, shape: shapeOf(n), parts: [n] })
      continue
    }
    // (gpt-oss: each expert's biases fused likewise, [E, rows])
    const e = /^model\.layers\.(\d+)\.mlp\.experts\.\d+\.(gate_proj|up_proj|down_proj)\.(weight|bias)$/.exec(n)
    if (!e) {
      out.push({ name: plainName(n), shape: shapeOf(n), parts: [n] })
      continue
    }
    const name = `blk.${e[1]}.${inverse[e[2]]}.${e[3]}`
    let t = fused.get(name)
    if (!t) {
      t = { name, shape: [0, ...shapeOf(n)], parts: [] }
      fused.set(name, t)
      out.push(t)
    }
    t.parts.push(n)
    t.shape[0] = t.parts.length
  }
  return out
}
