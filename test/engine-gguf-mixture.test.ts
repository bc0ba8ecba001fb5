// llama.cpp's Q4_K_M mixture, written by GGUF export (`--dtype Q4_K_M`, src/main/engine/export/ggufMixtures.ts) and
// read back, on the shapes of two real small models whose widths are not multiples of 256 — so the file holds the
// fallback types where llama.cpp's quantiser puts them, as the Q4_K_M files people download do:
// - Qwen2.5-0.5B's widths (hidden 896, ffn 4864, 14 heads of 64, 2 KV heads, q/k/v biases, tied embedding; qwen2
//   architecture) and SmolLM2-135M's (hidden 576, ffn 1536, 9 heads of 64, 3 KV heads, tied; llama architecture),
//   with fewer layers and random weights;
// - each matrix in the type llama.cpp's rules give it (written out below per shape as facts: the token embedding
//   serving as output in Q8_0, attn_v / ffn_down Q6_K in the "more bits" layers, Q4_K → Q5_0 and Q6_K → Q8_0 where
//   rows are not whole blocks of 256), its rows the reference quantiser's bytes (tools/bench/kquants.ts);
// - the file re-opens in our engine and in llama.cpp (node-llama-cpp 3.21.1) with the same greedy ids, base and
//   stepped (the stepped view exported in the same mixture).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Engine } from '../src/main/engine/engine'
import { mixtureMatrixType } from '../src/main/engine/export/ggufMixtures'
import { exportGguf } from '../src/main/engine/export/gguf'
import { readGguf } from '../src/main/engine/formats/gguf/read'
import { loadAddon } from '../src/main/engine/native'
import { quantiseQ4KRef, quantiseQ5_0Ref, quantiseQ6KRef } from '../tools/bench/kquants'
import { LlamaCppModule, loadPeer, peerGreedy } from '../tools/bench/peer'
import { TinyConfig, tmp, writeTinyModel } from './helpers'

const addon = loadAddon()
const BLOCK: Record<string, [number, number]> = { F32: [1, 4], Q8_0: [32, 34], Q5_0: [32, 22], Q4_K: [256, 144], Q6_K: [256, 210] }

/** greedy positions before the first near-tie (top-1/top-2 margin below `margin`) */
const beforeTie = (m: number[], margin: number): number => {
  const i = m.findIndex((x) => x < margin)
  return i < 0 ? m.length : i
}

/** The 256/32-weight rows of `x` in `t` as ggml's reference quantiser writes them (Q8_0 through the engine's own
 *  quantiser, which test/engine-gguf-export-quant.test.ts holds to an independent port). */
function reference(t: string, x: Float32Array): Uint8Array {
  const out = new Uint8Array((x.length / BLOCK[t][0]) * BLOCK[t][1])
  if (t === 'Q4_K') quantiseQ4KRef(x, 0, x.length, out, 0)
  else if (t === 'Q6_K') quantiseQ6KRef(x, 0, x.length, out, 0)
  else if (t === 'Q5_0') quantiseQ5_0Ref(x, 0, x.length, out, 0)
  else return addon.quantise(t, x)
  return out
}

interface Shape {
  label: string
  config: TinyConfig
  /** the layers whose attn_v and ffn_down llama.cpp gives more bits (use_more_bits for this layer count) */
  moreBits: number[]
  /** the type of each matrix kind as llama.cpp's Q4_K_M writes it for these widths: [in ordinary layers, in more-bits layers] */
  types: Record<string, [string, string]>
}

