// YaRN RoPE (rope_scaling / rope_parameters rope_type "yarn") on the families that carry it — qwen2, qwen3, llama —
// against the independent float64 reference (test/reference/llama.ts refYarnInvFreq / refYarnAttentionFactor, written
// from transformers' rope utils): tiny random models made here in their transformers layout, log-probs at every
// position, the gradient of every entry of every tensor against float64 central differences, a stepped view and
// KV-cached greedy decoding; each YaRN option (factor, the ramp's beta_fast / beta_slow / truncate, the attention factor
// from factor, from mscale / mscale_all_dim or given) must matter. Then through the whole Engine: batched sweep = single
// generations, the HF export keeps yarn; and through GGUF (llama.cpp's rope.scaling.type yarn, rope.scaling.factor,
// rope.scaling.original_context_length, rope.scaling.attn_factor): llama.cpp's greedy ids, base and stepped, the file
// re-opens with identical ids, and what llama.cpp's yarn cannot express is refused by name.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { Engine, View } from '../src/main/engine/engine'
import { parseModelConfig } from '../src/main/engine/families'
import { exportGguf } from '../src/main/engine/export/gguf'
import { exportHF } from '../src/main/engine/export/hf'
import { GgufFile, readGguf } from '../src/main/engine/formats/gguf/read'
import { ggufConfigDict } from '../src/main/engine/formats/gguf/model'
import { loadAddon } from '../src/main/engine/native'
import { LlamaCppModule, loadPeer, peerGreedy } from '../tools/bench/peer'
import { TinyConfig, tinyTensors, tmp, writeTinyModel } from './helpers'
import { denseGradients, openNative, readWeights } from './reference/check'
import { RefConfig, refDefaultInvFreq, refYarnAttentionFactor, refYarnInvFreq } from './reference/llama'
import { expectBatchedSweepAsSingles, expectGradientAsReference, expectGreedyAsReference, expectLogProbsAsReference, expectSteppedViewAsReference, maxDiff, phraseIds, withoutConfigs, expectSameGreedy, greedyUntilTie as greedy } from './familyChecks'

const V = 40

interface Case {
  label: string
  tiny: TinyConfig
  ref: Omit<RefConfig, 'vocab' | 'dim' | 'ffn' | 'layers' | 'heads' | 'kvHeads' | 'tied'>
  /** references that each drop or change one YaRN option: the engine must be far from every one */
  without: Partial<RefConfig>[]
}

const YARN = { factor: 4, original: 32, betaFast: 32, betaSlow: 1, truncate: true }
const QWEN3 = { model_type: 'qwen3', architectures: ['Qwen3ForCausalLM'], rms_norm_eps: 1e-6 }

const cases: Case[] = [
  {
    label: 'Qwen3 + yarn (factor 4, original_max_position_embeddings 32): ramp of extrapolated / interpolated frequencies, attention factor 1 + 0.1 ln 4',
    tiny: {
      vocab: V, dim: 16, ffn: 24, layers: 2, heads: 2, kvHeads: 1, headDim: 16, tied: true, ropeTheta: 10000, seed: 81, qkNorm: true,
      configExtra: { ...QWEN3, head_dim: 16, rope_scaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 32 } },
    },
    ref: { headDim: 16, eps: 1e-6, invFreq: refYarnInvFreq(10000, 16, YARN), ropeScale: refYarnAttentionFactor(4), interleaved: false, window: 0, qkNorm: true },
    without: [{ ropeScale: 1 }, { invFreq: refDefaultInvFreq(10000, 16) }, { invFreq: refDefaultInvFreq(10000, 16).map((f) => f / 4) }],
  },
  {
    label: 'Llama + yarn in rope_parameters with beta_fast 4, beta_slow 0.5, truncate false, mscale / mscale_all_dim (transformers ≥ 5)',
    tiny: {
      vocab: V, dim: 16, ffn: 24, layers: 2, heads: 2, kvHeads: 2, tied: false, seed: 82,
      configExtra: {
        model_type: 'llama', rms_norm_eps: 1e-6, rope_theta: undefined,
        rope_parameters: { rope_type: 'yarn', rope_theta: 500, factor: 8, original_max_position_embeddings: 64, beta_fast: 4, beta_slow: 0.5, truncate: false, mscale: 1.2, mscale_all_dim: 0.6 },
      },
    },
    ref: {
      headDim: 8, eps: 1e-6, interleaved: false, window: 0,
      invFreq: refYarnInvFreq(500, 8, { factor: 8, original: 64, betaFast: 4, betaSlow: 0.5, truncate: false }),
      ropeScale: refYarnAttentionFactor(8, 1.2, 0.6),
    },
    without: [
      { ropeScale: refYarnAttentionFactor(8) },
      { invFreq: refYarnInvFreq(500, 8, { factor: 8, original: 64, betaFast: 4, betaSlow: 0.5, truncate: true }) },
      { invFreq: refYarnInvFreq(500, 8, { factor: 8, original: 64, betaFast: 32, betaSlow: 1, truncate: false }) },
    ],
  },
  {
    label: 'Qwen2 + yarn with an explicit attention_factor (q/k/v biases)',
    tiny: {
      vocab: V, dim: 16, ffn: 24, layers: 2, heads: 2, kvHeads: 1, headDim: 8, tied: false, seed: 83, biases: { qkv: true },
      configExtra: { model_type: 'qwen2', rms_norm_eps: 1e-6, rope_scaling: { type: 'yarn', factor: 2, original_max_position_embeddings: 16, attention_factor: 1.5 } },
    },
    ref: { headDim: 8, eps: 1e-6, interleaved: false, window: 0, invFreq: refYarnInvFreq(10000, 8, { ...YARN, factor: 2, original: 16 }), ropeScale: 1.5 },
    without: [{ ropeScale: refYarnAttentionFactor(2) }, { invFreq: refDefaultInvFreq(10000, 8) }],
  },
]

