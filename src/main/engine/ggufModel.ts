// A GGUF file as the engine sees a Hugging Face checkpoint: metadata → a transformers-style config dict (validated by
// parseLlamaConfig, the one config validator), llama.cpp tensor names → HF names with row-major shapes, and the
// stored ggml type of each tensor (the engine computes with F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K and the IQ
// grid types IQ3_S, IQ3_XXS, IQ2_XXS, IQ2_XS, IQ2_S, IQ1_S, IQ1_M).
// llama.cpp's "llama" architecture (Llama, Mistral, …) keeps q/k rows in Meta's interleaved RoPE order; "qwen2"
// keeps HF's rotate_half order.
import { basename } from 'node:path'
import { closeSync, openSync, readSync } from 'node:fs'
import { LlamaConfig, ModelFormatError, parseLlamaConfig, ropeInverseFrequencies } from './config'
import { ENGINE_GGML_TYPES, GgufFile, GgufTensorInfo, GgufValue } from './ggufFile'
import { StoredDType, StoredTensorEntry } from './safetensors'
import { tokenizerFromGguf } from './tokenizers/gguf'
import type { Tokenizer } from './tokenizers/types'

const SUPPORTED_ARCHES = ['llama', 'qwen2']

const TENSOR_NAMES: [RegExp, string][] = [
  [/^token_embd\.weight$/, 'model.embed_tokens.weight'],
  [/^output\.weight$/, 'lm_head.weight'],
  [/^output_norm\.weight$/, 'model.norm.weight'],
  [/^blk\.(\d+)\.attn_q\.(weight|bias)$/, 'model.layers.$1.self_attn.q_proj.$2'],
  [/^blk\.(\d+)\.attn_k\.(weight|bias)$/, 'model.layers.$1.self_attn.k_proj.$2'],
  [/^blk\.(\d+)\.attn_v\.(weight|bias)$/, 'model.layers.$1.self_attn.v_proj.$2'],
  [/^blk\.(\d+)\.attn_output\.(weight|bias)$/, 'model.layers.$1.self_attn.o_proj.$2'],
  [/^blk\.(\d+)\.ffn_gate\.(weight|bias)$/, 'model.layers.$1.mlp.gate_proj.$2'],
  [/^blk\.(\d+)\.ffn_up\.(weight|bias)$/, 'model.layers.$1.mlp.up_proj.$2'],
  [/^blk\.(\d+)\.ffn_down\.(weight|bias)$/, 'model.layers.$1.mlp.down_proj.$2'],
  [/^blk\.(\d+)\.attn_norm\.weight$/, 'model.layers.$1.input_layernorm.weight'],
  [/^blk\.(\d+)\.ffn_norm\.weight$/, 'model.layers.$1.post_attention_layernorm.weight'],
]

/** The HF name of a llama.cpp tensor, or undefined for tensors the engine does not use (e.g. rope_freqs). */
export function hfTensorName(gguf: string): string | undefined {
  for (const [re, to] of TENSOR_NAMES) if (re.test(gguf)) return gguf.replace(re, to)
  return undefined
}

/** The llama.cpp name of an HF tensor (the inverse of hfTensorName). */
export function ggufTensorName(hf: string): string {
  const m = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(hf)
  const layer: Record<string, string> = {
    'self_attn.q_proj': 'attn_q', 'self_attn.k_proj': 'attn_k', 'self_attn.v_proj': 'attn_v',
    'self_attn.o_proj': 'attn_output', 'mlp.gate_proj': 'ffn_gate', 'mlp.up_proj': 'ffn_up',
    'mlp.down_proj': 'ffn_down', input_layernorm: 'attn_norm', post_attention_layernorm: 'ffn_norm',
  }
  if (m && layer[m[2]]) return `blk.${m[1]}.${layer[m[2]]}.${m[3]}`
  const top: Record<string, string> = {
    'model.embed_tokens.weight': 'token_embd.weight', 'lm_head.weight': 'output.weight', 'model.norm.weight': 'output_norm.weight',
  }
  if (top[hf]) return top[hf]
  throw new Error(`no GGUF name for ${hf}`)
}

