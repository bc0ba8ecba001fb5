// config.json of the families the engine runs beyond Llama, read as transformers' config classes read them, onto the
// one block of native/src/model.h: a family is a few named options on that block (norms, multipliers), not a copy of
// the model. Llama, Mistral and Qwen2 are read by parseLlamaConfig (config.ts); this file adds
//   qwen3    Qwen3Config: RMSNorm of each head of q and k over head_dim (q_norm, k_norm) after the projection, before
//            RoPE; explicit head_dim (default 128); attention_bias on q/k/v/o; no MLP biases
//   granite  GraniteConfig: embedding_multiplier, residual_multiplier, attention_multiplier (the q·k scale itself,
//            default 1), logits_scaling (logits are divided by it)
//   gemma2, gemma3_text (and gemma3 with a text_config: its text model)  Gemma2Config / Gemma3TextConfig: every RMSNorm
//            multiplies by (1 + w); embeddings × √hidden_size rounded to the embedding's dtype (engine.ts rounds it
//            once the tensors are known); GeGLU with gelu (tanh approximation); norms of the attention and MLP outputs
//            before their residual adds; q·k × query_pre_attn_scalar^−½; sliding-window layers by layer_types (or
//            Gemma 2's every other layer, Gemma 3's sliding_window_pattern); Gemma 2's attention-logit and final-logit
//            soft-capping; Gemma 3's q/k norms and the local layers' own RoPE base (rope_local_base_freq)
//   gpt_oss  GptOssConfig (a mixture of experts, experts.ts): attention sinks, q/k/v/o biases, sliding / full layers by
//            layer_types, YaRN, a router and experts with biases, the clamped SwiGLU (parseGptOss)
// Families the engine does not implement are refused by name, with what they would need.
import { LlamaConfig, ModelFormatError, parseLlamaConfig, ropeInverseFrequencies } from './config'
import { parsePhi3 } from './phi3'
import { MoeFamily, MoeOptions, parseMoe } from './experts'

export type Family = 'llama' | 'mistral' | 'qwen2' | 'qwen3' | 'granite' | 'gemma2' | 'gemma3_text' | 'phi3' | MoeFamily

/** The options of the block a family sets (the native engine's Config; names as the engine's spec reads them). */
export interface FamilyOptions {
  family: Family
  /** RMSNorm over head_dim on each head of q and of k, before RoPE (q_norm, k_norm) */
  qkNorm: boolean
  /** embeddings × this */
  embeddingMultiplier: number
  /** each block's attention and MLP output × this before its residual add */
  residualMultiplier: number
  /** the scale of q·k; 0 = head_dim^−½ (Llama) */
  attentionMultiplier: number
  /** logits ÷ this */
  logitsScaling: number
  /** every norm multiplies by (normOffset + w): Gemma's 1 + w from HF weights; 0 when a file stores 1 + w (GGUF) */
  normOffset: number
  /** RMSNorm of the attention output and of the MLP output before their residual adds (Gemma) */
  postNorms: boolean
  /** GeGLU with gelu's tanh approximation instead of SwiGLU (Gemma) */
  geluTanh: boolean
  /** cap·tanh(x / cap) on attention scores / logits (Gemma 2); 0 = none */
  attnSoftcap: number
  finalSoftcap: number
  /** per layer: whether slidingWindow applies (Gemma's local layers); undefined = every layer (Mistral) */
  layerSliding?: boolean[]
  /** RoPE inverse frequencies of the sliding layers (Gemma 3's rope_local_base_freq); undefined = the global ones */
  ropeInvFreqLocal?: Float32Array
  /** RoPE turns the first ropeDims values of each head (Phi's partial_rotary_factor); undefined / 0 = all of head_dim */
  ropeDims?: number
  /** OLMoE: q_norm / k_norm over the whole projection instead of each head */
  qkNormFull?: boolean
  /** mixtures of experts (experts.ts): a router and experts instead of the MLP; undefined = dense */
  experts?: MoeOptions['experts']
  expertsPerToken?: MoeOptions['expertsPerToken']
  expertFfn?: MoeOptions['expertFfn']
  normTopkProb?: MoeOptions['normTopkProb']
  layerExperts?: MoeOptions['layerExperts']
  /** GPT-OSS: a learned logit per query head joins each attention row's softmax (self_attn.sinks) */
  attnSinks?: boolean
  /** GPT-OSS: biases on the router and on every expert's linears */
  expertBias?: boolean
  /** GPT-OSS's clamped SwiGLU of the experts: swiglu_limit (0 = plain SwiGLU) and swiglu_alpha */
  gluLimit?: number
  gluAlpha?: number
}

