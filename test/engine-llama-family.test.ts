// The Llama family as transformers reads it (RoPE default / llama3 / linear / dynamic, Mistral's sliding window,
// attention_bias / mlp_bias, Qwen2's q/k/v biases) checked against an independent float64 reference
// (test/reference/llama.ts): log-probs at every position, the phrase loss, and the gradient of EVERY entry of every
// tensor, biases included, against central differences of the float64 reference loss. Tiny random models with a
// 40-token vocabulary keep "every entry" affordable; they are opened through parseLlamaConfig and the native addon
// directly (the organism tokenizer would need 4096 ids; Llama-3-shaped models with it are in engine-llama3.test.ts).
import { describe, expect, it } from 'vitest'
import { TinyConfig, TinyTensors, tinyTensors, tmp, writeTinyModel } from './helpers'
import { denseGradients, openNative, readWeights, stepped } from './reference/check'
import { RefConfig, refDefaultInvFreq, refLlama3InvFreq } from './reference/llama'
import { expectGradientAsReference, expectGradNormsAsDense, expectGreedyAsReference, expectLogProbsAsReference, expectDenseExportAsStepped, expectSteppedViewAsReference, maxDiff, phraseIds, withoutConfigs, type Without } from './familyChecks'

/** HF row of a q/k projection → the interleaved (Meta / GGUF) row holding the same values. */
function interleavedRow(row: number, hd: number): number {
  const h = Math.floor(row / hd)
  const r = row % hd
  return h * hd + (r < hd / 2 ? 2 * r : 2 * (r - hd / 2) + 1)
}
function interleave(t: TinyTensors, hd: number): TinyTensors {
  const out: TinyTensors = {}
  for (const [name, v] of Object.entries(t)) {
    if (!/(q_proj|k_proj)\.(weight|bias)$/.test(name)) {
      out[name] = v
      continue
    }
    const cols = v.shape.length === 2 ? v.shape[1] : 1
    const d = new Float32Array(v.data.length)
    for (let r = 0; r < v.shape[0]; r++) d.set(v.data.subarray(r * cols, (r + 1) * cols), interleavedRow(r, hd) * cols)
    out[name] = { shape: v.shape, data: d }
  }
  return out
}

interface Case {
  label: string
  tiny: TinyConfig
  /** the reference's reading of the same config, written out by hand */
  ref: Omit<RefConfig, 'vocab' | 'dim' | 'ffn' | 'layers' | 'heads' | 'kvHeads' | 'eps' | 'tied'>
  /** a reference that ignores the feature under test: the engine must be far from it (the test can fail) */
  without?: Partial<RefConfig> | 'no-bias'
  T: number
  interleaved?: boolean
  gradient?: boolean
}

