// Every kernel path this CPU can run (scalar, avx2, avx512 here; neon on arm64 — and under qemu in
// test/kernels-arm64.test.ts) against a float64 product of the weights' decoded values, computed here from the
// formats' definitions; the dispatch's choice and its refusals; the organism's reference test on the forced scalar path.
import { spawnSync } from 'node:child_process'
import { afterAll, describe, expect, it } from 'vitest'
import { loadAddon } from '../src/main/engine/native'
import { Lab } from '../src/main/lab/lab'
import { labClient } from '../src/main/lab/methods'
import { floatToHalf, quantise, QType } from './ggml'
import { LOWBIT_TYPES } from './ggml-lowbit'
import { halfToFloat, rng, ROOT, tmp } from './helpers'

const addon = loadAddon()
const info = addon.kernelInfo()
afterAll(() => addon.setKernelPath(''))

const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)
/** bf16 bits of a float, rounded to nearest even (as the engine's writer and PyTorch round) */
function bf16Bits(v: number): number {
  f32[0] = v
  const u = u32[0]
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff
}
function bf16Value(h: number): number {
  u32[0] = h << 16
  return f32[0]
}

type Stored = { bytes: Uint8Array; values: Float64Array }
/** random weights [rows, cols] stored as dtype: the bytes, and the values they hold (decoded independently) */
function store(dtype: string, rows: number, cols: number, rand: () => number): Stored {
  const w = new Float32Array(rows * cols).map(() => rand() * 2 - 1)
  if (dtype === 'F32') return { bytes: new Uint8Array(w.buffer), values: Float64Array.from(w) }
  if (dtype === 'F16' || dtype === 'BF16') {
    const h = new Uint16Array(w.length)
    const values = new Float64Array(w.length)
    for (let i = 0; i < w.length; i++) {
      h[i] = dtype === 'F16' ? floatToHalf(w[i]) : bf16Bits(w[i])
      values[i] = dtype === 'F16' ? halfToFloat(h[i]) : bf16Value(h[i])
    }
    return { bytes: new Uint8Array(h.buffer), values }
  }
  const q = quantise(dtype as QType, w, cols)
  return { bytes: new Uint8Array(q.bytes), values: Float64Array.from(q.values) }
}

/** max over outputs of |got − want| / Σ|terms| (the scale of fp32 rounding in a sum) */
function worst(got: Float32Array, want: Float64Array, scale: Float64Array): number {
  let m = 0
  for (let i = 0; i < got.length; i++) m = Math.max(m, Math.abs(got[i] - want[i]) / (scale[i] + 1e-30))
  return m
}

function check(path: string, dtype: string, rows: number, cols: number, R: number, seed: number): void {
  const rand = rng(seed)
  const W = store(dtype, rows, cols, rand)
  const x = new Float32Array(R * cols).map(() => rand() * 2 - 1)
  const dy = new Float32Array(R * rows).map(() => rand() * 2 - 1)
  const y = new Float64Array(R * rows), ys = new Float64Array(R * rows)
  const dx = new Float64Array(R * cols), dxs = new Float64Array(R * cols)
  for (let r = 0; r < R; r++)
    for (let o = 0; o < rows; o++)
      for (let c = 0; c < cols; c++) {
        const w = W.values[o * cols + c]
        y[r * rows + o] += x[r * cols + c] * w
        ys[r * rows + o] += Math.abs(x[r * cols + c] * w)
        dx[r * cols + c] += dy[r * rows + o] * w
        dxs[r * cols + c] += Math.abs(dy[r * rows + o] * w)
      }
  addon.setKernelPath(path)
  const got = addon.matmul(dtype, W.bytes, rows, cols, x, dy, R)
  // fp32 accumulation in any order: relative to Σ|terms| the error stays far below 1e-5 for these lengths, while one
  // wrong or missing weight moves a sum by ~1/cols ≥ 1e-3 of it
  expect(worst(got.y, y, ys), `${path} ${dtype} y [${R}×${cols}]·[${rows}×${cols}]ᵀ`).toBeLessThan(1e-5)
  expect(worst(got.dx, dx, dxs), `${path} ${dtype} dx`).toBeLessThan(1e-5)
}