export type ModelConfig = LlamaConfig & FamilyOptions

export const LLAMA_OPTIONS: Omit<FamilyOptions, 'family'> = {
  qkNorm: false,
  embeddingMultiplier: 1,
  residualMultiplier: 1,
  attentionMultiplier: 0,
  logitsScaling: 1,
  normOffset: 0,
  postNorms: false,
  geluTanh: false,
  attnSoftcap: 0,
  finalSoftcap: 0,
}

/** model_type → what it would take, for the families that are refused by name */
const NOT_IMPLEMENTED: Record<string, string> = {
  qwen2_moe: 'Qwen2-MoE (mixture-of-experts MLP layers with a shared expert)',
  granitemoeshared: 'GraniteMoE with shared experts (a shared MLP beside the routed experts)',
  gemma: 'Gemma (RMSNorm as 1 + w, GeGLU, scaled embeddings)',
  gemma4: 'Gemma 4 (per-layer embeddings)',
  smollm3: 'SmolLM3 (layers without RoPE)',
  qwen3_5: 'Qwen3.5 (Gated DeltaNet linear-attention layers)',
  qwen3_5_moe: 'Qwen3.5-MoE (Gated DeltaNet linear-attention layers, mixture-of-experts MLP layers)',
}

const SUPPORTED: string[] = ['llama', 'mistral', 'qwen2', 'qwen3', 'granite', 'gemma2', 'gemma3_text', 'gemma3', 'phi3', 'mixtral', 'qwen3_moe', 'olmoe', 'granitemoe', 'gpt_oss']

function finite(raw: Record<string, unknown>, key: string, def: number, file: string, positive: boolean): number {
  const v = raw[key]
  if (v === undefined || v === null) return def
  if (typeof v !== 'number' || !Number.isFinite(v) || (positive ? !(v > 0) : false) || Math.abs(v) > 3.4e38)
    throw new ModelFormatError(`${file}: ${key} must be a ${positive ? 'positive ' : ''}number (found ${JSON.stringify(v)})`)
  return v
}

function refuseTrue(raw: Record<string, unknown>, key: string, file: string, why: string): void {
  if (raw[key] === true) throw new ModelFormatError(`${file}: ${key} true is not supported (${why})`)
}

/** config.json → the engine's configuration, for every family the engine runs; other model types are refused by name. */
export function parseModelConfig(raw: Record<string, unknown>, file = 'config.json'): ModelConfig {
  const mt = raw.model_type
  if (mt === undefined || mt === 'llama' || mt === 'mistral' || mt === 'qwen2')
    return { ...parseLlamaConfig(raw, file), family: (mt ?? 'llama') as Family, ...LLAMA_OPTIONS }
  if (mt === 'qwen3') return parseQwen3(raw, file)
  if (mt === 'granite') return parseGranite(raw, file)
  if (mt === 'gemma2' || mt === 'gemma3_text') return parseGemma(raw, file)
  if (mt === 'gemma3') return parseGemma3Multimodal(raw, file)
  if (mt === 'phi3') {
    // phi3.ts: fused projections, partial rotary, longrope
    const p = parsePhi3(raw, file)
    return { ...p.config, family: 'phi3', ...LLAMA_OPTIONS, slidingWindow: p.slidingWindow, ropeDims: p.ropeDims }
  }
  if (mt === 'mixtral' || mt === 'qwen3_moe' || mt === 'olmoe' || mt === 'granitemoe' || mt === 'gpt_oss') return parseMixtureOfExperts(raw, mt, file)
  if (typeof mt === 'string' && NOT_IMPLEMENTED[mt])
    throw new ModelFormatError(`${file}: model_type "${mt}" is not supported yet: ${NOT_IMPLEMENTED[mt]} (supported: ${SUPPORTED.join(', ')})`)
  throw new ModelFormatError(`${file}: model_type "${String(mt)}" is not supported (supported: ${SUPPORTED.join(', ')})`)
}

