// The step's output head in one pass over the table (native/src/head.cpp): at the base model the logits and the head's
// input gradient are computed block by block of 192 vocabulary rows with an online softmax, in 32 fixed parts. The
// family tests use 40-token vocabularies (one block); here the vocabulary spans many blocks, parts holding two of them
// (the running max and accumulator rescaled between blocks), a partial last block, Gemma 2's final cap and Granite's
// logit divisor (the chain factor c), a tied and an untied head, a quantised head, and 1 vs 2 threads.
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Engine } from '../src/main/engine/engine'
import { SentencePieceTokenizer } from '../src/main/engine/tokenizers/sentencepiece/tokenizer'
import { phraseIds } from './familyChecks'
import { ORGANISM, ROOT, TinyConfig, tinyTensors, tmp, writeTinyModel } from './helpers'
import { checkEveryEntry, denseGradients, openNative, readWeights } from './reference/check'
import { RefConfig, refDefaultInvFreq, refLoss } from './reference/llama'
import { quantisedTwins } from './ggml'

// 34 blocks of 192 rows, the last one partial (6500 = 33·192 + 164): 32 parts, two of them with two blocks
const V = 6500

const cases: { label: string; tiny: TinyConfig; ref: Omit<RefConfig, 'vocab' | 'dim' | 'ffn' | 'layers' | 'heads' | 'kvHeads' | 'tied'> }[] = [
  {
    label: 'Gemma 2 (final soft-capping, tied head)',
    tiny: {
      vocab: V, dim: 16, ffn: 24, layers: 1, heads: 4, kvHeads: 2, headDim: 6, tied: true, seed: 61, postNorms: true,
      configExtra: { model_type: 'gemma2', architectures: ['Gemma2ForCausalLM'], hidden_activation: 'gelu_pytorch_tanh', rms_norm_eps: 1e-6, head_dim: 6, query_pre_attn_scalar: 8, sliding_window: 3, final_logit_softcapping: 2.0 },
    },
    ref: {
      headDim: 6, eps: 1e-6, invFreq: refDefaultInvFreq(10000, 6), interleaved: false, window: 3, layerSliding: [true], normOffset: 1, postNorms: true,
      geluTanh: true, embeddingMultiplier: 4, attentionScale: Math.fround(8 ** -0.5), attnSoftcap: 50, finalSoftcap: 2,
    },
  },
  {
    label: 'Granite (logits_scaling, untied head)',
    tiny: {
      vocab: V, dim: 16, ffn: 24, layers: 1, heads: 4, kvHeads: 2, tied: false, seed: 62,
      configExtra: { model_type: 'granite', architectures: ['GraniteForCausalLM'], rms_norm_eps: 1e-6, embedding_multiplier: 3.0, residual_multiplier: 0.5, attention_multiplier: 0.25, logits_scaling: 3.0 },
    },
    ref: { headDim: 4, eps: 1e-6, invFreq: refDefaultInvFreq(10000, 4), interleaved: false, window: 0, embeddingMultiplier: 3, residualMultiplier: 0.5, attentionScale: 0.25, logitsScaling: 3 },
  },
]

describe('the one-pass head against the float64 reference', () => {
  for (const c of cases) {
    it(`${c.label}: every entry of the layers' gradients (all downstream of the head's input gradient)`, async () => {
      const dir = writeTinyModel(tmp(), c.tiny, tinyTensors(c.tiny))
      const { cfg, model } = openNative(dir)
      const t = c.tiny
      const rc: RefConfig = { vocab: V, dim: t.dim, ffn: t.ffn, layers: t.layers, heads: t.heads, kvHeads: t.kvHeads, tied: t.tied, ...c.ref }
      const w = readWeights(dir)
      const ids = phraseIds(t.seed ?? 1, 10, V)
      const names = model.tensorNames()
      // the embedding and head: the phrase's rows and a few of the last block's (every other entry: all of them)
      const rows = [...new Set([...ids, 0, V - 1, V - 100])]
      const onlyRows = (n: string) => (n.endsWith('embed_tokens.weight') || n === 'lm_head.weight' ? rows : undefined)
      const step = await model.gradient(ids, [])
      const grads = denseGradients(step.export(), cfg, names)
      const { entries } = checkEveryEntry(rc, w, ids, grads, onlyRows)
      expect(entries).toBeGreaterThan(2000)
      expect(Math.abs(step.loss - refLoss(rc, w, ids))).toBeLessThan(1e-5)
    }, 240_000)
  }
})

describe('the one-pass head: quantised tables and thread counts', () => {
  it('a Q8_0 / Q6_K head gives the gradient of its dequantised F32 twin', async () => {
    const sp = SentencePieceTokenizer.fromFile(join(ORGANISM, 'tokenizer.model'))
    const pieces = Array.from({ length: sp.vocabSize }, (_, i) => sp.pieceInfo(i))
    for (const q of ['Q8_0', 'Q6_K'] as const) {
      const file = join(tmp(), `organism-head-${q}.gguf`)
      const twinDir = tmp()
      quantisedTwins(ORGANISM, pieces, (n) => (n === 'lm_head.weight' ? q : 'F32'), file, twinDir)
      const quantised = Engine.load(file)
      const twin = Engine.load(twinDir)
      const phrase = 'To be, or not to be, that is the question'
      const [a, b] = [await twin.gradient(phrase), await quantised.gradient(phrase)]
      expect(Math.abs(a.loss - b.loss) / a.loss).toBeLessThan(1e-5)
      const na = a.gradNorms(), nb = b.gradNorms()
      expect(Object.keys(nb)).toEqual(Object.keys(na))
      for (const n of Object.keys(na)) expect(Math.abs(na[n] - nb[n]), `${q}: ‖∇${n}‖`).toBeLessThan(1e-4 * na[n] + 1e-7)
      // the first layer's gate factor (slot 4; q and k rows are in GGUF's interleaved order): G there has come through
      // every layer from the head's input gradient
      const fa = a.factors().linears[4], fb = b.factors().linears[4]
      let worst = 0, scale = 0
      for (let i = 0; i < fa.G.length; i++) {
        worst = Math.max(worst, Math.abs(fa.G[i] - fb.G[i]))
        scale = Math.max(scale, Math.abs(fa.G[i]))
      }
      expect(worst, `${q}: layer 0 gate_proj G`).toBeLessThan(1e-4 * scale)
    }
  }, 240_000)

  it('1 and 2 threads give the same step, bit for bit', () => {
    const hash = (threads: number) => {
      const r = spawnSync(
        process.execPath,
        [join(ROOT, 'node_modules', 'jiti', 'lib', 'jiti-cli.mjs'), join(ROOT, 'test', 'fixtures', 'step-hash-child.ts'), ORGANISM, String(threads), 'To be, or not to be, that is the question'],
        { encoding: 'utf8' },
      )
      expect(r.status, r.stderr).toBe(0)
      return r.stdout.trim()
    }
    const one = hash(1)
    expect(one).toMatch(/^[0-9a-f]{64}$/)
    expect(hash(2)).toBe(one)
    expect(hash(3)).toBe(one)
  }, 240_000)
})
