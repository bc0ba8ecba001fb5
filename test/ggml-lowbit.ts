// Test-side ggml block formats of the fallback and low-bit types (Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, IQ4_NL, IQ4_XS,
// MXFP4, TQ1_0, TQ2_0), written from ggml's block layouts (ggml-common.h) and reference decoding (dequantize_row_*
// in ggml-quants.c) independently of the engine: the value of every weight, computed in float64 with each of ggml's
// fp32 roundings applied by Math.fround (float64 carries more than twice float32's precision, so rounding a float64
// product or sum of two floats once gives exactly the fp32 operation); random valid blocks; and simple quantisers
// (nearest level, no search) for test models.
import { halfToFloat } from './half'
import { floatToHalf } from './ggml'

export const LOWBIT_TYPES = ['Q4_1', 'Q5_0', 'Q5_1', 'Q2_K', 'Q3_K', 'IQ4_NL', 'IQ4_XS', 'MXFP4', 'TQ1_0', 'TQ2_0'] as const
export type LowbitType = (typeof LOWBIT_TYPES)[number]

/** ggml type id, weights per block, bytes per block */
export const LOWBIT: Record<LowbitType, { id: number; elems: number; bytes: number }> = {
  Q4_1: { id: 3, elems: 32, bytes: 20 }, Q5_0: { id: 6, elems: 32, bytes: 22 }, Q5_1: { id: 7, elems: 32, bytes: 24 },
  Q2_K: { id: 10, elems: 256, bytes: 84 }, Q3_K: { id: 11, elems: 256, bytes: 110 }, IQ4_NL: { id: 20, elems: 32, bytes: 18 },
  IQ4_XS: { id: 23, elems: 256, bytes: 136 }, MXFP4: { id: 39, elems: 32, bytes: 17 }, TQ1_0: { id: 34, elems: 256, bytes: 54 },
  TQ2_0: { id: 35, elems: 256, bytes: 66 },
}

/** byte offsets of each block's fp16 scale fields (what a random block must keep finite) */
export const HALF_FIELDS: Record<LowbitType, number[]> = {
  Q4_1: [0, 2], Q5_0: [0], Q5_1: [0, 2], Q2_K: [80, 82], Q3_K: [108], IQ4_NL: [0], IQ4_XS: [0], MXFP4: [], TQ1_0: [52], TQ2_0: [64],
}

/** IQ4_NL / IQ4_XS levels (kvalues_iq4nl) and MXFP4's e2m1 values, doubled (kvalues_mxfp4) */
const IQ4 = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]
const E2M1x2 = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12]

const f = Math.fround
const half = (b: Uint8Array, at: number): number => halfToFloat(b[at] | (b[at + 1] << 8))
/** 4-bit quant i of 32 packed in 16 bytes at `at`: low nibbles hold 0‥15, high nibbles 16‥31 */
const nib32 = (b: Uint8Array, at: number, i: number): number => (i < 16 ? b[at + i] & 15 : b[at + i - 16] >> 4)
/** base-3 digit n (0 = most significant of 5) of a byte holding digits as a fraction of 256 (ggml's TQ1_0) */
const trit = (byte: number, n: number): number => Math.floor((((byte * 3 ** n) & 255) * 3) / 256)

