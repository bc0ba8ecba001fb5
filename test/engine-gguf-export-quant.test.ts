// GGUF export in Q4_0, Q3_K, Q4_K, Q5_K and Q6_K (native/src/quantise.cpp), a merged stepped model in a size users keep:
// - the engine's quantisers give, byte for byte, what ggml's reference quantisers (quantize_row_q4_0_ref,
//   quantize_row_q3_K_ref with make_q3_quants, quantize_row_q4_K_ref / quantize_row_q5_K_ref with
//   make_qkx2_quants, quantize_row_q6_K_ref with make_qx_quants, and the fallbacks' quantize_row_q5_0_ref /
//   quantize_row_q5_1_ref) give, as their
//   independent TypeScript port (tools/bench/kquants.ts) computes them — on random rows and on the rows that take
//   the reference's special paths (all zero, constant, one sign, a single spike, huge and fp16-subnormal magnitudes);
// - an export of the stepped organism holds exactly those bytes for the rows of the same view exported as F32, and
//   re-opens in the engine with the logits of its dequantised F32 twin, and llama.cpp (node-llama-cpp 3.21.1) gives
//   the same greedy ids where our top-1/top-2 margin exceeds its 8-bit activation rounding (≥ 1);
// - rows that are not whole blocks fall back as llama.cpp's quantiser does (Q4_K → Q5_0, Q6_K → Q8_0, otherwise F16)
//   and the export's notes say so (Q3_K → Q4_0, Q5_K → Q5_1 too); Q5_0 / Q5_1 are written by ggml's reference
//   quantisers too.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Engine } from '../src/main/engine/engine'
import { exportGguf, GgufExportDtype } from '../src/main/engine/export/gguf'
import { readGguf } from '../src/main/engine/formats/gguf/read'
import { loadAddon } from '../src/main/engine/native'
import { readPreset } from '../src/main/engine/preset'
import { quantiseQ3KRef, quantiseQ4_0Ref, quantiseQ4K, quantiseQ4KRef, quantiseQ5_0Ref, quantiseQ5_1Ref, quantiseQ5KRef, quantiseQ6KRef } from '../tools/bench/kquants'
import { LlamaCppModule, loadPeer, peerGreedy } from '../tools/bench/peer'
import { quantise } from './ggml'
import { ORGANISM, rng, tmp, TinyConfig, writeTinyModel } from './helpers'

const addon = loadAddon()
const preset = readPreset(ORGANISM)
type Q = 'Q4_0' | 'Q5_0' | 'Q5_1' | 'Q3_K' | 'Q4_K' | 'Q5_K' | 'Q6_K'
const TYPES: (Q & GgufExportDtype)[] = ['Q4_0', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K']
const BLOCK: Record<Q, [number, number]> = {
  Q4_0: [32, 18], Q5_0: [32, 22], Q5_1: [32, 24], Q3_K: [256, 110], Q4_K: [256, 144], Q5_K: [256, 176], Q6_K: [256, 210],
}
const REF: Record<Q, (x: Float32Array, o: number, n: number, out: Uint8Array, at: number) => void> = {
  Q4_0: quantiseQ4_0Ref,
  Q5_0: quantiseQ5_0Ref, // the fallback of Q4_K (and of Q4_K_M's Q4_K matrices) where rows are not whole blocks of 256
  Q5_1: quantiseQ5_1Ref, // the fallback of Q5_K
  Q3_K: quantiseQ3KRef,
  Q4_K: quantiseQ4KRef,
  Q5_K: quantiseQ5KRef,
  Q6_K: quantiseQ6KRef,
}
/** the relative reconstruction error each type keeps under on rows of normal magnitude (the new types: their measured
 *  worst × ~1.5) */
const MAX_REL_ERROR: Record<Q, number> = { Q4_0: 0.25, Q5_0: 0.25, Q5_1: 0.09, Q3_K: 0.27, Q4_K: 0.25, Q5_K: 0.09, Q6_K: 0.05 }
function reference(t: Q, x: Float32Array): Uint8Array {
  const out = new Uint8Array((x.length / BLOCK[t][0]) * BLOCK[t][1])
  REF[t](x, 0, x.length, out, 0)
  return out
}
/** the first differing byte, or −1 */
function firstDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length)
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i
  return -1
}

/** rows whose block scales stay normal fp16 numbers (ggml's super-scales are fp16: much smaller rows lose precision
 *  there, in the reference as here) */
