// The families beyond Llama (Qwen3, Granite) against the independent float64 reference (test/reference/llama.ts,
// written from transformers' modeling files): tiny random models made here in their transformers layout (config.json
// + model.safetensors), log-probs at every position, the phrase loss, the gradient of EVERY entry of every tensor
// (q_norm / k_norm included) against central differences of the float64 loss, stepped views, KV-cached greedy
// decoding; then through the whole Engine with the organism tokenizer: a saved step file re-imports to the same model,
// the batched sweep equals single generations, the dense HF export of a stepped model is that model (its gradient, its
// generation), and configs the engine does not implement are refused by name.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Engine, View } from '../src/main/engine/engine'
import { parseModelConfig } from '../src/main/engine/families'
import { TinyConfig, tinyTensors, tmp, writeTinyModel } from './helpers'
import { denseGradients, openNative, readWeights } from './reference/check'
import { RefConfig, refDefaultInvFreq } from './reference/llama'
import {
  expectBatchedSweepAsSingles, expectDenseExportAsStepped, expectGradientAsReference, expectGradNormsAsDense, expectGreedyAsReference,
  expectLogProbsAsReference, expectStepFileRoundTrip, expectSteppedViewAsReference, phraseIds, withoutConfigs,
} from './familyChecks'
import { exportHF } from '../src/main/engine/export/hf'

const V = 40

interface Case {
  label: string
  tiny: TinyConfig
  /** the reference's reading of the same config, written out by hand from the modeling file */
  ref: Omit<RefConfig, 'vocab' | 'dim' | 'ffn' | 'layers' | 'heads' | 'kvHeads' | 'tied'>
  /** references that each drop one feature of the family: the engine must be far from every one (the test can fail) */
  without: Partial<RefConfig>[]
  T: number
}

const QWEN3 = { model_type: 'qwen3', architectures: ['Qwen3ForCausalLM'], rms_norm_eps: 1e-6, use_sliding_window: false, sliding_window: null, max_window_layers: 2 }
const GRANITE_MULTIPLIERS = { embedding_multiplier: 3.0, residual_multiplier: 0.5, attention_multiplier: 0.25, logits_scaling: 2.0 }

const GEMMA2 = { model_type: 'gemma2', architectures: ['Gemma2ForCausalLM'], hidden_activation: 'gelu_pytorch_tanh', rms_norm_eps: 1e-6 }
const GEMMA3 = { model_type: 'gemma3_text', architectures: ['Gemma3ForCausalLM'], hidden_activation: 'gelu_pytorch_tanh', rms_norm_eps: 1e-6 }

