// The float64 reference (llama.ts, experts.ts) on the weights of a GGUF file, read as llama.cpp reads them: each
// tensor decoded block by block with the test-side ggml formulas (ggml.ts: K-quants and Q8_0 / Q4_0; ggml-lowbit.ts:
// the fallback and low-bit types; fp16 / bf16 / f32 as IEEE values), never through the engine's kernels. Only the
// header (names, shapes, offsets, metadata) comes from the product's GGUF reader. Architectures, as llama.cpp's
// converter writes them and its graphs compute them:
//   llama     q and k rows in Meta's interleaved order (the converter permutes them): interleaved RoPE;
//   qwen3     q/k rows as HF stores them (rotate_half RoPE, llama.cpp's NEOX), attn_q_norm / attn_k_norm per head;
//   qwen3moe  qwen3's attention, every layer a mixture: ffn_gate_inp (the router), softmax → top-k → always
//             renormalised (the graph fixes norm_w), ffn_{gate,up,down}_exps [experts, rows, cols] one expert after
//             the other;
//   gemma3    the norms stored as 1 + w (the converter adds the 1, the graph multiplies by the stored value),
//             embeddings × √hidden (as the f32 constant), q/k norms, post-attention and post-feed-forward norms,
//             GeGLU (tanh gelu), five sliding layers then one global (llama.cpp's fixed pattern), the sliding layers'
//             RoPE base fixed at 10000, q·k scaled by 1/√head_dim (1/√(hidden/heads) for the 62-layer 27B).
// Anything else (other architectures, RoPE scaling, soft-capping, expert weight scales) is refused by name.
// Tensors are decoded when the forward asks for them and dropped after: one float64 matrix at a time, the embedding
// and output tables by rows (REF_ROWS), and of each layer's experts only those its tokens are routed to, one expert's
// rows of the 3-D tensor each.
import { closeSync, openSync, readSync } from 'node:fs'
import { GgufFile, GgufTensorInfo, readGguf } from '../../src/main/engine/formats/gguf/read'
import { decodeLowbit, LOWBIT_TYPES, LowbitType } from '../ggml-lowbit'
import { halfToFloat } from '../half'
import { REF_ROWS, refDefaultInvFreq, RefConfig, RefRowReader, RefWeights } from './llama'

const f32 = Math.fround

let halves: Float64Array | undefined
/** halfToFloat of every 16-bit pattern */
function halfTable(): Float64Array {
  halves ??= Float64Array.from({ length: 65536 }, (_, h) => halfToFloat(h))
  return halves
}

/** the weights of `bytes` stored as ggml type `type` (its name), as float64 holding ggml's dequantised fp32 values */
export function refDecode(type: string, bytes: Uint8Array): Float64Array {
  const blocks = (elems: number, size: number, one: (b: Uint8Array, out: Float64Array, at: number) => void): Float64Array => {
    const n = bytes.length / size
    if (!Number.isInteger(n)) throw new Error(`reference: ${bytes.length} bytes are not whole ${type} blocks of ${size}`)
    const out = new Float64Array(n * elems)
    for (let k = 0; k < n; k++) one(bytes.subarray(k * size, (k + 1) * size), out, k * elems)
    return out
  }
  const half = (b: Uint8Array, at: number): number => halfToFloat(b[at] | (b[at + 1] << 8))
  const values16 = (): Float64Array => {
    if (bytes.length % 2) throw new Error(`reference: ${bytes.length} bytes are not whole ${type} values`)
    return new Float64Array(bytes.length >> 1)
  }
  switch (type) {
    case 'F32':
      return Float64Array.from(new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)))
    case 'F16': {
      // every half's value once (halfToFloat), then one look-up per weight: a 1B file's F16 matrices decode in seconds
      const table = halfTable()
      const out = values16()
      for (let i = 0; i < out.length; i++) out[i] = table[bytes[2 * i] | (bytes[2 * i + 1] << 8)]
      return out
    }
    case 'BF16': {
      // the top 16 bits of an fp32
      const u = new Uint32Array(1)
      const f = new Float32Array(u.buffer)
      const out = values16()
      for (let i = 0; i < out.length; i++) {
        u[0] = (bytes[2 * i] | (bytes[2 * i + 1] << 8)) << 16
        out[i] = f[0]
      }
      return out
    }
    case 'Q8_0':
      // dequantize_row_q8_0: d · q, q int8
      return blocks(32, 34, (b, out, at) => {
        const d = half(b, 0)
        for (let i = 0; i < 32; i++) out[at + i] = f32(d * ((b[2 + i] << 24) >> 24))
      })
    case 'Q4_0':
      // dequantize_row_q4_0: d · (q − 8), low nibbles first
      return blocks(32, 18, (b, out, at) => {
        const d = half(b, 0)
        for (let i = 0; i < 16; i++) {
          out[at + i] = f32(d * ((b[2 + i] & 15) - 8))
          out[at + i + 16] = f32(d * ((b[2 + i] >> 4) - 8))
        }
      })
    case 'Q4_K':
    case 'Q5_K':
      return blocks(256, type === 'Q4_K' ? 144 : 176, (b, out, at) => decodeQ45K(type === 'Q5_K', b, out, at))
    case 'Q6_K':
      return blocks(256, 210, decodeQ6K)
  }
  if ((LOWBIT_TYPES as readonly string[]).includes(type)) return decodeLowbit(type as LowbitType, bytes)
  throw new Error(`reference: no float64 decoding of ggml type ${type}`)
}


