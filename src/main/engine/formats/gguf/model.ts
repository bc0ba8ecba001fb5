// A GGUF file as the engine sees a Hugging Face checkpoint: metadata → a transformers-style config dict (validated by
// parseLlamaConfig, the one config validator), llama.cpp tensor names → HF names with row-major shapes, and the
// stored ggml type of each tensor (the engine computes with the types in ENGINE_GGML_TYPES).
// llama.cpp's "llama" and "granite" architectures keep q/k rows in Meta's interleaved RoPE order; "qwen2" and
// "qwen3" keep HF's rotate_half order. Family settings come from the architecture's keys (families.ts reads them).
import { basename } from 'node:path'
import { closeSync, openSync, readSync } from 'node:fs'
import { ModelFormatError, ropeInverseFrequencies } from '../../config'
import { ModelConfig, parseModelConfig } from '../../families'
import { ENGINE_GGML_TYPES, ggmlBytes, GgufFile, GgufTensorInfo, GgufValue } from './read'
import { splitFusedTensors } from '../../phi3'
import { StoredDType, StoredTensorEntry } from '../safetensors'
import { tokenizerFromGguf } from '../../tokenizers/gguf'
import type { Tokenizer } from '../../tokenizers/types'
import { GEMMA_ARCHES, hfTensorName } from './names'
import { ggufExpertTensors, ggufHasExperts, ggufMoeConfig, MOE_ARCH_MODEL } from './experts'

const SUPPORTED_ARCHES = ['llama', 'qwen2', 'qwen3', 'granite', 'gemma2', 'gemma3', 'phi3', 'qwen3moe', 'olmoe', 'granitemoe', 'gpt-oss']

/** general.architecture → transformers' model_type and class */
const ARCH_MODEL: Record<string, { modelType: string; cls: string }> = {
  llama: { modelType: 'llama', cls: 'LlamaForCausalLM' },
  qwen2: { modelType: 'qwen2', cls: 'Qwen2ForCausalLM' },
  qwen3: { modelType: 'qwen3', cls: 'Qwen3ForCausalLM' },
  granite: { modelType: 'granite', cls: 'GraniteForCausalLM' },
  gemma2: { modelType: 'gemma2', cls: 'Gemma2ForCausalLM' },
  gemma3: { modelType: 'gemma3_text', cls: 'Gemma3ForCausalLM' },
  phi3: { modelType: 'phi3', cls: 'Phi3ForCausalLM' },
  ...MOE_ARCH_MODEL,
}

/**
 * The q·k scale llama.cpp's gemma2 / gemma3 graphs use: 1/√head_dim, except the 27B models (46 / 62 layers), where it
 * is 1/√(hidden / heads) — query_pre_attn_scalar is not read from the file. Returned as the query_pre_attn_scalar
 * that gives it.
 */
export function llamaCppGemmaQueryScalar(arch: string, layers: number, dim: number, heads: number, headDim: number): number {
  const big = (arch === 'gemma2' && layers === 46) || (arch === 'gemma3' && layers === 62)
  return big ? dim / heads : headDim
}

/** Architectures whose q/k rows llama.cpp's converter stores in Meta's interleaved RoPE order (LLAMA_ROPE_TYPE_NORM) */
export const INTERLEAVED_ARCHES = ['llama', 'granite', 'granitemoe']

export { GEMMA_ARCHES, ggufTensorName, hfTensorName } from './names'

export interface GgufCheckpoint {
  arch: string
  config: ModelConfig
  /** tensors under HF names, row-major shapes, the file index 0 */
  tensors: StoredTensorEntry[]
  /** the dominant weight type, e.g. "Q4_K" (for display) */
  quantisation: string
}

