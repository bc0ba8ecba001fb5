// Test-side decoding of ggml's IQ grid types (IQ3_S, IQ3_XXS, IQ2_XXS, IQ2_XS, IQ2_S, IQ1_S, IQ1_M), written from
// the block layouts in ggml-common.h and the steps of ggml-quants.c's dequantize_row_iq* independently of the engine's
// decoder (native/src/quants_iq.cpp): float64 arithmetic rounded to fp32 (Math.fround) exactly where ggml's fp32
// arithmetic rounds. The grid tables themselves are data, not logic; they are read here from the engine's source
// text, and llama.cpp's own run of files made from them (test/engine-gguf-iq.test.ts) checks them independently.
// Also: random valid blocks with a chosen scale, and the ggml type ids the GGUF writer needs.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { halfToFloat, ROOT } from './helpers'
import { floatToHalf } from './ggml'

export const IQ_TYPES = ['IQ3_S', 'IQ3_XXS', 'IQ2_XXS', 'IQ2_XS', 'IQ2_S', 'IQ1_S', 'IQ1_M'] as const
export type IqType = (typeof IQ_TYPES)[number]
/** bytes per block of 256 weights (ggml-common.h's static_asserts) and the ggml type id in a GGUF file */
export const IQ_BLOCK: Record<IqType, { bytes: number; ggmlType: number }> = {
  IQ2_XXS: { bytes: 66, ggmlType: 16 }, IQ2_XS: { bytes: 74, ggmlType: 17 }, IQ3_XXS: { bytes: 98, ggmlType: 18 },
  IQ1_S: { bytes: 50, ggmlType: 19 }, IQ3_S: { bytes: 110, ggmlType: 21 }, IQ2_S: { bytes: 82, ggmlType: 22 },
  IQ1_M: { bytes: 56, ggmlType: 29 },
}

const f32 = Math.fround

/** grid name → its points' bytes, point i at [i·width, (i+1)·width) (width 8 for uint64 tables, 4 for uint32) */
function readGrids(): Map<string, { width: number; bytes: Uint8Array }> {
  const src = readFileSync(join(ROOT, 'native', 'src', 'quants_iq.cpp'), 'utf8')
  const out = new Map<string, { width: number; bytes: Uint8Array }>()
  for (const m of src.matchAll(/const uint(64|32)_t (\w+)\[(\d+)\] = \{([^}]*)\}/g)) {
    const width = m[1] === '64' ? 8 : 4
    const values = m[4].match(/0x[0-9a-f]+/g)!.map((h) => BigInt(h))
    if (values.length !== Number(m[3])) throw new Error(`${m[2]}: ${values.length} values for ${m[3]} entries`)
    const bytes = new Uint8Array(values.length * width)
    values.forEach((v, i) => {
      for (let j = 0; j < width; j++) bytes[i * width + j] = Number((v >> BigInt(8 * j)) & 0xffn)
    })
    out.set(m[2], { width, bytes })
  }
  return out
}
let grids: Map<string, { width: number; bytes: Uint8Array }> | undefined
function grid(name: string, size: number): Uint8Array {
  grids ??= readGrids()
  const g = grids.get(name)
  if (!g || g.bytes.length !== size * g.width) throw new Error(`grid ${name}[${size}] not found in quants_iq.cpp`)
  return g.bytes
}

/** ggml's ksigns_iq2xs[i]: the 7 stored signs, and an 8th making the number of minus signs even */
function ksigns(i: number): number {
  let ones = 0
  for (let b = 0; b < 7; b++) ones += (i >> b) & 1
  return i | ((ones & 1) << 7)
}
const sign = (signs: number, j: number): number => ((signs >> j) & 1 ? -1 : 1)