const normalScale = (x: Float32Array): boolean => {
  const m = x.reduce((a, v) => Math.max(a, Math.abs(v)), 0)
  return m >= 1e-2 && m <= 1e3
}

/** 256-weight rows: random at many scales, and every special path of the reference quantisers */
function rows(): [string, Float32Array][] {
  const r = rng(22)
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r())
  const row = (f: (i: number) => number): Float32Array => Float32Array.from({ length: 256 }, (_, i) => f(i))
  const out: [string, Float32Array][] = []
  for (let k = 0; k < 600; k++) {
    const scale = 10 ** (-4 + 6 * r())
    out.push([`random ×${scale.toExponential(1)}`, row(() => scale * gauss())])
  }
  for (let k = 0; k < 10; k++) out.push([`uniform ${k}`, row(() => 2 * r() - 1)])
  for (let k = 0; k < 10; k++) out.push([`heavy-tailed ${k}`, row(() => gauss() ** 3 * 0.02)])
  out.push(['all zero', row(() => 0)])
  out.push(['negative zeros', row(() => -0)])
  out.push(['constant 0.5', row(() => 0.5)])
  out.push(['constant −3', row(() => -3)])
  out.push(['all positive', row(() => 1 + r())])
  out.push(['all negative', row(() => -1 - r())])
  out.push(['one spike', row((i) => (i === 77 ? 5 : 0))])
  out.push(['one negative spike among noise', row((i) => (i === 200 ? -40 : 0.01 * gauss()))])
  out.push(['half zero blocks', row((i) => (i % 64 < 32 ? 0 : gauss()))])
  out.push(['huge', row(() => 3e4 * gauss())])
  out.push(['fp16-subnormal scale', row(() => 1e-6 * gauss())])
  out.push(['below fp16', row(() => 1e-9 * gauss())])
  out.push(['tiny and huge', row((i) => (i % 2 ? 1e-7 : 100) * gauss())])
  out.push(['small integers', row(() => Math.round(8 * gauss()))])
  // per 32: min 0, max 31 (Q5_1's d = 1), the rest on half levels: ties that C's truncation of x + 0.5 rounds up
  out.push(['half-level ties', row((i) => (i % 32 === 0 ? 0 : i % 32 === 1 ? 31 : (i % 30) + 0.5))])
  out.push(['negative only, one outlier per 16', row((i) => (i % 16 === 5 ? -50 : -0.1 - 0.01 * r()))])
  return out
}

describe('the export quantisers equal ggml reference quantisers (tools/bench/kquants.ts), byte for byte', () => {
  const cases = rows()
  for (const t of [...TYPES, 'Q5_0' as const, 'Q5_1' as const])
    it(`${t} on ${cases.length} rows of 256 weights`, () => {
      let zeroScale = 0, worst = 0
      for (const [what, x] of cases) {
        const got = addon.quantise(t, x)
        const want = reference(t, x)
        const at = firstDiff(got, want)
        expect(at, `${t}, ${what}: first differing byte ${at} (block ${Math.floor(at / BLOCK[t][1])}, byte ${at % BLOCK[t][1]})`).toBe(-1)
        // the bytes decode (the engine's own dequantisation) to weights near the row
        const back = addon.dequantise(t, got, x.length)
        let err = 0, norm = 0
        for (let i = 0; i < x.length; i++) {
          err += (back[i] - x[i]) ** 2
          norm += x[i] ** 2
        }
        if (norm === 0) zeroScale++
        else if (normalScale(x)) {
          worst = Math.max(worst, Math.sqrt(err / norm))
          expect(Math.sqrt(err / norm), `${t}, ${what}: relative error`).toBeLessThan(MAX_REL_ERROR[t])
        }
      }
      expect(zeroScale).toBe(2)
      console.log(`${t}: worst relative reconstruction error ${worst.toFixed(4)} on rows of normal magnitude`)
    })

  it('Q4_0 and Q8_0 also equal the older, separately written reference ports of test/ggml.ts', () => {
    for (const t of ['Q4_0', 'Q8_0'] as const)
      for (const [what, x] of rows()) {
        const at = firstDiff(addon.quantise(t, x), new Uint8Array(quantise(t, x, 256).bytes))
        expect(at, `${t}, ${what}: first differing byte`).toBe(-1)
      }
  })

  it('Q4_K: the reference search (make_qkx2_quants) is what is computed — less error than plain min/max scales', () => {
    // the bench's simple Q4_K quantiser (kquants.ts quantiseQ4K: no search) on the same rows: a different, valid
    // block; the reference's weighted search must reconstruct the rows better overall
    let ref = 0, simple = 0
    for (const [, x] of rows().filter(([, x]) => normalScale(x))) {
      const s = new Uint8Array(144)
      quantiseQ4K(x, 0, s, 0)
      const a = addon.dequantise('Q4_K', addon.quantise('Q4_K', x), 256), b = addon.dequantise('Q4_K', s, 256)
      let n = 0
      for (let i = 0; i < 256; i++) n += x[i] ** 2
      if (n === 0) continue
      for (let i = 0; i < 256; i++) {
        ref += (a[i] - x[i]) ** 2 / n
        simple += (b[i] - x[i]) ** 2 / n
      }
    }
    expect(ref).toBeLessThan(simple)
  })

  it('refuses what it cannot write, by name', () => {
    expect(() => addon.quantise('Q2_K', new Float32Array(256))).toThrow(/cannot quantise to Q2_K/)
    expect(() => addon.quantise('Q4_K', new Float32Array(255))).toThrow(/not whole blocks/)
  })
})