function num(kv: Map<string, GgufValue>, key: string, label: string, required: boolean): number | undefined {
  const v = kv.get(key)
  if (v === undefined) {
    if (required) throw new ModelFormatError(`${label}: metadata has no ${key}`)
    return undefined
  }
  if (typeof v !== 'number') throw new ModelFormatError(`${label}: ${key} must be a number (found ${typeof v})`)
  return v
}

/** llama.cpp's per-frequency RoPE divisors for Llama-3.1's "llama3" scaling (convert_hf_to_gguf.py's formula). */
export function llama3RopeFactors(
  headDim: number,
  theta: number,
  p: { factor: number; low_freq_factor: number; high_freq_factor: number; original_max_position_embeddings: number },
): number[] {
  const lowWavelen = p.original_max_position_embeddings / p.low_freq_factor
  const highWavelen = p.original_max_position_embeddings / p.high_freq_factor
  const out: number[] = []
  for (let i = 0; i < headDim; i += 2) {
    const freq = 1 / Math.pow(theta, i / headDim)
    const wavelen = (2 * Math.PI) / freq
    if (wavelen < highWavelen) out.push(1)
    else if (wavelen > lowWavelen) out.push(p.factor)
    else {
      const smooth = (p.original_max_position_embeddings / wavelen - p.low_freq_factor) / (p.high_freq_factor - p.low_freq_factor)
      out.push(1 / ((1 - smooth) / p.factor + smooth))
    }
  }
  return out
}

function readF32(path: string, t: GgufTensorInfo): Float32Array {
  const fd = openSync(path, 'r')
  try {
    const b = Buffer.alloc(t.bytes)
    readSync(fd, b, 0, t.bytes, t.offset)
    return new Float32Array(b.buffer, b.byteOffset, t.bytes / 4)
  } finally {
    closeSync(fd)
  }
}

