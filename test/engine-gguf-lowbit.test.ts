// The fallback and low-bit ggml types (Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, IQ4_NL, IQ4_XS, MXFP4, TQ1_0, TQ2_0):
// - on every kernel path this CPU runs, the engine's decoding of random valid blocks equals ggml's reference decoding
//   reimplemented in float64 (test/ggml-lowbit.ts) bit for bit (the NEON path: native/test/kernel_test.cpp under
//   qemu holds it bit-equal to the scalar path);
// - per type, against llama.cpp (node-llama-cpp 3.21.1) on the same file: the organism with its token embedding in
//   the type (llama.cpp decodes it exactly and multiplies in fp32) gives logits as close as an all-F32 file does and
//   the same greedy ids; with every matrix in the type, the same greedy ids as its own dequantised F32 twin and, where
//   our margin exceeds llama.cpp's 8-bit activation rounding, as llama.cpp; stepped and exported as F32 GGUF, the
//   same greedy ids as llama.cpp;
// - malformed blocks (NaN / inf fp16 scales) are computed and the run is refused by the non-finite-logits check.
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { Engine } from '../src/main/engine/engine'
import { exportGguf } from '../src/main/engine/export/gguf'
import { readGguf } from '../src/main/engine/formats/gguf/read'
import { loadAddon } from '../src/main/engine/native'
import { readPreset } from '../src/main/engine/preset'
import { SentencePieceTokenizer } from '../src/main/engine/tokenizers/sentencepiece/tokenizer'
import { LlamaCppModule, loadPeer, peerGreedy } from '../tools/bench/peer'
import { decodeLowbit, HALF_FIELDS, LOWBIT, LOWBIT_TYPES, LowbitType, randomLowbit } from './ggml-lowbit'
import { quantisedTwins, readWeights } from './ggml'
import { ORGANISM, ROOT, rng, tmp } from './helpers'
import { logitGapsAgainstPeer, peerProbabilities } from './peerLogits'

const addon = loadAddon()
const paths = addon.kernelInfo().available
afterAll(() => addon.setKernelPath(''))
const preset = readPreset(ORGANISM)

function pieces(): { text: string; score: number; type: number }[] {
  const sp = SentencePieceTokenizer.fromFile(join(ORGANISM, 'tokenizer.model'))
  return Array.from({ length: sp.vocabSize }, (_, i) => sp.pieceInfo(i))
}

describe('decoding of the fallback and low-bit types = ggml reference, bit for bit, on every kernel path', () => {
  for (const t of LOWBIT_TYPES)
    it.each(paths)(`${t} on %s`, (path) => {
      addon.setKernelPath(path)
      const r = rng(LOWBIT[t].id * 31 + path.length)
      const nb = 40
      const bytes = randomLowbit(t, nb, r)
      // the extremes of every packed field: all bits clear, all bits set (scales kept finite)
      const bb = LOWBIT[t].bytes
      bytes.fill(0, 0, bb)
      bytes.fill(0xff, bb, 2 * bb)
      for (const k of [0, 1]) for (const at of HALF_FIELDS[t]) bytes.writeUInt16LE(0x2a00 | k, k * bb + at)
      const got = addon.dequantise(t, bytes, nb * LOWBIT[t].elems)
      const want = decodeLowbit(t, bytes)
      let wrong = -1
      for (let i = 0; i < want.length && wrong < 0; i++) if (!Object.is(got[i], Math.fround(want[i]))) wrong = i
      expect(wrong, wrong < 0 ? '' : `weight ${wrong}: got ${got[wrong]}, want ${want[wrong]}`).toBe(-1)
      // the values are the product's inputs: not all equal, so a wrong bit position would show
      expect(new Set(got).size).toBeGreaterThan(8)
    })
})

/** Our logit differences to each position's top token against llama.cpp's (from its probabilities: log-ratios are
 *  logit differences), over the tokens within 1e-4 of the top one's probability. */
async function logitsAgainstPeer(llamaCpp: LlamaCppModule, ours: Engine, file: string): Promise<{ worst: number; mean: number; compared: number }> {
  const ids = ours.withBos('To be, or not to be, that is the question: Whether', 'text')
  return logitGapsAgainstPeer(ours, ids, await peerProbabilities(llamaCpp, file, ids), 1e-4)
}

/** greedy positions before the first near-tie (top-1/top-2 margin below `margin`) */
const beforeTie = (m: number[], margin: number): number => {
  const i = m.findIndex((x) => x < margin)
  return i < 0 ? m.length : i
}

