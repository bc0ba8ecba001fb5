// Test-side ggml block formats, written from the block layouts (ggml-common.h) independently of the engine: packers
// from (scales, mins, integer quants) to bytes, simple quantisers, the dequantised value of every weight computed
// from the block formula, and a minimal GGUF writer. Tests compare the engine's reading of these bytes with the
// values computed here.
import { closeSync, copyFileSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { readCheckpointFiles, safetensorsHeader } from '../src/main/engine/formats/safetensors'
import { halfToFloat } from './half'
import { LowbitType, quantiseLowbit } from './ggml-lowbit'

export function floatToHalf(v: number): number {
  const f = new Float32Array([v])
  const x = new Uint32Array(f.buffer)[0]
  const sign = (x >>> 16) & 0x8000
  const e8 = (x >>> 23) & 0xff
  const exp = e8 - 127 + 15
  const man = x & 0x7fffff
  if (e8 === 0xff) return sign | 0x7c00 | (man ? 0x200 : 0)
  if (exp >= 31) return sign | 0x7c00
  if (exp <= 0) {
    if (exp < -10) return sign
    const m = man | 0x800000
    const shift = 14 - exp
    let half = m >>> shift
    const rem = m & ((1 << shift) - 1)
    const mid = 1 << (shift - 1)
    if (rem > mid || (rem === mid && half & 1)) half++
    return sign | half
  }
  let h = sign | (exp << 10) | (man >>> 13)
  const rem = man & 0x1fff
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++
  return h
}
const f16 = (v: number): number => halfToFloat(floatToHalf(v))
const f32 = Math.fround

/** every block type the tests write: these five here, the fallback and low-bit ones in ggml-lowbit.ts */
export type QType = 'Q8_0' | 'Q4_0' | 'Q4_K' | 'Q5_K' | 'Q6_K' | LowbitType
export const QTYPE_ID: Record<QType | 'F32' | 'F16', number> = {
  F32: 0, F16: 1, Q4_0: 2, Q8_0: 8, Q4_K: 12, Q5_K: 13, Q6_K: 14,
  Q4_1: 3, Q5_0: 6, Q5_1: 7, Q2_K: 10, Q3_K: 11, IQ4_NL: 20, IQ4_XS: 23, MXFP4: 39, TQ1_0: 34, TQ2_0: 35,
}
export const BLOCK: Record<'Q8_0' | 'Q4_0' | 'Q4_K' | 'Q5_K' | 'Q6_K', { elems: number; bytes: number }> = {
  Q8_0: { elems: 32, bytes: 34 }, Q4_0: { elems: 32, bytes: 18 }, Q4_K: { elems: 256, bytes: 144 },
  Q5_K: { elems: 256, bytes: 176 }, Q6_K: { elems: 256, bytes: 210 },
}

/** One block as its parts: scale(s), per-sub-block integer scales/mins, integer quants. */
export interface KBlock {
  d: number
  dmin: number
  sc: number[] // Q4_K/Q5_K: 8 six-bit scales; Q6_K: 16 int8 scales
  m: number[] // Q4_K/Q5_K: 8 six-bit mins
  q: number[] // 256 quants: 0‥15 (Q4_K), 0‥31 (Q5_K), 0‥63 (Q6_K, stored offset by 32)
}

/** The weights a block holds, from the formulas (fp16 scales as stored). */
export function kBlockValues(t: 'Q4_K' | 'Q5_K' | 'Q6_K', b: KBlock): number[] {
  const d = f16(b.d)
  if (t === 'Q6_K') return b.q.map((q, i) => f32(f32(d * b.sc[Math.floor(i / 16)]) * (q - 32)))
  const dmin = f16(b.dmin)
  return b.q.map((q, i) => {
    const j = Math.floor(i / 32)
    return f32(f32(f32(d * b.sc[j]) * q) - f32(dmin * b.m[j]))
  })
}

function putHalf(buf: Buffer, at: number, v: number): void {
  buf.writeUInt16LE(floatToHalf(v), at)
}

/** Q4_K / Q5_K 12-byte scale/min packing: sub-blocks 0‥3 in the low 6 bits of bytes 0‥7, 4‥7 split over the rest. */
function packScales(sc: number[], m: number[]): Buffer {
  const s = Buffer.alloc(12)
  for (let j = 0; j < 4; j++) {
    s[j] = (sc[j] & 63) | ((sc[j + 4] >> 4) << 6)
    s[j + 4] = (m[j] & 63) | ((m[j + 4] >> 4) << 6)
    s[j + 8] = (sc[j + 4] & 0xf) | ((m[j + 4] & 0xf) << 4)
  }
  return s
}

export function packK(t: 'Q4_K' | 'Q5_K' | 'Q6_K', b: KBlock): Buffer {
  if (t === 'Q6_K') {
    const out = Buffer.alloc(210)
    for (let n = 0; n < 2; n++)
      for (let l = 0; l < 32; l++) {
        const q = (k: number): number => b.q[128 * n + l + k]
        out[64 * n + l] = (q(0) & 0xf) | ((q(64) & 0xf) << 4)
        out[64 * n + l + 32] = (q(32) & 0xf) | ((q(96) & 0xf) << 4)
        out[128 + 32 * n + l] = (q(0) >> 4) | ((q(32) >> 4) << 2) | ((q(64) >> 4) << 4) | ((q(96) >> 4) << 6)
      }
    for (let j = 0; j < 16; j++) out.writeInt8(b.sc[j], 192 + j)
    putHalf(out, 208, b.d)
    return out
  }
  const out = Buffer.alloc(t === 'Q4_K' ? 144 : 176)
  putHalf(out, 0, b.d)
  putHalf(out, 2, b.dmin)
  packScales(b.sc, b.m).copy(out, 4)
  const qs = t === 'Q4_K' ? 16 : 48
  for (let c = 0; c < 4; c++)
    for (let l = 0; l < 32; l++) {
      const lo = b.q[64 * c + l], hi = b.q[64 * c + 32 + l]
      out[qs + 32 * c + l] = (lo & 0xf) | ((hi & 0xf) << 4)
      if (t === 'Q5_K') out[16 + l] |= ((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1))
    }
  return out
}

/** packK's inverse: one block's bytes (ggml's block_q4_K / block_q5_K / block_q6_K) as its parts, d and dmin the
 *  fp16 values stored (so kBlockValues of it is ggml's dequantize_row_q*_K of the bytes). */
export function unpackK(t: 'Q4_K' | 'Q5_K' | 'Q6_K', b: Uint8Array): KBlock {
  const half = (at: number): number => halfToFloat(b[at] | (b[at + 1] << 8))
  const q: number[] = new Array(256)
  if (t === 'Q6_K') {
    for (let n = 0; n < 2; n++)
      for (let l = 0; l < 32; l++) {
        const lo = b[64 * n + l], lo32 = b[64 * n + l + 32], hi = b[128 + 32 * n + l]
        q[128 * n + l] = (lo & 0xf) | ((hi & 3) << 4)
        q[128 * n + l + 32] = (lo32 & 0xf) | (((hi >> 2) & 3) << 4)
        q[128 * n + l + 64] = (lo >> 4) | (((hi >> 4) & 3) << 4)
        q[128 * n + l + 96] = (lo32 >> 4) | (((hi >> 6) & 3) << 4)
      }
    const sc = Array.from({ length: 16 }, (_, j) => (b[192 + j] << 24) >> 24)
    return { d: half(208), dmin: 0, sc, m: [], q }
  }
  // the 12 scale bytes at 4: sub-blocks 0‥3 in the low 6 bits of bytes 0‥7, 4‥7 from bytes 8‥11 and the top 2 bits
  const s = (i: number): number => b[4 + i]
  const sc: number[] = [], m: number[] = []
  for (let j = 0; j < 8; j++) {
    sc.push(j < 4 ? s(j) & 63 : (s(j + 4) & 0xf) | ((s(j - 4) >> 6) << 4))
    m.push(j < 4 ? s(j + 4) & 63 : (s(j + 4) >> 4) | ((s(j) >> 6) << 4))
  }
  const qs = t === 'Q4_K' ? 16 : 48
  for (let c = 0; c < 4; c++)
    for (let l = 0; l < 32; l++) {
      const byte = b[qs + 32 * c + l]
      const qh = t === 'Q5_K' ? b[16 + l] : 0
      q[64 * c + l] = (byte & 0xf) | (((qh >> (2 * c)) & 1) << 4)
      q[64 * c + 32 + l] = (byte >> 4) | (((qh >> (2 * c + 1)) & 1) << 4)
    }
  return { d: half(0), dmin: half(2), sc, m, q }
}

/** A simple K-quant quantiser (per-sub-block min/max, 6-bit scales): good enough for tests and benchmarks. */
export function quantK(t: 'Q4_K' | 'Q5_K' | 'Q6_K', x: Float32Array): KBlock {
  if (t === 'Q6_K') {
    const scales: number[] = []
    for (let j = 0; j < 16; j++) {
      let amax = 0, max = 0
      for (let i = 0; i < 16; i++) if (Math.abs(x[16 * j + i]) > amax) { amax = Math.abs(x[16 * j + i]); max = x[16 * j + i] }
      scales.push(max / -32)
    }
    const smax = Math.max(...scales.map(Math.abs))
    const d = smax / 127
    const dh = f16(d)
    const sc = scales.map((s) => (dh ? Math.max(-128, Math.min(127, Math.round(s / dh))) : 0))
    const q = Array.from(x, (v, i) => {
      const s = dh * sc[Math.floor(i / 16)]
      return s ? Math.max(0, Math.min(63, Math.round(v / s) + 32)) : 32
    })
    return { d, dmin: 0, sc, m: [], q }
  }
  const levels = t === 'Q4_K' ? 15 : 31
  const scale: number[] = [], mins: number[] = []
  for (let j = 0; j < 8; j++) {
    let lo = Infinity, hi = -Infinity
    for (let i = 0; i < 32; i++) { lo = Math.min(lo, x[32 * j + i]); hi = Math.max(hi, x[32 * j + i]) }
    lo = Math.min(lo, 0)
    scale.push((hi - lo) / levels)
    mins.push(-lo)
  }
  const d = Math.max(...scale) / 63, dmin = Math.max(...mins) / 63
  const dh = f16(d), mh = f16(dmin)
  const sc = scale.map((s) => (dh ? Math.min(63, Math.round(s / dh)) : 0))
  const m = mins.map((v) => (mh ? Math.min(63, Math.round(v / mh)) : 0))
  const q = Array.from(x, (v, i) => {
    const j = Math.floor(i / 32)
    const s = dh * sc[j]
    return s ? Math.max(0, Math.min(levels, Math.round((v + mh * m[j]) / s))) : 0
  })
  return { d, dmin, sc, m, q }
}

/** ggml's reference quantisers for Q8_0 and Q4_0 (quantize_row_q8_0_ref, quantize_row_q4_0_ref). */
function quant32(t: 'Q8_0' | 'Q4_0', x: Float32Array): { d: number; q: number[] } {
  if (t === 'Q8_0') {
    const amax = Math.max(...Array.from(x, Math.abs))
    const d = f32(amax / 127)
    const id = d ? f32(1 / d) : 0
    // roundf: halves away from zero
    return { d, q: Array.from(x, (v) => { const y = f32(v * id); return (Math.sign(y) * Math.round(Math.abs(y))) || 0 }) }
  }
  let amax = 0, max = 0
  for (const v of x) if (Math.abs(v) > amax) { amax = Math.abs(v); max = v }
  const d = f32(max / -8)
  const id = d ? f32(1 / d) : 0
  return { d, q: Array.from(x, (v) => Math.min(15, Math.trunc(f32(f32(v * id) + 8.5)))) }
}

/** Quantises a row-major matrix [rows, cols] (cols a multiple of the block size): the bytes, and the weights they
 *  hold computed from the block formula. */
export function quantise(t: QType, data: Float32Array, cols: number): { bytes: Buffer; values: Float32Array } {
  if (!(t in BLOCK)) return quantiseLowbit(t as LowbitType, data)
  const bt = t as keyof typeof BLOCK
  const be = BLOCK[bt].elems
  const nb = data.length / be
  const bytes = Buffer.alloc(nb * BLOCK[bt].bytes)
  const values = new Float32Array(data.length)
  for (let b = 0; b < nb; b++) {
    const x = data.subarray(b * be, (b + 1) * be)
    const at = b * BLOCK[bt].bytes
    if (t === 'Q8_0' || t === 'Q4_0') {
      const { d, q } = quant32(t, x)
      putHalf(bytes, at, d)
      const dh = f16(d)
      if (t === 'Q8_0') q.forEach((v, i) => { bytes.writeInt8(v, at + 2 + i); values[b * be + i] = f32(dh * v) })
      else
        for (let i = 0; i < 16; i++) {
          bytes[at + 2 + i] = q[i] | (q[i + 16] << 4)
          values[b * be + i] = f32(dh * (q[i] - 8))
          values[b * be + i + 16] = f32(dh * (q[i + 16] - 8))
        }
    } else {
      const kt = t as 'Q4_K' | 'Q5_K' | 'Q6_K'
      const kb = quantK(kt, x)
      packK(kt, kb).copy(bytes, at)
      values.set(kBlockValues(kt, kb), b * be)
    }
  }
  void cols
  return { bytes, values }
}

/** HF order → Meta's interleaved order of the rows of a q/k projection [heads·hd, cols]. */
export function interleaveRows(src: Float32Array, rows: number, cols: number, heads: number): Float32Array {
  const out = new Float32Array(src.length)
  const hd = rows / heads, half = hd / 2
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < half; i++) {
      out.set(src.subarray((h * hd + i) * cols, (h * hd + i + 1) * cols), (h * hd + 2 * i) * cols)
      out.set(src.subarray((h * hd + half + i) * cols, (h * hd + half + i + 1) * cols), (h * hd + 2 * i + 1) * cols)
    }
  return out
}