describe(`kernel paths on this CPU (${info.available.join(', ')})`, () => {
  it('the best available path is the default', () => {
    if (process.env.SOLILOQUY_KERNELS) return // the run itself forces a path
    expect(info.path).toBe(info.available[info.available.length - 1])
    expect(info.threads).toBeGreaterThanOrEqual(1)
  })

  for (const path of info.available) {
    // 1024 columns of 8 and 13 rows: x rows a multiple of 4 KiB long, which the product copies with longer rows
    it(`${path}: F32, F16, BF16 products (odd lengths, 1–13 rows, 4 KiB rows) match float64`, () => {
      let seed = 1
      for (const dtype of ['F32', 'F16', 'BF16'])
        for (const [rows, cols, R] of [[37, 77, 1], [16, 256, 4], [33, 515, 9], [5, 1000, 3], [40, 1024, 8], [25, 1024, 13]])
          check(path, dtype, rows, cols, R, seed++)
    })
    it(`${path}: Q8_0, Q4_0, Q4_K, Q5_K, Q6_K and the fallback / low-bit types' products match float64 of the block formulas`, () => {
      let seed = 100
      for (const dtype of ['Q8_0', 'Q4_0', 'Q4_K', 'Q5_K', 'Q6_K', ...LOWBIT_TYPES])
        // 1–4 rows take the fused kernels that read the blocks in place, 5 and more dequantise rows first
        for (const [rows, cols, R] of [[19, 512, 1], [7, 256, 2], [9, 512, 3], [10, 768, 4], [8, 768, 5], [12, 1024, 8]])
          check(path, dtype, rows, cols, R, seed++)
    })
  }

  it('a forced path is used; a path this CPU or build lacks is refused in words', () => {
    const probe = (env: string) =>
      spawnSync(process.execPath, ['-e', `console.log(require(${JSON.stringify(`${ROOT}/native/build/Release/soliloquy_engine.node`)}).kernelInfo().path)`], {
        env: { ...process.env, SOLILOQUY_KERNELS: env },
        encoding: 'utf8',
      })
    const s = probe('scalar')
    expect(s.status).toBe(0)
    expect(s.stdout.trim()).toBe('scalar')
    for (const p of ['avx2', 'avx512', 'neon']) {
      const r = probe(p)
      if (info.available.includes(p)) expect(r.stdout.trim()).toBe(p)
      else expect(r.stderr).toMatch(new RegExp(`SOLILOQUY_KERNELS=${p}: (this CPU lacks|no such kernel path)`))
    }
    expect(probe('fast').stderr).toMatch(/SOLILOQUY_KERNELS=fast: no such kernel path in this build \(paths: scalar/)
    expect(() => addon.setKernelPath('bogus')).toThrow(/kernel path 'bogus'/)
  })

  it('`soliloquy info` names the path in use, the available ones and the threads; a refused path exits 1 in words', () => {
    const cli = (env: Record<string, string>, args: string[]) =>
      spawnSync(process.execPath, [`${ROOT}/bin/soliloquy.js`, 'info', ...args], { env: { ...process.env, ...env }, encoding: 'utf8' })
    const best = cli({ SOLILOQUY_KERNELS: '' }, ['--json'])
    expect(best.status, best.stderr).toBe(0)
    const j = JSON.parse(best.stdout) as { kernelPath: string; availablePaths: string[]; threads: number; forced: boolean }
    expect(j).toMatchObject({ kernelPath: info.available[info.available.length - 1], availablePaths: info.available, forced: false })
    expect(j.threads).toBeGreaterThanOrEqual(1)
    const scalar = cli({ SOLILOQUY_KERNELS: 'scalar' }, [])
    expect(scalar.stdout).toMatch(/kernel path\s+scalar \(forced by SOLILOQUY_KERNELS=scalar\)/)
    const bad = cli({ SOLILOQUY_KERNELS: 'sse9' }, [])
    expect(bad.status).toBe(1)
    expect(bad.stderr).toMatch(/SOLILOQUY_KERNELS=sse9: no such kernel path/)
    expect(bad.stderr).not.toMatch(/at .*\.js:\d+/) // words, not a stack
  })

  it("the contract's engineInfo (what the Models view shows) names the same path and threads", async () => {
    const lab = new Lab({ dataDir: tmp('soliloquy-engine-info-') })
    try {
      const e = await labClient(lab, {}).call('engineInfo', {})
      const now = addon.kernelInfo()
      expect(e).toEqual({ kernelPath: now.path, forced: !!process.env.SOLILOQUY_KERNELS, availablePaths: now.available, cpuFeatures: now.features, threads: now.threads })
    } finally {
      lab.close()
    }
  })

  it.each(info.available)("the bench's probes run on the %s path: read bandwidth (2 MiB pages on Linux) and FMA peak", (path) => {
    expect(addon.setKernelPath(path)).toBe(path)
    try {
      for (const threads of [1, 2]) {
        const gbs = addon.measureBandwidth(1 / 16, threads)
        expect(Number.isFinite(gbs) && gbs > 0, `bandwidth ${gbs}`).toBe(true)
        const gflops = addon.measureFlops(threads)
        expect(Number.isFinite(gflops) && gflops > 0, `FMA peak ${gflops}`).toBe(true)
      }
    } finally {
      addon.setKernelPath('')
    }
  })

  // the reference test (greedy tokens at every α, losses, gradient norms) and the batched-generation test on every
  // other path this CPU runs: the scalar reference and, on an AVX-512 machine, the AVX2 tiles an AVX2-only user gets
  const others = info.available.filter((p) => p !== info.path)
  it.each(others)('the organism reference and batch tests pass on the forced %s path', (path) => {
    if (process.env.SOLILOQUY_KERNELS) return // already inside a forced run
    const r = spawnSync(process.execPath, [`${ROOT}/node_modules/vitest/vitest.mjs`, 'run', 'test/engine-reference.test.ts', 'test/engine-batch.test.ts'], {
      cwd: ROOT,
      env: { ...process.env, SOLILOQUY_KERNELS: path, NO_COLOR: '1' },
      encoding: 'utf8',
    })
    expect(r.stdout + r.stderr).toMatch(/Tests\s+\d+ passed/)
    expect(r.status, r.stdout.slice(-2000)).toBe(0)
  }, 300_000)
})
