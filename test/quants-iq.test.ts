// The IQ grid types on every kernel path this CPU runs (the NEON path: bit-equal to scalar under qemu, in
// test/kernels-driver.test.ts): random valid blocks decode bit for bit to the test's own float64 reimplementation of
// ggml's reference dequantisation (test/ggml-iq.ts), and the products of such matrices equal float64 sums of those
// values; each vector path's decoders give the scalar path's bits. Malformed blocks — NaN or infinite scales — are
// computed as ggml computes them, never read out of bounds.
import { afterAll, describe, expect, it } from 'vitest'
import { loadAddon } from '../src/main/engine/native'
import { rng } from './helpers'
import { IQ_BLOCK, IQ_TYPES, IqType, iqValues, randomIqBlocks } from './ggml-iq'

const addon = loadAddon()
const info = addon.kernelInfo()
afterAll(() => addon.setKernelPath(''))

/** index of the first weight whose fp32 bits differ (NaN equals NaN), or −1 */
function firstDifference(got: Float32Array, want: Float32Array): number {
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length), w = new Uint32Array(want.buffer, want.byteOffset, want.length)
  for (let i = 0; i < got.length; i++) if (g[i] !== w[i] && !(Number.isNaN(got[i]) && Number.isNaN(want[i]))) return i
  return -1
}

/** blocks whose scales cover fp16's range: tiny, subnormal, ordinary, large, both signs, zero */
function scaleOf(i: number, rand: () => number): number {
  const mags = [0, 2 ** -24, 3 * 2 ** -20, 1e-4, 0.01, 1, 300, 60000]
  return (rand() < 0.5 ? -1 : 1) * (i < mags.length ? mags[i] : 10 ** (rand() * 8 - 6))
}

describe('IQ grid types: decoding and products on every kernel path', () => {
  for (const path of info.available)
    for (const t of IQ_TYPES)
      it(`${path}: ${t} random blocks decode bit for bit as ggml's reference does; products equal float64`, () => {
        expect(addon.setKernelPath(path)).toBe(path)
        const rand = rng(1000 + IQ_TYPES.indexOf(t))
        const bytes = randomIqBlocks(t, 64, rand, (i) => scaleOf(i, rand))
        const want = iqValues(t, bytes)
        const got = addon.dequantise(t, bytes, 64 * 256)
        const at = firstDifference(got, want)
        expect(at, at < 0 ? '' : `${t} weight ${at}: ${got[at]} ≠ ${want[at]}`).toBe(-1)
        // not a vacuous comparison: the blocks hold many distinct values
        expect(new Set(want).size).toBeGreaterThan(1000)

        // products: y = x·Wᵀ and dx = dy·W against float64 sums of the decoded weights, 1, 5 and 8 input rows
        for (const [rows, cols, R] of [[19, 512, 1], [8, 768, 5], [12, 1024, 8]]) {
          const w = randomIqBlocks(t, (rows * cols) / 256, rand, () => 0.01 * (rand() + 0.1))
          const v = iqValues(t, w)
          const x = new Float32Array(R * cols).map(() => rand() * 2 - 1), dy = new Float32Array(R * rows).map(() => rand() * 2 - 1)
          const res = addon.matmul(t, w, rows, cols, x, dy, R)
          let worst = 0
          for (let r = 0; r < R; r++) {
            for (let o = 0; o < rows; o++) {
              let s = 0, a = 0
              for (let c = 0; c < cols; c++) s += x[r * cols + c] * v[o * cols + c], a += Math.abs(x[r * cols + c] * v[o * cols + c])
              worst = Math.max(worst, Math.abs(res.y[r * rows + o] - s) / a)
            }
            for (let c = 0; c < cols; c++) {
              let s = 0, a = 0
              for (let o = 0; o < rows; o++) s += dy[r * rows + o] * v[o * cols + c], a += Math.abs(dy[r * rows + o] * v[o * cols + c])
              worst = Math.max(worst, Math.abs(res.dx[r * cols + c] - s) / a)
            }
          }
          // fp32 accumulation in any order stays far below 1e-5 of Σ|terms|; one wrong weight moves a sum ~1e-3 of it
          expect(worst, `${path} ${t} [${R}×${cols}]·[${rows}×${cols}]ᵀ`).toBeLessThan(1e-5)
        }
      })

  // the vectorised decoders (kernels_isa.inc, one per instruction set) against the scalar one, on blocks whose every
  // byte is random (scales of any fp16 value, NaN and infinities included): the same bits (NaN as NaN)
  for (const t of IQ_TYPES)
    it(`${t}: every vector path decodes as the scalar path does, bit for bit, on 2048 blocks of random bytes`, () => {
      const rand = rng(4242 + IQ_TYPES.indexOf(t))
      const bytes = new Uint8Array(2048 * IQ_BLOCK[t].bytes).map(() => Math.floor(rand() * 256))
      expect(addon.setKernelPath('scalar')).toBe('scalar')
      const want = addon.dequantise(t, bytes, 2048 * 256)
      for (const path of info.available.filter((p) => p !== 'scalar')) {
        addon.setKernelPath(path)
        const at = firstDifference(addon.dequantise(t, bytes, 2048 * 256), want)
        expect(at, at < 0 ? '' : `${path} ${t} weight ${at}`).toBe(-1)
      }
    })

  for (const t of IQ_TYPES)
    it(`${t}: NaN and infinite scales are computed as ggml computes them (NaN, ±inf, 0·inf = NaN), in bounds`, () => {
      const rand = rng(77 + IQ_TYPES.indexOf(t))
      const specials = [NaN, Infinity, -Infinity, 0]
      const bytes = randomIqBlocks(t, specials.length, rand, (i) => specials[i])
      const want = iqValues(t, bytes)
      const got = addon.dequantise(t, bytes, specials.length * 256)
      expect(firstDifference(got, want)).toBe(-1)
      expect(got.slice(0, 256).every(Number.isNaN)).toBe(true)
      expect(got.slice(256, 512).some((v) => v === Infinity)).toBe(true)
      // a byte count that is not whole blocks is refused in words before anything is read
      expect(() => addon.dequantise(t, bytes.subarray(0, IQ_BLOCK[t].bytes - 1), 256)).toThrow(/count does not match/)
    })
})
