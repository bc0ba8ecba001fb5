// Mixtures of experts (Mixtral, Qwen3-MoE, OLMoE, GraniteMoE) against the independent float64 reference
// (test/reference/experts.ts, written from transformers' modeling files, reading each family's own checkpoint layout):
// tiny random models made here in their transformers layout, log-probs at every position, the phrase loss, the
// gradient of EVERY entry of every tensor — router and experts included — against central differences of the float64
// loss, stepped views and KV-cached greedy decoding; then through the whole Engine: a step file re-imports to the same
// model, the batched sweep equals single generations, and the dense HF export (in the family's own layout) of a stepped
// model is that model — its gradient there equals the chain of two steps.
import { describe, expect, it } from 'vitest'
import { Engine, View } from '../src/main/engine/engine'
import { parseModelConfig } from '../src/main/engine/families'
import { StepFactors } from '../src/main/engine/native'
import { readCheckpointFiles } from '../src/main/engine/formats/safetensors'
import { expertSlots } from '../src/main/engine/experts'
import { restrictToExperts } from '../src/main/lab/step/experts'
import { exportPeft } from '../src/main/engine/export/peft'
import { tmp } from './helpers'
import { MoeTiny, moeTensors, writeMoe } from './moeTiny'
import { denseGradients, factorDense, readWeights } from './reference/check'
import { RefConfig, RefWeights, refDefaultInvFreq, refLogits, refLogProbs } from './reference/llama'
import {
  expectBatchedSweepAsSingles, expectDenseExportAsStepped, expectGradientAsReference, expectGreedyAsReference, expectLogProbsAsReference,
  expectRoutingAsReference, expectStepFileRoundTrip, expectSteppedViewAsReference, maxDiff, openMoeNative, phraseIds, withoutConfigs,
} from './familyChecks'
import { RefMoe } from './reference/experts'

type Fam = RefMoe['family']

const V = 40
const base = { vocab: V, dim: 16, ffn: 20, layers: 2, heads: 4, kvHeads: 2, headDim: 4, experts: 4, topk: 2, expertFfn: 8 }

interface Case {
  label: string
  tiny: MoeTiny
  ref: Omit<RefConfig, 'vocab' | 'dim' | 'ffn' | 'layers' | 'heads' | 'kvHeads' | 'tied' | 'headDim'>
  /** references that each drop one feature: the engine must be far from every one */
  without: Partial<RefConfig>[]
}

const moeRef = (family: Fam, normTopk: boolean, layers: boolean[]): RefMoe => ({ family, experts: 4, topk: 2, ffn: 8, normTopk, layers })

const cases: Case[] = [
  {
    label: 'Mixtral: softmax → top-2 of 4 → renormalised, experts w1/w3/w2, untied',
    tiny: { ...base, family: 'mixtral', tied: false, moeLayers: [true, true], seed: 61, configExtra: { model_type: 'mixtral', architectures: ['MixtralForCausalLM'], num_local_experts: 4, num_experts_per_tok: 2, intermediate_size: 8, rope_theta: 1e6, rms_norm_eps: 1e-5 } },
    ref: { eps: 1e-5, invFreq: refDefaultInvFreq(1e6, 4), interleaved: false, window: 0, moe: moeRef('mixtral', true, [true, true]) },
    without: [{ moe: moeRef('mixtral', false, [true, true]) }],
  },
  {
    label: 'Qwen3-MoE: q/k norms per head, norm_topk_prob, a dense layer by mlp_only_layers, tied',
    tiny: {
      ...base, family: 'qwen3_moe', tied: true, moeLayers: [false, true], seed: 62,
      configExtra: { model_type: 'qwen3_moe', architectures: ['Qwen3MoeForCausalLM'], num_experts: 4, num_experts_per_tok: 2, moe_intermediate_size: 8, norm_topk_prob: true, mlp_only_layers: [0], head_dim: 4, rms_norm_eps: 1e-6, rope_theta: 1e6 },
    },
    ref: { eps: 1e-6, invFreq: refDefaultInvFreq(1e6, 4), interleaved: false, window: 0, qkNorm: true, moe: moeRef('qwen3_moe', true, [false, true]) },
    without: [{ moe: moeRef('qwen3_moe', false, [false, true]) }, { qkNorm: false }],
  },
  {
    label: 'OLMoE: q/k RMSNorm over the whole projection, top-k probabilities not renormalised',
    tiny: { ...base, family: 'olmoe', tied: false, moeLayers: [true, true], seed: 63, configExtra: { model_type: 'olmoe', architectures: ['OlmoeForCausalLM'], num_experts: 4, num_experts_per_tok: 2, intermediate_size: 8, norm_topk_prob: false, rms_norm_eps: 1e-5 } },
    ref: { eps: 1e-5, invFreq: refDefaultInvFreq(10000, 4), interleaved: false, window: 0, qkNorm: true, qkNormFull: true, moe: moeRef('olmoe', false, [true, true]) },
    without: [{ moe: moeRef('olmoe', true, [true, true]) }],
  },
  {
    label: "GraniteMoE: top-k logits → softmax, fused input_linear / output_linear, granite's multipliers",
    tiny: {
      ...base, family: 'granitemoe', tied: true, moeLayers: [true, true], seed: 64,
      configExtra: { model_type: 'granitemoe', architectures: ['GraniteMoeForCausalLM'], num_local_experts: 4, num_experts_per_tok: 2, intermediate_size: 8, rms_norm_eps: 1e-6, embedding_multiplier: 3.0, residual_multiplier: 0.5, attention_multiplier: 0.25, logits_scaling: 2.0 },
    },
    ref: { eps: 1e-6, invFreq: refDefaultInvFreq(10000, 4), interleaved: false, window: 0, embeddingMultiplier: 3, residualMultiplier: 0.5, attentionScale: 0.25, logitsScaling: 2, moe: moeRef('granitemoe', true, [true, true]) },
    without: [{ residualMultiplier: 1 }, { logitsScaling: 1 }],
  },
]

