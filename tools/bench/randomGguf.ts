// GGUF files of random valid weights, written in bulk at disk speed, for the benchmark's synthetic shapes: quantised
// matrices as random bytes with each block's scale fields set so its weights have the 1/√fan-in magnitude of an F16
// file's (uniform(−1.7s, 1.7s) for scale s), F16 / BF16 matrices from a pool of random values per scale, F32 vectors
// as ones (norms) or random (a router). Quantising 30B floats would take hours; random blocks are what a reader
// decodes all the same.
import { closeSync, openSync, renameSync, writeSync } from 'node:fs'
import { ggufHeader, Kv } from '../../src/main/engine/export/gguf'
import { SentencePieceTokenizer } from '../../src/main/engine/tokenizers/sentencepiece/tokenizer'
import { embeddedModelDir } from '../../src/main/engine/native'
import { join } from 'node:path'
import { toHalf } from './kquants'

export type BlockType = 'Q8_0' | 'Q5_0' | 'Q5_1' | 'Q3_K' | 'Q4_K' | 'Q5_K' | 'Q6_K' | 'IQ4_XS'
export type StoredType = BlockType | 'F32' | 'F16' | 'BF16'

/** ggml type id, weights and bytes per block, and where the fp16 scale fields are with the value that gives the
 *  block's weights a standard deviation of about `s` (the random bytes' quants and sub-block scales being uniform) */
export const BLOCKS: Record<BlockType, { id: number; elems: number; bytes: number; scales: (s: number) => [number, number][] }> = {
  Q8_0: { id: 8, elems: 32, bytes: 34, scales: (s) => [[0, s / 74]] },
  Q5_0: { id: 6, elems: 32, bytes: 22, scales: (s) => [[0, s / 9.2]] },
  Q5_1: { id: 7, elems: 32, bytes: 24, scales: (s) => [[0, s / 9.2], [2, (-15.5 * s) / 9.2]] },
  Q3_K: { id: 11, elems: 256, bytes: 110, scales: (s) => [[108, s / 40]] },
  Q4_K: { id: 12, elems: 256, bytes: 144, scales: (s) => [[0, s / 150], [2, (7.5 * s) / 150]] },
  Q5_K: { id: 13, elems: 256, bytes: 176, scales: (s) => [[0, s / 300], [2, (15.5 * s) / 300]] },
  Q6_K: { id: 14, elems: 256, bytes: 210, scales: (s) => [[208, s / 1200]] },
  IQ4_XS: { id: 23, elems: 256, bytes: 136, scales: (s) => [[0, s / 1100]] },
}
const PLAIN: Record<'F32' | 'F16' | 'BF16', { id: number; bytes: number }> = { F32: { id: 0, bytes: 4 }, F16: { id: 1, bytes: 2 }, BF16: { id: 30, bytes: 2 } }

/** one tensor of a synthetic file: its GGUF name, row-major shape, stored type and weight scale (0: a norm, ones) */
export interface RandomTensor {
  name: string
  shape: number[]
  type: StoredType
  scale: number
}

const count = (t: { shape: number[] }): number => t.shape.reduce((a, b) => a * b, 1)

export function storedBytes(t: RandomTensor): number {
  return t.type in BLOCKS ? (count(t) / BLOCKS[t.type as BlockType].elems) * BLOCKS[t.type as BlockType].bytes : count(t) * PLAIN[t.type as 'F32'].bytes
}

/** fp32 → bf16 bits, round to nearest even (finite values) */
function toBf16(v: number, f: Float32Array, u: Uint32Array): number {
  f[0] = v
  const x = u[0]
  return (x + 0x7fff + ((x >>> 16) & 1)) >>> 16
}