const cases: Case[] = [
  {
    label: 'Qwen3: q_norm / k_norm over head_dim before RoPE, explicit head_dim ≠ hidden/heads, GQA, tied',
    tiny: { vocab: V, dim: 16, ffn: 24, layers: 2, heads: 4, kvHeads: 2, headDim: 6, tied: true, ropeTheta: 1000000, seed: 41, qkNorm: true, configExtra: { ...QWEN3, head_dim: 6 } },
    ref: { headDim: 6, eps: 1e-6, invFreq: refDefaultInvFreq(1000000, 6), interleaved: false, window: 0, qkNorm: true },
    without: [{ qkNorm: false }],
    T: 10,
  },
  {
    label: 'Qwen3 with attention_bias (q/k/v/o biases), untied',
    tiny: {
      vocab: V, dim: 16, ffn: 24, layers: 2, heads: 2, kvHeads: 1, headDim: 8, tied: false, seed: 42, qkNorm: true, biases: { qkv: true, o: true },
      configExtra: { ...QWEN3, head_dim: 8, attention_bias: true },
    },
    ref: { headDim: 8, eps: 1e-6, invFreq: refDefaultInvFreq(10000, 8), interleaved: false, window: 0, qkNorm: true },
    without: [{ qkNorm: false }],
    T: 10,
  },
  {
    label: 'Granite: embedding, residual and attention multipliers, logits_scaling',
    tiny: { vocab: V, dim: 16, ffn: 24, layers: 2, heads: 4, kvHeads: 2, tied: false, seed: 43, configExtra: { model_type: 'granite', architectures: ['GraniteForCausalLM'], rms_norm_eps: 1e-6, ...GRANITE_MULTIPLIERS } },
    ref: { headDim: 4, eps: 1e-6, invFreq: refDefaultInvFreq(10000, 4), interleaved: false, window: 0, embeddingMultiplier: 3, residualMultiplier: 0.5, attentionScale: 0.25, logitsScaling: 2 },
    without: [{ embeddingMultiplier: 1 }, { residualMultiplier: 1 }, { attentionScale: undefined }, { logitsScaling: 1 }],
    T: 10,
  },
  {
    label: 'Gemma 2: (1 + w) norms, post-norms, GeGLU, √hidden embeddings, query_pre_attn_scalar, soft-capping, every other layer sliding',
    tiny: {
      vocab: V, dim: 16, ffn: 24, layers: 2, heads: 4, kvHeads: 2, headDim: 6, tied: true, seed: 44, postNorms: true,
      configExtra: { ...GEMMA2, head_dim: 6, query_pre_attn_scalar: 8, sliding_window: 3, attn_logit_softcapping: 1.5, final_logit_softcapping: 5.0 },
    },
    ref: {
      headDim: 6, eps: 1e-6, invFreq: refDefaultInvFreq(10000, 6), interleaved: false, window: 3, layerSliding: [true, false],
      normOffset: 1, postNorms: true, geluTanh: true, embeddingMultiplier: 4, attentionScale: Math.fround(8 ** -0.5), attnSoftcap: 1.5, finalSoftcap: 5,
    },
    without: [{ normOffset: 0 }, { postNorms: false }, { geluTanh: false }, { embeddingMultiplier: 1 }, { attentionScale: undefined }, { attnSoftcap: 0 }, { finalSoftcap: 0 }, { layerSliding: [false, false] }],
    T: 10,
  },
  {
    label: 'Gemma 3: q/k norms (1 + w), sliding_window_pattern, local RoPE base for sliding layers, linear-scaled global RoPE',
    tiny: {
      vocab: V, dim: 16, ffn: 24, layers: 3, heads: 2, kvHeads: 1, headDim: 8, tied: true, seed: 45, postNorms: true, qkNorm: true, ropeTheta: 1000000,
      configExtra: { ...GEMMA3, head_dim: 8, query_pre_attn_scalar: 8, sliding_window: 4, sliding_window_pattern: 3, rope_local_base_freq: 100, rope_scaling: { rope_type: 'linear', factor: 8 } },
    },
    ref: {
      headDim: 8, eps: 1e-6, invFreq: refDefaultInvFreq(1000000, 8).map((f) => f / 8), invFreqLocal: refDefaultInvFreq(100, 8), interleaved: false, window: 4,
      layerSliding: [true, true, false], qkNorm: true, normOffset: 1, postNorms: true, geluTanh: true, embeddingMultiplier: 4, attentionScale: Math.fround(8 ** -0.5),
    },
    without: [{ qkNorm: false }, { invFreqLocal: undefined }, { layerSliding: [false, false, false] }, { layerSliding: [true, true, true] }],
    T: 10,
  },
]

function refConfig(c: Case): RefConfig {
  const t = c.tiny
  return { vocab: t.vocab!, dim: t.dim, ffn: t.ffn, layers: t.layers, heads: t.heads, kvHeads: t.kvHeads, tied: t.tied, ...c.ref }
}

describe('Qwen3 and Granite against the float64 reference', () => {
  for (const c of cases) {
    it(c.label, async () => {
      const dir = writeTinyModel(tmp(), c.tiny, tinyTensors(c.tiny))
      const { cfg, model } = openNative(dir)
      const rc = refConfig(c)
      const w = readWeights(dir)
      const ids = phraseIds(c.tiny.seed ?? 1, c.T, V)

      const m = { model, rc, w, ids }

      // log-probs at every position, and each feature of the family matters
      await expectLogProbsAsReference(m, withoutConfigs(c.without))

      // the exact gradient: loss, then every entry of every tensor against float64 central differences
      const names = model.tensorNames()
      const { step, grads } = await expectGradientAsReference(m, (st) => denseGradients(st.export(), cfg, names))
      // the step's norms per tensor name, in tensorNames order (q_norm / k_norm included)
      expectGradNormsAsDense(step, names, grads)

      // a stepped view is the dense model w − α∇w, in scoring and in KV-cached greedy decoding
      const lr = 0.5
      const { weights: ws } = await expectSteppedViewAsReference(m, step, grads, lr, { roundTrip: true })
      await expectGreedyAsReference(model, rc, ids.slice(0, 3), w, { step, lr, weights: ws }, { maxNew: 14, maxSeq: 64, minCompared: 6 })
    })
  }
})

