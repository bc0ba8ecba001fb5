// A Llama-3-shaped tiny model — rope_scaling of rope_type llama3 with Llama 3.1's values, tied embeddings, GQA,
// head_dim ≠ hidden/heads, bf16 weights — against the float64 reference (test/reference/llama.ts): log-probs, the
// gradient entry by entry against central differences, and the batched sweep = one generation per step size, with
// greedy ids equal to the reference's greedy decoding of the dense stepped weights. (Its tokenizer is the organism's
// tokenizer.model: Llama-3's tokenizer.json is another part of the work.)
import { describe, expect, it } from 'vitest'
import { Engine } from '../src/main/engine/engine'
import { steppingOff } from '../src/main/lab/experiment/common'
import { SEED_DEFAULTS } from '../src/shared/api'
import { TinyConfig, tmp, writeTinyModel } from './helpers'
import { RefConfig, refLlama3InvFreq, refLogits, refLogProbs, refLoss } from './reference/llama'
import { checkEveryEntry, denseGradients, readWeights, stepped } from './reference/check'

const LLAMA31_SCALING = { rope_type: 'llama3', factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 8192 }
const tiny: TinyConfig = {
  dim: 16, ffn: 32, layers: 2, heads: 4, kvHeads: 2, headDim: 6, tied: true, dtype: 'BF16', seed: 41, ropeTheta: 500000,
  configExtra: { rope_scaling: LLAMA31_SCALING, max_position_embeddings: 131072, rms_norm_eps: 1e-5 },
}
const ref: RefConfig = {
  vocab: 4096, dim: 16, ffn: 32, layers: 2, heads: 4, kvHeads: 2, headDim: 6, eps: 1e-5, tied: true, interleaved: false, window: 0,
  invFreq: refLlama3InvFreq(500000, 6, { factor: 8, low: 1, high: 4, original: 8192 }),
}
const PHRASE = 'To be, or not to be, that is the question'
/** shorter phrase for the finite-difference check: two reference passes per entry over 4096 logits per token */
const FD_PHRASE = 'To be, or not to be'

describe('Llama-3-shaped model (llama3 RoPE, tied, GQA, head_dim ≠ D/H, bf16)', () => {
  const dir = writeTinyModel(tmp(), tiny)
  const engine = Engine.load(dir, { threads: 1 })
  const w = readWeights(dir)

  it('reads the config as transformers does', () => {
    expect(engine.config.ropeType).toBe('llama3')
    expect(engine.config.tied).toBe(true)
    expect(engine.config.headDim).toBe(6)
    expect(engine.tensors[0].dtype).toBe('BF16')
    for (let i = 0; i < 3; i++) expect(Math.abs(engine.config.ropeInvFreq[i] - ref.invFreq[i]) / ref.invFreq[i]).toBeLessThan(1e-6)
  })

  it('log-probs and loss match the float64 reference; the gradient passes the finite-difference check', async () => {
    const ids = engine.withBos(FD_PHRASE, 'phrase')
    const [row] = await engine.score({ ids, views: [[]], fullAt: ids.map((_, t) => t) })
    const lp = refLogProbs(refLogits(ref, w, ids), ref.vocab)
    let worst = 0
    row.full.forEach((f, t) => f.forEach((x, i) => (worst = Math.max(worst, Math.abs(x - lp[t * ref.vocab + i])))))
    expect(worst).toBeLessThan(2e-5)
    const g = await engine.gradient(FD_PHRASE)
    expect(Math.abs(g.loss - refLoss(ref, w, ids))).toBeLessThan(1e-5)
    const grads = denseGradients(g.factors(), engine.config, engine.tensorNames)
    // Every entry of every tensor, except the 4096-row tied embedding, where every column of the phrase's rows and
    // of 16 other rows (reached only through the tied head) is checked.
    const others = Array.from({ length: 16 }, (_, k) => 37 + k * 251)
    const rows = [...new Set([...ids, ...others])]
    const { entries } = checkEveryEntry(ref, w, ids, grads, (n) => (n === 'model.embed_tokens.weight' ? rows : undefined))
    expect(entries).toBeGreaterThan(4000)
  }, 300_000)

  it('batched sweep = single generations, and both = the reference greedy decoding of w − α∇w', async () => {
    const lrs = [0, 0.3, 1, 3]
    // the lab's own sweep core (the app's sweep and the bench run exactly this)
    const batched = await steppingOff(engine, [], engine.withBos('To be', 'prompt'), PHRASE, lrs, { ...SEED_DEFAULTS, maxGen: 20, temperature: 0, topP: 1 })
    const grads = denseGradients(batched.gradient.factors(), engine.config, engine.tensorNames)
    const prompt = engine.withBos('To be', 'prompt')
    const distinct = new Set<string>()
    for (let i = 0; i < lrs.length; i++) {
      const [alone] = await engine.generate({ prompt: 'To be', views: [[{ gradient: batched.gradient, lr: lrs[i] }]], maxNew: 20 })
      expect(batched.generations[i].ids, `α=${lrs[i]}`).toEqual(alone.ids)
      distinct.add(alone.ids.join(','))
      const ws = stepped(w, grads, lrs[i])
      const seq = [...prompt]
      let compared = 0
      for (const tok of alone.ids) {
        const lg = refLogits(ref, ws, seq)
        const last = Array.from(lg.subarray((seq.length - 1) * ref.vocab, seq.length * ref.vocab))
        const sorted = [...last].sort((a, b) => b - a)
        if (sorted[0] - sorted[1] < 1e-3) break // near-tie: bf16 products in fp32 may pick either
        expect(tok, `α=${lrs[i]} token ${compared}`).toBe(last.indexOf(sorted[0]))
        seq.push(tok)
        compared++
      }
      expect(compared, `α=${lrs[i]}: tokens compared with the reference`).toBeGreaterThan(3)
    }
    expect(distinct.size, 'the step sizes give different completions').toBeGreaterThan(1)
  }, 300_000)
})
