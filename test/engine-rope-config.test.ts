// config.json → RoPE frequencies, windows and biases, read as transformers reads them; refusals name the field.
// The inverse frequencies are checked three ways: against the formula written out here in float64, against values
// computed with torch in float32 (test/fixtures/rope_inv_freq.py → rope-inv-freq.json, Debian python3-torch), and
// the two config forms (legacy rope_scaling + rope_theta, transformers ≥ 5 rope_parameters) against each other.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseLlamaConfig, ropeInverseFrequencies } from '../src/main/engine/config'

interface FixtureCase {
  label: string
  config: { rope_type: string; rope_theta: number; head_dim: number; factor?: number; low_freq_factor?: number; high_freq_factor?: number; original_max_position_embeddings?: number }
  inv_freq: number[]
}
const fixture = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'rope-inv-freq.json'), 'utf8')) as { cases: FixtureCase[] }

function rawConfig(extra: Record<string, unknown>, headDim = 128): Record<string, unknown> {
  return {
    model_type: 'llama', vocab_size: 128256, hidden_size: 4 * headDim, intermediate_size: 1024, num_hidden_layers: 2,
    num_attention_heads: 4, num_key_value_heads: 2, head_dim: headDim, max_position_embeddings: 131072, ...extra,
  }
}

/** Llama 3.1 frequency scaling written from its definition, in float64. */
function llama3Formula(theta: number, hd: number, factor: number, low: number, high: number, old: number): number[] {
  const out: number[] = []
  for (let i = 0; i < hd / 2; i++) {
    const f = 1 / Math.pow(theta, (2 * i) / hd)
    const wavelen = (2 * Math.PI) / f
    if (wavelen < old / high) out.push(f)
    else if (wavelen > old / low) out.push(f / factor)
    else {
      const s = (old / wavelen - low) / (high - low)
      out.push((1 - s) * (f / factor) + s * f)
    }
  }
  return out
}

function ulpDistance(a: number, b: number): number {
  const fa = new Float32Array([a, b])
  const ia = new Int32Array(fa.buffer)
  return Math.abs(ia[0] - ia[1])
}

describe('RoPE inverse frequencies', () => {
  it('llama3 (Llama 3.1 and 3.2 values) match the formula in float64', () => {
    for (const [factor, hd] of [[8, 128], [32, 64]]) {
      const c = parseLlamaConfig(rawConfig({ rope_theta: 500000.0, rope_scaling: { rope_type: 'llama3', factor, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 8192 } }, hd))
      const want = llama3Formula(500000, hd, factor, 1, 4, 8192)
      expect(c.ropeInvFreq.length).toBe(hd / 2)
      want.forEach((w, i) => expect(Math.abs(c.ropeInvFreq[i] - w) / w, `i=${i}`).toBeLessThan(1e-6))
      // all three bands are present: untouched, smoothed, divided by factor
      const ratio = want.map((w, i) => w * Math.pow(500000, (2 * i) / hd))
      expect(ratio[0]).toBe(1)
      expect(ratio[hd / 2 - 1]).toBeCloseTo(1 / factor, 12)
      expect(ratio.some((r) => r > 1 / factor + 1e-3 && r < 1 - 1e-3)).toBe(true)
    }
  })

  it('match torch float32 values (fixture), both config forms', () => {
    for (const fc of fixture.cases) {
      const { rope_type, rope_theta, head_dim, ...scaling } = fc.config
      const forms = rope_type === 'default'
        ? [rawConfig({ rope_theta }, head_dim), rawConfig({ rope_parameters: { rope_type, rope_theta } }, head_dim)]
        : [
            rawConfig({ rope_theta, rope_scaling: { rope_type, ...scaling } }, head_dim),
            rawConfig({ rope_theta, rope_scaling: { type: rope_type, ...scaling } }, head_dim), // "type": transformers' BC name
            rawConfig({ rope_parameters: { rope_type, rope_theta, ...scaling } }, head_dim),
          ]
      for (const raw of forms) {
        const inv = parseLlamaConfig(raw).ropeInvFreq
        expect(inv.length).toBe(fc.inv_freq.length)
        let maxUlp = 0
        fc.inv_freq.forEach((t, i) => (maxUlp = Math.max(maxUlp, ulpDistance(inv[i], t))))
        // bit for bit: every float32 rounding of transformers' formula is reproduced
        expect(maxUlp, fc.label).toBe(0)
      }
    }
  })

  it('linear divides by factor; dynamic is the default within max_position_embeddings', () => {
    const def = parseLlamaConfig(rawConfig({ rope_theta: 10000 })).ropeInvFreq
    const lin = parseLlamaConfig(rawConfig({ rope_theta: 10000, rope_scaling: { type: 'linear', factor: 4.0 } })).ropeInvFreq
    const dyn = parseLlamaConfig(rawConfig({ rope_theta: 10000, rope_scaling: { type: 'dynamic', factor: 4.0 } })).ropeInvFreq
    def.forEach((d, i) => {
      expect(lin[i]).toBe(Math.fround(d / 4))
      expect(dyn[i]).toBe(d)
    })
    expect(ropeInverseFrequencies({ headDim: 4, ropeTheta: 100, ropeType: 'default', ropeScaling: {} })).toEqual(new Float32Array([1, 0.10000000149011612]))
  })
})