// The K-quant blocks decoded straight into the output: ggml.ts's unpackK and kBlockValues (dequantize_row_q4_K /
// q5_K / q6_K) step for step, the same fp32 roundings, without their per-block objects — a 30B-A3B judge decodes
// hundreds of expert matrices (test/bench-judge.test.ts holds the two to the same values on random blocks).

/** Q4_K (144 bytes) / Q5_K (176): d, dmin, 12 bytes of 6-bit scales and mins, [Q5_K: 32 bytes of high bits,] 128 bytes
 *  of low nibbles; value = d·sc·q − dmin·m per sub-block of 32 */
function decodeQ45K(five: boolean, b: Uint8Array, out: Float64Array, at: number): void {
  const d = halfToFloat(b[0] | (b[1] << 8))
  const dmin = halfToFloat(b[2] | (b[3] << 8))
  const qs = five ? 48 : 16
  const sc = (j: number): number => (j < 4 ? b[4 + j] & 63 : (b[8 + j] & 0xf) | ((b[j] >> 6) << 4))
  const m = (j: number): number => (j < 4 ? b[8 + j] & 63 : (b[8 + j] >> 4) | ((b[4 + j] >> 6) << 4))
  // sub-blocks 2c and 2c + 1: the low and high nibbles of bytes qs + 32c …, [Q5_K: bits 2c and 2c + 1 of qh]
  for (let c = 0; c < 4; c++) {
    const ds0 = f32(d * sc(2 * c)), dm0 = f32(dmin * m(2 * c))
    const ds1 = f32(d * sc(2 * c + 1)), dm1 = f32(dmin * m(2 * c + 1))
    for (let l = 0; l < 32; l++) {
      const byte = b[qs + 32 * c + l]
      const hi = five ? b[16 + l] >> (2 * c) : 0
      out[at + 64 * c + l] = f32(f32(ds0 * ((byte & 0xf) | ((hi & 1) << 4))) - dm0)
      out[at + 64 * c + 32 + l] = f32(f32(ds1 * ((byte >> 4) | (((hi >> 1) & 1) << 4))) - dm1)
    }
  }
}

/** Q6_K (210 bytes): 128 bytes of low nibbles, 64 of high 2-bit pairs, 16 int8 scales, d; value = d·sc·(q − 32) per
 *  sub-block of 16 */
function decodeQ6K(b: Uint8Array, out: Float64Array, at: number): void {
  const d = halfToFloat(b[208] | (b[209] << 8))
  const ds = new Float64Array(16)
  for (let j = 0; j < 16; j++) ds[j] = f32(d * ((b[192 + j] << 24) >> 24))
  const put = (i: number, q: number): void => {
    out[at + i] = f32(ds[i >> 4] * (q - 32))
  }
  for (let n = 0; n < 2; n++)
    for (let l = 0; l < 32; l++) {
      const lo = b[64 * n + l], lo32 = b[64 * n + l + 32], hi = b[128 + 32 * n + l]
      put(128 * n + l, (lo & 0xf) | ((hi & 3) << 4))
      put(128 * n + l + 32, (lo32 & 0xf) | (((hi >> 2) & 3) << 4))
      put(128 * n + l + 64, (lo >> 4) | (((hi >> 4) & 3) << 4))
      put(128 * n + l + 96, (lo32 >> 4) | (((hi >> 6) & 3) << 4))
    }
}

