// llama.cpp's Q4_K_M, Q3_K_M and Q5_K_M mixtures, written by GGUF export (`--dtype Q4_K_M` …,
// src/main/engine/export/ggufMixtures.ts) and read back, on the shapes of two real small models whose widths are not
// multiples of 256 — so the file holds the fallback types where llama.cpp's quantiser puts them, as the files people
// download do:
// - Qwen2.5-0.5B's widths (hidden 896, ffn 4864, 14 heads of 64, 2 KV heads, q/k/v biases, tied embedding; qwen2
//   architecture) and SmolLM2-135M's (hidden 576, ffn 1536, 9 heads of 64, 3 KV heads, tied; llama architecture),
//   with fewer layers and random weights;
// - each matrix in the type llama.cpp's rules give it (written out below per shape and mixture as facts: the token
//   embedding serving as output in Q8_0; Q4_K_M / Q5_K_M: attn_v / ffn_down Q6_K in the "more bits" layers;
//   Q3_K_M: attn_v Q5_K in the first two layers and Q4_K after, attn_output and ffn_down Q4_K; Q3_K → Q4_0,
//   Q4_K → Q5_0, Q5_K → Q5_1 and Q6_K → Q8_0 where rows are not whole blocks of 256), its rows the reference
//   quantiser's bytes (tools/bench/kquants.ts);
// - the file re-opens in our engine with the greedy ids and logits of its dequantised F32 twin, and in llama.cpp
//   (node-llama-cpp 3.21.1) with the same greedy ids, base and stepped (the stepped view exported in the same
//   mixture) — compared while our top-1/top-2 margin is ≥ 1 (llama.cpp rounds activations to 8 bits); where the
//   two part, the agreeing prefix and our margin there are printed.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Engine } from '../src/main/engine/engine'
import { GgufMixture, mixtureMatrixType } from '../src/main/engine/export/ggufMixtures'
import { exportGguf } from '../src/main/engine/export/gguf'
import { readGguf } from '../src/main/engine/formats/gguf/read'
import { loadAddon } from '../src/main/engine/native'
import { quantiseQ3KRef, quantiseQ4_0Ref, quantiseQ4KRef, quantiseQ5_0Ref, quantiseQ5_1Ref, quantiseQ5KRef, quantiseQ6KRef } from '../tools/bench/kquants'
import { LlamaCppModule, loadPeer, peerGreedy } from '../tools/bench/peer'
import { TinyConfig, tmp, writeTinyModel } from './helpers'

const addon = loadAddon()
const BLOCK: Record<string, [number, number]> = {
  F32: [1, 4], Q8_0: [32, 34], Q4_0: [32, 18], Q5_0: [32, 22], Q5_1: [32, 24], Q3_K: [256, 110], Q4_K: [256, 144], Q5_K: [256, 176], Q6_K: [256, 210],
}
const REF: Record<string, (x: Float32Array, o: number, n: number, out: Uint8Array, at: number) => void> = {
  Q4_0: quantiseQ4_0Ref, Q5_0: quantiseQ5_0Ref, Q5_1: quantiseQ5_1Ref, Q3_K: quantiseQ3KRef, Q4_K: quantiseQ4KRef, Q5_K: quantiseQ5KRef, Q6_K: quantiseQ6KRef,
}

/** greedy positions before the first near-tie (top-1/top-2 margin below `margin`) */
const beforeTie = (m: number[], margin: number): number => {
  const i = m.findIndex((x) => x < margin)
  return i < 0 ? m.length : i
}

/** The 256/32-weight rows of `x` in `t` as ggml's reference quantiser writes them (Q8_0 through the engine's own
 *  quantiser, which test/engine-gguf-export-quant.test.ts holds to an independent port). */
function reference(t: string, x: Float32Array): Uint8Array {
  const out = new Uint8Array((x.length / BLOCK[t][0]) * BLOCK[t][1])
  if (!REF[t]) return addon.quantise(t, x)
  REF[t](x, 0, x.length, out, 0)
  return out
}

/** the type of each matrix kind as llama.cpp writes it for a shape's widths: one type, or one per layer */
type Types = Record<string, string | string[]>

interface Shape {
  label: string
  config: TinyConfig
  /** per mixture, the type of each matrix kind */
  types: Partial<Record<GgufMixture, Types>>
}

