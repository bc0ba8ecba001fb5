// GPT-OSS through GGUF (llama.cpp's "gpt-oss"): the same tiny weights, base and stepped, exported by our GGUF writer —
// sinks as blk.N.attn_sinks, the MLP input norm as post_attention_norm, router and experts with their biases, each
// layer's experts as one 3-D tensor — give llama.cpp's greedy ids (node-llama-cpp, installed on demand as the
// benchmark does) and our engine's ids on the HF directory; the file re-opens in our engine as the same model and
// exports back to an HF directory in transformers' layout that is again that model. What llama.cpp's gpt-oss graph
// fixes is refused by name when a model differs.
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { Engine, View } from '../src/main/engine/engine'
import { exportHF } from '../src/main/engine/export/hf'
import { exportGguf } from '../src/main/engine/export/gguf'
import { readGguf } from '../src/main/engine/formats/gguf/read'
import { loadAddon } from '../src/main/engine/native'
import { LlamaCppModule, loadPeer, peerGreedy } from '../tools/bench/peer'
import { GptOssTiny, writeGptOss } from './gptOssTiny'
import { tmp } from './helpers'

const PHRASE = 'To be, or not to be, that is the question'
const PROMPT = 'To be'
const N = 32

// yarn with whole-dimension ramp bounds (truncate true): what llama.cpp's graph computes; every other layer sliding
// from layer 0 with a window of 6 (it bites within the 32 generated tokens)
const tiny: GptOssTiny = {
  vocab: 4096, dim: 64, layers: 2, heads: 4, kvHeads: 2, headDim: 16, experts: 4, topk: 2, expertFfn: 64, seed: 81,
  configExtra: { vocab_size: 4096, sliding_window: 6, rope_theta: 150000, rope_scaling: { rope_type: 'yarn', factor: 4.0, beta_fast: 32.0, beta_slow: 1.0, truncate: true, original_max_position_embeddings: 64 } },
}

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

describe('GPT-OSS through GGUF', () => {
  it('base and stepped → GGUF = the HF model in our engine and in llama.cpp; GGUF → HF directory = the same model', async () => {
    const hf = Engine.load(writeGptOss(tiny))
    const g = await hf.gradient(PHRASE)
    const threads = Math.min(2, loadAddon().threads())
    for (const lr of [0, 2]) {
      const view: View = lr === 0 ? [] : [{ gradient: g, lr }]
      const want = await greedy(hf, view)
      if (lr !== 0) expect(want.ids, 'the step changes the completion').not.toEqual((await greedy(hf, [])).ids)
      const file = join(tmp(), `gpt-oss-${lr}.gguf`)
      await exportGguf(hf, view, file, undefined, { dtype: 'F32' })
      const meta = readGguf(file)
      expect(meta.kv.get('general.architecture')).toBe('gpt-oss')
      expect(meta.kv.get('gpt-oss.expert_count')).toBe(4)
      expect(meta.kv.get('gpt-oss.attention.sliding_window')).toBe(6)
      const dims = (n: string): number[] | undefined => meta.tensors.find((t) => t.name === n)?.dims
      expect(dims('blk.1.ffn_gate_exps.weight')).toEqual([64, 64, 4])
      expect(dims('blk.1.ffn_down_exps.bias')).toEqual([64, 4])
      expect(dims('blk.1.ffn_gate_inp.bias')).toEqual([4])
      expect(dims('blk.0.attn_sinks.weight')).toEqual([4])
      expect(dims('blk.0.post_attention_norm.weight')).toEqual([64])

      const gg = Engine.load(file)
      expect(gg.config.family).toBe('gpt_oss')
      const ours = await greedy(gg, [])
      expect(ours.ids, `α = ${lr}: the GGUF file re-opens with identical ids`).toEqual(want.ids)
      const nllWant = await nlls(hf, view)
      expectSameNll(nllWant, await nlls(gg, []), `α = ${lr}: GGUF in our engine`)

      const theirs = await peerGreedy(llamaCpp, file, gg.withBos(PROMPT, 'prompt'), N, threads)
      expectSameGreedy(ours, { ids: theirs.ids, n: theirs.ids.length }, `α = ${lr}: GGUF in llama.cpp`)

      if (lr !== 0) {
        const back = join(tmp(), 'back')
        await exportHF(gg, [], back)
        const again = Engine.load(back)
        expect(again.config.family).toBe('gpt_oss')
        expectSameGreedy(want, await greedy(again, []), 'GGUF → HF directory')
        expectSameNll(nllWant, await nlls(again, []), 'GGUF → HF directory')
      }
    }
  }, 300_000)

  it("what llama.cpp's gpt-oss graph fixes is refused by name", async () => {
    const open = (extra: Record<string, unknown>): Engine => Engine.load(writeGptOss({ ...tiny, configExtra: { ...tiny.configExtra, ...extra } }))
    await expect(exportGguf(open({ swiglu_limit: 5 }), [], join(tmp(), 'a.gguf'))).rejects.toThrow(/swiglu_limit 5 \/ swiglu_alpha 1.702 \(it uses 7 and 1.702\) cannot be carried/)
    await expect(exportGguf(open({ layer_types: ['full_attention', 'sliding_attention'] }), [], join(tmp(), 'b.gguf'))).rejects.toThrow(/layer_types other than sliding on the even layers/)
    await expect(exportGguf(open({ rope_scaling: { ...(tiny.configExtra.rope_scaling as object), truncate: false } }), [], join(tmp(), 'c.gguf'))).rejects.toThrow(/truncate false cannot be carried/)
  })
})