const ENGINE_FAMILIES: { name: string; tiny: TinyConfig }[] = [
  {
    name: 'qwen3',
    tiny: { dim: 32, ffn: 48, layers: 2, heads: 4, kvHeads: 2, headDim: 16, tied: true, ropeTheta: 1000000, seed: 51, qkNorm: true, configExtra: { ...QWEN3, head_dim: 16 } },
  },
  {
    name: 'granite',
    tiny: { dim: 32, ffn: 48, layers: 2, heads: 4, kvHeads: 2, tied: false, seed: 52, configExtra: { model_type: 'granite', architectures: ['GraniteForCausalLM'], ...GRANITE_MULTIPLIERS } },
  },
  {
    name: 'gemma2',
    tiny: { dim: 32, ffn: 48, layers: 2, heads: 4, kvHeads: 2, headDim: 16, tied: true, seed: 53, postNorms: true, configExtra: { ...GEMMA2, head_dim: 16, sliding_window: 6 } },
  },
  {
    name: 'gemma3_text',
    tiny: { dim: 32, ffn: 48, layers: 3, heads: 4, kvHeads: 2, headDim: 16, tied: true, seed: 54, postNorms: true, qkNorm: true, configExtra: { ...GEMMA3, head_dim: 16, sliding_window: 6, sliding_window_pattern: 3 } },
  },
]