/** Metadata → transformers-style config.json keys (model_type, rope_scaling, attention_bias, eos lists, …). */
export function ggufConfigDict(g: GgufFile): { arch: string; raw: Record<string, unknown>; ropeFreqs?: Float32Array } {
  const label = basename(g.path)
  const kv = g.kv
  const arch = kv.get('general.architecture')
  if (typeof arch !== 'string') throw new ModelFormatError(`${label}: metadata has no general.architecture`)
  if (!SUPPORTED_ARCHES.includes(arch))
    throw new ModelFormatError(`${label}: general.architecture "${arch}" is not supported (only ${SUPPORTED_ARCHES.join(' and ')})`)
  const k = (s: string): string => `${arch}.${s}`
  const tokens = kv.get('tokenizer.ggml.tokens')
  const vocabFromTokens = Array.isArray(tokens) ? tokens.length : undefined
  const embd = g.tensors.find((t) => t.name === 'token_embd.weight')
  const vocab = vocabFromTokens ?? num(kv, k('vocab_size'), label, false) ?? embd?.dims[1]
  const heads = num(kv, k('attention.head_count'), label, true)!
  const dim = num(kv, k('embedding_length'), label, true)!
  const keyLen = num(kv, k('attention.key_length'), label, false)
  const valLen = num(kv, k('attention.value_length'), label, false)
  if (keyLen !== undefined && valLen !== undefined && keyLen !== valLen)
    throw new ModelFormatError(`${label}: ${k('attention.key_length')} ${keyLen} ≠ value_length ${valLen} is not a Llama attention`)
  const headDim = keyLen ?? valLen ?? dim / heads
  const ropeDims = num(kv, k('rope.dimension_count'), label, false)
  if (ropeDims !== undefined && ropeDims !== headDim && arch !== 'phi3')
    throw new ModelFormatError(`${label}: ${k('rope.dimension_count')} ${ropeDims} ≠ head dim ${headDim} (partial rotary embeddings are not supported)`)
  const theta = num(kv, k('rope.freq_base'), label, false) ?? 10000
  // named by its GGUF key (a 0 became 4096 silently before; parseLlamaConfig would name max_position_embeddings)
  const context = num(kv, k('context_length'), label, false)
  if (context !== undefined && !(Number.isSafeInteger(context) && context > 0))
    throw new ModelFormatError(`${label}: ${k('context_length')} must be a positive integer (found ${context})`)
  const raw: Record<string, unknown> = {
    architectures: [ARCH_MODEL[arch].cls],
    model_type: ARCH_MODEL[arch].modelType,
    vocab_size: vocab,
    hidden_size: dim,
    intermediate_size: num(kv, k('feed_forward_length'), label, true),
    num_hidden_layers: num(kv, k('block_count'), label, true),
    num_attention_heads: heads,
    num_key_value_heads: num(kv, k('attention.head_count_kv'), label, false) ?? heads,
    head_dim: headDim,
    rms_norm_eps: num(kv, k('attention.layer_norm_rms_epsilon'), label, false) ?? 1e-5,
    rope_theta: theta,
    max_position_embeddings: context ?? 4096,
    hidden_act: 'silu',
    tie_word_embeddings: !g.tensors.some((t) => t.name === 'output.weight'),
    dtype: 'gguf',
  }
  // biases: llama.cpp names them blk.N.attn_q.bias …; Qwen2 always has q/k/v biases (Qwen2Config has no flag for
  // them), a llama file's optional ones are transformers' attention_bias (q, k, v, o) and mlp_bias
  const hasAttnBias = g.tensors.some((t) => /^blk\.\d+\.attn_(q|k|v|output)\.bias$/.test(t.name))
  const hasMlpBias = g.tensors.some((t) => /^blk\.\d+\.ffn_(gate|up|down)\.bias$/.test(t.name))
  if (arch === 'qwen2') {
    const extra = g.tensors.find((t) => /^blk\.\d+\.(attn_output|ffn_\w+)\.bias$/.test(t.name))
    if (extra) throw new ModelFormatError(`${label}: ${extra.name} is not a Qwen2 tensor (Qwen2 has q/k/v biases only)`)
  } else if (arch === 'qwen3' || arch === 'qwen3moe' || arch === 'olmoe' || GEMMA_ARCHES.includes(arch)) {
    // llama.cpp's qwen3 graph has no biases: a file with them would run as another model there
    const extra = g.tensors.find((t) => /\.bias$/.test(t.name))
    if (extra) throw new ModelFormatError(`${label}: ${extra.name} is not a tensor of llama.cpp's ${arch} architecture (it has no biases)`)
  } else {
    if (hasAttnBias) raw.attention_bias = true
    if (hasMlpBias) raw.mlp_bias = true
  }
  // mixtures of experts (experts.ts): llama with a router in its layers is Mixtral
  if (arch === 'qwen3moe' || arch === 'olmoe' || arch === 'granitemoe' || arch === 'gpt-oss' || (arch === 'llama' && ggufHasExperts(g))) ggufMoeConfig(g, arch, raw, label)
  if (arch === 'gpt-oss') {
    // what llama.cpp's gpt-oss graph takes from the file, and what it fixes: every other layer sliding from layer 0
    // (set_swa_pattern(2), transformers' default layer_types), the clamped SwiGLU's 7 and 1.702 (GptOssConfig's
    // defaults), biases on q/k/v/o (attention_bias)
    raw.sliding_window = num(kv, k('attention.sliding_window'), label, true)
    raw.attention_bias = hasAttnBias
  }
  if (arch === 'granite' || arch === 'granitemoe') {
    // llama.cpp requires all four (GraniteConfig's multipliers; attention.scale is the q·k scale itself)
    raw.embedding_multiplier = num(kv, k('embedding_scale'), label, true)
    raw.residual_multiplier = num(kv, k('residual_scale'), label, true)
    raw.attention_multiplier = num(kv, k('attention.scale'), label, true)
    raw.logits_scaling = num(kv, k('logit_scale'), label, true)
    if (kv.get(k('rope.scaling.finetuned')) === false)
      throw new ModelFormatError(`${label}: ${k('rope.scaling.finetuned')} false turns RoPE off in llama.cpp's granite graph; a Granite without RoPE is not supported`)
  }
  if (GEMMA_ARCHES.includes(arch)) {
    // what llama.cpp's gemma2 / gemma3 graphs take from the file, and what they assume (families.ts reads the rest
    // as transformers' defaults: every other layer sliding for gemma2, five of six for gemma3, local RoPE base 10000)
    raw.hidden_activation = 'gelu_pytorch_tanh'
    raw.sliding_window = num(kv, k('attention.sliding_window'), label, arch === 'gemma3')
    raw.query_pre_attn_scalar = llamaCppGemmaQueryScalar(arch, raw.num_hidden_layers as number, dim, heads, headDim)
    if (arch === 'gemma2') {
      raw.attn_logit_softcapping = num(kv, k('attn_logit_softcapping'), label, false) ?? 50
      raw.final_logit_softcapping = num(kv, k('final_logit_softcapping'), label, false) ?? 30
    } else {
      raw.rope_local_base_freq = 10000
      raw.sliding_window_pattern = 6
    }
    raw.tie_word_embeddings = !g.tensors.some((t) => t.name === 'output.weight')
  }
  const bos = num(kv, 'tokenizer.ggml.bos_token_id', label, false)
  const eos = num(kv, 'tokenizer.ggml.eos_token_id', label, false)
  if (bos !== undefined) raw.bos_token_id = bos
  const eosIds = [eos, num(kv, 'tokenizer.ggml.eot_token_id', label, false), num(kv, 'tokenizer.ggml.eom_token_id', label, false)]
    .filter((x): x is number => x !== undefined)
  const uniqueEos = [...new Set(eosIds)]
  if (uniqueEos.length === 1) raw.eos_token_id = uniqueEos[0]
  else if (uniqueEos.length > 1) raw.eos_token_id = uniqueEos

  // rope scaling: explicit metadata (linear, yarn), or llama.cpp's rope_freqs.weight for Llama-3.1 "llama3"
  const scalingType = kv.get(k('rope.scaling.type'))
  const factor = num(kv, k('rope.scaling.factor'), label, false)
  const origCtx = num(kv, k('rope.scaling.original_context_length'), label, false)
  // llama.cpp multiplies cos and sin by rope.scaling.attn_factor (1 when absent), and under yarn by get_mscale(factor)
  // too; its llama / qwen2 / qwen3 graphs read no beta_fast / beta_slow / mscale keys (32, 1 and whole-dimension ramp
  // bounds always): transformers' yarn with those defaults and attention_factor = attn_factor · get_mscale(factor)
  const attnFactor = num(kv, k('rope.scaling.attn_factor'), label, false)
  if (typeof scalingType === 'string' && scalingType !== 'none') {
    raw.rope_scaling = {
      rope_type: scalingType,
      ...(factor !== undefined ? { factor } : {}),
      ...(origCtx !== undefined ? { original_max_position_embeddings: origCtx } : {}),
    }
    if (scalingType === 'yarn' && attnFactor !== undefined && attnFactor !== 1) {
      if (!(attnFactor > 0) || factor === undefined)
        throw new ModelFormatError(`${label}: ${k('rope.scaling.attn_factor')} ${attnFactor} needs a positive value and ${k('rope.scaling.factor')}`)
      ;(raw.rope_scaling as Record<string, unknown>).attention_factor = attnFactor * (factor <= 1 ? 1 : 0.1 * Math.log(factor) + 1)
    }
  }
  if (arch === 'phi3') phi3Rope(g, raw, { ropeDims: ropeDims ?? headDim, headDim, attnFactor, scalingType, factor, origCtx }, label)
  else if (attnFactor !== undefined && attnFactor !== 1 && scalingType !== 'yarn')
    throw new ModelFormatError(`${label}: ${k('rope.scaling.attn_factor')} ${attnFactor} (cos and sin scaled outside yarn) is not supported`)
  const freqs = g.tensors.find((t) => t.name === 'rope_freqs.weight')
  if (freqs) {
    if (freqs.typeName !== 'F32' || freqs.dims[0] !== headDim / 2)
      throw new ModelFormatError(`${label}: rope_freqs.weight must be F32 [${headDim / 2}]`)
    const stored = Array.from(readF32(g.path, freqs))
    // convert_hf_to_gguf.py writes these from rope_scaling llama3; every Llama-3.1/3.2 release uses low 1, high 4,
    // original context 8192 and factor = the largest divisor. Accept the file when those parameters reproduce the
    // stored divisors, so the engine computes exactly the frequencies llama.cpp does.
    const params = {
      rope_type: 'llama3',
      factor: Math.max(...stored),
      low_freq_factor: 1,
      high_freq_factor: 4,
      original_max_position_embeddings: 8192,
    }
    const expect = llama3RopeFactors(headDim, theta, params)
    const ok = expect.every((v, i) => Math.abs(v - stored[i]) <= 1e-5 * Math.max(1, Math.abs(v)))
    if (!ok)
      throw new ModelFormatError(
        `${label}: rope_freqs.weight (per-frequency RoPE factors) does not match Llama-3's rope_scaling llama3 with factor ${params.factor}, low 1, high 4, original context 8192; other factors are not supported`,
      )
    raw.rope_scaling = params
    return { arch, raw, ropeFreqs: Float32Array.from(stored) }
  }
  return { arch, raw }
}