/** per-layer types from the layers that differ: `more` in the listed layers, `plain` in the others */
const perLayer = (layers: number, listed: number[], more: string, plain: string): string[] =>
  Array.from({ length: layers }, (_, i) => (listed.includes(i) ? more : plain))

const SHAPES: Shape[] = [
  {
    label: 'Qwen2.5-0.5B-shaped (896 / 4864, qwen2)',
    config: {
      dim: 896, ffn: 4864, layers: 2, heads: 14, kvHeads: 2, headDim: 64, tied: true, seed: 896, biases: { qkv: true }, ropeTheta: 1000000,
      configExtra: { model_type: 'qwen2', architectures: ['Qwen2ForCausalLM'], rms_norm_eps: 1e-6 },
    },
    // more bits (use_more_bits, 2 layers): the first eighth is empty (2/8 = 0), the last from 7·2/8 = 1; rows of 896
    // are not whole blocks of 256 (the K types fall back), rows of 4864 (ffn_down) are
    types: {
      Q4_K_M: {
        attn_q: 'Q5_0', attn_k: 'Q5_0', attn_v: ['Q5_0', 'Q8_0'], attn_output: 'Q5_0',
        ffn_gate: 'Q5_0', ffn_up: 'Q5_0', ffn_down: ['Q4_K', 'Q6_K'], token_embd: 'Q8_0',
      },
      // attn_v Q5_K in layers 0 and 1 (→ Q5_1), attn_output Q4_K (→ Q5_0), ffn_down Q4_K (the first 2/16 = 0 layers
      // would have Q5_K), the rest Q3_K (→ Q4_0)
      Q3_K_M: {
        attn_q: 'Q4_0', attn_k: 'Q4_0', attn_v: ['Q5_1', 'Q5_1'], attn_output: 'Q5_0',
        ffn_gate: 'Q4_0', ffn_up: 'Q4_0', ffn_down: 'Q4_K', token_embd: 'Q8_0',
      },
      Q5_K_M: {
        attn_q: 'Q5_1', attn_k: 'Q5_1', attn_v: ['Q5_1', 'Q8_0'], attn_output: 'Q5_1',
        ffn_gate: 'Q5_1', ffn_up: 'Q5_1', ffn_down: ['Q5_K', 'Q6_K'], token_embd: 'Q8_0',
      },
    },
  },
  {
    label: 'SmolLM2-135M-shaped (576 / 1536, llama)',
    config: { dim: 576, ffn: 1536, layers: 9, heads: 9, kvHeads: 3, headDim: 64, tied: true, seed: 576, ropeTheta: 100000 },
    // more bits (9 layers): the first (9/8 = 1), the last two (from 63/8 = 7), and every third between:
    // (i − 1) % 3 = 2 — layers 0, 3, 6, 7, 8; rows of 576 fall back, rows of 1536 (ffn_down) are whole blocks
    types: {
      Q4_K_M: {
        attn_q: 'Q5_0', attn_k: 'Q5_0', attn_v: perLayer(9, [0, 3, 6, 7, 8], 'Q8_0', 'Q5_0'), attn_output: 'Q5_0',
        ffn_gate: 'Q5_0', ffn_up: 'Q5_0', ffn_down: perLayer(9, [0, 3, 6, 7, 8], 'Q6_K', 'Q4_K'), token_embd: 'Q8_0',
      },
      Q3_K_M: {
        attn_q: 'Q4_0', attn_k: 'Q4_0', attn_v: perLayer(9, [0, 1], 'Q5_1', 'Q5_0'), attn_output: 'Q5_0',
        ffn_gate: 'Q4_0', ffn_up: 'Q4_0', ffn_down: 'Q4_K', token_embd: 'Q8_0',
      },
      Q5_K_M: {
        attn_q: 'Q5_1', attn_k: 'Q5_1', attn_v: perLayer(9, [0, 3, 6, 7, 8], 'Q8_0', 'Q5_1'), attn_output: 'Q5_1',
        ffn_gate: 'Q5_1', ffn_up: 'Q5_1', ffn_down: perLayer(9, [0, 3, 6, 7, 8], 'Q6_K', 'Q5_K'), token_embd: 'Q8_0',
      },
    },
  },
]