describe('per type, llama.cpp (node-llama-cpp 3.21.1) on the same file', () => {
  let llamaCpp: LlamaCppModule | undefined
  // The token embedding in the type and every other matrix F32: llama.cpp decodes the embedding rows with its own
  // reference dequantisation (get_rows) and multiplies in fp32. Its other roundings (an F16 KV cache, its attention
  // and norm kernels) keep even an all-F32 file of the organism ~1e-2 from our logits (measured here as the control),
  // so the type's decoding must agree as closely as that: within twice the control's worst difference.
  let control: number | undefined
  for (const t of LOWBIT_TYPES)
    it(`${t} token embedding: logits as close to llama.cpp's as an all-F32 file's, the same greedy ids`, async () => {
      llamaCpp ??= await loadPeer(() => {})
      if (control === undefined) {
        const f32 = join(tmp(), 'organism-f32.gguf')
        quantisedTwins(ORGANISM, pieces(), () => 'F32', f32, tmp())
        control = (await logitsAgainstPeer(llamaCpp, Engine.load(f32), f32)).worst
      }
      const file = join(tmp(), `organism-embed-${t}.gguf`)
      quantisedTwins(ORGANISM, pieces(), (n) => (n === 'model.embed_tokens.weight' ? t : 'F32'), file, tmp())
      const ours = Engine.load(file)
      expect(ours.tensors.find((x) => x.name === 'model.embed_tokens.weight')!.dtype).toBe(t)
      const l = await logitsAgainstPeer(llamaCpp, ours, file)
      console.log(`${t} embedding: ${l.compared} logit differences vs llama.cpp, worst |Δ| ${l.worst.toExponential(2)} (all-F32 control ${control.toExponential(2)})`)
      expect(l.compared).toBeGreaterThan(20)
      expect(l.worst, `${t}: logits vs llama.cpp`).toBeLessThan(2 * control)
      const prompt = ours.withBos(preset.prompt, 'prompt')
      const [a] = await ours.generate({ prompt, views: [[]], maxNew: 48 })
      const theirs = await peerGreedy(llamaCpp, file, prompt, 48, Math.min(2, addon.threads()))
      const n = beforeTie(a.margins, 0.05)
      expect(n, `${t}: comparable tokens`).toBeGreaterThan(16)
      expect(theirs.ids.slice(0, n), `${t}: greedy ids`).toEqual(a.ids.slice(0, n))
    }, 300_000)

  // Every matrix in the type: llama.cpp rounds the activations of these products to 8 bits (its Q8_0/Q8_1/Q8_K
  // vec_dot types) where the engine keeps fp32, so logits differ by up to ~1 on the organism (as they do for the Q8_0,
  // Q4_K and Q6_K files the engine read before); greedy ids agree where our margin exceeds that.
  for (const t of LOWBIT_TYPES)
    it(`${t} in every matrix: the same greedy ids as its dequantised F32 twin and as llama.cpp`, async () => {
      llamaCpp ??= await loadPeer(() => {})
      const file = join(tmp(), `organism-${t}.gguf`)
      const twinDir = tmp()
      quantisedTwins(ORGANISM, pieces(), () => t, file, twinDir)
      const ours = Engine.load(file)
      expect(new Set(ours.tensors.filter((x) => x.shape.length === 2).map((x) => x.dtype))).toEqual(new Set([t]))
      const twin = Engine.load(twinDir)
      const prompt = ours.withBos(preset.prompt, 'prompt')
      const [a] = await ours.generate({ prompt, views: [[]], maxNew: 48 })
      const [b] = await twin.generate({ prompt, views: [[]], maxNew: 48 })
      const n = Math.min(beforeTie(a.margins, 1e-3), beforeTie(b.margins, 1e-3))
      expect(n, `${t}: comparable tokens against the twin`).toBeGreaterThan(8)
      expect(b.ids.slice(0, n), `${t}: twin`).toEqual(a.ids.slice(0, n))
      const theirs = await peerGreedy(llamaCpp, file, prompt, 48, Math.min(2, addon.threads()))
      const np = beforeTie(a.margins, 1)
      const l = await logitsAgainstPeer(llamaCpp, ours, file)
      console.log(`${t}: ${np} greedy ids compared with llama.cpp (margin ≥ 1); logit differences worst ${l.worst.toFixed(3)}, mean ${l.mean.toFixed(3)}`)
      expect(theirs.ids.slice(0, np), `${t}: llama.cpp greedy ids`).toEqual(a.ids.slice(0, np))

      // stepped: the quantised model plus a step, exported as an F32 GGUF (llama.cpp multiplies it in fp32), gives
      // llama.cpp the greedy ids our stepped view gives, up to a margin of 0.05 (its F16 KV cache: ~1e-2 in logits)
      const g = await ours.gradient(preset.phrase)
      const stepped = join(tmp(), `organism-${t}-stepped.gguf`)
      await exportGguf(ours, [{ gradient: g, lr: 0.03 }], stepped, undefined, { dtype: 'F32' })
      const [s] = await ours.generate({ prompt, views: [[{ gradient: g, lr: 0.03 }]], maxNew: 48 })
      const afterStep = await peerGreedy(llamaCpp, stepped, prompt, 48, Math.min(2, addon.threads()))
      const ns = beforeTie(s.margins, 0.05)
      expect(ns, `${t} stepped: comparable tokens`).toBeGreaterThan(8)
      expect(afterStep.ids.slice(0, ns), `${t} stepped: llama.cpp greedy ids`).toEqual(s.ids.slice(0, ns))
    }, 300_000)
})