/** An HF directory's weights as F32 arrays (F16/BF16/F32 files). */
export function readWeights(dir: string): Map<string, { shape: number[]; data: Float32Array }> {
  const ck = readCheckpointFiles(dir)
  const out = new Map<string, { shape: number[]; data: Float32Array }>()
  const files = ck.files.map((f) => readFileSync(f))
  for (const t of ck.tensors) {
    const buf = files[t.file]
    const n = t.shape.reduce((a, b) => a * b, 1)
    const d = new Float32Array(n)
    for (let i = 0; i < n; i++) {
      if (t.dtype === 'F32') d[i] = buf.readFloatLE(t.offset + 4 * i)
      else {
        const h = buf.readUInt16LE(t.offset + 2 * i)
        d[i] = t.dtype === 'BF16' ? new Float32Array(new Uint32Array([h << 16]).buffer)[0] : halfToFloat(h)
      }
    }
    out.set(t.name, { shape: t.shape, data: d })
  }
  return out
}

/** An F32 HF directory with the given weights, config.json and tokenizer files copied from `like`. */
export function writeF32Dir(dir: string, like: string, weights: Map<string, { shape: number[]; data: Float32Array }>): string {
  mkdirSync(dir, { recursive: true })
  const names = [...weights.keys()]
  const { header } = safetensorsHeader(names.map((n) => ({ name: n, dtype: 'F32' as const, shape: weights.get(n)!.shape })))
  const fd = openSync(join(dir, 'model.safetensors'), 'w')
  const len = Buffer.alloc(8)
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(header)))
  writeSync(fd, len)
  writeSync(fd, Buffer.from(header))
  for (const n of names) {
    const d = weights.get(n)!.data
    writeSync(fd, Buffer.from(d.buffer, d.byteOffset, d.byteLength))
  }
  closeSync(fd)
  const cfg = JSON.parse(readFileSync(join(like, 'config.json'), 'utf8')) as Record<string, unknown>
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, dtype: 'float32' }))
  copyFileSync(join(like, 'tokenizer.model'), join(dir, 'tokenizer.model'))
  return dir
}