describe('Qwen3 and Granite through the whole Engine (the organism tokenizer)', () => {
  for (const f of ENGINE_FAMILIES) {
    it(`${f.name}: step file round trip; batched sweep = single generations; the HF export of a stepped model is that model`, async () => {
      const dir = writeTinyModel(tmp(), f.tiny)
      const engine = Engine.load(dir, { threads: 1 })
      expect(engine.config.family).toBe(f.name)
      const g = await engine.gradient('To be, or not to be, that is the question')

      // a checkpoint: the step file written and read back is the same step
      await expectStepFileRoundTrip(engine, g)

      // the batched sweep equals each view generated alone
      await expectBatchedSweepAsSingles(engine, g, { prompt: 'To be', lrs: [0, 0.3, 0.7, 1.5], maxNew: 24, changed: 2 })

      // the dense HF export of the stepped model: same config family, same generation, same gradient there (a chain)
      const view: View = [{ gradient: g, lr: 0.7 }]
      await expectDenseExportAsStepped(engine, view, { family: f.name, maxNew: 24, normFloor: 0 })
    })
  }

  it('a multimodal Gemma 3 checkpoint (gemma3 + text_config) opens as its text model; √hidden rounds to bf16 as transformers does', async () => {
    const text = ENGINE_FAMILIES.find((f) => f.name === 'gemma3_text')!.tiny
    const plain = Engine.load(writeTinyModel(tmp(), text), { threads: 1 })
    const tensors = tinyTensors(text)
    const prefixed = Object.fromEntries(Object.entries(tensors).map(([n, t]) => [n.replace(/^model\./, 'language_model.model.'), t]))
    prefixed['vision_tower.vision_model.embeddings.patch_embedding.weight'] = { shape: [4, 4], data: new Float32Array(16) }
    const textConfig = JSON.parse(readFileSync(join(plain.dir, 'config.json'), 'utf8'))
    const dir = writeTinyModel(tmp(), text, prefixed)
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'gemma3', architectures: ['Gemma3ForConditionalGeneration'], text_config: textConfig, vision_config: {} }))
    const e = Engine.load(dir, { threads: 1 })
    expect(e.config.family).toBe('gemma3_text')
    const [a] = await e.generate({ prompt: 'To be', views: [[]], maxNew: 16 })
    const [b] = await plain.generate({ prompt: 'To be', views: [[]], maxNew: 16 })
    expect(a.ids).toEqual(b.ids)
    const out = tmp()
    await exportHF(e, [], out)
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).model_type).toBe('gemma3_text')
    // √3072 = 55.43 is 55.5 in bf16 (√2304 = 48 exactly); an F32 checkpoint keeps float32's √hidden
    const bf16 = Engine.load(writeTinyModel(tmp(), { ...text, dtype: 'BF16' }), { threads: 1 })
    expect(bf16.config.embeddingMultiplier).toBe(5.65625) // √32 = 5.657 in bf16
    expect(plain.config.embeddingMultiplier).toBe(Math.fround(Math.sqrt(32)))
  })

  it('what a family has that the engine does not implement is refused by name', () => {
    const base = { vocab_size: 40, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 1, num_attention_heads: 2 }
    expect(() => parseModelConfig({ ...base, model_type: 'qwen3', use_sliding_window: true })).toThrow(/use_sliding_window true is not supported/)
    expect(() => parseModelConfig({ ...base, model_type: 'qwen3', mlp_bias: true })).toThrow(/mlp_bias true is not supported \(Qwen3 has no MLP biases\)/)
    expect(() => parseModelConfig({ ...base, model_type: 'granite', logits_scaling: 0 })).toThrow(/logits_scaling must be a positive number/)
    expect(() => parseModelConfig({ ...base, model_type: 'granite', attention_multiplier: 'x' })).toThrow(/attention_multiplier must be a positive number/)
    expect(() => parseModelConfig({ ...base, model_type: 'qwen2_moe' })).toThrow(/model_type "qwen2_moe" is not supported yet: Qwen2-MoE/)
    expect(() => parseModelConfig({ ...base, model_type: 'qwen3_5' })).toThrow(/Gated DeltaNet/)
    expect(() => parseModelConfig({ ...base, model_type: 'bloom' })).toThrow(/model_type "bloom" is not supported \(supported: llama, mistral, qwen2, qwen3, granite, gemma2, gemma3_text, gemma3, phi3, mixtral, qwen3_moe, olmoe, granitemoe, gpt_oss\)/)
    expect(() => parseModelConfig({ ...base, model_type: 'gemma2', hidden_activation: 'gelu' })).toThrow(/hidden_activation "gelu" is not supported for gemma2/)
    expect(() => parseModelConfig({ ...base, model_type: 'gemma3_text', layer_types: ['chunked_attention'] })).toThrow(/layer_types\[0\] "chunked_attention" is not supported/)
    expect(() => parseModelConfig({ ...base, model_type: 'gemma3' })).toThrow(/without a text_config/)
    // Gemma 2's defaults: soft-capping 50 / 30, every other layer sliding, q·k × 256^−½
    const g2 = parseModelConfig({ ...base, num_hidden_layers: 4, num_attention_heads: 8, model_type: 'gemma2' })
    expect([g2.attnSoftcap, g2.finalSoftcap, g2.layerSliding, g2.attentionMultiplier, g2.tied]).toEqual([50, 30, [true, false, true, false], 1 / 16, true])
    const g3 = parseModelConfig({ ...base, num_hidden_layers: 7, num_attention_heads: 8, model_type: 'gemma3_text' })
    expect([g3.attnSoftcap, g3.finalSoftcap, g3.layerSliding, g3.qkNorm]).toEqual([0, 0, [true, true, true, true, true, false, true], true])
    // Qwen3Config's defaults where config.json leaves a field out: head_dim 128, 32 key/value heads
    const q = parseModelConfig({ ...base, hidden_size: 64, num_attention_heads: 32, model_type: 'qwen3' })
    expect([q.headDim, q.kvHeads, q.qkNorm, q.maxPos]).toEqual([128, 32, true, 32768])
    // GraniteConfig's attention_multiplier defaults to 1: the q·k scale itself, not 1/√head_dim
    expect(parseModelConfig({ ...base, model_type: 'granite' }).attentionMultiplier).toBe(1)
  })
})