/** Qwen3Config's fields onto the Llama reader (its defaults where config.json leaves a field out). */
function parseQwen3(raw: Record<string, unknown>, file: string): ModelConfig {
  refuseTrue(raw, 'use_sliding_window', file, "Qwen3's sliding window on the layers from max_window_layers on")
  refuseTrue(raw, 'mlp_bias', file, 'Qwen3 has no MLP biases')
  const llama: Record<string, unknown> = { ...raw, model_type: 'llama' }
  // Qwen3Config drops sliding_window unless use_sliding_window: it is not a setting of the model then
  delete llama.sliding_window
  delete llama.mlp_bias
  if (llama.head_dim === undefined) llama.head_dim = 128
  if (llama.num_key_value_heads === undefined) llama.num_key_value_heads = 32
  if (llama.max_position_embeddings === undefined) llama.max_position_embeddings = 32768
  const c = parseLlamaConfig(llama, file)
  return { ...c, raw, family: 'qwen3', ...LLAMA_OPTIONS, qkNorm: true }
}

/** A mixture of experts: its attention as the dense family it extends (Mistral, Qwen3, OLMo, Granite), its MoE block. */
function parseMixtureOfExperts(raw: Record<string, unknown>, mt: MoeFamily, file: string): ModelConfig {
  const dense: Record<string, unknown> = { ...raw }
  for (const key of ['num_experts', 'num_local_experts', 'num_experts_per_tok', 'moe_intermediate_size', 'norm_topk_prob', 'decoder_sparse_step', 'mlp_only_layers', 'router_aux_loss_coef', 'output_router_logits', 'router_jitter_noise'])
    delete dense[key]
  let c: ModelConfig
  if (mt === 'mixtral') {
    // MixtralConfig: 8 key/value heads, rope_theta 1e6, no sliding window unless given
    if (dense.rope_theta === undefined && dense.rope_parameters === undefined) dense.rope_theta = 1e6
    if (dense.sliding_window === undefined) dense.sliding_window = null
    c = { ...parseLlamaConfig({ ...dense, model_type: 'mistral' }, file), raw, family: mt, ...LLAMA_OPTIONS }
  } else if (mt === 'qwen3_moe') {
    // Qwen3MoeConfig: 4 key/value heads; head_dim hidden_size / heads when absent (the attention's getattr)
    if (dense.num_key_value_heads === undefined) dense.num_key_value_heads = 4
    if (dense.head_dim === undefined && typeof dense.hidden_size === 'number' && typeof dense.num_attention_heads === 'number')
      dense.head_dim = Math.floor(dense.hidden_size / dense.num_attention_heads)
    c = { ...parseQwen3({ ...dense, model_type: 'qwen3', mlp_bias: undefined }, file), raw, family: mt }
  } else if (mt === 'olmoe') {
    const v = raw.clip_qkv
    if (v !== undefined && v !== null) throw new ModelFormatError(`${file}: clip_qkv ${JSON.stringify(v)} is not supported (OLMoE's clamping of q, k, v)`)
    refuseTrue(raw, 'attention_bias', file, 'OLMoE biases')
    delete dense.clip_qkv
    if (dense.max_position_embeddings === undefined) dense.max_position_embeddings = 4096
    c = { ...parseLlamaConfig({ ...dense, model_type: 'llama' }, file), raw, family: mt, ...LLAMA_OPTIONS, qkNorm: true, qkNormFull: true }
  } else if (mt === 'gpt_oss') {
    return parseGptOss(raw, dense, file)
  } else {
    c = { ...parseGranite({ ...dense, model_type: 'granite' }, file), raw, family: mt }
  }
  return { ...c, ...parseMoe(raw, mt, c.layers, file) }
}