/**
 * RoPE of llama.cpp's phi3 graph as transformers' Phi3 config: rope.dimension_count as partial_rotary_factor,
 * rope.scaling.original_context_length, and the per-layer rope_factors_short / rope_factors_long tensors as longrope
 * with rope.scaling.attn_factor (1 when absent) as its attention factor; llama.cpp turns by the long factors when its
 * context is longer than original_context_length, transformers when the sequence is — a GGUF file runs up to that
 * length (ggufCheckpoint caps it), where both use the short factors. llama.cpp disables Phi's sliding window: the key is not read.
 */
function phi3Rope(
  g: GgufFile,
  raw: Record<string, unknown>,
  r: { ropeDims: number; headDim: number; attnFactor?: number; scalingType: unknown; factor?: number; origCtx?: number },
  label: string,
): void {
  const k = (s: string): string => `phi3.${s}`
  if (r.scalingType !== undefined && r.scalingType !== 'none')
    throw new ModelFormatError(`${label}: ${k('rope.scaling.type')} "${String(r.scalingType)}" is not supported for phi3 (its longrope is read from rope_factors_short / rope_factors_long)`)
  delete raw.rope_scaling
  if (r.ropeDims !== r.headDim) raw.partial_rotary_factor = r.ropeDims / r.headDim
  raw.original_max_position_embeddings = r.origCtx ?? raw.max_position_embeddings
  const factors = (name: string): number[] | undefined => {
    const t = g.tensors.find((x) => x.name === name)
    if (!t) return undefined
    if (t.typeName !== 'F32' || t.dims.length !== 1 || t.dims[0] !== r.ropeDims / 2)
      throw new ModelFormatError(`${label}: ${name} must be F32 [${r.ropeDims / 2}] (one factor per rotary frequency)`)
    return Array.from(readF32(g.path, t))
  }
  const short = factors('rope_factors_short.weight')
  const long = factors('rope_factors_long.weight')
  if (short || long) {
    if (!short || !long) throw new ModelFormatError(`${label}: has ${short ? 'rope_factors_short' : 'rope_factors_long'} without ${short ? 'rope_factors_long' : 'rope_factors_short'}`)
    raw.rope_scaling = { type: 'longrope', short_factor: short, long_factor: long, attention_factor: r.attnFactor ?? 1 }
  } else if (r.attnFactor !== undefined && r.attnFactor !== 1) {
    throw new ModelFormatError(`${label}: ${k('rope.scaling.attn_factor')} ${r.attnFactor} without longrope factors is not supported`)
  }
}