/** The 256 weights of the block at b[at …], as ggml's dequantize_row_<type> computes them. */
export function iqBlockValues(t: IqType, b: Uint8Array, at: number): number[] {
  const dv = new DataView(b.buffer, b.byteOffset + at, IQ_BLOCK[t].bytes)
  const u8 = (o: number): number => dv.getUint8(o)
  const u16 = (o: number): number => dv.getUint16(o, true)
  const u32 = (o: number): number => dv.getUint32(o, true)
  const y: number[] = []
  switch (t) {
    case 'IQ2_XXS': {
      const g = grid('iq2xxs_grid', 256), d = halfToFloat(u16(0))
      for (let ib = 0; ib < 8; ib++) {
        const idx = u32(2 + 8 * ib), ss = u32(6 + 8 * ib)
        const db = f32(f32(d * f32(0.5 + (ss >>> 28))) * 0.25)
        for (let l = 0; l < 4; l++) {
          const p = (idx >>> (8 * l)) & 255, s = ksigns((ss >>> (7 * l)) & 127)
          for (let j = 0; j < 8; j++) y.push(f32(f32(db * g[8 * p + j]) * sign(s, j)))
        }
      }
      break
    }
    case 'IQ2_XS':
    case 'IQ2_S': {
      const xs = t === 'IQ2_XS'
      const g = xs ? grid('iq2xs_grid', 512) : grid('iq2s_grid', 1024), d = halfToFloat(u16(0))
      const scales = xs ? 66 : 74
      for (let ib = 0; ib < 8; ib++) {
        const sc = u8(scales + ib)
        const db = [f32(f32(d * f32(0.5 + (sc & 15))) * 0.25), f32(f32(d * f32(0.5 + (sc >> 4))) * 0.25)]
        for (let l = 0; l < 4; l++) {
          let p: number, s: number
          if (xs) {
            const q = u16(2 + 2 * (4 * ib + l))
            p = q & 511
            s = ksigns(q >> 9)
          } else {
            // qs[32] low index bytes, then 32 sign bytes, then qh[8]: bits 2l, 2l+1 of qh[ib] are index bits 8, 9
            p = u8(2 + 4 * ib + l) | (((u8(66 + ib) >> (2 * l)) & 3) << 8)
            s = u8(34 + 4 * ib + l)
          }
          for (let j = 0; j < 8; j++) y.push(f32(f32(db[l >> 1] * g[8 * p + j]) * sign(s, j)))
        }
      }
      break
    }
    case 'IQ3_XXS':
    case 'IQ3_S': {
      const xxs = t === 'IQ3_XXS'
      const g = xxs ? grid('iq3xxs_grid', 256) : grid('iq3s_grid', 512), d = halfToFloat(u16(0))
      for (let ib = 0; ib < 8; ib++) {
        const ss = xxs ? u32(66 + 4 * ib) : 0
        const db = xxs ? f32(f32(d * f32(0.5 + (ss >>> 28))) * 0.5) : f32(d * (1 + 2 * ((u8(106 + (ib >> 1)) >> (4 * (ib & 1))) & 15)))
        for (let l = 0; l < 4; l++) {
          const s = xxs ? ksigns((ss >>> (7 * l)) & 127) : u8(74 + 4 * ib + l)
          for (let half = 0; half < 2; half++) {
            // weights 8l + 4·half … + 3: one grid point of 4, index byte qs[8·ib + 2l + half] (+ bit 8 from qh, IQ3_S)
            const k = 2 * l + half
            const p = u8(2 + 8 * ib + k) | (xxs ? 0 : ((u8(66 + ib) >> k) & 1) << 8)
            for (let j = 0; j < 4; j++) y.push(f32(f32(db * g[4 * p + j]) * sign(s, 4 * half + j)))
          }
        }
      }
      break
    }
    case 'IQ1_S':
    case 'IQ1_M': {
      const g = grid('iq1s_grid', 2048)
      const point = (p: number, j: number): number => (g[8 * p + j] << 24) >> 24 // int8
      if (t === 'IQ1_S') {
        const d = halfToFloat(u16(0))
        for (let ib = 0; ib < 8; ib++) {
          const qh = u16(34 + 2 * ib)
          const dl = f32(d * (2 * ((qh >> 12) & 7) + 1)), delta = qh & 0x8000 ? -0.125 : 0.125
          for (let l = 0; l < 4; l++) {
            const p = u8(2 + 4 * ib + l) | (((qh >> (3 * l)) & 7) << 8)
            for (let j = 0; j < 8; j++) y.push(f32(dl * f32(point(p, j) + delta)))
          }
        }
      } else {
        const sc = [0, 1, 2, 3].map((k) => u16(48 + 2 * k))
        const d = halfToFloat((sc[0] >> 12) | ((sc[1] >> 8) & 0xf0) | ((sc[2] >> 4) & 0xf00) | (sc[3] & 0xf000))
        for (let ib = 0; ib < 8; ib++) {
          const s = sc[ib >> 1] >> (6 * (ib & 1))
          const dl = [f32(d * (2 * (s & 7) + 1)), f32(d * (2 * ((s >> 3) & 7) + 1))]
          for (let l = 0; l < 4; l++) {
            const qh = u8(32 + 2 * ib + (l >> 1)) >> (4 * (l & 1)) // low nibble: groups 0, 2; high: 1, 3
            const p = u8(4 * ib + l) | ((qh & 7) << 8), delta = qh & 8 ? -0.125 : 0.125
            for (let j = 0; j < 8; j++) y.push(f32(dl[l >> 1] * f32(point(p, j) + delta)))
          }
        }
      }
      break
    }
  }
  return y
}

/** The weights of n consecutive blocks. */
export function iqValues(t: IqType, bytes: Uint8Array): Float32Array {
  const nb = bytes.length / IQ_BLOCK[t].bytes
  const out = new Float32Array(nb * 256)
  for (let i = 0; i < nb; i++) out.set(iqBlockValues(t, bytes, i * IQ_BLOCK[t].bytes), 256 * i)
  return out
}

/** Sets the block's fp16 scale d (IQ1_M: spread over the top nibbles of its four scale words). */
export function setIqScale(t: IqType, b: Uint8Array, at: number, d: number): void {
  const h = floatToHalf(d)
  if (t !== 'IQ1_M') {
    b[at] = h & 255
    b[at + 1] = h >> 8
    return
  }
  // the top nibble of the u16 at bytes 48 + 2k is bits 4k‥4k+3 of d: the high nibble of byte 49 + 2k
  for (let k = 0; k < 4; k++) b[at + 49 + 2 * k] = (b[at + 49 + 2 * k] & 0x0f) | (((h >> (4 * k)) & 15) << 4)
}

/** n random blocks (every bit pattern is a block) with scales d = scale(i) for block i. */
export function randomIqBlocks(t: IqType, n: number, rand: () => number, scale: (i: number) => number): Uint8Array {
  const bb = IQ_BLOCK[t].bytes
  const b = new Uint8Array(n * bb)
  for (let i = 0; i < b.length; i++) b[i] = Math.floor(rand() * 256)
  for (let i = 0; i < n; i++) setIqScale(t, b, i * bb, scale(i))
  return b
}