/** rows r0 … r0+n of tensor `t` (rows of its first ggml dimension, a 3-D tensor's experts one after the other), decoded */
function readRows(fd: number, t: GgufTensorInfo, r0: number, n: number): Float64Array {
  const rows = t.dims.slice(1).reduce((a, d) => a * d, 1)
  const rowBytes = t.bytes / rows
  if (!Number.isInteger(rowBytes)) throw new Error(`reference: ${t.name}'s rows are not whole ${t.typeName} blocks`)
  if (r0 < 0 || r0 + n > rows) throw new Error(`reference: rows ${r0} … ${r0 + n} of ${t.name} (${rows} rows)`)
  const bytes = new Uint8Array(n * rowBytes)
  for (let done = 0; done < bytes.length; ) {
    const k = readSync(fd, bytes, done, Math.min(bytes.length - done, 1 << 30), t.offset + r0 * rowBytes + done)
    if (k <= 0) throw new Error(`reference: ${t.name} ends past the end of the file`)
    done += k
  }
  return refDecode(t.typeName, bytes)
}

/** the architectures the reference reads */
export const REF_GGUF_ARCHES = ['llama', 'qwen3', 'qwen3moe', 'gemma3'] as const
type Arch = (typeof REF_GGUF_ARCHES)[number]

/** Where an HF tensor name lives in a GGUF file of `arch`: the tensor, and for one expert of a 3-D expert tensor its
 *  index (undefined: a name this architecture does not have, such as a bias). */
export function refGgufTensorOf(arch: Arch, hf: string): { name: string; expert?: number } | undefined {
  const top: Record<string, string> = { 'model.embed_tokens.weight': 'token_embd.weight', 'lm_head.weight': 'output.weight', 'model.norm.weight': 'output_norm.weight' }
  if (top[hf]) return { name: top[hf] }
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(hf)
  if (!m) return undefined
  const [, l, rest] = m
  const expert = /^mlp\.experts\.(\d+)\.(gate|up|down)_proj\.weight$/.exec(rest)
  if (expert) return arch === 'qwen3moe' ? { name: `blk.${l}.ffn_${expert[2]}_exps.weight`, expert: Number(expert[1]) } : undefined
  const gemma = arch === 'gemma3'
  const layer: Record<string, string | false> = {
    'input_layernorm.weight': 'attn_norm',
    'self_attn.q_proj.weight': 'attn_q', 'self_attn.k_proj.weight': 'attn_k', 'self_attn.v_proj.weight': 'attn_v', 'self_attn.o_proj.weight': 'attn_output',
    'self_attn.q_norm.weight': arch !== 'llama' && 'attn_q_norm', 'self_attn.k_norm.weight': arch !== 'llama' && 'attn_k_norm',
    // Gemma's norm after attention is its own tensor; in the others this name is the MLP's input norm
    'post_attention_layernorm.weight': gemma ? 'post_attention_norm' : 'ffn_norm',
    'pre_feedforward_layernorm.weight': gemma && 'ffn_norm', 'post_feedforward_layernorm.weight': gemma && 'post_ffw_norm',
    'mlp.gate.weight': arch === 'qwen3moe' && 'ffn_gate_inp',
    'mlp.gate_proj.weight': arch !== 'qwen3moe' && 'ffn_gate', 'mlp.up_proj.weight': arch !== 'qwen3moe' && 'ffn_up', 'mlp.down_proj.weight': arch !== 'qwen3moe' && 'ffn_down',
  }
  const name = layer[rest]
  return name ? { name: `blk.${l}.${name}.weight` } : undefined
}

export interface RefGguf {
  arch: Arch
  config: RefConfig
  /** by HF name, decoded on each access (absent names — biases — are undefined); an expert's name decodes that
   *  expert's rows of the layer's 3-D tensor only; REF_ROWS reads rows */
  weights: RefWeights
  /** how many values were decoded, per GGUF tensor, and per (tensor, expert) for the experts */
  decoded: Map<string, number>
  gguf: GgufFile
  close(): void
}

/**
 * A GGUF file of one of REF_GGUF_ARCHES as the reference's config and weights. Anything the reference does not compute
 * as llama.cpp does is refused by name.
 */