describe("llama.cpp's Q4_K_M rules", () => {
  it('on the TinyLlama-1.1B shape (22 layers, rows of 2048 and 5632: no fallback, output untied)', () => {
    // more bits: layers below 22/8 = 2, from 7·22/8 = 19, and (i − 2) % 3 = 2
    const more = [0, 1, 4, 7, 10, 13, 16, 19, 20, 21]
    for (let i = 0; i < 22; i++) {
      expect(mixtureMatrixType('Q4_K_M', `blk.${i}.attn_v.weight`, 2048, 22, true).type, `layer ${i}`).toBe(more.includes(i) ? 'Q6_K' : 'Q4_K')
      expect(mixtureMatrixType('Q4_K_M', `blk.${i}.ffn_down.weight`, 5632, 22, true).type, `layer ${i}`).toBe(more.includes(i) ? 'Q6_K' : 'Q4_K')
      expect(mixtureMatrixType('Q4_K_M', `blk.${i}.attn_q.weight`, 2048, 22, true).type).toBe('Q4_K')
    }
    expect(mixtureMatrixType('Q4_K_M', 'output.weight', 2048, 22, true).type).toBe('Q6_K')
    expect(mixtureMatrixType('Q4_K_M', 'token_embd.weight', 2048, 22, true).type).toBe('Q4_K')
    // tied: the embedding is the output
    expect(mixtureMatrixType('Q4_K_M', 'token_embd.weight', 2048, 22, false).type).toBe('Q6_K')
    // rows of 48: no block of 32 either
    expect(mixtureMatrixType('Q4_K_M', 'blk.3.attn_q.weight', 48, 22, true)).toEqual({ chosen: 'Q4_K', type: 'F16' })
  })
})