/**
 * The step as dense gradients under the checkpoint's own names: the dense tensors as the Llama tests read them; the
 * routers' and experts' factors follow the head (slot 7L + 1 on), layer by layer, router then gate/up/down of each expert.
 */
function gradientsByFileName(f: StepFactors, c: MoeTiny, cfg: ReturnType<typeof parseModelConfig>, fileNames: string[]): RefWeights {
  const dense = fileNames.filter((n) => !/block_sparse_moe|mlp\.gate\.weight|mlp\.experts/.test(n))
  const g = denseGradients(f, cfg, dense)
  let slot = 7 * c.layers + 1
  const { dim: D, experts: E, expertFfn: Fe } = c
  for (let l = 0; l < c.layers; l++) {
    if (!c.moeLayers[l]) continue
    const p = `model.layers.${l}.`
    const router = factorDense(f.linears[slot++])
    const ex = Array.from({ length: E }, () => [factorDense(f.linears[slot++]), factorDense(f.linears[slot++]), factorDense(f.linears[slot++])])
    if (c.family === 'granitemoe') {
      g[p + 'block_sparse_moe.router.layer.weight'] = router
      const inp = new Float64Array(E * 2 * Fe * D)
      const out = new Float64Array(E * D * Fe)
      ex.forEach(([ga, up, dn], e) => {
        inp.set(ga, e * 2 * Fe * D)
        inp.set(up, e * 2 * Fe * D + Fe * D)
        out.set(dn, e * D * Fe)
      })
      g[p + 'block_sparse_moe.input_linear.weight'] = inp
      g[p + 'block_sparse_moe.output_linear.weight'] = out
      continue
    }
    const moe = c.family === 'mixtral' ? 'block_sparse_moe' : 'mlp'
    const names = c.family === 'mixtral' ? ['w1', 'w3', 'w2'] : ['gate_proj', 'up_proj', 'down_proj']
    g[`${p}${moe}.gate.weight`] = router
    ex.forEach((m, e) => m.forEach((d, j) => (g[`${p}${moe}.experts.${e}.${names[j]}.weight`] = d)))
  }
  for (const n of fileNames) if (!g[n]) throw new Error(`no gradient for ${n}`)
  return g
}

describe('mixtures of experts against the float64 reference', () => {
  for (const c of cases) {
    it(c.label, async () => {
      const dir = writeMoe(c.tiny)
      const { model, cfg } = openMoeNative(dir)
      const t = c.tiny
      const rc: RefConfig = { vocab: t.vocab, dim: t.dim, ffn: t.ffn, layers: t.layers, heads: t.heads, kvHeads: t.kvHeads, headDim: t.headDim, tied: t.tied, ...c.ref }
      const w = readWeights(dir)
      const ids = phraseIds(t.seed, 9, V)

      const m = { model, rc, w, ids }
      await expectLogProbsAsReference(m, withoutConfigs(c.without))

      // every entry of every tensor of the checkpoint, routers and every expert included
      const { step, grads } = await expectGradientAsReference(m, (st) => gradientsByFileName(st.export(), t, cfg, Object.keys(w)), { sameTensors: false })

      // some expert of a MoE layer gets no token of the phrase only by chance; the router's gradient is never zero
      const routerSlot = 7 * t.layers + 1
      const routerGrad = step.export().linears[routerSlot]
      expect(routerGrad.T).toBe(ids.length)
      expect(Math.max(...Array.from(routerGrad.G).map(Math.abs))).toBeGreaterThan(1e-6)

      // a stepped view is the dense model w − α∇w, in scoring and in KV-cached greedy decoding
      const lr = 0.5
      const { weights: ws, logProbs: sv } = await expectSteppedViewAsReference(m, step, grads, lr, { roundTrip: true })

      // the routing: every token's experts and weights as the reference routes them, base and stepped
      await expectRoutingAsReference(m, step, lr, ws, t.moeLayers.flatMap((m, l) => (m ? [l] : [])))

      // a step restricted to two experts is the dense model with only their matrices stepped
      const moeLayer = t.moeLayers.lastIndexOf(true)
      const chosen = [{ layer: moeLayer, expert: 0 }, { layer: moeLayer, expert: 2 }]
      const restricted = model.importStep(restrictToExperts(step.export(), expertSlots(cfg), chosen))
      const isChosen = (name: string): boolean => {
        const pre = `model.layers.${moeLayer}.`
        if (t.family === 'granitemoe') return false
        return chosen.some((c) => name.startsWith(`${pre}${t.family === 'mixtral' ? 'block_sparse_moe' : 'mlp'}.experts.${c.expert}.`))
      }
      const onlyChosen: RefWeights = {}
      for (const [name, v] of Object.entries(w)) {
        if (t.family === 'granitemoe' && /block_sparse_moe\.(input|output)_linear/.test(name) && name.startsWith(`model.layers.${moeLayer}.`)) {
          // the fused tensors: only the chosen experts' blocks of rows move
          const per = v.length / t.experts
          onlyChosen[name] = v.map((x, i) => (chosen.some((c) => Math.floor(i / per) === c.expert) ? x - lr * grads[name][i] : x))
        } else onlyChosen[name] = isChosen(name) ? ws[name] : v
      }
      const sr = await model.score({ ids, views: [[{ step: restricted, lr }]], topk: 0, fullAt: ids.map((_, i) => i) })
      expect(maxDiff(sr.full, refLogProbs(refLogits(rc, onlyChosen, ids), V)), 'restricted to experts 0 and 2').toBeLessThan(5e-5)
      expect(maxDiff(sr.full, sv), 'the restriction changes the view').toBeGreaterThan(1e-4)

      await expectGreedyAsReference(model, rc, ids.slice(0, 3), w, { step, lr, weights: ws }, { maxNew: 12, maxSeq: 64, minCompared: 5 })
    })
  }
})