describe('malformed blocks (docs/bad-inputs.md): computed, and the run refused by the non-finite check', () => {
  // one block of layer 0's down projection with a NaN or infinite fp16 scale (MXFP4: the largest exponent, 2^127,
  // whose ×12 level overflows float32). Every bit pattern of the other fields is a valid block (decoding test above).
  const cases: [LowbitType, string][] = LOWBIT_TYPES.flatMap((t): [LowbitType, string][] =>
    t === 'MXFP4' ? [[t, 'exponent 255']] : [[t, 'NaN scale'], [t, 'inf scale']],
  )
  it.each(cases)('%s with a %s', async (t: LowbitType, what: string) => {
    const file = join(tmp(), `organism-bad-${t}.gguf`)
    quantisedTwins(ORGANISM, pieces(), (n) => (n === 'model.layers.0.mlp.down_proj.weight' ? t : 'F32'), file, tmp())
    const info = readGguf(file).tensors.find((x) => x.name === 'blk.0.ffn_down.weight')!
    expect(info.typeName).toBe(t)
    const b = readFileSync(file)
    if (t === 'MXFP4') b[info.offset] = 255
    else b.writeUInt16LE(what === 'NaN scale' ? 0x7e00 : 0x7c00, info.offset + HALF_FIELDS[t][0])
    writeFileSync(file, b)
    const e = Engine.load(file)
    await expect(e.generate({ prompt: preset.prompt, views: [[]], maxNew: 4 })).rejects.toThrow(
      'the model produced non-finite logits (NaN/inf) at step 1: the weights or the step size overflow float32',
    )
    await expect(e.score({ ids: e.withBos(preset.phrase, 'text'), views: [[]] })).rejects.toThrow(/the model produced non-finite logits \(NaN\/inf\) when scoring view 0/)
    await expect(e.gradient(preset.phrase)).rejects.toThrow(/the phrase loss is not finite/)
  })
})

describe('bits per weight', () => {
  it('`soliloquy info --model F.gguf` counts tensors and weights per type and gives the bits per weight of the file', () => {
    // the organism with a Q4_K_M-like mixture of fallback types (Q5_0 / Q5_1 / Q8_0 where llama.cpp falls back)
    const file = join(tmp(), 'organism-mix.gguf')
    const typeOf = (n: string): 'F32' | 'Q5_0' | 'Q5_1' | 'IQ4_NL' | 'Q3_K' =>
      /down_proj/.test(n) ? 'Q5_1' : /v_proj/.test(n) ? 'Q3_K' : /embed|lm_head/.test(n) ? 'IQ4_NL' : 'Q5_0'
    quantisedTwins(ORGANISM, pieces(), typeOf, file, tmp())
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'soliloquy.js'), 'info', '--model', file, '--json'], { encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(0)
    const j = JSON.parse(r.stdout) as { types: { type: string; tensors: number; weights: number; bytes: number; bitsPerWeight: number }[]; weights: number; bytes: number; bitsPerWeight: number }
    // expected from the organism's shapes and ggml's block sizes, counted here
    const w = readWeights(ORGANISM)
    const want = new Map<string, { tensors: number; weights: number; bytes: number }>()
    const blockOf: Record<string, [number, number]> = { F32: [1, 4], Q5_0: [32, 22], Q5_1: [32, 24], IQ4_NL: [32, 18], Q3_K: [256, 110] }
    for (const [name, { shape }] of w) {
      const t = shape.length === 1 ? 'F32' : typeOf(name)
      const n = shape.reduce((a, b) => a * b, 1)
      const e = want.get(t) ?? { tensors: 0, weights: 0, bytes: 0 }
      want.set(t, { tensors: e.tensors + 1, weights: e.weights + n, bytes: e.bytes + (n / blockOf[t][0]) * blockOf[t][1] })
    }
    expect(new Map(j.types.map((t) => [t.type, { tensors: t.tensors, weights: t.weights, bytes: t.bytes }]))).toEqual(want)
    for (const t of j.types) expect(t.bitsPerWeight, t.type).toBe((blockOf[t.type][1] * 8) / blockOf[t.type][0])
    const weights = [...want.values()].reduce((a, e) => a + e.weights, 0), bytes = [...want.values()].reduce((a, e) => a + e.bytes, 0)
    expect(j.bitsPerWeight).toBeCloseTo((bytes * 8) / weights, 12)
    const text = spawnSync(process.execPath, [join(ROOT, 'bin', 'soliloquy.js'), 'info', '--model', file], { encoding: 'utf8' })
    expect(text.stdout).toMatch(new RegExp(`weights\\s+${weights} in ${bytes} bytes: ${((bytes * 8) / weights).toFixed(4)} bits per weight`))
    expect(text.stdout).toMatch(/Q3_K\s+6 tensors\s+\d+ weights\s+3\.4375 bits\/weight/)
  })
})
