// The kernel tunings (native/src/kernel_paths.h, KernelTuning: how the products cut, block and prefetch their work for
// a class of core — "zen", "intel"): every tuning must give the same bits on every path, only the time may differ. The
// shapes below reach each knob: rows longer than zen's 1536-column backward blocks but within intel's 3072 (one block
// against two), rows past 3072 (three blocks against five), runs long enough for intel's in-order prefetch, row parts
// (≥ 1024 rows), a block-quantised matrix (1536-column blocks in both), an F32 one whose rows are not whole slices, and
// for the forward's panel form (intel) rows past 1.5k columns with a scalar tail.
// Also: the choice at load (the cpuid vendor), SOLILOQUY_TUNING forcing one and refusing an unknown name in words, and a
// whole step (the organism's exact gradient) hashing the same under both.
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadAddon } from '../src/main/engine/native'
import { floatToHalf, quantise } from './ggml'
import { ORGANISM, rng, ROOT } from './helpers'

const addon = loadAddon()
const info = addon.kernelInfo()
afterAll(() => {
  addon.setKernelTuning('')
  addon.setKernelPath('')
})

type Shape = { dtype: 'F32' | 'F16' | 'BF16' | 'Q8_0'; rows: number; cols: number }
const SHAPES: Shape[] = [
  { dtype: 'F16', rows: 384, cols: 2560 }, // zen: two column blocks; intel: one, whole rows, prefetched in address order
  { dtype: 'BF16', rows: 200, cols: 6912 }, // zen: five blocks of ≤ 1536; intel: three of ≤ 3072 (Gemma's down width)
  { dtype: 'F16', rows: 1100, cols: 1024 }, // row parts (two of ≥ 512 rows), a short last run
  { dtype: 'Q8_0', rows: 130, cols: 2048 }, // block-quantised: 1536-column blocks under both tunings
  { dtype: 'F32', rows: 70, cols: 1000 }, // F32, a <64-column tail of every row
  { dtype: 'F16', rows: 100, cols: 1601 }, // intel's forward panel form (13 rows: two groups of rows past 40 KiB), a partial last block, a scalar tail, a last row outside the triples
]
const ROWS = [1, 2, 6, 13, 20]

/** weights [rows, cols] stored as dtype: the bytes and the values they hold (decoded independently) */
function store(s: Shape, rand: () => number): { bytes: Uint8Array; values: Float64Array } {
  const w = new Float32Array(s.rows * s.cols).map(() => rand() * 2 - 1)
  if (s.dtype === 'F32') return { bytes: new Uint8Array(w.buffer), values: Float64Array.from(w) }
  if (s.dtype === 'Q8_0') {
    const q = quantise('Q8_0', w, s.cols)
    return { bytes: new Uint8Array(q.bytes), values: Float64Array.from(q.values) }
  }
  const h = new Uint16Array(w.length)
  const f = new Float32Array(1)
  const u = new Uint32Array(f.buffer)
  const values = new Float64Array(w.length)
  for (let i = 0; i < w.length; i++) {
    if (s.dtype === 'F16') {
      h[i] = floatToHalf(w[i])
    } else {
      f[0] = w[i]
      h[i] = ((u[0] + 0x7fff + ((u[0] >>> 16) & 1)) >>> 16) & 0xffff // round to nearest even, as the writers do
    }
    if (s.dtype === 'BF16') {
      u[0] = h[i] << 16
      values[i] = f[0]
    }
  }
  if (s.dtype === 'F16') {
    // decoded here from the half's fields, not by the engine
    for (let i = 0; i < w.length; i++) {
      const e = (h[i] >> 10) & 31, m = h[i] & 1023, sign = h[i] & 0x8000 ? -1 : 1
      values[i] = sign * (e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15))
    }
  }
  return { bytes: new Uint8Array(h.buffer), values }
}

const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)

