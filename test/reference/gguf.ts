// The float64 reference (llama.ts) on the weights of a GGUF "llama" file, read as they are stored: each tensor decoded
// block by block with the test-side ggml formulas (ggml.ts: K-quants and Q8_0 / Q4_0; ggml-lowbit.ts: the fallback
// and low-bit types; fp16 / bf16 / f32 as IEEE values), never through the engine's kernels. Only the header (names,
// shapes, offsets, metadata) comes from the product's GGUF reader. The q and k rows stay as GGUF stores them (Meta's
// interleaved layout, which the "llama" converter writes), so the reference turns them with interleaved RoPE.
// Tensors are decoded when the forward asks for them and dropped after, so a 1.1B file's forward holds one float64
// matrix at a time besides the embedding and output tables.
import { closeSync, openSync, readSync } from 'node:fs'
import { GgufFile, GgufTensorInfo, readGguf } from '../../src/main/engine/formats/gguf/read'
import { decodeLowbit, LOWBIT_TYPES, LowbitType } from '../ggml-lowbit'
import { ggufName, kBlockValues, unpackK } from '../ggml'
import { halfToFloat } from '../half'
import { refDefaultInvFreq, RefConfig, RefWeights } from './llama'

const f32 = Math.fround

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
  switch (type) {
    case 'F32':
      return Float64Array.from(new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)))
    case 'F16':
      return blocks(1, 2, (b, out, at) => (out[at] = half(b, 0)))
    case 'BF16': {
      const u = new Uint32Array(1)
      const f = new Float32Array(u.buffer)
      return blocks(1, 2, (b, out, at) => {
        u[0] = (b[0] | (b[1] << 8)) << 16
        out[at] = f[0]
      })
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
    case 'Q6_K': {
      const size = { Q4_K: 144, Q5_K: 176, Q6_K: 210 }[type]
      return blocks(256, size, (b, out, at) => out.set(kBlockValues(type, unpackK(type, b)), at))
    }
  }
  if ((LOWBIT_TYPES as readonly string[]).includes(type)) return decodeLowbit(type as LowbitType, bytes)
  throw new Error(`reference: no float64 decoding of ggml type ${type}`)
}

/** A GGUF file's tensor `t` decoded (refDecode), row-major */
function readTensor(fd: number, t: GgufTensorInfo): Float64Array {
  const bytes = new Uint8Array(t.bytes)
  let done = 0
  while (done < t.bytes) {
    const n = readSync(fd, bytes, done, Math.min(t.bytes - done, 1 << 30), t.offset + done)
    if (n <= 0) throw new Error(`reference: ${t.name} ends past the end of the file`)
    done += n
  }
  return refDecode(t.typeName, bytes)
}

export interface RefGguf {
  config: RefConfig
  /** by HF name, decoded on each access (absent names — biases — are undefined) */
  weights: RefWeights
  gguf: GgufFile
  close(): void
}

/**
 * A "llama" GGUF file as the reference's config and weights. Anything the plain Llama forward does not compute (other
 * architectures, RoPE scaling) is refused by name.
 */
export function refGgufLlama(path: string): RefGguf {
  const g = readGguf(path)
  const arch = g.kv.get('general.architecture')
  if (arch !== 'llama') throw new Error(`reference: ${path} is a "${String(arch)}" GGUF file; the float64 reference here reads "llama" files only`)
  const num = (key: string, fallback?: number): number => {
    const v = g.kv.get(`llama.${key}`)
    if (v === undefined && fallback !== undefined) return fallback
    if (typeof v !== 'number') throw new Error(`reference: ${path} has no number llama.${key}`)
    return v
  }
  for (const key of g.kv.keys())
    if (key.startsWith('llama.rope.scaling')) throw new Error(`reference: ${path} sets ${key}; the float64 reference here has no RoPE scaling`)
  const byName = new Map(g.tensors.map((t) => [t.name, t]))
  const embd = byName.get('token_embd.weight')
  if (!embd) throw new Error(`reference: ${path} has no token_embd.weight`)
  const dim = num('embedding_length')
  const heads = num('attention.head_count')
  const headDim = num('rope.dimension_count', dim / heads)
  const config: RefConfig = {
    vocab: embd.dims[1],
    dim,
    ffn: num('feed_forward_length'),
    layers: num('block_count'),
    heads,
    kvHeads: num('attention.head_count_kv', heads),
    headDim,
    eps: num('attention.layer_norm_rms_epsilon'),
    invFreq: refDefaultInvFreq(num('rope.freq_base', 10000), headDim),
    interleaved: true,
    window: 0,
    tied: !byName.has('output.weight'),
  }
  const fd = openSync(path, 'r')
  const weights = new Proxy({} as RefWeights, {
    get(_, name): Float64Array | undefined {
      if (typeof name !== 'string') return undefined
      let t: GgufTensorInfo | undefined
      try {
        t = byName.get(ggufName(name))
      } catch {
        return undefined // a name the llama layout does not have (biases, fused projections)
      }
      return t ? readTensor(fd, t) : undefined
    },
  })
  return { config, weights, gguf: g, close: () => closeSync(fd) }
}