describe("llama.cpp's Q3_K_S/M/L and Q5_K_S/M rules", () => {
  const type = (mix: GgufMixture, name: string, cols = 2048, layers = 22, hasOutput = true): string =>
    mixtureMatrixType(mix, name, cols, layers, hasOutput).type
  it('on the TinyLlama-1.1B shape (22 layers)', () => {
    const more = [0, 1, 4, 7, 10, 13, 16, 19, 20, 21]
    for (let i = 0; i < 22; i++) {
      // Q3_K_M: attn_v Q5_K in the first two attn_v tensors, Q4_K after; ffn_down Q5_K below 22/16 = 1, Q4_K after
      expect(type('Q3_K_M', `blk.${i}.attn_v.weight`), `layer ${i}`).toBe(i < 2 ? 'Q5_K' : 'Q4_K')
      expect(type('Q3_K_M', `blk.${i}.ffn_down.weight`, 5632), `layer ${i}`).toBe(i < 1 ? 'Q5_K' : 'Q4_K')
      expect(type('Q3_K_M', `blk.${i}.attn_output.weight`)).toBe('Q4_K')
      for (const k of ['attn_q', 'attn_k', 'ffn_gate', 'ffn_up']) expect(type('Q3_K_M', `blk.${i}.${k}.weight`)).toBe('Q3_K')
      // Q3_K_L: attn_v, ffn_down and attn_output Q5_K; Q3_K_S: Q3_K throughout
      for (const k of ['attn_v', 'ffn_down', 'attn_output']) expect(type('Q3_K_L', `blk.${i}.${k}.weight`)).toBe('Q5_K')
      for (const k of ['attn_v', 'ffn_down', 'attn_output', 'attn_q']) expect(type('Q3_K_S', `blk.${i}.${k}.weight`)).toBe('Q3_K')
      // Q5_K_M: Q6_K for attn_v and ffn_down in the more-bits layers; Q5_K_S: Q5_K throughout
      expect(type('Q5_K_M', `blk.${i}.attn_v.weight`), `layer ${i}`).toBe(more.includes(i) ? 'Q6_K' : 'Q5_K')
      expect(type('Q5_K_M', `blk.${i}.ffn_down.weight`, 5632), `layer ${i}`).toBe(more.includes(i) ? 'Q6_K' : 'Q5_K')
      for (const k of ['attn_output', 'attn_q', 'ffn_up']) expect(type('Q5_K_M', `blk.${i}.${k}.weight`)).toBe('Q5_K')
      for (const k of ['attn_v', 'ffn_down']) expect(type('Q5_K_S', `blk.${i}.${k}.weight`)).toBe('Q5_K')
    }
    for (const mix of ['Q3_K_S', 'Q3_K_M', 'Q3_K_L', 'Q5_K_S', 'Q5_K_M'] as const) {
      expect(type(mix, 'output.weight')).toBe('Q6_K')
      expect(type(mix, 'token_embd.weight', 2048, 22, false), `${mix}: tied`).toBe('Q6_K')
      expect(type(mix, 'token_embd.weight')).toBe(mix.startsWith('Q3') ? 'Q3_K' : 'Q5_K')
      // an output whose rows are not whole blocks of 256: Q8_0
      expect(type(mix, 'output.weight', 896)).toBe('Q8_0')
    }
    // a longer model: Q3_K_M's ffn_down Q5_K below 48/16 = 3
    expect([0, 1, 2, 3].map((i) => type('Q3_K_M', `blk.${i}.ffn_down.weight`, 5632, 48))).toEqual(['Q5_K', 'Q5_K', 'Q5_K', 'Q4_K'])
  })
  it('fallbacks: Q3_K → Q4_0, Q5_K → Q5_1, then F16', () => {
    expect(mixtureMatrixType('Q3_K_M', 'blk.5.attn_q.weight', 896, 22, true)).toEqual({ chosen: 'Q3_K', type: 'Q4_0' })
    expect(mixtureMatrixType('Q3_K_M', 'blk.0.attn_v.weight', 896, 22, true)).toEqual({ chosen: 'Q5_K', type: 'Q5_1' })
    expect(mixtureMatrixType('Q5_K_S', 'blk.5.attn_q.weight', 576, 22, true)).toEqual({ chosen: 'Q5_K', type: 'Q5_1' })
    expect(mixtureMatrixType('Q5_K_S', 'blk.5.attn_q.weight', 48, 22, true)).toEqual({ chosen: 'Q5_K', type: 'F16' })
  })
  it("the rules that read the model: a fused attn_qkv counts as attn_v, 8 experts, a 70B, the router", () => {
    // phi3's attn_qkv is one of llama.cpp's attn_v-like tensors
    expect(mixtureMatrixType('Q4_K_M', 'blk.0.attn_qkv.weight', 3072, 32, true).type).toBe('Q6_K')
    expect(mixtureMatrixType('Q4_K_M', 'blk.5.attn_qkv.weight', 3072, 32, true).type).toBe('Q4_K')
    expect(mixtureMatrixType('Q3_K_M', 'blk.1.attn_qkv.weight', 3072, 32, true).type).toBe('Q5_K')
    // Mixtral-like (8 experts): attn_v and attn_k Q8_0, attn_output Q5_K for Q3_K_S / Q3_K_M / Q4_K_M only
    const moe = { arch: 'llama', experts: 8, heads: 32, kvHeads: 8 }
    for (const mix of ['Q3_K_M', 'Q4_K_M', 'Q5_K_M'] as const) {
      expect(mixtureMatrixType(mix, 'blk.3.attn_v.weight', 4096, 32, true, moe).type).toBe('Q8_0')
      expect(mixtureMatrixType(mix, 'blk.3.attn_k.weight', 4096, 32, true, moe).type).toBe('Q8_0')
    }
    expect(mixtureMatrixType('Q3_K_M', 'blk.3.attn_output.weight', 4096, 32, true, moe).type).toBe('Q5_K')
    expect(mixtureMatrixType('Q4_K_M', 'blk.3.attn_output.weight', 4096, 32, true, moe).type).toBe('Q5_K')
    expect(mixtureMatrixType('Q3_K_L', 'blk.3.attn_output.weight', 4096, 32, true, moe).type).toBe('Q3_K')
    expect(mixtureMatrixType('Q5_K_M', 'blk.3.attn_output.weight', 4096, 32, true, moe).type).toBe('Q5_K')
    expect(mixtureMatrixType('Q3_K_M', 'blk.3.ffn_down_exps.weight', 14336, 32, true, moe).type).toBe('Q4_K')
    expect(mixtureMatrixType('Q4_K_M', 'blk.3.ffn_gate_inp.weight', 4096, 32, true, moe).type).toBe('F32')
    // llama.cpp's 70B (llama, 80 layers, grouped KV heads): attn_v Q3_K / Q4_K → Q5_K
    const l70 = { arch: 'llama', experts: 1, heads: 64, kvHeads: 8 }
    expect(mixtureMatrixType('Q3_K_M', 'blk.10.attn_v.weight', 8192, 80, true, l70).type).toBe('Q5_K')
    expect(mixtureMatrixType('Q3_K_S', 'blk.10.attn_v.weight', 8192, 80, true, l70).type).toBe('Q5_K')
    expect(mixtureMatrixType('Q4_K_M', 'blk.10.attn_v.weight', 8192, 80, true, l70).type).toBe('Q5_K')
    expect(mixtureMatrixType('Q5_K_M', 'blk.10.attn_v.weight', 8192, 80, true, l70).type).toBe('Q5_K')
    expect(mixtureMatrixType('Q3_K_M', 'blk.10.attn_v.weight', 8192, 80, true, { ...l70, kvHeads: 64 }).type).toBe('Q4_K') // 65B
    expect(mixtureMatrixType('Q3_K_M', 'blk.10.attn_v.weight', 8192, 80, true, { arch: 'qwen2', heads: 64, kvHeads: 8 }).type).toBe('Q5_K')
  })
})