describe(`kernel tunings (${info.tunings.join(', ')}; this CPU's: ${info.tuning})`, () => {
  it('the tuning at load is the one the cpuid vendor names; setKernelTuning switches it and refuses an unknown name', () => {
    if (process.env.SOLILOQUY_TUNING) return // the run itself forces one
    expect(info.tunings).toEqual(['zen', 'intel'])
    expect(info.tuning).toBe(info.cpu.vendor === 'GenuineIntel' ? 'intel' : 'zen')
    for (const t of info.tunings) {
      expect(addon.setKernelTuning(t)).toBe(t)
      expect(addon.kernelInfo().tuning).toBe(t)
    }
    expect(() => addon.setKernelTuning('fastest')).toThrow(/kernel tuning 'fastest': no such tuning \(tunings: zen, intel\)/)
    expect(addon.kernelInfo().tuning).toBe('intel') // unchanged by the refusal
    expect(addon.setKernelTuning('')).toBe(info.tuning)
  })

  it('SOLILOQUY_TUNING forces a tuning; an unknown one is refused at load, in words (addon and soliloquy info)', () => {
    const probe = (value: string) =>
      spawnSync(process.execPath, ['-e', `console.log(require(${JSON.stringify(join(ROOT, 'native/build/Release/soliloquy_engine.node'))}).kernelInfo().tuning)`], {
        env: { ...process.env, SOLILOQUY_TUNING: value },
        encoding: 'utf8',
      })
    for (const t of ['zen', 'intel']) {
      const r = probe(t)
      expect(r.status, r.stderr).toBe(0)
      expect(r.stdout.trim()).toBe(t)
    }
    const bad = probe('turbo')
    expect(bad.status).not.toBe(0)
    expect(bad.stderr).toMatch(/SOLILOQUY_TUNING=turbo: no such tuning \(tunings: zen, intel\)/)
    const cli = (value: string) =>
      spawnSync(process.execPath, [join(ROOT, 'bin/soliloquy.js'), 'info'], { env: { ...process.env, SOLILOQUY_TUNING: value }, encoding: 'utf8' })
    expect(cli('zen').stdout).toMatch(/tuning\s+zen \(forced by SOLILOQUY_TUNING=zen; tunings: zen, intel\)/)
    const refused = cli('turbo')
    expect(refused.status).toBe(1)
    expect(refused.stderr).toMatch(/SOLILOQUY_TUNING=turbo: no such tuning/)
    expect(refused.stderr).not.toMatch(/at .*\.js:\d+/) // words, not a stack
  })

  // every path this CPU runs: the tunings change how work is cut (block widths, prefetch order), which the scalar and
  // AVX2 paths go through as well
  it.each(info.available)('%s path: forward and backward products are the same bits under every tuning, and match float64', (path) => {
    addon.setKernelPath(path)
    try {
      let seed = 7
      for (const s of SHAPES) {
        const rand = rng(seed++)
        const W = store(s, rand)
        for (const R of ROWS) {
          const x = new Float32Array(R * s.cols).map(() => rand() * 2 - 1)
          const dy = new Float32Array(R * s.rows).map(() => rand() * 2 - 1)
          const got = info.tunings.map((t) => {
            addon.setKernelTuning(t)
            return addon.matmul(s.dtype, W.bytes, s.rows, s.cols, x, dy, R)
          })
          const what = `${path} ${s.dtype} [${s.rows}×${s.cols}] R=${R}`
          for (let k = 1; k < got.length; k++) {
            expect(bits(got[k].y).equals(bits(got[0].y)), `${what}: y under ${info.tunings[k]} ≠ ${info.tunings[0]}`).toBe(true)
            expect(bits(got[k].dx).equals(bits(got[0].dx)), `${what}: dx under ${info.tunings[k]} ≠ ${info.tunings[0]}`).toBe(true)
          }
          // and right: float64 of the stored values, relative to Σ|terms| (one wrong weight moves a sum by ≥ 1e-4 of it)
          let worstY = 0, worstDx = 0
          for (let r = 0; r < R; r++)
            for (let o = 0; o < s.rows; o++) {
              let y = 0, ys = 0
              for (let c = 0; c < s.cols; c++) {
                const t = x[r * s.cols + c] * W.values[o * s.cols + c]
                y += t
                ys += Math.abs(t)
              }
              worstY = Math.max(worstY, Math.abs(got[0].y[r * s.rows + o] - y) / ys)
            }
          for (let r = 0; r < R; r++) {
            const dx = new Float64Array(s.cols), dxs = new Float64Array(s.cols)
            for (let o = 0; o < s.rows; o++) {
              const a = dy[r * s.rows + o]
              for (let c = 0; c < s.cols; c++) {
                const t = a * W.values[o * s.cols + c]
                dx[c] += t
                dxs[c] += Math.abs(t)
              }
            }
            for (let c = 0; c < s.cols; c++) worstDx = Math.max(worstDx, Math.abs(got[0].dx[r * s.cols + c] - dx[c]) / dxs[c])
          }
          expect(worstY, `${what}: y against float64`).toBeLessThan(1e-5)
          expect(worstDx, `${what}: dx against float64`).toBeLessThan(1e-5)
        }
      }
    } finally {
      addon.setKernelTuning('')
      addon.setKernelPath('')
    }
  }, 300_000)

  it("a whole step (the organism's exact gradient on 2 threads) hashes the same under every tuning", () => {
    const hash = (tuning: string) => {
      const r = spawnSync(
        process.execPath,
        [join(ROOT, 'node_modules', 'jiti', 'lib', 'jiti-cli.mjs'), join(ROOT, 'test', 'fixtures', 'step-hash-child.ts'), ORGANISM, '2', 'To be, or not to be, that is the question'],
        { encoding: 'utf8', env: { ...process.env, SOLILOQUY_TUNING: tuning } },
      )
      expect(r.status, r.stderr).toBe(0)
      return r.stdout.trim()
    }
    const zen = hash('zen')
    expect(zen).toMatch(/^[0-9a-f]{64}$/)
    expect(hash('intel')).toBe(zen)
  }, 240_000)
})