export function refGguf(path: string): RefGguf {
  const g = readGguf(path)
  const archValue = g.kv.get('general.architecture')
  if (!(REF_GGUF_ARCHES as readonly unknown[]).includes(archValue))
    throw new Error(`reference: ${path} is a "${String(archValue)}" GGUF file; the float64 reference here reads ${REF_GGUF_ARCHES.map((a) => `"${a}"`).join(', ')} files only`)
  const arch = archValue as Arch
  const num = (key: string, fallback?: number): number => {
    const v = g.kv.get(`${arch}.${key}`)
    if (v === undefined && fallback !== undefined) return fallback
    if (typeof v !== 'number') throw new Error(`reference: ${path} has no number ${arch}.${key}`)
    return v
  }
  const refuse = (key: string, what: string): void => {
    if (g.kv.has(key)) throw new Error(`reference: ${path} sets ${key}; the float64 reference here has no ${what}`)
  }
  for (const key of g.kv.keys()) if (key.startsWith(`${arch}.rope.scaling`)) refuse(key, 'RoPE scaling')
  refuse(`${arch}.attn_logit_softcapping`, 'soft-capping')
  refuse(`${arch}.final_logit_softcapping`, 'soft-capping')
  if (num('expert_weights_scale', 0) !== 0 && num('expert_weights_scale', 0) !== 1) refuse(`${arch}.expert_weights_scale`, 'scale of the experts\' weights')
  const byName = new Map(g.tensors.map((t) => [t.name, t]))
  if (arch === 'llama' && g.tensors.some((t) => t.name.endsWith('.ffn_gate_inp.weight')))
    throw new Error(`reference: ${path} is a "llama" file with experts (Mixtral); the float64 reference here reads the mixtures of "qwen3moe" files only`)
  const embd = byName.get('token_embd.weight')
  if (!embd) throw new Error(`reference: ${path} has no token_embd.weight`)
  const dim = num('embedding_length')
  const heads = num('attention.head_count')
  const layers = num('block_count')
  const headDim = num('attention.key_length', num('rope.dimension_count', dim / heads))
  if (num('attention.value_length', headDim) !== headDim) throw new Error(`reference: ${path} has value_length ≠ key_length`)
  if (num('rope.dimension_count', headDim) !== headDim) throw new Error(`reference: ${path} turns part of each head (rope.dimension_count ≠ head size); the float64 reference here turns whole heads`)
  const config: RefConfig = {
    vocab: embd.dims[1],
    dim,
    ffn: num('feed_forward_length'),
    layers,
    heads,
    kvHeads: num('attention.head_count_kv', heads),
    headDim,
    eps: num('attention.layer_norm_rms_epsilon'),
    invFreq: refDefaultInvFreq(num('rope.freq_base', 10000), headDim),
    interleaved: arch === 'llama',
    window: 0,
    tied: !byName.has('output.weight'),
  }
  if (arch !== 'llama') config.qkNorm = true
  if (arch === 'qwen3moe') {
    const experts = num('expert_count')
    const used = num('expert_used_count')
    config.moe = {
      family: 'qwen3_moe',
      experts,
      topk: used,
      ffn: num('expert_feed_forward_length', Math.floor(config.ffn / used)),
      normTopk: true,
      layers: Array.from({ length: layers }, () => true),
    }
  }
  if (arch === 'gemma3') {
    const big = layers === 62 // llama.cpp's 27B: q·k scaled by hidden / heads
    Object.assign(config, {
      normOffset: 0,
      postNorms: true,
      geluTanh: true,
      embeddingMultiplier: Math.fround(Math.sqrt(dim)),
      attentionScale: Math.fround(1 / Math.sqrt(big ? dim / heads : headDim)),
      window: num('attention.sliding_window'),
      layerSliding: Array.from({ length: layers }, (_, i) => i % 6 < 5),
      invFreqLocal: refDefaultInvFreq(10000, headDim),
    } satisfies Partial<RefConfig>)
  }
  const fd = openSync(path, 'r')
  const decoded = new Map<string, number>()
  const count = (key: string, x: Float64Array): Float64Array => {
    decoded.set(key, (decoded.get(key) ?? 0) + x.length)
    return x
  }
  const tensorOf = (hf: string): { t: GgufTensorInfo; expert?: number } | undefined => {
    const at = refGgufTensorOf(arch, hf)
    const t = at && byName.get(at.name)
    return t && { t, expert: at.expert }
  }
  const rows: RefRowReader = (hf, r0, n) => {
    const at = tensorOf(hf)
    return at && count(at.t.name, readRows(fd, at.t, r0, n))
  }
  const weights = new Proxy({} as RefWeights, {
    get(_, name): Float64Array | RefRowReader | undefined {
      if (name === REF_ROWS) return rows
      if (typeof name !== 'string') return undefined
      const at = tensorOf(name)
      if (!at) return undefined
      if (at.expert === undefined) return count(at.t.name, readRows(fd, at.t, 0, at.t.dims.slice(1).reduce((a, d) => a * d, 1)))
      // one expert: its rows of the [experts, rows, cols] tensor
      const perExpert = at.t.dims[1]
      return count(`${at.t.name}#${at.expert}`, readRows(fd, at.t, at.expert * perExpert, perExpert))
    },
  })
  return { arch, config, weights, decoded, gguf: g, close: () => closeSync(fd) }
}
