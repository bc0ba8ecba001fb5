// Qwen3 and Granite through GGUF (llama.cpp's "qwen3" and "granite" architectures): the same tiny weights, base and
// stepped, exported by our GGUF writer, give llama.cpp's greedy ids (node-llama-cpp, installed on demand as the
// benchmark does) and our engine's ids on the HF directory; the file re-opens in our engine as the same model (ids and
// per-token log-likelihoods), and a GGUF model exports back to an HF directory that is again that model.
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { Engine, View } from '../src/main/engine/engine'
import { exportGguf } from '../src/main/engine/export/gguf'
import { readGguf } from '../src/main/engine/formats/gguf/read'
import { loadAddon } from '../src/main/engine/native'
import { LlamaCppModule, loadPeer, peerGreedy } from '../tools/bench/peer'
import { TinyConfig, tmp, writeTinyModel } from './helpers'
import { exportHF } from '../src/main/engine/export/hf'

const PHRASE = 'To be, or not to be, that is the question'
const PROMPT = 'To be'
const N = 32

const FAMILIES: { arch: string; config: TinyConfig; keys: string[] }[] = [
  {
    arch: 'qwen3',
    config: {
      dim: 64, ffn: 128, layers: 2, heads: 4, kvHeads: 2, headDim: 32, tied: true, seed: 61, ropeTheta: 1000000, qkNorm: true,
      configExtra: { model_type: 'qwen3', architectures: ['Qwen3ForCausalLM'], head_dim: 32, rms_norm_eps: 1e-6 },
    },
    keys: ['qwen3.attention.key_length'],
  },
  {
    arch: 'granite',
    config: {
      dim: 64, ffn: 128, layers: 2, heads: 4, kvHeads: 2, tied: false, seed: 62,
      configExtra: { model_type: 'granite', architectures: ['GraniteForCausalLM'], embedding_multiplier: 3.0, residual_multiplier: 0.5, attention_multiplier: 0.125, logits_scaling: 2.0 },
    },
    keys: ['granite.embedding_scale', 'granite.residual_scale', 'granite.attention.scale', 'granite.logit_scale'],
  },
  {
    arch: 'gemma2',
    config: {
      dim: 64, ffn: 128, layers: 2, heads: 4, kvHeads: 2, headDim: 16, tied: true, seed: 65, postNorms: true,
      configExtra: { model_type: 'gemma2', architectures: ['Gemma2ForCausalLM'], head_dim: 16, query_pre_attn_scalar: 16, sliding_window: 8, rms_norm_eps: 1e-6, attn_logit_softcapping: 0.5, final_logit_softcapping: 30.0 },
    },
    keys: ['gemma2.attention.sliding_window', 'gemma2.attn_logit_softcapping', 'gemma2.final_logit_softcapping'],
  },
  {
    arch: 'gemma3',
    config: {
      dim: 64, ffn: 128, layers: 6, heads: 4, kvHeads: 2, headDim: 16, tied: true, seed: 64, postNorms: true, qkNorm: true, ropeTheta: 1000000,
      configExtra: { model_type: 'gemma3_text', architectures: ['Gemma3ForCausalLM'], head_dim: 16, query_pre_attn_scalar: 16, sliding_window: 8, rms_norm_eps: 1e-6 },
    },
    keys: ['gemma3.attention.sliding_window'],
  },
]

/** greedy ids of `e` under `view` and the first position where the top-1/top-2 margin is below 1e-3 */
async function greedy(e: Engine, view: View): Promise<{ ids: number[]; n: number }> {
  const [g] = await e.generate({ prompt: e.withBos(PROMPT, 'prompt'), views: [view], maxNew: N })
  const tie = g.margins.findIndex((m) => m < 1e-3)
  return { ids: Array.from(g.ids), n: tie < 0 ? g.ids.length : tie }
}

async function nlls(e: Engine, view: View): Promise<number[]> {
  const [row] = await e.score({ ids: e.withBos(`${PHRASE}: Whether 'tis nobler in the mind to suffer`, 'text'), views: [view] })
  return row.nll
}

function expectSameGreedy(a: { ids: number[]; n: number }, b: { ids: number[]; n: number }, what: string): void {
  const n = Math.min(a.n, b.n)
  expect(n, `${what}: comparable tokens`).toBeGreaterThan(8)
  expect(b.ids.slice(0, n), what).toEqual(a.ids.slice(0, n))
}