const V = 40
const llama3Small = { factor: 8, low: 1, high: 4, original: 100 } // frequency 1 (wavelength 62.8) falls in the smoothed band
const cases: Case[] = [
  {
    label: 'GQA + tied embeddings + head_dim ≠ hidden/heads + rope_theta 500000 (rope_parameters)',
    tiny: { vocab: V, dim: 16, ffn: 24, layers: 2, heads: 4, kvHeads: 2, headDim: 6, tied: true, ropeTheta: 500000, ropeInParameters: true, seed: 21 },
    ref: { headDim: 6, invFreq: refDefaultInvFreq(500000, 6), interleaved: false, window: 0 },
    without: { invFreq: refDefaultInvFreq(10000, 6) },
    T: 10,
    gradient: true,
  },
  {
    label: 'llama3 RoPE scaling (legacy rope_scaling + rope_theta)',
    tiny: {
      vocab: V, dim: 16, ffn: 24, layers: 2, heads: 2, kvHeads: 1, headDim: 8, tied: false, ropeTheta: 10000, seed: 22,
      configExtra: { rope_scaling: { rope_type: 'llama3', factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 100 } },
    },
    ref: { headDim: 8, invFreq: refLlama3InvFreq(10000, 8, llama3Small), interleaved: false, window: 0 },
    without: { invFreq: refDefaultInvFreq(10000, 8) },
    T: 12,
    gradient: true,
  },
  {
    label: 'llama3 RoPE scaling in transformers ≥ 5 rope_parameters, interleaved (Meta / GGUF) q/k rows',
    tiny: {
      vocab: V, dim: 16, ffn: 24, layers: 2, heads: 2, kvHeads: 2, headDim: 8, tied: true, seed: 23,
      configExtra: { rope_parameters: { rope_type: 'llama3', rope_theta: 10000.0, factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 100 } },
    },
    ref: { headDim: 8, invFreq: refLlama3InvFreq(10000, 8, llama3Small), interleaved: true, window: 0 },
    without: { interleaved: false },
    T: 12,
    interleaved: true,
    gradient: true,
  },
  {
    label: 'linear RoPE scaling',
    tiny: { vocab: V, dim: 16, ffn: 24, layers: 2, heads: 2, kvHeads: 2, tied: false, seed: 24, configExtra: { rope_scaling: { type: 'linear', factor: 4.0 } } },
    ref: { headDim: 8, invFreq: refDefaultInvFreq(10000, 8).map((f) => f / 4), interleaved: false, window: 0 },
    without: { invFreq: refDefaultInvFreq(10000, 8) },
    T: 10,
    gradient: true,
  },
  {
    label: 'dynamic NTK RoPE within max_position_embeddings (= default frequencies, as transformers computes them)',
    tiny: { vocab: V, dim: 16, ffn: 24, layers: 1, heads: 2, kvHeads: 2, tied: false, seed: 25, configExtra: { rope_scaling: { type: 'dynamic', factor: 2.0 } } },
    ref: { headDim: 8, invFreq: refDefaultInvFreq(10000, 8), interleaved: false, window: 0 },
    T: 10,
  },
  {
    label: 'Mistral with a sliding window (4) shorter than the phrase',
    tiny: { vocab: V, dim: 16, ffn: 24, layers: 2, heads: 4, kvHeads: 2, headDim: 6, tied: false, seed: 26, configExtra: { model_type: 'mistral', architectures: ['MistralForCausalLM'], sliding_window: 4 } },
    ref: { headDim: 6, invFreq: refDefaultInvFreq(10000, 6), interleaved: false, window: 4 },
    without: { window: 0 },
    T: 12,
    gradient: true,
  },
  {
    label: 'attention_bias + mlp_bias (q, k, v, o, gate, up, down biases)',
    tiny: { vocab: V, dim: 16, ffn: 24, layers: 2, heads: 4, kvHeads: 2, headDim: 6, tied: false, seed: 27, biases: { qkv: true, o: true, mlp: true }, configExtra: { attention_bias: true, mlp_bias: true } },
    ref: { headDim: 6, invFreq: refDefaultInvFreq(10000, 6), interleaved: false, window: 0 },
    without: 'no-bias',
    T: 10,
    gradient: true,
  },
  {
    label: 'Qwen2 (q/k/v biases, tied, window fields present but off)',
    tiny: {
      vocab: V, dim: 16, ffn: 24, layers: 2, heads: 4, kvHeads: 2, tied: true, ropeTheta: 1000000, seed: 28, biases: { qkv: true },
      configExtra: { model_type: 'qwen2', architectures: ['Qwen2ForCausalLM'], sliding_window: 4, use_sliding_window: false, max_window_layers: 1, rms_norm_eps: 1e-6 },
    },
    ref: { headDim: 4, invFreq: refDefaultInvFreq(1000000, 4), interleaved: false, window: 0 },
    without: 'no-bias',
    T: 10,
    gradient: true,
  },
]

function refConfig(c: Case): RefConfig {
  const t = c.tiny
  const eps = (t.configExtra?.rms_norm_eps as number | undefined) ?? 1e-5
  return { vocab: t.vocab!, dim: t.dim, ffn: t.ffn, layers: t.layers, heads: t.heads, kvHeads: t.kvHeads, eps, tied: t.tied, ...c.ref }
}