describe('YaRN RoPE against the float64 reference', () => {
  for (const c of cases) {
    it(c.label, async () => {
      const dir = writeTinyModel(tmp(), c.tiny, tinyTensors(c.tiny))
      const { cfg, model } = openNative(dir)
      expect(cfg.ropeType).toBe('yarn')
      const t = c.tiny
      const rc: RefConfig = { vocab: V, dim: t.dim, ffn: t.ffn, layers: t.layers, heads: t.heads, kvHeads: t.kvHeads, tied: t.tied, ...c.ref }
      // the engine's float32 frequencies and attention factor are the reference's up to float32 rounding
      expect(maxDiff(cfg.ropeInvFreq, rc.invFreq), 'inverse frequencies').toBeLessThan(1e-6)
      expect(Math.abs(cfg.ropeScale - rc.ropeScale!), 'attention factor').toBeLessThan(1e-12)
      const w = readWeights(dir)
      const ids = phraseIds(t.seed!, 12, V)

      const m = { model, rc, w, ids }
      await expectLogProbsAsReference(m, withoutConfigs(c.without))
      const { step, grads } = await expectGradientAsReference(m, (st) => denseGradients(st.export(), cfg, model.tensorNames()))
      const lr = 0.5
      const { weights: ws } = await expectSteppedViewAsReference(m, step, grads, lr, { roundTrip: false })
      await expectGreedyAsReference(model, rc, ids.slice(0, 3), w, { step, lr, weights: ws }, { maxNew: 14, maxSeq: 64, minCompared: 6 })
    })
  }

  it('the fields are read as transformers ≥ 5 reads them; what is not a number is refused by name', () => {
    const base = { model_type: 'qwen3', num_key_value_heads: 1, vocab_size: 40, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 1, num_attention_heads: 2, head_dim: 8, max_position_embeddings: 128 }
    const yarn = (rope: Record<string, unknown>, extra: Record<string, unknown> = {}) => parseModelConfig({ ...base, ...extra, rope_scaling: { rope_type: 'yarn', ...rope } })
    // no original_max_position_embeddings: max_position_embeddings is the pre-extension length
    const a = yarn({ factor: 4 })
    expect(a.ropeScaling.originalMaxPositionEmbeddings).toBe(128)
    expect(maxDiff(a.ropeInvFreq, refYarnInvFreq(10000, 8, { ...YARN, original: 128 }))).toBeLessThan(1e-6)
    // a top-level original_max_position_embeddings wins over the rope field (transformers' standardisation)
    expect(yarn({ factor: 4, original_max_position_embeddings: 64 }, { original_max_position_embeddings: 16 }).ropeScaling.originalMaxPositionEmbeddings).toBe(16)
    // beta_fast / beta_slow of 0 are transformers' defaults (read with `or`); factor ≤ 1 has attention factor 1
    expect(yarn({ factor: 4, beta_fast: 0, beta_slow: 0 }).ropeScaling).toMatchObject({ betaFast: 32, betaSlow: 1 })
    expect(yarn({ factor: 1 }).ropeScale).toBe(1)
    expect(() => yarn({})).toThrow(/rope_scaling.factor must be a positive number for rope_type "yarn"/)
    expect(() => yarn({ factor: 4, truncate: 'no' })).toThrow(/rope_scaling.truncate must be true or false/)
    expect(() => yarn({ factor: 4, beta_fast: -1 })).toThrow(/rope_scaling.beta_fast must be a non-negative number/)
    expect(() => yarn({ factor: 4, original_max_position_embeddings: 10.5 })).toThrow(/original_max_position_embeddings must be a whole number/)
  })
})

const ENGINE: TinyConfig = {
  dim: 64, ffn: 128, layers: 2, heads: 4, kvHeads: 2, headDim: 16, tied: false, seed: 86, qkNorm: true,
  configExtra: { ...QWEN3, head_dim: 16, rope_scaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 64 } },
}
const PHRASE = 'To be, or not to be, that is the question'
const PROMPT = 'To be'
const N = 32