function expectSameNll(a: number[], b: number[], what: string): void {
  expect(b.length, what).toBe(a.length)
  expect(Math.max(...a.map((x, i) => Math.abs(x - b[i]))), `${what}: largest |Δ nll|`).toBeLessThan(1e-4)
}

let llamaCpp: LlamaCppModule
beforeAll(async () => {
  llamaCpp = await loadPeer(() => {})
}, 900_000)

describe('Qwen3 and Granite through GGUF', () => {
  for (const f of FAMILIES) {
    it(`${f.arch}: base and stepped → GGUF = the HF model in our engine and in llama.cpp; GGUF → HF directory = the same model`, async () => {
      const hf = Engine.load(writeTinyModel(join(tmp(), 'hf'), f.config))
      const g = await hf.gradient(PHRASE)
      const threads = Math.min(2, loadAddon().threads())
      for (const lr of [0, 0.5]) {
        const view: View = lr === 0 ? [] : [{ gradient: g, lr }]
        const want = await greedy(hf, view)
        if (lr !== 0) expect(want.ids, 'the step changes the completion').not.toEqual((await greedy(hf, [])).ids)
        const file = join(tmp(), `${f.arch}-${lr}.gguf`)
        await exportGguf(hf, view, file, undefined, { dtype: 'F32' })
        const meta = readGguf(file).kv
        expect(meta.get('general.architecture')).toBe(f.arch)
        for (const k of f.keys) expect(meta.has(k), k).toBe(true)

        const gg = Engine.load(file)
        expect(gg.config.family).toBe(f.arch === 'gemma3' ? 'gemma3_text' : f.arch)
        const ours = await greedy(gg, [])
        expectSameGreedy(want, ours, `α = ${lr}: GGUF in our engine`)
        expect(ours.ids, `α = ${lr}: the GGUF file re-opens with identical ids`).toEqual(want.ids)
        const nllWant = await nlls(hf, view)
        expectSameNll(nllWant, await nlls(gg, []), `α = ${lr}: GGUF in our engine`)

        const theirs = await peerGreedy(llamaCpp, file, gg.withBos(PROMPT, 'prompt'), N, threads)
        expectSameGreedy(ours, { ids: theirs.ids, n: theirs.ids.length }, `α = ${lr}: GGUF in llama.cpp`)

        if (lr !== 0) {
          const back = join(tmp(), 'back')
          await exportHF(gg, [], back)
          const again = Engine.load(back)
          expect(again.config.family).toBe(f.arch === 'gemma3' ? 'gemma3_text' : f.arch)
          expectSameGreedy(want, await greedy(again, []), 'GGUF → HF directory')
          expectSameNll(nllWant, await nlls(again, []), 'GGUF → HF directory')
        }
      }
    }, 300_000)
  }

  it('what llama.cpp\'s gemma graphs assume instead of reading is refused by name', async () => {
    const base = FAMILIES.find((f) => f.arch === 'gemma3')!.config
    const open = (extra: Record<string, unknown>): Engine => Engine.load(writeTinyModel(join(tmp(), 'g'), { ...base, configExtra: { ...base.configExtra, ...extra } }))
    await expect(exportGguf(open({ query_pre_attn_scalar: 8 }), [], join(tmp(), 'a.gguf'))).rejects.toThrow(/q·k scale .* llama.cpp uses 16\^−½/)
    await expect(exportGguf(open({ sliding_window_pattern: 3 }), [], join(tmp(), 'b.gguf'))).rejects.toThrow(/not llama.cpp's fixed pattern of 5 sliding layers then one global/)
    await expect(exportGguf(open({ rope_local_base_freq: 500 }), [], join(tmp(), 'c.gguf'))).rejects.toThrow(/rope_local_base_freq is not 10000/)
  })

  it('what llama.cpp\'s qwen3 graph cannot run is refused by name', async () => {
    const hf = Engine.load(writeTinyModel(join(tmp(), 'hf'), {
      dim: 64, ffn: 128, layers: 1, heads: 4, kvHeads: 2, headDim: 16, tied: true, qkNorm: true, biases: { qkv: true, o: true },
      configExtra: { model_type: 'qwen3', head_dim: 16, attention_bias: true },
    }))
    await expect(exportGguf(hf, [], join(tmp(), 'b.gguf'))).rejects.toThrow(/attention_bias cannot be carried \(llama.cpp's qwen3 architecture has no biases\)/)
  })
})