const GPT_OSS_DEFAULTS: Record<string, unknown> = {
  num_hidden_layers: 36, num_local_experts: 128, vocab_size: 201088, hidden_size: 2880, intermediate_size: 2880, head_dim: 64,
  num_attention_heads: 64, num_key_value_heads: 8, sliding_window: 128, tie_word_embeddings: false, max_position_embeddings: 131072,
  rms_norm_eps: 1e-5, num_experts_per_tok: 4, attention_bias: true, rope_theta: 150000,
}

/**
 * GptOssConfig (its defaults where config.json leaves a field out): attention with q/k/v/o biases and a learned sink
 * per head, sliding (sliding_window, 128) and full layers by layer_types (default: even layers slide), YaRN RoPE
 * (factor 32 over 4096 positions, truncate false), every layer a mixture of experts with biases and the clamped
 * SwiGLU (swiglu_limit 7, swiglu_alpha 1.702), the router's top-k logits → softmax (= the renormalised top-k).
 */
function parseGptOss(raw: Record<string, unknown>, dense: Record<string, unknown>, file: string): ModelConfig {
  // the released checkpoints: {quant_method: "mxfp4", modules_to_not_convert: [...]} — transformers quantises only the
  // experts (Mxfp4GptOssExperts), whatever that list names; their *_blocks / *_scales are read as MXFP4 (experts.ts)
  const q = raw.quantization_config
  if (q !== undefined && q !== null) {
    const method = typeof q === 'object' && !Array.isArray(q) ? (q as Record<string, unknown>).quant_method : undefined
    if (method !== 'mxfp4')
      throw new ModelFormatError(`${file}: quantization_config quant_method ${JSON.stringify(method ?? null)} is not supported for gpt_oss (the engine reads "mxfp4", the released checkpoints' MXFP4 experts)`)
  }
  const field = (key: string): unknown => (raw[key] === undefined ? GPT_OSS_DEFAULTS[key] : raw[key])
  const llama: Record<string, unknown> = { ...dense, model_type: 'llama' }
  for (const key of ['layer_types', 'sliding_window', 'swiglu_limit', 'swiglu_alpha', 'hidden_act', 'quantization_config'])
    delete llama[key]
  for (const key of ['vocab_size', 'hidden_size', 'intermediate_size', 'head_dim', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'tie_word_embeddings', 'max_position_embeddings', 'rms_norm_eps', 'attention_bias'])
    llama[key] = field(key)
  if (raw.rope_scaling === undefined && raw.rope_parameters === undefined)
    llama.rope_scaling = { rope_type: 'yarn', factor: 32.0, beta_fast: 32.0, beta_slow: 1.0, truncate: false, original_max_position_embeddings: 4096 }
  if (raw.rope_theta === undefined && !(raw.rope_parameters && typeof raw.rope_parameters === 'object' && 'rope_theta' in raw.rope_parameters))
    llama.rope_theta = GPT_OSS_DEFAULTS.rope_theta
  const c = parseLlamaConfig(llama, file)
  let layerSliding: boolean[]
  if (Array.isArray(raw.layer_types)) {
    layerSliding = raw.layer_types.map((t, i) => {
      if (t !== 'sliding_attention' && t !== 'full_attention')
        throw new ModelFormatError(`${file}: layer_types[${i}] "${String(t)}" is not supported (sliding_attention or full_attention)`)
      return t === 'sliding_attention'
    })
    if (layerSliding.length !== c.layers)
      throw new ModelFormatError(`${file}: layer_types has ${layerSliding.length} entries for num_hidden_layers ${c.layers}`)
  } else layerSliding = Array.from({ length: c.layers }, (_, i) => (i + 1) % 2 !== 0)
  const w = field('sliding_window')
  if (w !== null && (typeof w !== 'number' || !Number.isInteger(w) || w <= 0))
    throw new ModelFormatError(`${file}: sliding_window must be a positive integer or null (found ${JSON.stringify(w)})`)
  const limit = finite(raw, 'swiglu_limit', 7.0, file, true)
  const alpha = finite(raw, 'swiglu_alpha', 1.702, file, false)
  const moe = parseMoe({ ...raw, num_local_experts: field('num_local_experts'), num_experts_per_tok: field('num_experts_per_tok'), intermediate_size: field('intermediate_size') }, 'gpt_oss', c.layers, file)
  return {
    ...c,
    raw,
    family: 'gpt_oss',
    ...LLAMA_OPTIONS,
    slidingWindow: w === null ? 0 : (w as number),
    layerSliding,
    ...moe,
    attnSinks: true,
    expertBias: true,
    gluLimit: limit,
    gluAlpha: alpha,
  }
}