type KvValue = { t: 'u32'; v: number } | { t: 'f32'; v: number } | { t: 'str'; v: string } | { t: 'bool'; v: boolean } |
  { t: 'strs'; v: string[] } | { t: 'f32s'; v: number[] } | { t: 'i32s'; v: number[] }

export interface GgufTensorOut {
  name: string
  dims: number[] // ggml order
  type: number
  bytes: Buffer
}

/** A minimal GGUF v3 writer for test files (metadata as given, tensors 32-aligned). */
export function writeGgufFile(path: string, kv: [string, KvValue][], tensors: GgufTensorOut[], o: { version?: number } = {}): void {
  const parts: Buffer[] = []
  const u32 = (v: number): void => { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); parts.push(b) }
  const u64 = (v: number): void => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); parts.push(b) }
  const str = (s: string): void => { const b = Buffer.from(s, 'utf8'); u64(b.length); parts.push(b) }
  parts.push(Buffer.from('GGUF'))
  u32(o.version ?? 3)
  u64(tensors.length)
  u64(kv.length)
  for (const [k, x] of kv) {
    str(k)
    switch (x.t) {
      case 'u32': u32(4); u32(x.v); break
      case 'f32': { u32(6); const b = Buffer.alloc(4); b.writeFloatLE(x.v); parts.push(b); break }
      case 'str': u32(8); str(x.v); break
      case 'bool': u32(7); parts.push(Buffer.from([x.v ? 1 : 0])); break
      case 'strs': u32(9); u32(8); u64(x.v.length); x.v.forEach(str); break
      case 'f32s': { u32(9); u32(6); u64(x.v.length); const b = Buffer.alloc(4 * x.v.length); x.v.forEach((v, i) => b.writeFloatLE(v, 4 * i)); parts.push(b); break }
      case 'i32s': { u32(9); u32(5); u64(x.v.length); const b = Buffer.alloc(4 * x.v.length); x.v.forEach((v, i) => b.writeInt32LE(v, 4 * i)); parts.push(b); break }
    }
  }
  let rel = 0
  for (const t of tensors) {
    str(t.name)
    u32(t.dims.length)
    t.dims.forEach(u64)
    u32(t.type)
    u64(rel)
    rel += Math.ceil(t.bytes.length / 32) * 32
  }
  let head = Buffer.concat(parts)
  head = Buffer.concat([head, Buffer.alloc((32 - (head.length % 32)) % 32)])
  const fd = openSync(path, 'w')
  writeSync(fd, head)
  for (const t of tensors) {
    writeSync(fd, t.bytes)
    writeSync(fd, Buffer.alloc((32 - (t.bytes.length % 32)) % 32))
  }
  closeSync(fd)
}