/** the index of the first differing id, or the shorter length */
const firstDifference = (a: number[], b: number[]): number => {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i
  return n
}

/** our engine on `file` and on its dequantised F32 twin (`f32File`: the same model exported as F32, each matrix
 *  replaced by the decoded bytes of the quantised file): the worst logit difference and the comparable greedy ids */
async function againstTwin(file: string, f32File: string, prompt: number[], dir: string): Promise<{ worst: number; same: number }> {
  const q = readGguf(file), f = readGguf(f32File)
  const qb = readFileSync(file), twin = Buffer.from(readFileSync(f32File))
  for (let i = 0; i < q.tensors.length; i++) {
    const a = q.tensors[i], b = f.tensors[i]
    if (a.typeName === 'F32') continue
    const n = a.dims.reduce((x, y) => x * y, 1)
    const bytes = new Uint8Array(qb.buffer, qb.byteOffset + a.offset, (n / BLOCK[a.typeName][0]) * BLOCK[a.typeName][1])
    Buffer.from(addon.dequantise(a.typeName, bytes, n).buffer).copy(twin, b.offset)
  }
  const twinFile = join(dir, 'twin.gguf')
  writeFileSync(twinFile, twin)
  const ours = Engine.load(file), dense = Engine.load(twinFile)
  const [a] = await ours.score({ ids: prompt, views: [[]], fullAt: prompt.map((_, i) => i) })
  const [b] = await dense.score({ ids: prompt, views: [[]], fullAt: prompt.map((_, i) => i) })
  let worst = 0
  for (let i = 0; i < prompt.length; i++) for (let v = 0; v < a.full[i].length; v++) worst = Math.max(worst, Math.abs(a.full[i][v] - b.full[i][v]))
  const [ga] = await ours.generate({ prompt, views: [[]], maxNew: 32 })
  const [gb] = await dense.generate({ prompt, views: [[]], maxNew: 32 })
  const same = Math.min(beforeTie(ga.margins, 1e-3), beforeTie(gb.margins, 1e-3))
  expect(gb.ids.slice(0, same), `${file}: greedy ids against the dequantised F32 twin`).toEqual(ga.ids.slice(0, same))
  return { worst, same }
}

const MIXTURES: GgufMixture[] = ['Q4_K_M', 'Q3_K_M', 'Q5_K_M']
const FILE_TYPE: Partial<Record<GgufMixture, number>> = { Q3_K_M: 12, Q4_K_M: 15, Q5_K_M: 17 } // LLAMA_FTYPE_MOSTLY_*

