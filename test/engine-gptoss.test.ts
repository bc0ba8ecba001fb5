// GPT-OSS (model_type gpt_oss) against the independent float64 reference (test/reference/llama.ts with sinks,
// test/reference/experts.ts's GPT-OSS block, written from transformers' modeling_gpt_oss.py and reading its own
// checkpoint layout): a tiny random model in transformers' layout — q/k/v/o biases, attention sinks, alternating
// sliding / full layers, YaRN RoPE, a router with a bias, fused 3-D expert tensors with interleaved gate/up columns and
// biases, the clamped SwiGLU with its limit low enough to clamp — log-probs at every position, the gradient of EVERY
// entry of every tensor (sinks, router, experts, biases) against central differences of the float64 loss, stepped
// views, routing and KV-cached greedy decoding; then through the whole Engine: step file round trip and the batched
// sweep equal to single generations.
import { describe, expect, it } from 'vitest'
import { Engine, View } from '../src/main/engine/engine'
import { parseModelConfig } from '../src/main/engine/families'
import { readCheckpointFiles } from '../src/main/engine/formats/safetensors'
import { expertSlots, moeEngineTensors } from '../src/main/engine/experts'
import { restrictToExperts } from '../src/main/lab/step/experts'
import { exportHF } from '../src/main/engine/export/hf'
import { exportPeft } from '../src/main/engine/export/peft'
import { tmp } from './helpers'
import { GptOssTiny, gptOssTensors, gradientsByFileName, writeGptOss } from './gptOssTiny'
import { readWeights } from './reference/check'
import { RefConfig, RefWeights, refLogits, refLogProbs, refYarnAttentionFactor, refYarnInvFreq } from './reference/llama'
import {
  expectBatchedSweepAsSingles, expectDenseExportAsStepped, expectGradientAsReference, expectGreedyAsReference, expectLogProbsAsReference,
  expectRoutingAsReference, expectStepFileRoundTrip, expectSteppedViewAsReference, maxDiff, openMoeNative, phraseIds, withoutConfigs,
} from './familyChecks'

const V = 40
const yarn = { rope_type: 'yarn', factor: 4.0, beta_fast: 32.0, beta_slow: 1.0, truncate: false, original_max_position_embeddings: 64 }
const tiny: GptOssTiny = {
  vocab: V, dim: 16, layers: 2, heads: 4, kvHeads: 2, headDim: 8, experts: 4, topk: 2, expertFfn: 8, seed: 71,
  // a window of 3 on the sliding layer and a clamp at 1.5: both bite on a 9-token phrase
  configExtra: { vocab_size: V, layer_types: ['sliding_attention', 'full_attention'], sliding_window: 3, swiglu_limit: 1.5, rope_theta: 150000, rope_scaling: yarn },
}

const refConfig = (t: GptOssTiny): RefConfig => ({
  vocab: t.vocab, dim: t.dim, ffn: t.expertFfn, layers: t.layers, heads: t.heads, kvHeads: t.kvHeads, headDim: t.headDim, tied: false,
  eps: 1e-5,
  invFreq: refYarnInvFreq(150000, t.headDim, { factor: 4, original: 64, betaFast: 32, betaSlow: 1, truncate: false }),
  ropeScale: refYarnAttentionFactor(4),
  interleaved: false,
  window: 3,
  layerSliding: [true, false],
  sinks: true,
  moe: { family: 'gpt_oss', experts: t.experts, topk: t.topk, ffn: t.expertFfn, normTopk: true, layers: Array(t.layers).fill(true), limit: 1.5, alpha: 1.702 },
})