export interface GgufCheckpoint {
  arch: string
  config: LlamaConfig
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
  if (ropeDims !== undefined && ropeDims !== headDim)
    throw new ModelFormatError(`${label}: ${k('rope.dimension_count')} ${ropeDims} ≠ head dim ${headDim} (partial rotary embeddings are not supported)`)
  const theta = num(kv, k('rope.freq_base'), label, false) ?? 10000
  const raw: Record<string, unknown> = {
    architectures: [arch === 'qwen2' ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM'],
    model_type: arch === 'qwen2' ? 'qwen2' : 'llama',
    vocab_size: vocab,
    hidden_size: dim,
    intermediate_size: num(kv, k('feed_forward_length'), label, true),
    num_hidden_layers: num(kv, k('block_count'), label, true),
    num_attention_heads: heads,
    num_key_value_heads: num(kv, k('attention.head_count_kv'), label, false) ?? heads,
    head_dim: headDim,
    rms_norm_eps: num(kv, k('attention.layer_norm_rms_epsilon'), label, false) ?? 1e-5,
    rope_theta: theta,
    max_position_embeddings: num(kv, k('context_length'), label, false) ?? 4096,
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
  } else {
    if (hasAttnBias) raw.attention_bias = true
    if (hasMlpBias) raw.mlp_bias = true
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
  if (typeof scalingType === 'string' && scalingType !== 'none') {
    raw.rope_scaling = {
      rope_type: scalingType,
      ...(factor !== undefined ? { factor } : {}),
      ...(origCtx !== undefined ? { original_max_position_embeddings: origCtx } : {}),
    }
  }
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

/** Config and HF-named tensor table of a parsed GGUF file. */
export function ggufCheckpoint(g: GgufFile): GgufCheckpoint {
  const label = basename(g.path)
  const { arch, raw, ropeFreqs } = ggufConfigDict(g)
  const parsed = parseLlamaConfig(raw, label)
  const config: LlamaConfig = { ...parsed, ropeInterleaved: arch === 'llama' }
  if (ropeFreqs) {
    // llama.cpp divides each base frequency by the file's factor: the engine runs exactly those frequencies (they
    // equal transformers' llama3 ones up to float32 rounding, which is how rope_scaling llama3 was recognised)
    const base = ropeInverseFrequencies({ headDim: config.headDim, ropeTheta: config.ropeTheta, ropeType: 'default', ropeScaling: {} }, label)
    config.ropeInvFreq = base.map((f, i) => Math.fround(f / ropeFreqs[i]))
  }
  const tensors: StoredTensorEntry[] = []
  const counts = new Map<string, number>()
  for (const t of g.tensors) {
    const hf = hfTensorName(t.name)
    if (!hf) continue
    if (!(ENGINE_GGML_TYPES as readonly string[]).includes(t.typeName))
      throw new ModelFormatError(
        `${label}: ${t.name} is stored as ${t.typeName}; the engine reads ${ENGINE_GGML_TYPES.join(', ')} (re-quantise with llama-quantize, e.g. to Q4_K_M or Q8_0)`,
      )
    const count = t.dims.reduce((a, d) => a * d, 1)
    if (t.dims.length > 1) counts.set(t.typeName, (counts.get(t.typeName) ?? 0) + count)
    tensors.push({ name: hf, file: 0, offset: t.offset, dtype: t.typeName as StoredDType, shape: [...t.dims].reverse() })
  }
  const quantisation = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'F32'
  return { arch, config, tensors, quantisation }
}

/** The tokenizer embedded in a GGUF file's metadata ("llama" SentencePiece or "gpt2" byte-level BPE vocabularies). */
export function ggufTokenizer(g: GgufFile): Tokenizer {
  const label = basename(g.path)
  if (!g.kv.has('tokenizer.ggml.tokens')) throw new ModelFormatError(`${label}: metadata has no tokenizer.ggml.tokens (no embedded tokenizer)`)
  return tokenizerFromGguf(Object.fromEntries(g.kv), label)
}