describe('mixtures of experts through the whole Engine (the organism tokenizer)', () => {
  for (const c of cases) {
    it(`${c.tiny.family}: step file round trip; batched sweep = single generations; the HF export of a stepped model is that model`, async () => {
      const tiny: MoeTiny = { ...c.tiny, vocab: 4096, dim: 32, headDim: 8, ffn: 40, expertFfn: 16, configExtra: { ...c.tiny.configExtra, vocab_size: 4096 } }
      if (tiny.family === 'qwen3_moe') tiny.configExtra = { ...tiny.configExtra, head_dim: 8, moe_intermediate_size: 16 }
      else tiny.configExtra = { ...tiny.configExtra, intermediate_size: 16 }
      const dir = writeMoe(tiny)
      const engine = Engine.load(dir, { threads: 1 })
      expect(engine.config.family).toBe(tiny.family)
      const g = await engine.gradient('To be, or not to be, that is the question')

      await expectStepFileRoundTrip(engine, g)

      await expectBatchedSweepAsSingles(engine, g, { prompt: 'To be', lrs: [0, 0.5, 1.5, 4], maxNew: 20, changed: 3 })

      // the dense export in the family's own layout, read back as a checkpoint of that family
      const view: View = [{ gradient: g, lr: 0.7 }]
      const { dir: out } = await expectDenseExportAsStepped(engine, view, { family: tiny.family, maxNew: 20, normFloor: 1e-7 })
      expect(new Set(readCheckpointFiles(out).tensors.map((t) => t.name))).toEqual(new Set(Object.keys(moeTensors(tiny))))
      await expect(exportPeft(engine, view, tmp())).rejects.toThrow(/a PEFT adapter of a mixture of experts \(\w+\) is not supported/)
    })
  }

  it('what a mixture of experts has that the engine does not implement is refused by name; config defaults', () => {
    const b = { vocab_size: 40, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 4, num_attention_heads: 2 }
    expect(() => parseModelConfig({ ...b, model_type: 'olmoe', clip_qkv: 8 })).toThrow(/clip_qkv 8 is not supported/)
    expect(() => parseModelConfig({ ...b, model_type: 'granitemoeshared' })).toThrow(/model_type "granitemoeshared" is not supported yet: GraniteMoE with shared experts/)
    expect(() => parseModelConfig({ ...b, model_type: 'mixtral', num_key_value_heads: 2, num_local_experts: 2, num_experts_per_tok: 3 })).toThrow(/num_experts_per_tok 3 is more than the 2 experts/)
    const q = parseModelConfig({ ...b, hidden_size: 64, num_attention_heads: 8, model_type: 'qwen3_moe', decoder_sparse_step: 2, mlp_only_layers: [3] })
    expect([q.experts, q.expertsPerToken, q.expertFfn, q.normTopkProb, q.layerExperts, q.kvHeads, q.headDim]).toEqual([128, 8, 768, false, [false, true, false, false], 4, 8])
    const m = parseModelConfig({ ...b, num_attention_heads: 8, model_type: 'mixtral' })
    expect([m.experts, m.expertsPerToken, m.expertFfn, m.normTopkProb, m.slidingWindow, m.ropeTheta]).toEqual([8, 2, 24, true, 0, 1e6])
    const o = parseModelConfig({ ...b, model_type: 'olmoe' })
    expect([o.experts, o.expertsPerToken, o.normTopkProb, o.qkNormFull]).toEqual([64, 8, false, true])
  })
})