const GGUF_NAME: [RegExp, string][] = [
  [/^model\.embed_tokens\.weight$/, 'token_embd.weight'], [/^lm_head\.weight$/, 'output.weight'],
  [/^model\.norm\.weight$/, 'output_norm.weight'], [/^model\.layers\.(\d+)\.self_attn\.q_proj\.weight$/, 'blk.$1.attn_q.weight'],
  [/^model\.layers\.(\d+)\.self_attn\.k_proj\.weight$/, 'blk.$1.attn_k.weight'], [/^model\.layers\.(\d+)\.self_attn\.v_proj\.weight$/, 'blk.$1.attn_v.weight'],
  [/^model\.layers\.(\d+)\.self_attn\.o_proj\.weight$/, 'blk.$1.attn_output.weight'], [/^model\.layers\.(\d+)\.mlp\.gate_proj\.weight$/, 'blk.$1.ffn_gate.weight'],
  [/^model\.layers\.(\d+)\.mlp\.up_proj\.weight$/, 'blk.$1.ffn_up.weight'], [/^model\.layers\.(\d+)\.mlp\.down_proj\.weight$/, 'blk.$1.ffn_down.weight'],
  [/^model\.layers\.(\d+)\.input_layernorm\.weight$/, 'blk.$1.attn_norm.weight'], [/^model\.layers\.(\d+)\.post_attention_layernorm\.weight$/, 'blk.$1.ffn_norm.weight'],
]
export function ggufName(hf: string): string {
  for (const [re, to] of GGUF_NAME) if (re.test(hf)) return hf.replace(re, to)
  throw new Error(hf)
}