/** GraniteConfig's multipliers (each defaults to 1, attention_multiplier included: it is the q·k scale itself). */
function parseGranite(raw: Record<string, unknown>, file: string): ModelConfig {
  const llama: Record<string, unknown> = { ...raw, model_type: 'llama' }
  if (llama.max_position_embeddings === undefined) llama.max_position_embeddings = 2048
  const c = parseLlamaConfig(llama, file)
  return {
    ...c,
    raw,
    family: 'granite',
    ...LLAMA_OPTIONS,
    embeddingMultiplier: finite(raw, 'embedding_multiplier', 1, file, false),
    residualMultiplier: finite(raw, 'residual_multiplier', 1, file, false),
    attentionMultiplier: finite(raw, 'attention_multiplier', 1, file, true),
    logitsScaling: finite(raw, 'logits_scaling', 1, file, true),
  }
}

/** Gemma 3's multimodal config: its text_config is the model the engine opens (the vision tower is not read). */
function parseGemma3Multimodal(raw: Record<string, unknown>, file: string): ModelConfig {
  const tc = raw.text_config
  if (!tc || typeof tc !== 'object' || Array.isArray(tc))
    throw new ModelFormatError(`${file}: model_type "gemma3" without a text_config object (the engine opens a Gemma 3 checkpoint as its text model)`)
  // the text model, as its own config: exports write it as a gemma3_text directory
  const text: Record<string, unknown> = { ...(tc as Record<string, unknown>), model_type: 'gemma3_text', architectures: ['Gemma3ForCausalLM'] }
  for (const key of ['bos_token_id', 'eos_token_id', 'tie_word_embeddings', 'dtype', 'torch_dtype'])
    if (text[key] === undefined && raw[key] !== undefined) text[key] = raw[key]
  return parseGemma(text, `${file}: text_config`)
}

const GEMMA_DEFAULTS: Record<string, Record<string, unknown>> = {
  gemma2: { vocab_size: 256000, head_dim: 256, num_key_value_heads: 4, max_position_embeddings: 8192, rope_theta: 10000, query_pre_attn_scalar: 256, sliding_window: 4096, final_logit_softcapping: 30.0, attn_logit_softcapping: 50.0 },
  gemma3_text: { vocab_size: 262208, head_dim: 256, num_key_value_heads: 4, max_position_embeddings: 131072, rope_theta: 1000000, query_pre_attn_scalar: 256, sliding_window: 4096, final_logit_softcapping: null, attn_logit_softcapping: null, rope_local_base_freq: 10000, sliding_window_pattern: 6 },
}