/** The weights of one block, ggml's reference decoding in float64 with fp32 roundings. */
function decodeBlock(t: LowbitType, b: Uint8Array, out: Float64Array, o: number): void {
  switch (t) {
    case 'Q4_1': {
      const d = half(b, 0), m = half(b, 2)
      for (let i = 0; i < 32; i++) out[o + i] = f(f(nib32(b, 4, i) * d) + m)
      return
    }
    case 'Q5_0':
    case 'Q5_1': {
      const one = t === 'Q5_1'
      const d = half(b, 0), m = one ? half(b, 2) : 0
      const qh = b[one ? 4 : 2] | (b[one ? 5 : 3] << 8) | (b[one ? 6 : 4] << 16) | (b[one ? 7 : 5] << 24)
      for (let i = 0; i < 32; i++) {
        const q = nib32(b, one ? 8 : 6, i) | (((qh >>> i) & 1) << 4)
        out[o + i] = one ? f(f(q * d) + m) : f((q - 16) * d)
      }
      return
    }
    case 'Q2_K':
    case 'Q3_K': {
      // weight i: half h (128 each), bit plane p (32 each), run k of 16, position l; sub-block 8h + 2p + k
      const two = t === 'Q2_K'
      const d = half(b, two ? 80 : 108), dmin = two ? half(b, 82) : 0
      for (let i = 0; i < 256; i++) {
        const h = i >> 7, p = (i >> 5) & 3, k = (i >> 4) & 1, l = i & 15, sub = 8 * h + 2 * p + k
        const low2 = (b[(two ? 16 : 32) + 32 * h + 16 * k + l] >> (2 * p)) & 3
        if (two) {
          const sc = b[sub]
          out[o + i] = f(f(f(d * (sc & 15)) * low2) - f(dmin * (sc >> 4)))
        } else {
          const s = (at: number): number => b[96 + at]
          const sc6 = ((sub < 8 ? s(sub) : s(sub - 8) >> 4) & 15) | (((s(8 + (sub & 3)) >> (2 * (sub >> 2))) & 3) << 4)
          const high = (b[16 * k + l] >> (4 * h + p)) & 1
          out[o + i] = f(f(d * (sc6 - 32)) * (low2 - (high ? 0 : 4)))
        }
      }
      return
    }
    case 'IQ4_NL': {
      const d = half(b, 0)
      for (let i = 0; i < 32; i++) out[o + i] = f(d * IQ4[nib32(b, 2, i)])
      return
    }
    case 'IQ4_XS': {
      const d = half(b, 0), sh = b[2] | (b[3] << 8)
      for (let ib = 0; ib < 8; ib++) {
        const ls = ((b[4 + (ib >> 1)] >> (4 * (ib & 1))) & 15) | (((sh >> (2 * ib)) & 3) << 4)
        const dl = f(d * (ls - 32))
        for (let i = 0; i < 32; i++) out[o + 32 * ib + i] = f(dl * IQ4[nib32(b, 8 + 16 * ib, i)])
      }
      return
    }
    case 'MXFP4': {
      const d = 2 ** (b[0] - 128) // half the E8M0 scale 2^(e − 127)
      for (let i = 0; i < 32; i++) out[o + i] = f(E2M1x2[nib32(b, 1, i)] * d)
      return
    }
    case 'TQ1_0': {
      const d = half(b, 52)
      let i = 0
      for (let n = 0; n < 5; n++) for (let m = 0; m < 32; m++) out[o + i++] = f((trit(b[m], n) - 1) * d)
      for (let n = 0; n < 5; n++) for (let m = 0; m < 16; m++) out[o + i++] = f((trit(b[32 + m], n) - 1) * d)
      for (let n = 0; n < 4; n++) for (let j = 0; j < 4; j++) out[o + i++] = f((trit(b[48 + j], n) - 1) * d)
      return
    }
    case 'TQ2_0': {
      const d = half(b, 64)
      for (let i = 0; i < 256; i++) out[o + i] = f((((b[32 * (i >> 7) + (i & 31)] >> (2 * ((i >> 5) & 3))) & 3) - 1) * d)
      return
    }
  }
}

/** The weights `bytes` (whole blocks of type t) hold. */
export function decodeLowbit(t: LowbitType, bytes: Uint8Array): Float64Array {
  const { elems, bytes: bb } = LOWBIT[t]
  const n = bytes.length / bb
  const out = new Float64Array(n * elems)
  for (let k = 0; k < n; k++) decodeBlock(t, bytes.subarray(k * bb, (k + 1) * bb), out, k * elems)
  return out
}

/** Random valid blocks: every byte random, the fp16 scales small and finite, MXFP4's exponent in 2^-10 … 2^0. */
export function randomLowbit(t: LowbitType, nblocks: number, rand: () => number): Buffer {
  const bb = LOWBIT[t].bytes
  const b = Buffer.alloc(nblocks * bb)
  for (let i = 0; i < b.length; i++) b[i] = Math.floor(rand() * 256)
  for (let k = 0; k < nblocks; k++) {
    for (const at of HALF_FIELDS[t]) b.writeUInt16LE(floatToHalf((rand() * 2 - 1) * 0.05), k * bb + at)
    if (t === 'MXFP4') b[k * bb] = 118 + Math.floor(rand() * 11)
  }
  return b
}

