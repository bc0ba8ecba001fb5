// The Llama family through GGUF: llama with attention/MLP biases, llama3 RoPE and GQA; Qwen2 (q/k/v biases, HF row
// order); linear RoPE scaling. A stepped tiny model exported to GGUF loads back as the same model (our engine), is run
// by llama.cpp itself with the same greedy ids, and a GGUF model exports to an HF directory (weights in HF row order,
// its tokenizer as tokenizer.model) that is again the same model. What llama.cpp would run differently is refused.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { ropeInverseFrequencies } from '../src/main/engine/config'
import { Engine, View } from '../src/main/engine/engine'
import { exportGguf } from '../src/main/engine/export/gguf'
import { loadAddon } from '../src/main/engine/native'
import { LlamaCppModule, loadPeer, peerGreedy } from '../tools/bench/peer'
import { TinyConfig, tmp, writeTinyModel } from './helpers'
import { exportHF } from '../src/main/engine/export/hf'

const PHRASE = 'To be, or not to be, that is the question'
const PROMPT = 'To be'
const N = 32

const FAMILIES: { name: string; config: TinyConfig }[] = [
  {
    name: 'llama, attention_bias + mlp_bias, llama3 RoPE, GQA',
    config: {
      dim: 64, ffn: 128, layers: 2, heads: 4, kvHeads: 2, tied: false, seed: 3, ropeTheta: 500000,
      biases: { qkv: true, o: true, mlp: true },
      configExtra: {
        attention_bias: true, mlp_bias: true,
        rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
      },
    },
  },
  {
    name: 'qwen2 (q/k/v biases), tied',
    config: {
      dim: 64, ffn: 128, layers: 2, heads: 4, kvHeads: 2, tied: true, seed: 4, biases: { qkv: true },
      configExtra: { model_type: 'qwen2', architectures: ['Qwen2ForCausalLM'] },
    },
  },
  {
    name: 'llama, linear RoPE scaling',
    config: { dim: 64, ffn: 128, layers: 2, heads: 4, kvHeads: 4, tied: false, seed: 5, configExtra: { rope_scaling: { rope_type: 'linear', factor: 4 } } },
  },
]

/** greedy ids of `e` under `view` and the first position where the top-1/top-2 margin is below 1e-3 */
async function greedy(e: Engine, view: View): Promise<{ ids: number[]; n: number }> {
  const [g] = await e.generate({ prompt: e.withBos(PROMPT, 'prompt'), views: [view], maxNew: N })
  const tie = g.margins.findIndex((m) => m < 1e-3)
  return { ids: Array.from(g.ids), n: tie < 0 ? g.ids.length : tie }
}

/** −log p of every token of a text after BOS (the phrase and the soliloquy's next line) under `view` */
async function nlls(e: Engine, view: View): Promise<number[]> {
  const ids = e.withBos(`${PHRASE}: Whether 'tis nobler in the mind to suffer the slings and arrows`, 'text')
  const [row] = await e.score({ ids, views: [view] })
  return row.nll
}

function expectSameNll(a: number[], b: number[], what: string): void {
  expect(b.length, what).toBe(a.length)
  const worst = Math.max(...a.map((x, i) => Math.abs(x - b[i])))
  expect(worst, `${what}: largest |Δ nll|`).toBeLessThan(1e-4)
}

function expectSameGreedy(a: { ids: number[]; n: number }, b: { ids: number[]; n: number }, what: string): void {
  const n = Math.min(a.n, b.n)
  expect(n, `${what}: comparable tokens`).toBeGreaterThan(8)
  expect(b.ids.slice(0, n), what).toEqual(a.ids.slice(0, n))
}

let llamaCpp: LlamaCppModule
beforeAll(async () => {
  llamaCpp = await loadPeer(() => {})
}, 900_000)