describe("mixture exports of real small models' shapes: llama.cpp's types, the reference bytes, llama.cpp's greedy ids", () => {
  let llamaCpp: LlamaCppModule | undefined
  for (const s of SHAPES)
    for (const mix of MIXTURES)
      it(`${mix}, ${s.label}`, async () => {
        const types = s.types[mix]!
        const engine = Engine.load(writeTinyModel(tmp(), s.config))
        const dir = tmp()
        const qFile = join(dir, `base-${mix}.gguf`), fFile = join(dir, 'base-F32.gguf')
        const r = await exportGguf(engine, [], qFile, undefined, { dtype: mix })
        await exportGguf(engine, [], fFile, undefined, { dtype: 'F32' })
        const q = readGguf(qFile), f = readGguf(fFile)
        expect(q.kv.get('general.file_type')).toBe(FILE_TYPE[mix])
        const qb = readFileSync(qFile), fb = readFileSync(fFile)
        const seen = new Set<string>(), want = new Set<string>()
        for (const t of Object.values(types)) for (const x of [t].flat()) want.add(x)
        const fellBack: string[] = []
        for (let i = 0; i < q.tensors.length; i++) {
          const a = q.tensors[i], b = f.tensors[i]
          expect(a.name).toBe(b.name)
          if (a.dims.length === 1) {
            expect(a.typeName, a.name).toBe('F32')
            continue
          }
          const m = /^(?:blk\.(\d+)\.)?(\w+)\.weight$/.exec(a.name)!
          const t = types[m[2]]
          const expected = typeof t === 'string' ? t : t[Number(m[1])]
          expect(a.typeName, a.name).toBe(expected)
          seen.add(a.typeName)
          if (['Q4_0', 'Q5_0', 'Q5_1'].includes(a.typeName)) fellBack.push(a.name)
          // the first two rows: the reference quantiser's bytes of the F32 export's rows
          const cols = a.dims[0]
          const x = new Float32Array(fb.buffer.slice(fb.byteOffset + b.offset, fb.byteOffset + b.offset + 2 * cols * 4))
          const got = new Uint8Array(qb.buffer, qb.byteOffset + a.offset, ((2 * cols) / BLOCK[expected][0]) * BLOCK[expected][1])
          expect(Buffer.from(got).equals(Buffer.from(reference(expected, x))), `${a.name}: the reference quantiser's bytes`).toBe(true)
        }
        expect([...seen].sort()).toEqual([...want].sort())
        // the notes name the fallbacks: every matrix written in a 32-block type other than what was asked
        for (const name of fellBack) expect(r.notes.join('\n'), name).toContain(`${name} (rows of`)
        expect(r.notes.join('\n')).toMatch(/as llama\.cpp's quantiser falls back/)

        llamaCpp ??= await loadPeer(() => {})
        const threads = Math.min(2, addon.threads())
        const ours = Engine.load(qFile)
        const prompt = ours.withBos('To be, or not to be', 'prompt')
        // our engine: the file computes what its dequantised weights compute
        const twin = await againstTwin(qFile, fFile, prompt, dir)
        expect(twin.worst, 'logits against the dequantised F32 twin').toBeLessThan(1e-3)
        expect(twin.same, 'comparable tokens against the twin').toBeGreaterThan(8)

        const compare = async (file: string, what: string): Promise<string> => {
          const [o] = await Engine.load(file).generate({ prompt, views: [[]], maxNew: 32 })
          const theirs = await peerGreedy(llamaCpp!, file, prompt, 32, threads)
          // llama.cpp rounds the activations of its quantised products to 8 bits: ids compared while our margin is ≥ 1
          const n = beforeTie(o.margins, 1)
          const agree = firstDifference(o.ids, theirs.ids)
          expect(n, `${what}: comparable tokens`).toBeGreaterThan(8)
          expect(theirs.ids.slice(0, n), `${what}: llama.cpp greedy ids`).toEqual(o.ids.slice(0, n))
          return `${what}: ${n} ids compared (margin ≥ 1), agreeing prefix ${agree} of 32` +
            (agree < 32 ? ` (our margin where they part: ${o.margins[agree].toFixed(3)})` : '')
        }
        const base = await compare(qFile, 'base')

        // stepped on the quantised model, exported in the same mixture, re-opened by both
        const g = await ours.gradient('To be, or not to be, that is the question')
        const sFile = join(dir, `stepped-${mix}.gguf`)
        await exportGguf(ours, [{ gradient: g, lr: 0.01 }], sFile, undefined, { dtype: mix })
        const stepped = await compare(sFile, 'stepped')
        console.log(`${mix}, ${s.label}: ${(qb.length / 1e6).toFixed(1)} MB (F32 ${(fb.length / 1e6).toFixed(1)} MB); logits vs twin ${twin.worst.toExponential(2)}; ${base}; ${stepped}`)
      }, 300_000)
})