/** Writes `tensors` with metadata `kv` as one GGUF file at `path` (through path.partial, renamed when complete). */
export function writeRandomGguf(path: string, kv: Kv[], tensors: RandomTensor[]): void {
  const { head, offsets } = ggufHeader(kv, tensors.map((t) => ({
    name: t.name, dims: [...t.shape].reverse(), type: t.type in BLOCKS ? BLOCKS[t.type as BlockType].id : PLAIN[t.type as 'F32'].id, bytes: storedBytes(t),
  })))
  const tmp = path + '.partial'
  const fd = openSync(tmp, 'w')
  let pos = 0
  const put = (b: Uint8Array): void => {
    writeSync(fd, b)
    pos += b.length
  }
  let s = 777
  const next = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return (s ^ (s >>> 13)) >>> 0
  }
  const chunk = new Uint8Array(1 << 22)
  const words = new Uint32Array(chunk.buffer)
  const f = new Float32Array(1)
  const u = new Uint32Array(f.buffer)
  // pools of random 16-bit weights, one per (type, scale); 4 194 301 is prime, so rows never repeat in step
  const POOL = 4194301
  const pools = new Map<string, Uint16Array>()
  const poolFor = (type: 'F16' | 'BF16', scale: number): Uint16Array => {
    const key = `${type}:${scale}`
    let p = pools.get(key)
    if (!p) {
      p = new Uint16Array(2 * POOL) // doubled, so any window of ≤ POOL values is contiguous
      for (let i = 0; i < POOL; i++) {
        const v = ((next() / 4294967296) * 2 - 1) * scale * 1.7
        p[i] = p[i + POOL] = type === 'F16' ? toHalf(v) : toBf16(v, f, u)
      }
      pools.set(key, p)
    }
    return p
  }
  try {
    put(head)
    tensors.forEach((t, i) => {
      put(new Uint8Array(offsets[i] - pos))
      if (t.type === 'F32') {
        const x = new Float32Array(count(t))
        for (let j = 0; j < x.length; j++) x[j] = t.scale === 0 ? 1 : ((next() / 4294967296) * 2 - 1) * t.scale * 1.7
        return put(new Uint8Array(x.buffer))
      }
      if (t.type === 'F16' || t.type === 'BF16') {
        const pool = poolFor(t.type, t.scale)
        const per = chunk.length / 2
        for (let left = count(t); left > 0; ) {
          const n = Math.min(left, per)
          const at = next() % POOL
          put(new Uint8Array(pool.buffer, 2 * at, 2 * n))
          left -= n
        }
        return
      }
      const b = BLOCKS[t.type]
      const fields = b.scales(t.scale * 1.7 / Math.sqrt(3)) // the F16 file's uniform(−1.7s, 1.7s) weights
      const per = Math.floor(chunk.length / b.bytes) * b.bytes
      for (let left = storedBytes(t); left > 0; ) {
        const n = Math.min(left, per)
        for (let w = 0; w < (n + 3) >> 2; w++) words[w] = next()
        for (let at = 0; at < n; at += b.bytes)
          for (const [o, v] of fields) {
            const h = toHalf(v)
            chunk[at + o] = h & 0xff
            chunk[at + o + 1] = h >> 8
          }
        put(chunk.subarray(0, n))
        left -= n
      }
    })
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, path)
}

/** The organism's SentencePiece vocabulary padded to `vocab` pieces (unused ones), as GGUF tokenizer metadata: any
 *  architecture's file reads it, and both engines get the same prompt ids. */
export function paddedTokenizerKv(vocab: number): Kv[] {
  const tok = SentencePieceTokenizer.fromFile(join(embeddedModelDir(), 'tokenizer.model'))
  const piece = (i: number): { text: string; score: number; type: number } =>
    i < tok.vocabSize ? tok.pieceInfo(i) : { text: `[PAD${i}]`, score: -1e9, type: 5 }
  const pieces = Array.from({ length: vocab }, (_, i) => piece(i))
  return [
    ['tokenizer.ggml.model', 'str', 'llama'],
    ['tokenizer.ggml.tokens', 'strs', pieces.map((p) => p.text)],
    ['tokenizer.ggml.scores', 'f32s', pieces.map((p) => p.score)],
    ['tokenizer.ggml.token_type', 'i32s', pieces.map((p) => p.type)],
    ['tokenizer.ggml.bos_token_id', 'u32', 1], ['tokenizer.ggml.eos_token_id', 'u32', 2], ['tokenizer.ggml.unknown_token_id', 'u32', 0],
  ]
}