/** Gemma2Config / Gemma3TextConfig onto the block (their defaults where config.json leaves a field out). */
function parseGemma(raw: Record<string, unknown>, file: string): ModelConfig {
  const mt = raw.model_type as 'gemma2' | 'gemma3_text'
  const d = GEMMA_DEFAULTS[mt]
  const field = (key: string): unknown => (raw[key] === undefined ? d[key] : raw[key])
  // Gemma's MLP reads hidden_activation (hidden_act is a legacy field it ignores)
  const act = raw.hidden_activation ?? 'gelu_pytorch_tanh'
  if (act !== 'gelu_pytorch_tanh')
    throw new ModelFormatError(`${file}: hidden_activation "${String(act)}" is not supported for ${mt} (only gelu_pytorch_tanh)`)
  refuseTrue(raw, 'attention_bias', file, 'Gemma biases')
  const layers = raw.num_hidden_layers
  // which layers slide: layer_types, else Gemma 2's even layers, Gemma 3's sliding_window_pattern
  let layerSliding: boolean[] | undefined
  if (Array.isArray(raw.layer_types)) {
    layerSliding = raw.layer_types.map((t, i) => {
      if (t !== 'sliding_attention' && t !== 'full_attention')
        throw new ModelFormatError(`${file}: layer_types[${i}] "${String(t)}" is not supported (sliding_attention or full_attention)`)
      return t === 'sliding_attention'
    })
  } else if (typeof layers === 'number' && Number.isInteger(layers) && layers > 0 && layers <= 1 << 12) {
    const pattern = mt === 'gemma2' ? 2 : field('sliding_window_pattern')
    if (typeof pattern !== 'number' || !Number.isInteger(pattern) || pattern < 1)
      throw new ModelFormatError(`${file}: sliding_window_pattern must be a positive integer (found ${JSON.stringify(pattern)})`)
    layerSliding = Array.from({ length: layers }, (_, i) => (i + 1) % pattern !== 0)
  }
  const window = field('sliding_window')
  if (typeof window !== 'number' || !Number.isInteger(window) || window <= 0)
    throw new ModelFormatError(`${file}: sliding_window must be a positive integer (found ${JSON.stringify(window)})`)
  // RoPE: transformers ≥ 5 keeps one rope_parameters per layer type; before, rope_theta + rope_scaling are the global
  // layers' and rope_local_base_freq the local layers' (default RoPE)
  const rp = raw.rope_parameters as Record<string, unknown> | undefined
  const perType = rp && typeof rp === 'object' && ('full_attention' in rp || 'sliding_attention' in rp)
  const llama: Record<string, unknown> = { ...raw, model_type: 'llama' }
  for (const key of ['layer_types', 'sliding_window', 'hidden_act', 'hidden_activation', 'rope_local_base_freq', 'sliding_window_pattern', 'rope_parameters'])
    delete llama[key]
  let localTheta: number | undefined
  if (perType) {
    if (rp.full_attention) llama.rope_parameters = rp.full_attention
    const local = rp.sliding_attention as Record<string, unknown> | undefined
    if (local) {
      if ((local.rope_type ?? 'default') !== 'default')
        throw new ModelFormatError(`${file}: rope_parameters.sliding_attention rope_type "${String(local.rope_type)}" is not supported (only default)`)
      localTheta = local.rope_theta as number
    }
  } else {
    if (rp) llama.rope_parameters = rp
    if (raw.rope_theta === undefined && !rp) llama.rope_theta = d.rope_theta
    if (mt === 'gemma3_text') localTheta = field('rope_local_base_freq') as number
  }
  for (const key of ['vocab_size', 'head_dim', 'num_key_value_heads', 'max_position_embeddings'])
    if (llama[key] === undefined) llama[key] = d[key]
  if (llama.tie_word_embeddings === undefined) llama.tie_word_embeddings = true
  if (llama.bos_token_id === undefined) llama.bos_token_id = 2
  if (llama.eos_token_id === undefined) llama.eos_token_id = 1
  const c = parseLlamaConfig(llama, file)
  if (layerSliding && layerSliding.length !== c.layers)
    throw new ModelFormatError(`${file}: layer_types has ${layerSliding.length} entries for num_hidden_layers ${c.layers}`)
  let ropeInvFreqLocal: Float32Array | undefined
  if (mt === 'gemma3_text' && localTheta !== undefined) {
    if (typeof localTheta !== 'number' || !(localTheta > 0))
      throw new ModelFormatError(`${file}: rope_local_base_freq must be a positive number (found ${JSON.stringify(localTheta)})`)
    ropeInvFreqLocal = ropeInverseFrequencies({ headDim: c.headDim, ropeTheta: localTheta, ropeType: 'default', ropeScaling: {} }, file)
  }
  const qpas = finite(llama, 'query_pre_attn_scalar', d.query_pre_attn_scalar as number, file, true)
  const cap = (key: string): number => {
    const v = field(key)
    if (v === null || v === undefined) return 0
    return finite({ [key]: v }, key, 0, file, true)
  }
  return {
    ...c,
    raw,
    family: mt,
    ...LLAMA_OPTIONS,
    slidingWindow: window,
    layerSliding,
    ropeInvFreqLocal,
    qkNorm: mt === 'gemma3_text',
    normOffset: 1,
    postNorms: true,
    geluTanh: true,
    // transformers: hidden_size ** 0.5 as a float32 tensor, cast to the embedding's dtype (see gemmaEmbeddingScale)
    embeddingMultiplier: Math.fround(Math.sqrt(c.dim)),
    attentionMultiplier: Math.fround(Math.pow(qpas, -0.5)),
    attnSoftcap: cap('attn_logit_softcapping'),
    finalSoftcap: cap('final_logit_softcapping'),
  }
}