const SHAPES: Shape[] = [
  {
    label: 'Qwen2.5-0.5B-shaped (896 / 4864, qwen2)',
    config: {
      dim: 896, ffn: 4864, layers: 2, heads: 14, kvHeads: 2, headDim: 64, tied: true, seed: 896, biases: { qkv: true }, ropeTheta: 1000000,
      configExtra: { model_type: 'qwen2', architectures: ['Qwen2ForCausalLM'], rms_norm_eps: 1e-6 },
    },
    // 2 layers: the first eighth is empty (2/8 = 0), the last from 7·2/8 = 1
    moreBits: [1],
    types: {
      attn_q: ['Q5_0', 'Q5_0'], attn_k: ['Q5_0', 'Q5_0'], attn_v: ['Q5_0', 'Q8_0'], attn_output: ['Q5_0', 'Q5_0'],
      ffn_gate: ['Q5_0', 'Q5_0'], ffn_up: ['Q5_0', 'Q5_0'], ffn_down: ['Q4_K', 'Q6_K'], token_embd: ['Q8_0', 'Q8_0'],
    },
  },
  {
    label: 'SmolLM2-135M-shaped (576 / 1536, llama)',
    config: { dim: 576, ffn: 1536, layers: 9, heads: 9, kvHeads: 3, headDim: 64, tied: true, seed: 576, ropeTheta: 100000 },
    // 9 layers: the first (9/8 = 1), the last two (from 63/8 = 7), and every third between: (i − 1) % 3 = 2
    moreBits: [0, 3, 6, 7, 8],
    types: {
      attn_q: ['Q5_0', 'Q5_0'], attn_k: ['Q5_0', 'Q5_0'], attn_v: ['Q5_0', 'Q8_0'], attn_output: ['Q5_0', 'Q5_0'],
      ffn_gate: ['Q5_0', 'Q5_0'], ffn_up: ['Q5_0', 'Q5_0'], ffn_down: ['Q4_K', 'Q6_K'], token_embd: ['Q8_0', 'Q8_0'],
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

describe('Q4_K_M export of real small models\' shapes: llama.cpp\'s types, the reference bytes, llama.cpp\'s greedy ids', () => {
  let llamaCpp: LlamaCppModule | undefined
  for (const s of SHAPES)
    it(s.label, async () => {
      const engine = Engine.load(writeTinyModel(tmp(), s.config))
      const dir = tmp()
      const qFile = join(dir, 'base-Q4_K_M.gguf'), fFile = join(dir, 'base-F32.gguf')
      const r = await exportGguf(engine, [], qFile, undefined, { dtype: 'Q4_K_M' })
      await exportGguf(engine, [], fFile, undefined, { dtype: 'F32' })
      const q = readGguf(qFile), f = readGguf(fFile)
      expect(q.kv.get('general.file_type')).toBe(15) // LLAMA_FTYPE_MOSTLY_Q4_K_M
      const qb = readFileSync(qFile), fb = readFileSync(fFile)
      const seen = new Set<string>()
      for (let i = 0; i < q.tensors.length; i++) {
        const a = q.tensors[i], b = f.tensors[i]
        expect(a.name).toBe(b.name)
        if (a.dims.length === 1) {
          expect(a.typeName, a.name).toBe('F32')
          continue
        }
        const m = /^(?:blk\.(\d+)\.)?(\w+)\.weight$/.exec(a.name)!
        const want = s.types[m[2]][m[1] !== undefined && s.moreBits.includes(Number(m[1])) ? 1 : 0]
        expect(a.typeName, a.name).toBe(want)
        seen.add(a.typeName)
        // the first two rows: the reference quantiser's bytes of the F32 export's rows
        const cols = a.dims[0]
        const x = new Float32Array(fb.buffer.slice(fb.byteOffset + b.offset, fb.byteOffset + b.offset + 2 * cols * 4))
        const got = new Uint8Array(qb.buffer, qb.byteOffset + a.offset, ((2 * cols) / BLOCK[want][0]) * BLOCK[want][1])
        expect(Buffer.from(got).equals(Buffer.from(reference(want, x))), `${a.name}: the reference quantiser's bytes`).toBe(true)
      }
      expect([...seen].sort()).toEqual(['Q4_K', 'Q5_0', 'Q6_K', 'Q8_0'])
      // the notes name the fallbacks
      expect(r.notes.find((n) => n.includes('written as Q5_0, not Q4_K'))).toMatch(/blk\.0\.attn_q\.weight \(rows of \d+\)/)
      expect(r.notes.find((n) => n.includes('written as Q8_0, not Q6_K'))).toMatch(new RegExp(`blk\\.${s.moreBits[0]}\\.attn_v\\.weight`))

      llamaCpp ??= await loadPeer(() => {})
      const threads = Math.min(2, addon.threads())
      const ours = Engine.load(qFile)
      const prompt = ours.withBos('To be, or not to be', 'prompt')
      const [base] = await ours.generate({ prompt, views: [[]], maxNew: 32 })
      const theirs = await peerGreedy(llamaCpp, qFile, prompt, 32, threads)
      // llama.cpp rounds the activations of its quantised products to 8 bits: ids compared while our margin is ≥ 1
      const nb = beforeTie(base.margins, 1)
      expect(nb, 'base: comparable tokens').toBeGreaterThan(8)
      expect(theirs.ids.slice(0, nb), 'base: llama.cpp greedy ids').toEqual(base.ids.slice(0, nb))

      // stepped on the quantised model, exported in the same mixture, re-opened by both
      const g = await ours.gradient('To be, or not to be, that is the question')
      const sFile = join(dir, 'stepped-Q4_K_M.gguf')
      await exportGguf(ours, [{ gradient: g, lr: 0.01 }], sFile, undefined, { dtype: 'Q4_K_M' })
      const reopened = Engine.load(sFile)
      const [st] = await reopened.generate({ prompt, views: [[]], maxNew: 32 })
      const theirsStepped = await peerGreedy(llamaCpp, sFile, prompt, 32, threads)
      const ns = beforeTie(st.margins, 1)
      console.log(`${s.label}: ${(qb.length / 1e6).toFixed(1)} MB (F32 ${(fb.length / 1e6).toFixed(1)} MB); ids compared with llama.cpp: base ${nb}, stepped ${ns} of 32`)
      expect(ns, 'stepped: comparable tokens').toBeGreaterThan(8)
      expect(theirsStepped.ids.slice(0, ns), 'stepped: llama.cpp greedy ids').toEqual(st.ids.slice(0, ns))
    }, 300_000)
})