describe('Llama family against the float64 reference', () => {
  for (const c of cases) {
    it(c.label, async () => {
      const base = tinyTensors(c.tiny)
      const dir = writeTinyModel(tmp(), c.tiny, c.interleaved ? interleave(base, c.ref.headDim) : base)
      const { cfg, model } = openNative(dir, c.interleaved ? { ropeInterleaved: true } : {})
      const rc = refConfig(c)
      const w = readWeights(dir)
      const ids = phraseIds(c.tiny.seed ?? 1, c.T, V)

      const m = { model, rc, w, ids }

      // log-probs at every position
      const without: Without[] =
        c.without === undefined
          ? []
          : c.without === 'no-bias'
            ? [{ label: 'the biases', w: Object.fromEntries(Object.entries(w).filter(([n]) => !n.endsWith('.bias'))) }]
            : withoutConfigs([c.without])
      await expectLogProbsAsReference(m, without)
      if (!c.gradient) return

      // the exact gradient: loss, then every entry of every tensor against float64 central differences
      const names = model.tensorNames()
      const { step, grads } = await expectGradientAsReference(m, (st) => denseGradients(st.export(), cfg, names))
      // the step's norms per tensor name include the biases, in tensorNames order
      expectGradNormsAsDense(step, names, grads)

      // a stepped view (scoring and KV-cached generation) is the dense model w − α∇w, biases included
      await expectSteppedViewAsReference(m, step, grads, 0.5, { roundTrip: true })
    })
  }

  it('KV-cached generation (positions past the window, at a stepped view with biases) = reference greedy decoding', async () => {
    for (const c of [cases[5], cases[6]]) {
      const dir = writeTinyModel(tmp(), c.tiny)
      const { cfg, model } = openNative(dir)
      const rc = refConfig(c)
      const w = readWeights(dir)
      const ids = phraseIds(5, 8, V)
      const step = await model.gradient(ids, [])
      const lr = 0.3
      const ws = stepped(w, denseGradients(step.export(), cfg, model.tensorNames()), lr)
      await expectGreedyAsReference(model, rc, ids.slice(0, 3), w, { step, lr, weights: ws }, { maxNew: 14, maxSeq: 64, minCompared: 6, label: c.label })
    }
  })
})

describe('biases through the whole Engine (Qwen2, the organism tokenizer)', () => {
  it('export writes stepped biases; the gradient at a stepped view equals the gradient of the exported model', async () => {
    const { Engine } = await import('../src/main/engine/engine')
    const tiny: TinyConfig = {
      dim: 16, ffn: 32, layers: 2, heads: 4, kvHeads: 2, tied: true, ropeTheta: 1000000, seed: 31, biases: { qkv: true },
      configExtra: { model_type: 'qwen2', architectures: ['Qwen2ForCausalLM'], use_sliding_window: false, sliding_window: 32768, max_window_layers: 2 },
    }
    const dir = writeTinyModel(tmp(), tiny)
    const engine = Engine.load(dir, { threads: 1 })
    expect(engine.tensorNames.filter((n) => n.endsWith('.bias')).length).toBe(6)
    const g = await engine.gradient('To be, or not to be, that is the question')
    const view = [{ gradient: g, lr: 0.7 }]
    // the dense export is the stepped model: the chain of two steps there, the same greedy ids; value by value below
    const { dir: out } = await expectDenseExportAsStepped(engine, view, { family: 'qwen2', maxNew: 24, normFloor: 0 })
    const w = readWeights(dir)
    const grads = denseGradients(g.factors(), engine.config, engine.tensorNames)
    const want = stepped(w, grads, 0.7)
    const got = readWeights(out)
    expect(new Set(Object.keys(got))).toEqual(new Set(Object.keys(w)))
    for (const n of Object.keys(w)) {
      const scale = want[n].reduce((m, x) => Math.max(m, Math.abs(x)), 0)
      expect(maxDiff(got[n], want[n]) / scale, n).toBeLessThan(1e-6)
    }
    // the bias step really moved the biases
    const b = 'model.layers.1.self_attn.v_proj.bias'
    expect(maxDiff(got[b], w[b])).toBeGreaterThan(1e-4)
  })

  it('a step without bias gradients is refused by a model with biases', async () => {
    const dir = writeTinyModel(tmp(), { vocab: V, dim: 16, ffn: 24, layers: 1, heads: 2, kvHeads: 2, tied: false, biases: { qkv: true, o: true, mlp: true }, configExtra: { attention_bias: true, mlp_bias: true } })
    const { model } = openNative(dir)
    const f = (await model.gradient([1, 5, 6, 7], [])).export()
    expect(() => model.importStep({ ...f, biasGrads: undefined })).toThrow(/no bias gradients/)
  })
})
