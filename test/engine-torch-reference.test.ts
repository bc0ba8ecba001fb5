// A third, independent implementation: torch in float64 with autograd (test/fixtures/llama_family_torch.py →
// llama-family-torch.json, Debian python3-torch) for a llama model with llama3 RoPE, GQA, tied embeddings, head_dim ≠
// hidden/heads and every bias, and a Mistral model with a window shorter than the phrase. The engine's log-probs, loss
// and the gradient of every entry of every tensor must match torch's exact (autograd) gradient; the TypeScript float64
// reference must match torch's loss to float64 precision, so the two references vouch for each other.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { safetensorsHeader } from '../src/main/engine/formats/safetensors'
import { denseGradients, openNative, readWeights } from './reference/check'
import { RefConfig, refDefaultInvFreq, refLlama3InvFreq, refLoss } from './reference/llama'
import { ORGANISM, tmp } from './helpers'

interface TorchModel {
  label: string
  config: Record<string, unknown> & { vocab_size: number; hidden_size: number; intermediate_size: number; num_hidden_layers: number; num_attention_heads: number; num_key_value_heads: number; head_dim: number; rms_norm_eps: number; tie_word_embeddings: boolean; rope_theta: number; sliding_window?: number; rope_scaling?: Record<string, number> }
  ids: number[]
  weights: Record<string, { shape: number[]; data: number[] }>
  logprobs: number[]
  loss: number
  grads: Record<string, number[]>
}
const fixture = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'llama-family-torch.json'), 'utf8')) as { models: TorchModel[] }

function writeModel(m: TorchModel): string {
  const dir = tmp()
  mkdirSync(dir, { recursive: true })
  const names = Object.keys(m.weights)
  const { header } = safetensorsHeader(names.map((n) => ({ name: n, dtype: 'F32' as const, shape: m.weights[n].shape })))
  const len = Buffer.alloc(8)
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(header)))
  const data = names.map((n) => {
    const f = Float32Array.from(m.weights[n].data)
    return Buffer.from(f.buffer)
  })
  writeFileSync(join(dir, 'model.safetensors'), Buffer.concat([len, Buffer.from(header), ...data]))
  writeFileSync(join(dir, 'config.json'), JSON.stringify(m.config))
  copyFileSync(join(ORGANISM, 'tokenizer.model'), join(dir, 'tokenizer.model'))
  return dir
}

function refConfigOf(m: TorchModel): RefConfig {
  const c = m.config
  const rs = c.rope_scaling
  return {
    vocab: c.vocab_size, dim: c.hidden_size, ffn: c.intermediate_size, layers: c.num_hidden_layers, heads: c.num_attention_heads,
    kvHeads: c.num_key_value_heads, headDim: c.head_dim, eps: c.rms_norm_eps, tied: c.tie_word_embeddings, interleaved: false,
    window: c.sliding_window ?? 0,
    invFreq: rs
      ? refLlama3InvFreq(c.rope_theta, c.head_dim, { factor: rs.factor, low: rs.low_freq_factor, high: rs.high_freq_factor, original: rs.original_max_position_embeddings })
      : refDefaultInvFreq(c.rope_theta, c.head_dim),
  }
}

describe('engine and float64 reference against torch (float64, autograd)', () => {
  for (const m of fixture.models)
    it(m.label, async () => {
      const dir = writeModel(m)
      const { cfg, model } = openNative(dir)
      const V = m.config.vocab_size
      const ids = m.ids
      const s = await model.score({ ids, views: [[]], topk: 0, fullAt: ids.map((_, t) => t) })
      let worst = 0
      for (let i = 0; i < m.logprobs.length; i++) worst = Math.max(worst, Math.abs(s.full[i] - m.logprobs[i]))
      expect(worst, 'log-probs').toBeLessThan(2e-5)
      expect(s.full.length).toBe(ids.length * V)

      // the TypeScript reference agrees with torch to float64 precision (angles differ only in float32 inv_freq)
      expect(Math.abs(refLoss(refConfigOf(m), readWeights(dir), ids) - m.loss)).toBeLessThan(1e-6)

      const step = await model.gradient(ids, [])
      expect(Math.abs(step.loss - m.loss)).toBeLessThan(1e-5)
      const names = model.tensorNames()
      expect(new Set(names)).toEqual(new Set(Object.keys(m.grads)))
      const g = denseGradients(step.export(), cfg, names)
      let entries = 0
      for (const n of names) {
        const want = m.grads[n]
        const scale = want.reduce((a, x) => Math.max(a, Math.abs(x)), 0)
        expect(g[n].length, n).toBe(want.length)
        for (let i = 0; i < want.length; i++) {
          if (Math.abs(g[n][i] - want[i]) > 2e-5 * scale + 1e-8) expect.fail(`${n}[${i}]: engine ${g[n][i]} vs torch ${want[i]}`)
          entries++
        }
      }
      expect(entries).toBe(Object.values(m.weights).reduce((a, w) => a + w.data.length, 0))
    })
})