/** a GGUF tensor's bytes (its info from readGguf) */
function tensorBytes(file: Buffer, info: { offset: number; dims: number[] }, t: string): Uint8Array {
  const n = info.dims.reduce((a, b) => a * b, 1)
  const len = t === 'F32' ? 4 * n : (n / BLOCK[t as Q][0]) * BLOCK[t as Q][1]
  return new Uint8Array(file.buffer, file.byteOffset + info.offset, len)
}

/** greedy positions before the first near-tie (top-1/top-2 margin below `margin`) */
const beforeTie = (m: number[], margin: number): number => {
  const i = m.findIndex((x) => x < margin)
  return i < 0 ? m.length : i
}

describe('the stepped organism exported in each type', () => {
  let llamaCpp: LlamaCppModule | undefined
  for (const t of TYPES)
    it(`${t}: the reference's bytes, re-opened with its F32 twin's logits, llama.cpp's greedy ids`, async () => {
      const engine = Engine.load(ORGANISM)
      const g = await engine.gradient(preset.phrase)
      const view = [{ gradient: g, lr: 0.03 }]
      const dir = tmp()
      const qFile = join(dir, `stepped-${t}.gguf`), fFile = join(dir, 'stepped-f32.gguf')
      const r = await exportGguf(engine, view, qFile, undefined, { dtype: t })
      expect(r.notes).toEqual([]) // the organism's rows (256, 768) are whole blocks of every type
      await exportGguf(engine, view, fFile, undefined, { dtype: 'F32' })
      const q = readGguf(qFile), f = readGguf(fFile)
      const qb = readFileSync(qFile), fb = readFileSync(fFile)
      expect(q.tensors.map((x) => x.name)).toEqual(f.tensors.map((x) => x.name))
      // every matrix in the type, every vector F32; each matrix = the reference quantiser on the F32 export's rows
      // (the same view, the same row order); the twin: the F32 file with each matrix replaced by its decoded bytes
      const twin = Buffer.from(fb)
      for (let i = 0; i < q.tensors.length; i++) {
        const a = q.tensors[i], b = f.tensors[i]
        expect(a.typeName, a.name).toBe(a.dims.length === 2 ? t : 'F32')
        if (a.dims.length !== 2) continue
        const w = tensorBytes(fb, b, 'F32')
        const x = new Float32Array(w.slice().buffer)
        const got = tensorBytes(qb, a, t)
        const at = firstDiff(got, reference(t, x))
        expect(at, `${a.name}: first byte differing from the reference quantiser`).toBe(-1)
        const back = addon.dequantise(t, got, x.length)
        Buffer.from(back.buffer).copy(twin, b.offset)
      }
      const twinFile = join(dir, `twin-${t}.gguf`)
      writeFileSync(twinFile, twin)

      // our engine on the quantised file = our engine on its dequantised F32 twin (fused block products vs fp32
      // products of the same values: float32 summation order only)
      const ours = Engine.load(qFile), dense = Engine.load(twinFile)
      const ids = ours.withBos(preset.phrase, 'text')
      const [a] = await ours.score({ ids, views: [[]], fullAt: ids.map((_, i) => i) })
      const [b] = await dense.score({ ids, views: [[]], fullAt: ids.map((_, i) => i) })
      expect(a.full[ids.length - 1]).toHaveLength(engine.config.vocab)
      let worst = 0
      for (let i = 0; i < ids.length; i++) for (let v = 0; v < a.full[i].length; v++) worst = Math.max(worst, Math.abs(a.full[i][v] - b.full[i][v]))
      expect(worst, `${t}: logits against the F32 twin`).toBeLessThan(1e-3)
      const prompt = ours.withBos(preset.prompt, 'prompt')
      const [ga] = await ours.generate({ prompt, views: [[]], maxNew: 48 })
      const [gb] = await dense.generate({ prompt, views: [[]], maxNew: 48 })
      const n = Math.min(beforeTie(ga.margins, 1e-3), beforeTie(gb.margins, 1e-3))
      expect(n, `${t}: comparable tokens against the twin`).toBeGreaterThan(8)
      expect(gb.ids.slice(0, n)).toEqual(ga.ids.slice(0, n))

      // llama.cpp on the same file: its products round activations to 8 bits, so ids are compared while our
      // margin is ≥ 1
      llamaCpp ??= await loadPeer(() => {})
      const theirs = await peerGreedy(llamaCpp, qFile, prompt, 48, Math.min(2, addon.threads()))
      const np = beforeTie(ga.margins, 1)
      console.log(`${t}: logits vs F32 twin worst ${worst.toExponential(2)}; ${np} greedy ids compared with llama.cpp (margin ≥ 1); ${(qb.length / 1e6).toFixed(2)} MB vs F32 ${(fb.length / 1e6).toFixed(2)} MB`)
      expect(np, `${t}: comparable tokens against llama.cpp`).toBeGreaterThan(4)
      expect(theirs.ids.slice(0, np), `${t}: llama.cpp greedy ids`).toEqual(ga.ids.slice(0, np))
    }, 300_000)
})