/**
 * The tensors of the text model under the names the engine binds: a multimodal Gemma 3 checkpoint keeps its language
 * model under language_model.model.* / model.language_model.* (and language_model.lm_head); the vision tower and
 * projector are not read.
 */
export function textModelTensors<T extends { name: string }>(raw: Record<string, unknown>, tensors: T[]): T[] {
  if (raw.model_type !== 'gemma3') return tensors
  const out: T[] = []
  for (const t of tensors) {
    const m = /^(?:language_model\.model\.|model\.language_model\.)(.*)$/.exec(t.name)
    if (m) out.push({ ...t, name: `model.${m[1]}` })
    else if (t.name === 'language_model.lm_head.weight' || t.name === 'lm_head.weight') out.push({ ...t, name: 'lm_head.weight' })
  }
  return out
}

/** √hidden_size as transformers multiplies Gemma's embeddings by it: rounded to the embedding weight's dtype. */
export function gemmaEmbeddingScale(c: ModelConfig, embeddingDtype: string): number {
  const s = Math.fround(Math.sqrt(c.dim))
  const f = new Float32Array([s])
  const u = new Uint32Array(f.buffer)
  if (embeddingDtype === 'BF16') {
    u[0] = (u[0] + 0x7fff + ((u[0] >>> 16) & 1)) & 0xffff0000 // round to nearest even
    return f[0]
  }
  if (embeddingDtype === 'F16') {
    const e = Math.floor(Math.log2(s))
    const q = Math.pow(2, e - 10) // spacing of fp16 values at s (normal range: every √hidden of a real model)
    const r = s / q
    const n = Math.floor(r)
    const rounded = r - n > 0.5 || (r - n === 0.5 && n % 2 === 1) ? n + 1 : n
    return rounded * q
  }
  return s
}

/**
 * What to add to a norm tensor when writing it (the engine's materialise normAdd): Gemma's HF files store w and GGUF
 * files 1 + w, while the engine holds w with normOffset 1 (from HF) or 1 + w with normOffset 0 (from GGUF).
 */
export function normAddFor(c: ModelConfig, hfName: string, target: 'hf' | 'gguf'): number {
  if (!c.postNorms || !/norm\.weight$/.test(hfName)) return 0
  return c.normOffset - (target === 'hf' ? 1 : 0)
}