describe('YaRN through the whole Engine', () => {
  it('qwen3 + yarn: batched sweep = single generations; the HF export of a stepped model keeps yarn and is that model', async () => {
    const engine = Engine.load(writeTinyModel(tmp(), ENGINE), { threads: 1 })
    const g = await engine.gradient(PHRASE)
    await expectBatchedSweepAsSingles(engine, g, { prompt: PROMPT, lrs: [0, 0.3, 0.7, 1.5], maxNew: 24, changed: 2 })
    const view: View = [{ gradient: g, lr: 0.7 }]
    const out = tmp()
    await exportHF(engine, view, out, { dtype: 'F32' })
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).rope_scaling).toMatchObject({ rope_type: 'yarn', factor: 4 })
    const dense = Engine.load(out, { threads: 1 })
    const [gv] = await engine.generate({ prompt: PROMPT, views: [view], maxNew: 24 })
    const [gd] = await dense.generate({ prompt: PROMPT, views: [[]], maxNew: 24 })
    expect(gd.ids).toEqual(gv.ids)
  })
})

describe('YaRN through GGUF and llama.cpp', () => {
  let llamaCpp: LlamaCppModule
  beforeAll(async () => {
    llamaCpp = await loadPeer(() => {})
  }, 900_000)

  const GGUF_CASES: { arch: string; tiny: TinyConfig; attnFactor: boolean }[] = [
    { arch: 'qwen3', tiny: ENGINE, attnFactor: false },
    {
      // llama's interleaved q/k rows, and an attention factor other than get_mscale(factor): rope.scaling.attn_factor
      arch: 'llama',
      tiny: {
        dim: 64, ffn: 128, layers: 2, heads: 4, kvHeads: 2, tied: false, seed: 84,
        configExtra: { model_type: 'llama', rope_scaling: { rope_type: 'yarn', factor: 8, original_max_position_embeddings: 32, attention_factor: 1.4 } },
      },
      attnFactor: true,
    },
  ]
  for (const c of GGUF_CASES) {
    it(`${c.arch} + yarn: base and stepped → GGUF = the HF model in our engine and in llama.cpp`, async () => {
      const hf = Engine.load(writeTinyModel(join(tmp(), 'hf'), c.tiny))
      const g = await hf.gradient(PHRASE)
      const threads = Math.min(2, loadAddon().threads())
      for (const lr of [0, 0.5]) {
        const view: View = lr === 0 ? [] : [{ gradient: g, lr }]
        const want = await greedy(hf, view)
        const file = join(tmp(), `${c.arch}-${lr}.gguf`)
        await exportGguf(hf, view, file, undefined, { dtype: 'F32' })
        const meta = readGguf(file).kv
        expect(meta.get(`${c.arch}.rope.scaling.type`)).toBe('yarn')
        expect(meta.has(`${c.arch}.rope.scaling.original_context_length`)).toBe(true)
        expect(meta.has(`${c.arch}.rope.scaling.attn_factor`)).toBe(c.attnFactor)
        const gg = Engine.load(file)
        expect(gg.config.ropeType).toBe('yarn')
        expect(Math.abs(gg.config.ropeScale - hf.config.ropeScale)).toBeLessThan(1e-6)
        const ours = await greedy(gg, [])
        expect(ours.ids, `α = ${lr}: the GGUF file re-opens with identical ids`).toEqual(want.ids)
        const theirs = await peerGreedy(llamaCpp, file, gg.withBos(PROMPT, 'prompt'), N, threads)
        expectSameGreedy(ours, { ids: theirs.ids, n: theirs.ids.length }, `α = ${lr}: GGUF in llama.cpp`)
      }
      // without yarn the same weights give other ids in llama.cpp (the test can fail)
      const plain = Engine.load(writeTinyModel(join(tmp(), 'plain'), { ...c.tiny, configExtra: { ...c.tiny.configExtra, rope_scaling: undefined } }))
      const file = join(tmp(), `${c.arch}-plain.gguf`)
      await exportGguf(plain, [], file, undefined, { dtype: 'F32' })
      const theirs = await peerGreedy(llamaCpp, file, plain.withBos(PROMPT, 'prompt'), N, threads)
      expect(theirs.ids, 'yarn changes llama.cpp\'s ids').not.toEqual((await greedy(hf, [])).ids)
    }, 300_000)
  }

  it('yarn options llama.cpp\'s llama / qwen graphs do not read are refused by name on GGUF export', async () => {
    const open = (rope: Record<string, unknown>): Engine =>
      Engine.load(writeTinyModel(join(tmp(), 'y'), { ...ENGINE, configExtra: { ...ENGINE.configExtra, rope_scaling: { rope_type: 'yarn', factor: 4, ...rope } } }))
    await expect(exportGguf(open({ beta_fast: 8 }), [], join(tmp(), 'a.gguf'))).rejects.toThrow(/rope_scaling yarn with beta_fast 8, beta_slow 1, truncate true cannot be carried/)
    await expect(exportGguf(open({ truncate: false }), [], join(tmp(), 'b.gguf'))).rejects.toThrow(/truncate false cannot be carried/)
  })
})