describe('config.json: windows, biases and refusals', () => {
  it('Mistral: sliding_window as given, null = none, absent = MistralConfig default 4096', () => {
    expect(parseLlamaConfig(rawConfig({ model_type: 'mistral', sliding_window: 4096 })).slidingWindow).toBe(4096)
    expect(parseLlamaConfig(rawConfig({ model_type: 'mistral', sliding_window: null })).slidingWindow).toBe(0)
    expect(parseLlamaConfig(rawConfig({ model_type: 'mistral' })).slidingWindow).toBe(4096)
    expect(parseLlamaConfig(rawConfig({})).slidingWindow).toBe(0)
  })

  it('absent fields take the model class defaults (LlamaConfig, MistralConfig, Qwen2Config)', () => {
    const without = (extra: Record<string, unknown>): Record<string, unknown> => {
      const r = rawConfig({ ...extra, num_attention_heads: 32, hidden_size: 32 * 128 })
      delete r.num_key_value_heads
      delete r.max_position_embeddings
      return r
    }
    const l = parseLlamaConfig(without({}))
    expect([l.kvHeads, l.maxPos]).toEqual([32, 2048])
    const m = parseLlamaConfig(without({ model_type: 'mistral' }))
    expect([m.kvHeads, m.maxPos]).toEqual([8, 65536]) // 131072, capped at the engine's 65536
    const q = parseLlamaConfig(without({ model_type: 'qwen2' }))
    expect([q.kvHeads, q.maxPos]).toEqual([32, 32768])
    expect(parseLlamaConfig(rawConfig({ model_type: 'mistral', num_key_value_heads: null })).kvHeads).toBe(4)
  })

  it('biases: attention_bias → q,k,v,o; mlp_bias → gate,up,down; qwen2 → q,k,v', () => {
    const a = parseLlamaConfig(rawConfig({ attention_bias: true }))
    expect([a.biasQKV, a.biasO, a.biasMLP]).toEqual([true, true, false])
    const m = parseLlamaConfig(rawConfig({ mlp_bias: true }))
    expect([m.biasQKV, m.biasO, m.biasMLP]).toEqual([false, false, true])
    const q = parseLlamaConfig(rawConfig({ model_type: 'qwen2', sliding_window: 131072, use_sliding_window: false }))
    expect([q.biasQKV, q.biasO, q.biasMLP, q.slidingWindow]).toEqual([true, false, false, 0])
  })

  const refusals: [string, Record<string, unknown>, RegExp][] = [
    ['yarn without factor', { rope_scaling: { rope_type: 'yarn', original_max_position_embeddings: 32768 } }, /rope_scaling\.factor must be a positive number for rope_type "yarn"/],
    ['longrope', { rope_parameters: { rope_type: 'longrope', rope_theta: 10000, short_factor: [1], long_factor: [1] } }, /rope_parameters rope_type "longrope" is not supported/],
    ['llama3 without low_freq_factor', { rope_scaling: { rope_type: 'llama3', factor: 8.0, high_freq_factor: 4.0, original_max_position_embeddings: 8192 } }, /rope_scaling\.low_freq_factor must be a positive number for rope_type "llama3"/],
    ['linear without factor', { rope_scaling: { type: 'linear' } }, /rope_scaling\.factor must be a positive number/],
    ['hidden_act', { hidden_act: 'gelu' }, /hidden_act "gelu" is not supported/],
    ['pretraining_tp', { pretraining_tp: 2 }, /pretraining_tp 2 is not supported/],
    ['partial_rotary_factor', { partial_rotary_factor: 0.5 }, /partial_rotary_factor 0.5 is not supported/],
    ['sliding_window on a llama', { sliding_window: 4096 }, /sliding_window 4096 is not supported for model_type llama/],
    ['Qwen2 use_sliding_window', { model_type: 'qwen2', use_sliding_window: true, max_window_layers: 28 }, /use_sliding_window true is not supported/],
    ['attention_bias on Qwen2', { model_type: 'qwen2', attention_bias: true }, /attention_bias is not a Qwen2 setting/],
    ['attention_bias on Mistral', { model_type: 'mistral', attention_bias: true }, /attention_bias is not a Mistral setting/],
    ['sliding layer_types', { model_type: 'qwen2', layer_types: ['full_attention', 'sliding_attention'] }, /layer_types other than "full_attention" are not supported/],
    ['other model types', { model_type: 'gemma' }, /model_type "gemma" is not a Llama-family model/],
  ]
  for (const [label, extra, msg] of refusals)
    it(`refuses ${label}, naming the field`, () => {
      expect(() => parseLlamaConfig(rawConfig(extra))).toThrow(msg)
    })
})