/** Config and HF-named tensor table of a parsed GGUF file. */
export function ggufCheckpoint(g: GgufFile): GgufCheckpoint {
  const label = basename(g.path)
  const { arch, raw, ropeFreqs } = ggufConfigDict(g)
  const parsed = parseModelConfig(raw, label)
  // Gemma's norms are stored as 1 + w (llama.cpp's converter adds the 1): the engine multiplies by them as they are
  const config: ModelConfig = {
    ...parsed,
    ropeInterleaved: INTERLEAVED_ARCHES.includes(arch),
    normOffset: GEMMA_ARCHES.includes(arch) ? 0 : parsed.normOffset,
  }
  if (arch === 'phi3' && config.ropeInvFreqLong) {
    // llama.cpp picks longrope's factors by its context size, not by each call's sequence as transformers does (the
    // engine's rule, phi3.ts): a GGUF file runs only up to original_context_length, where both take the short ones
    config.maxPos = Math.min(config.maxPos, config.ropeLongAfter!)
    delete config.ropeInvFreqLong
    delete config.ropeLongAfter
  }
  if (ropeFreqs) {
    // llama.cpp divides each base frequency by the file's factor: the engine runs exactly those frequencies (they
    // equal transformers' llama3 ones up to float32 rounding, which is how rope_scaling llama3 was recognised)
    const base = ropeInverseFrequencies({ headDim: config.headDim, ropeTheta: config.ropeTheta, ropeType: 'default', ropeScaling: {} }, label)
    config.ropeInvFreq = base.map((f, i) => Math.fround(f / ropeFreqs[i]))
  }
  const tensors: StoredTensorEntry[] = []
  const counts = new Map<string, number>()
  for (const t of g.tensors) {
    const experts = ggufExpertTensors(t, label)
    const hf = experts ? experts[0].name : hfTensorName(t.name, arch)
    if (!hf) continue
    if (!(ENGINE_GGML_TYPES as readonly string[]).includes(t.typeName))
      throw new ModelFormatError(
        `${label}: ${t.name} is stored as ${t.typeName} (ggml type ${t.type}); the engine reads ${ENGINE_GGML_TYPES.join(', ')} (re-quantise with llama-quantize, e.g. to Q4_K_M or Q8_0)`,
      )
    const count = t.dims.reduce((a, d) => a * d, 1)
    if (t.dims.length > 1) counts.set(t.typeName, (counts.get(t.typeName) ?? 0) + count)
    if (experts) tensors.push(...experts)
    else tensors.push({ name: hf, file: 0, offset: t.offset, dtype: t.typeName as StoredDType, shape: [...t.dims].reverse() })
  }
  const quantisation = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'F32'
  // phi3's attn_qkv / ffn_up hold q/k/v and gate/up rows: bound as their parts (phi3.ts)
  const byName = new Map(g.tensors.map((t) => [hfTensorName(t.name, arch), t]))
  const split = splitFusedTensors(config, tensors, label, (t, cols) => ggmlBytes(byName.get(t.name)!.type, cols))
  return { arch, config, tensors: split, quantisation }
}

/** The tokenizer embedded in a GGUF file's metadata ("llama" SentencePiece or "gpt2" byte-level BPE vocabularies). */
export function ggufTokenizer(g: GgufFile): Tokenizer {
  const label = basename(g.path)
  if (!g.kv.has('tokenizer.ggml.tokens')) throw new ModelFormatError(`${label}: metadata has no tokenizer.ggml.tokens (no embedded tokenizer)`)
  return tokenizerFromGguf(Object.fromEntries(g.kv), label)
}