describe('rows that are not whole blocks fall back, and the notes say so', () => {
  // rows of 64 (no K-quant block) and 48 (no block of 32 either)
  const c: TinyConfig = { dim: 64, ffn: 48, layers: 2, heads: 4, kvHeads: 2, tied: false, seed: 5 }
  const cases: [GgufExportDtype, string, string][] = [
    ['Q3_K', 'Q4_0', 'F16'],
    ['Q4_K', 'Q5_0', 'F16'],
    ['Q5_K', 'Q5_1', 'F16'],
    ['Q6_K', 'Q8_0', 'F16'],
    ['Q4_0', 'Q4_0', 'F16'],
  ]
  it.each(cases)('%s: rows of 64 → %s, rows of 48 → %s', async (dtype, of64, of48) => {
    const engine = Engine.load(writeTinyModel(tmp(), c))
    const out = join(tmp(), `tiny-${dtype}.gguf`)
    const r = await exportGguf(engine, [], out, undefined, { dtype })
    const g = readGguf(out)
    for (const x of g.tensors) {
      const want = x.dims.length === 1 ? 'F32' : x.dims[0] === 64 ? of64 : of48
      expect(x.typeName, x.name).toBe(want)
    }
    const fell = (to: string): string | undefined => r.notes.find((n) => n.includes(`written as ${to}, not ${dtype}`))
    if (of64 !== dtype) expect(fell(of64)).toMatch(/blk\.0\.attn_q\.weight \(rows of 64\)/)
    expect(fell('F16')).toMatch(/blk\.1\.ffn_down\.weight \(rows of 48\)/)
    if (of64 !== dtype) expect(fell(of64)).toMatch(/as llama\.cpp's quantiser falls back/)
    expect(r.notes).toHaveLength(of64 === dtype ? 1 : 2)
    // the file opens and runs
    const e = Engine.load(out)
    const [s] = await e.generate({ prompt: e.withBos('To be', 'prompt'), views: [[]], maxNew: 4 })
    expect(s.ids).toHaveLength(4)
  })
  it('Q8_0 asked for directly still refuses rows that are not whole blocks', async () => {
    const engine = Engine.load(writeTinyModel(tmp(), c))
    await expect(exportGguf(engine, [], join(tmp(), 'tiny-q8.gguf'), undefined, { dtype: 'Q8_0' })).rejects.toThrow(/not whole blocks of 32/)
  })
})
