// llama.cpp's tensor names ↔ Hugging Face's, one table for the GGUF reader (model.ts), the GGUF writer (write.ts) and
// the benchmark's synthetic models (tools/bench/benchSynthetic.ts), in the spirit of llama.cpp's LLM_TN: a tensor of
// layer N is blk.N.<name>.weight in a GGUF file and model.layers.N.<module>.weight in a safetensors checkpoint.

/** Tensors of every layer: llama.cpp's name → the HF module. Norms carry a weight only; the linears may carry a bias. */
export const LAYER_TENSORS = {
  attn_norm: 'input_layernorm',
  attn_q: 'self_attn.q_proj',
  attn_k: 'self_attn.k_proj',
  attn_v: 'self_attn.v_proj',
  attn_output: 'self_attn.o_proj',
  ffn_norm: 'post_attention_layernorm',
  ffn_gate: 'mlp.gate_proj',
  ffn_up: 'mlp.up_proj',
  ffn_down: 'mlp.down_proj',
} as const

/** Per-head RMSNorms of q and k (Qwen3, Gemma 3): llama.cpp's name → the HF module, in every family that has them. */
export const QK_NORM_TENSORS = {
  attn_q_norm: 'self_attn.q_norm',
  attn_k_norm: 'self_attn.k_norm',
} as const

/**
 * Gemma's block normalises the attention and MLP outputs too, and calls its MLP input norm pre_feedforward_layernorm:
 * its names where they differ from Llama's (post_attention_layernorm is Gemma's attention-output norm, not the MLP's
 * input norm).
 */
export const GEMMA_NORM_TENSORS = {
  ffn_norm: 'pre_feedforward_layernorm',
  post_attention_norm: 'post_attention_layernorm',
  post_ffw_norm: 'post_feedforward_layernorm',
} as const

/** GGUF architectures whose layers carry Gemma's names */
export const GEMMA_ARCHES = ['gemma2', 'gemma3']

/**
 * Phi-3's fused projections (llama.cpp's phi3): attn_qkv is qkv_proj (rows q, k, v); ffn_up is gate_up_proj (rows
 * gate, then up: its SwiGLU gates the first half), with no ffn_gate.
 */
export const PHI3_FUSED_TENSORS = {
  attn_qkv: 'self_attn.qkv_proj',
  ffn_up: 'mlp.gate_up_proj',
} as const

/**
 * GPT-OSS (llama.cpp's gpt-oss, LLM_ARCH_OPENAI_MOE): the MLP input norm is post_attention_norm (no ffn_norm), the
 * attention sinks a per-head vector attn_sinks (the engine holds it as self_attn.sinks.weight); its experts and
 * router are formats/gguf/experts.ts's.
 */
export const GPT_OSS_TENSORS = {
  attn_norm: 'input_layernorm',
  attn_q: 'self_attn.q_proj',
  attn_k: 'self_attn.k_proj',
  attn_v: 'self_attn.v_proj',
  attn_output: 'self_attn.o_proj',
  attn_sinks: 'self_attn.sinks',
  post_attention_norm: 'post_attention_layernorm',
} as const

/** A GGUF architecture's layer tensors: llama.cpp's name → the HF module. */
function layerTensors(arch: string): Record<string, string> {
  if (arch === 'gpt-oss') return GPT_OSS_TENSORS
  if (arch === 'phi3') return { ...LAYER_TENSORS, ...PHI3_FUSED_TENSORS }
  return GEMMA_ARCHES.includes(arch)
    ? { ...LAYER_TENSORS, ...QK_NORM_TENSORS, ...GEMMA_NORM_TENSORS }
    : { ...LAYER_TENSORS, ...QK_NORM_TENSORS }
}

/** Tensors outside the layers: llama.cpp's name → HF's (both with .weight). */
export const TOP_TENSORS = {
  token_embd: 'model.embed_tokens',
  output: 'lm_head',
  output_norm: 'model.norm',
} as const

export type GgufLayerTensor = keyof typeof LAYER_TENSORS
export type GgufTopTensor = keyof typeof TOP_TENSORS

const isNorm = (t: string): boolean => t.endsWith('_norm')

/** blk.N.<t>.weight (or .bias): a layer tensor's GGUF name. */
export function ggufLayerTensor(layer: number, t: GgufLayerTensor, part: 'weight' | 'bias' = 'weight'): string {
  return `blk.${layer}.${t}.${part}`
}

/** <t>.weight: a GGUF tensor outside the layers. */
export function ggufTopTensor(t: GgufTopTensor): string {
  return `${t}.weight`
}

/** The HF name of a llama.cpp tensor of architecture `arch`, or undefined for tensors the engine does not use (e.g. rope_freqs). */
export function hfTensorName(gguf: string, arch = 'llama'): string | undefined {
  const top = /^(\w+)\.weight$/.exec(gguf)
  if (top && top[1] in TOP_TENSORS) return `${TOP_TENSORS[top[1] as GgufTopTensor]}.weight`
  const m = /^blk\.(\d+)\.(\w+)\.(weight|bias)$/.exec(gguf)
  const layer = layerTensors(arch)
  if (!m || !(m[2] in layer) || (isNorm(m[2]) && m[3] !== 'weight')) return undefined
  return `model.layers.${m[1]}.${layer[m[2]]}.${m[3]}`
}

/** The llama.cpp name of an HF tensor of architecture `arch` (the inverse of hfTensorName). */
export function ggufTensorName(hf: string, arch = 'llama'): string {
  const m = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(hf)
  const tensors = layerTensors(arch)
  const layer = m && Object.keys(tensors).find((t) => tensors[t] === m[2])
  if (m && layer) return `blk.${m[1]}.${layer}.${m[3]}`
  const top = (Object.keys(TOP_TENSORS) as GgufTopTensor[]).find((t) => `${TOP_TENSORS[t]}.weight` === hf)
  if (top) return `${top}.weight`
  throw new Error(`no GGUF name for ${hf}`)
}