describe('Llama-family models through GGUF', () => {
  for (const f of FAMILIES) {
    it(`${f.name}: stepped → GGUF = the stepped model, in our engine and in llama.cpp; GGUF → HF directory = the same model`, async () => {
      const hf = Engine.load(writeTinyModel(join(tmp(), 'hf'), f.config))
      const g = await hf.gradient(PHRASE)
      const view: View = [{ gradient: g, lr: 0.5 }]
      const stepped = await greedy(hf, view)
      expect(stepped.ids, 'the step changes the completion').not.toEqual((await greedy(hf, [])).ids)

      const file = join(tmp(), 'stepped.gguf')
      await exportGguf(hf, view, file, undefined, { dtype: 'F32' })
      const gg = Engine.load(file)
      expect(gg.config).toMatchObject({ ropeType: hf.config.ropeType, biasQKV: hf.config.biasQKV, biasO: hf.config.biasO, biasMLP: hf.config.biasMLP, tied: hf.config.tied })
      const ours = await greedy(gg, [])
      expectSameGreedy(stepped, ours, 'GGUF in our engine')
      const nllStepped = await nlls(hf, view)
      expectSameNll(nllStepped, await nlls(gg, []), 'GGUF in our engine')

      const theirs = await peerGreedy(llamaCpp, file, gg.withBos(PROMPT, 'prompt'), N, Math.min(2, loadAddon().threads()))
      expectSameGreedy(ours, { ids: theirs.ids, n: theirs.ids.length }, 'GGUF in llama.cpp')

      const back = join(tmp(), 'back')
      await exportHF(gg, [], back)
      expect(existsSync(join(back, 'tokenizer.model'))).toBe(true)
      const again = Engine.load(back)
      for (const text of [PHRASE, 'Whether \'tis nobler in the mind  to suffer\n€ 42']) expect(again.tokenize(text)).toEqual(hf.tokenize(text))
      expectSameGreedy(stepped, await greedy(again, []), 'GGUF → HF directory')
      expectSameNll(nllStepped, await nlls(again, []), 'GGUF → HF directory')
    }, 300_000)
  }

  it('llama.cpp\'s rope_freqs.weight sets the engine\'s inverse frequencies: default / factor, as llama.cpp divides', async () => {
    const hf = Engine.load(writeTinyModel(join(tmp(), 'hf'), FAMILIES[0].config))
    const file = join(tmp(), 'l3.gguf')
    await exportGguf(hf, [], file, undefined, { dtype: 'F32' })
    const gg = Engine.load(file)
    const base = ropeInverseFrequencies({ headDim: 16, ropeTheta: 500000, ropeType: 'default', ropeScaling: {} })
    // some frequencies are kept, the low ones divided by 8, the band between smoothed
    const ratio = Array.from(gg.config.ropeInvFreq, (v, i) => base[i] / v)
    expect(ratio[0]).toBeCloseTo(1, 6)
    expect(ratio[7]).toBeCloseTo(8, 5)
    expect(ratio.some((r) => r > 1.01 && r < 7.99)).toBe(true)
    // and they are transformers' llama3 frequencies up to float32 rounding
    gg.config.ropeInvFreq.forEach((v, i) => expect(Math.abs(v - hf.config.ropeInvFreq[i]) / hf.config.ropeInvFreq[i]).toBeLessThan(1e-6))
  })

  it('a sliding window shorter than the context is refused for GGUF, naming it; a window past the context is carried', async () => {
    const mistral = (window: number): Engine =>
      Engine.load(writeTinyModel(join(tmp(), 'm'), { dim: 64, ffn: 128, layers: 1, heads: 4, kvHeads: 4, tied: false, configExtra: { model_type: 'mistral', sliding_window: window } }))
    await expect(exportGguf(mistral(16), [], join(tmp(), 'w.gguf'))).rejects.toThrow(/sliding_window 16 cannot be carried .*attends over the whole context/)
    const file = join(tmp(), 'wide.gguf')
    await exportGguf(mistral(4096), [], file)
    expect(Engine.load(file).config.slidingWindow).toBe(0)
  })
})