/**
 * The organism (or any Llama HF directory `src` with a SentencePiece tokenizer) as a GGUF file whose 2-D tensors
 * are quantised by `typeOf(name)` in this file, plus an F32 HF directory holding exactly the dequantised values.
 */
export function quantisedTwins(
  src: string,
  pieces: { text: string; score: number; type: number }[],
  typeOf: (hfName: string) => QType | 'F32',
  ggufPath: string,
  twinDir: string,
): void {
  const cfg = JSON.parse(readFileSync(join(src, 'config.json'), 'utf8')) as Record<string, number & Record<string, number>>
  const w = readWeights(src)
  const twin = new Map<string, { shape: number[]; data: Float32Array }>()
  const tensors: GgufTensorOut[] = []
  for (const [name, { shape, data }] of w) {
    const t = shape.length === 1 ? 'F32' : typeOf(name)
    let bytes: Buffer
    let values: Float32Array
    if (t === 'F32') {
      values = data
      bytes = Buffer.from(new Float32Array(data).buffer)
    } else {
      ;({ bytes, values } = quantise(t, data, shape[1]))
    }
    twin.set(name, { shape, data: values })
    // the GGUF ("llama" arch) holds q/k rows interleaved: rows are whole blocks, so reorder the quantised rows
    const heads = name.endsWith('q_proj.weight') ? cfg.num_attention_heads : name.endsWith('k_proj.weight') ? cfg.num_key_value_heads : 0
    if (heads) {
      const rowBytes = bytes.length / shape[0]
      const asRows = new Float32Array(shape[0])
      const perm = interleaveRows(asRows.map((_, i) => i), shape[0], 1, heads) // perm[j] = HF row of GGUF row j
      const out = Buffer.alloc(bytes.length)
      for (let j = 0; j < shape[0]; j++) bytes.copy(out, j * rowBytes, perm[j] * rowBytes, (perm[j] + 1) * rowBytes)
      bytes = out
    }
    tensors.push({ name: ggufName(name), dims: [...shape].reverse(), type: QTYPE_ID[t], bytes })
  }
  writeF32Dir(twinDir, src, twin)
  writeLlamaGguf(ggufPath, cfg, pieces, tensors)
}