// ---- simple quantisers (for test models: weights close to the input, every field exercised) ---------------------
const clamp = (v: number, lo: number, hi: number): number => Math.max(lo, Math.min(hi, v))
const h16 = (v: number): number => halfToFloat(floatToHalf(v))
/** the entry of `levels` nearest to v */
const nearest = (levels: number[], v: number): number => {
  let best = 0
  for (let q = 1; q < levels.length; q++) if (Math.abs(levels[q] - v) < Math.abs(levels[best] - v)) best = q
  return best
}
/** the value of largest magnitude, with its sign */
const signedMax = (x: Float32Array): number => x.reduce((a, v) => (Math.abs(v) > Math.abs(a) ? v : a), 0)
const putNib32 = (b: Buffer, at: number, q: number[]): void => {
  for (let i = 0; i < 16; i++) b[at + i] = q[i] | (q[i + 16] << 4)
}

function quantiseBlock(t: LowbitType, x: Float32Array, b: Buffer): void {
  switch (t) {
    case 'Q4_1':
    case 'Q5_1': {
      const levels = t === 'Q4_1' ? 15 : 31
      const lo = Math.min(...x), hi = Math.max(...x)
      const d = h16((hi - lo) / levels), m = h16(lo)
      b.writeUInt16LE(floatToHalf(d), 0)
      b.writeUInt16LE(floatToHalf(m), 2)
      const q = Array.from(x, (v) => (d ? clamp(Math.round((v - m) / d), 0, levels) : 0))
      if (t === 'Q4_1') return putNib32(b, 4, q)
      b.writeUInt32LE(q.reduce((a, v, i) => a | ((v >> 4) << i), 0) >>> 0, 4)
      return putNib32(b, 8, q.map((v) => v & 15))
    }
    case 'Q5_0': {
      const d = h16(signedMax(x) / -16)
      b.writeUInt16LE(floatToHalf(d), 0)
      const q = Array.from(x, (v) => (d ? clamp(Math.round(v / d) + 16, 0, 31) : 16))
      b.writeUInt32LE(q.reduce((a, v, i) => a | ((v >> 4) << i), 0) >>> 0, 2)
      return putNib32(b, 6, q.map((v) => v & 15))
    }
    case 'IQ4_NL': {
      const d = h16(signedMax(x) / -127)
      b.writeUInt16LE(floatToHalf(d), 0)
      return putNib32(b, 2, Array.from(x, (v) => (d ? nearest(IQ4, v / d) : 8)))
    }
    case 'IQ4_XS': {
      const s = Array.from({ length: 8 }, (_, j) => signedMax(x.subarray(32 * j, 32 * j + 32)) / -127)
      const d = h16(Math.max(...s.map(Math.abs)) / 32)
      b.writeUInt16LE(floatToHalf(d), 0)
      let sh = 0
      for (let j = 0; j < 8; j++) {
        const ls = d ? clamp(Math.round(s[j] / d) + 32, 0, 63) : 32
        sh |= (ls >> 4) << (2 * j)
        b[4 + (j >> 1)] |= (ls & 15) << (4 * (j & 1))
        const dl = f(d * (ls - 32))
        putNib32(b, 8 + 16 * j, Array.from(x.subarray(32 * j, 32 * j + 32), (v) => (dl ? nearest(IQ4, v / dl) : 8)))
      }
      b.writeUInt16LE(sh, 2)
      return
    }
    case 'MXFP4': {
      const amax = Math.max(...x.map(Math.abs))
      const e = amax ? clamp(Math.ceil(Math.log2(amax / 12)) + 128, 0, 254) : 0
      b[0] = e
      const d = 2 ** (e - 128)
      return putNib32(b, 1, Array.from(x, (v) => nearest(E2M1x2, v / d)))
    }
    case 'Q2_K':
    case 'Q3_K': {
      const two = t === 'Q2_K'
      const subs = Array.from({ length: 16 }, (_, j) => x.subarray(16 * j, 16 * j + 16))
      let dl: number[]
      let ml: number[] = []
      if (two) {
        const lo = subs.map((s) => Math.min(0, ...s)), hi = subs.map((s) => Math.max(...s))
        const scale = subs.map((_, j) => (hi[j] - lo[j]) / 3)
        const d = h16(Math.max(...scale) / 15), dmin = h16(Math.max(...lo.map((v) => -v)) / 15)
        b.writeUInt16LE(floatToHalf(d), 80)
        b.writeUInt16LE(floatToHalf(dmin), 82)
        const sc = scale.map((v) => (d ? clamp(Math.round(v / d), 0, 15) : 0))
        const m = lo.map((v) => (dmin ? clamp(Math.round(-v / dmin), 0, 15) : 0))
        for (let j = 0; j < 16; j++) b[j] = sc[j] | (m[j] << 4)
        dl = sc.map((v) => f(d * v))
        ml = m.map((v) => f(dmin * v))
      } else {
        const s = subs.map((v) => signedMax(v) / -4)
        const d = h16(Math.max(...s.map(Math.abs)) / 32)
        b.writeUInt16LE(floatToHalf(d), 108)
        const sc = s.map((v) => (d ? clamp(Math.round(v / d) + 32, 0, 63) : 32))
        for (let j = 0; j < 16; j++) {
          b[96 + (j < 8 ? j : j - 8)] |= (sc[j] & 15) << (j < 8 ? 0 : 4)
          b[96 + 8 + (j & 3)] |= ((sc[j] >> 4) & 3) << (2 * (j >> 2))
        }
        dl = sc.map((v) => f(d * (v - 32)))
      }
      for (let i = 0; i < 256; i++) {
        const h = i >> 7, p = (i >> 5) & 3, k = (i >> 4) & 1, l = i & 15, sub = 8 * h + 2 * p + k
        let q: number
        if (two) q = dl[sub] ? clamp(Math.round((x[i] + ml[sub]) / dl[sub]), 0, 3) : 0
        else {
          const u = (dl[sub] ? clamp(Math.round(x[i] / dl[sub]), -4, 3) : 0) + 4
          q = u & 3
          if (u >> 2) b[16 * k + l] |= 1 << (4 * h + p)
        }
        b[(two ? 16 : 32) + 32 * h + 16 * k + l] |= q << (2 * p)
      }
      return
    }
    case 'TQ1_0':
    case 'TQ2_0': {
      const d = h16(Math.max(...x.map(Math.abs)))
      const tr = Array.from(x, (v) => (d ? clamp(Math.round(v / d), -1, 1) + 1 : 1))
      if (t === 'TQ2_0') {
        b.writeUInt16LE(floatToHalf(d), 64)
        for (let i = 0; i < 256; i++) b[32 * (i >> 7) + (i & 31)] |= tr[i] << (2 * ((i >> 5) & 3))
        return
      }
      b.writeUInt16LE(floatToHalf(d), 52)
      // digits as a fraction of 256, rounded up (ggml's quantize_row_tq1_0_ref): byte = ⌈Σ t_n·3^(4−n) · 256 / 243⌉
      const pack = (digits: number[]): number => Math.ceil((digits.reduce((a, v) => a * 3 + v, 0) * 256) / 243)
      for (let m = 0; m < 32; m++) b[m] = pack([0, 1, 2, 3, 4].map((n) => tr[32 * n + m]))
      for (let m = 0; m < 16; m++) b[32 + m] = pack([0, 1, 2, 3, 4].map((n) => tr[160 + 16 * n + m]))
      for (let j = 0; j < 4; j++) b[48 + j] = pack([0, 1, 2, 3].map((n) => tr[240 + 4 * n + j]).concat(0))
      return
    }
  }
}

/** A row-major matrix (its length a multiple of the block size) as blocks of type t, and the weights they hold. */
export function quantiseLowbit(t: LowbitType, data: Float32Array): { bytes: Buffer; values: Float32Array } {
  const { elems, bytes: bb } = LOWBIT[t]
  const n = data.length / elems
  const bytes = Buffer.alloc(n * bb)
  for (let k = 0; k < n; k++) quantiseBlock(t, data.subarray(k * elems, (k + 1) * elems), bytes.subarray(k * bb, (k + 1) * bb))
  return { bytes, values: Float32Array.from(decodeLowbit(t, bytes)) }
}