describe('GPT-OSS against the float64 reference', () => {
  it('sinks, biases, sliding/full layers, YaRN, router with bias, clamped SwiGLU: log-probs, every gradient entry, steps, routing, greedy', async () => {
    const dir = writeGptOss(tiny)
    const { model, cfg } = openMoeNative(dir)
    expect([cfg.family, cfg.attnSinks, cfg.expertBias, cfg.gluLimit, cfg.gluAlpha, cfg.layerSliding, cfg.slidingWindow, cfg.biasQKV, cfg.biasO]).toEqual(['gpt_oss', true, true, 1.5, 1.702, [true, false], 3, true, true])
    const rc = refConfig(tiny)
    const w = readWeights(dir)
    const ids = phraseIds(tiny.seed, 9, V)
    const m = { model, rc, w, ids }

    // each feature matters on this model: the engine is far from a reference without it
    await expectLogProbsAsReference(m, withoutConfigs([
      { sinks: false },
      { window: 0 },
      { ropeScale: 1 },
      { moe: { ...rc.moe!, limit: 1e9 } },
      { moe: { ...rc.moe!, alpha: 1 } },
    ]))

    // every entry of every tensor of the checkpoint: sinks, router, experts and their biases
    const { step, grads } = await expectGradientAsReference(m, (st) => gradientsByFileName(st.export(), tiny, cfg, Object.keys(w)), { sameTensors: false })
    for (const n of ['model.layers.0.self_attn.sinks', 'model.layers.1.mlp.router.bias', 'model.layers.1.mlp.experts.gate_up_proj_bias'])
      expect(Math.max(...Array.from(grads[n]).map(Math.abs)), `${n} has a gradient`).toBeGreaterThan(1e-6)

    // a stepped view is the dense model w − α∇w, in scoring and in KV-cached greedy decoding
    const lr = 0.5
    const { weights: ws, logProbs: sv } = await expectSteppedViewAsReference(m, step, grads, lr, { roundTrip: true })

    // the routing: every token's experts and weights as the reference routes them, base and stepped
    await expectRoutingAsReference(m, step, lr, ws, [0, 1])

    // a step restricted to two experts is the dense model with only their matrices and biases stepped
    const chosen = [{ layer: 1, expert: 0 }, { layer: 1, expert: 2 }]
    const restricted = model.importStep(restrictToExperts(step.export(), expertSlots(cfg), chosen))
    const onlyChosen: RefWeights = {}
    for (const [name, v] of Object.entries(w)) {
      if (/^model\.layers\.1\.mlp\.experts\./.test(name)) {
        const per = v.length / tiny.experts // the fused tensors: expert e's block of entries
        onlyChosen[name] = v.map((x, i) => (chosen.some((c) => Math.floor(i / per) === c.expert) ? x - lr * grads[name][i] : x))
      } else onlyChosen[name] = v
    }
    const sr = await model.score({ ids, views: [[{ step: restricted, lr }]], topk: 0, fullAt: ids.map((_, i) => i) })
    expect(maxDiff(sr.full, refLogProbs(refLogits(rc, onlyChosen, ids), V)), 'restricted to experts 0 and 2').toBeLessThan(5e-5)
    expect(maxDiff(sr.full, sv), 'the restriction changes the view').toBeGreaterThan(1e-4)

    await expectGreedyAsReference(model, rc, ids.slice(0, 3), w, { step, lr, weights: ws }, { maxNew: 12, maxSeq: 64, minCompared: 5 })
  })
})

describe('GPT-OSS through the whole Engine (the organism tokenizer)', () => {
  it('step file round trip; batched sweep = single generations; the HF export of a stepped model is that model', async () => {
    const big: GptOssTiny = { ...tiny, vocab: 4096, dim: 32, headDim: 8, expertFfn: 16, configExtra: { ...tiny.configExtra, vocab_size: 4096, sliding_window: 4 } }
    const dir = writeGptOss(big)
    const engine = Engine.load(dir, { threads: 1 })
    expect(engine.config.family).toBe('gpt_oss')
    const g = await engine.gradient('To be, or not to be, that is the question')
    await expectStepFileRoundTrip(engine, g)

    await expectBatchedSweepAsSingles(engine, g, { prompt: 'To be', lrs: [0, 0.5, 1.5, 4], maxNew: 20, changed: 3 })

    // the dense export in transformers' layout (fused, transposed, interleaved experts), read back as gpt_oss
    const view: View = [{ gradient: g, lr: 0.7 }]
    const { dir: out } = await expectDenseExportAsStepped(engine, view, { family: 'gpt_oss', maxNew: 20, normFloor: 1e-7 })
    const written = readCheckpointFiles(out).tensors
    expect(new Set(written.map((t) => t.name))).toEqual(new Set(Object.keys(gptOssTensors(big))))
    for (const t of written) expect(t.shape, t.name).toEqual(gptOssTensors(big)[t.name].shape)
    // the base model exported is the checkpoint itself, value for value (F32)
    const base = tmp()
    await exportHF(engine, [], base, { dtype: 'F32' })
    const a0 = readWeights(dir), b0 = readWeights(base)
    for (const k of Object.keys(a0)) expect(maxDiff(a0[k], b0[k]), k).toBe(0)
    await expect(exportPeft(engine, view, tmp())).rejects.toThrow(/a PEFT adapter of a mixture of experts \(gpt_oss\) is not supported/)
  })

  it('config defaults; what GPT-OSS brings that the engine does not read is refused by name', () => {
    const c = parseModelConfig({ model_type: 'gpt_oss' })
    expect([c.layers, c.experts, c.expertsPerToken, c.expertFfn, c.headDim, c.heads, c.kvHeads, c.slidingWindow, c.ropeType, c.ropeTheta, c.gluLimit, c.gluAlpha, c.tied]).toEqual([36, 128, 4, 2880, 64, 64, 8, 128, 'yarn', 150000, 7, 1.702, false])
    expect(c.layerSliding!.slice(0, 4)).toEqual([true, false, true, false])
    expect(c.ropeScaling.truncate).toBe(false)
    // the released checkpoints' MXFP4 experts are read (test/engine-gptoss-mxfp4.test.ts); other methods are not
    expect(() => parseModelConfig({ model_type: 'gpt_oss', quantization_config: { quant_method: 'fp8' } })).toThrow(/quant_method "fp8" is not supported for gpt_oss/)
    const t = { name: 'model.layers.0.mlp.experts.gate_up_proj_blocks', file: 0, offset: 0, dtype: 'U8', shape: [2, 4, 4, 16] }
    expect(() => moeEngineTensors('gpt_oss', [t])).toThrow(/gate_up_proj_blocks has no model\.layers\.0\.mlp\.experts\.gate_up_proj_scales beside it/)
  })
})