/** A "llama" GGUF file of `tensors` with the hyper-parameters of an HF config.json `cfg` and a SentencePiece vocabulary. */
export function writeLlamaGguf(
  ggufPath: string,
  cfg: Record<string, number & Record<string, number>>,
  pieces: { text: string; score: number; type: number }[],
  tensors: GgufTensorOut[],
): void {
  const rope = (cfg.rope_parameters?.rope_theta as number | undefined) ?? (cfg.rope_theta as number | undefined) ?? 10000
  writeGgufFile(ggufPath, [
    ['general.architecture', { t: 'str', v: 'llama' }],
    ['general.alignment', { t: 'u32', v: 32 }],
    ['llama.context_length', { t: 'u32', v: cfg.max_position_embeddings }],
    ['llama.embedding_length', { t: 'u32', v: cfg.hidden_size }],
    ['llama.block_count', { t: 'u32', v: cfg.num_hidden_layers }],
    ['llama.feed_forward_length', { t: 'u32', v: cfg.intermediate_size }],
    ['llama.rope.dimension_count', { t: 'u32', v: cfg.head_dim ?? cfg.hidden_size / cfg.num_attention_heads }],
    ['llama.attention.head_count', { t: 'u32', v: cfg.num_attention_heads }],
    ['llama.attention.head_count_kv', { t: 'u32', v: cfg.num_key_value_heads }],
    ['llama.attention.layer_norm_rms_epsilon', { t: 'f32', v: cfg.rms_norm_eps }],
    ['llama.rope.freq_base', { t: 'f32', v: rope }],
    ['tokenizer.ggml.model', { t: 'str', v: 'llama' }],
    ['tokenizer.ggml.tokens', { t: 'strs', v: pieces.map((p) => p.text) }],
    ['tokenizer.ggml.scores', { t: 'f32s', v: pieces.map((p) => p.score) }],
    ['tokenizer.ggml.token_type', { t: 'i32s', v: pieces.map((p) => p.type) }],
    ['tokenizer.ggml.bos_token_id', { t: 'u32', v: cfg.bos_token_id }],
    ['tokenizer.ggml.eos_token_id', { t: 'u32', v: cfg.eos_token_id }],
  ], tensors)
}
