// Phi-3 / 3.5 / 4 / 4-mini (model_type phi3) against the independent float64 reference (test/reference/llama.ts, which
// reads the fused qkv_proj / gate_up_proj itself and turns only the first rotaryDims of each head): tiny random models
// made here in transformers' Phi3 layout — fused projections, partial_rotary_factor, longrope's short factors and
// attention factor, Phi-3-mini's sliding window — log-probs at every position, the gradient of every entry of every
// fused tensor against float64 central differences, a stepped view and KV-cached greedy decoding; each feature must
// matter. Then through the whole Engine: batched sweep = single generations; the HF export is fused again and is the
// stepped model.
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { Engine, View } from '../src/main/engine/engine'
import { ModelConfig, parseModelConfig } from '../src/main/engine/families'
import { readJson } from '../src/main/engine/config'
import { readCheckpointFiles } from '../src/main/engine/formats/safetensors'
import { loadAddon, NativeModel } from '../src/main/engine/native'
import { splitFusedTensors } from '../src/main/engine/phi3'
import { exportGguf } from '../src/main/engine/export/gguf'
import { exportHF } from '../src/main/engine/export/hf'
import { exportPeft } from '../src/main/engine/export/peft'
import { GgufFile, readGguf } from '../src/main/engine/formats/gguf/read'
import { ggufConfigDict } from '../src/main/engine/formats/gguf/model'
import { LlamaCppModule, loadPeer, peerGreedy } from '../tools/bench/peer'
import { TinyConfig, tinyTensors, tmp, writeTinyModel } from './helpers'
import { checkEveryEntry, denseGradients, readWeights } from './reference/check'
import { RefConfig, RefWeights, refDefaultInvFreq, refLogits, refLogProbs, refLoss } from './reference/llama'
import {
  expectBatchedSweepAsSingles, expectDenseExportAsStepped, expectGradientAsReference, expectGreedyAsReference, expectLogProbsAsReference,
  expectSteppedViewAsReference, maxDiff, phraseIds, withoutConfigs, expectSameGreedy, greedyUntilTie as greedy,
} from './familyChecks'

const V = 40

type Tensors = ReturnType<typeof tinyTensors>

/** The same random weights in Phi-3's layout: q/k/v rows stacked into qkv_proj, gate/up into gate_up_proj. */
function fuse(t: Tensors, layers: number): Tensors {
  const out: Tensors = { ...t }
  const stack = (name: string, parts: string[]): void => {
    const ts = parts.map((p) => t[p])
    const data = new Float32Array(ts.reduce((a, x) => a + x.data.length, 0))
    let o = 0
    for (const x of ts) {
      data.set(x.data, o)
      o += x.data.length
    }
    out[name] = { shape: [ts.reduce((a, x) => a + x.shape[0], 0), ts[0].shape[1]], data }
    for (const p of parts) delete out[p]
  }
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}.`
    stack(`${p}self_attn.qkv_proj.weight`, ['q', 'k', 'v'].map((x) => `${p}self_attn.${x}_proj.weight`))
    stack(`${p}mlp.gate_up_proj.weight`, ['gate', 'up'].map((x) => `${p}mlp.${x}_proj.weight`))
  }
  return out
}

/** Dense gradients of the engine's parts, stacked as the fused tensors they are rows of. */
function fuseGradients(g: RefWeights, layers: number): RefWeights {
  const out: RefWeights = { ...g }
  const stack = (name: string, parts: string[]): void => {
    const data = new Float64Array(parts.reduce((a, p) => a + g[p].length, 0))
    let o = 0
    for (const p of parts) {
      data.set(g[p], o)
      o += g[p].length
      delete out[p]
    }
    out[name] = data
  }
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}.`
    stack(`${p}self_attn.qkv_proj.weight`, ['q', 'k', 'v'].map((x) => `${p}self_attn.${x}_proj.weight`))
    stack(`${p}mlp.gate_up_proj.weight`, ['gate', 'up'].map((x) => `${p}mlp.${x}_proj.weight`))
  }
  return out
}

function openPhi3(dir: string): { cfg: ModelConfig; model: NativeModel } {
  const cfg = parseModelConfig(readJson(`${dir}/config.json`, 'config.json'))
  const ck = readCheckpointFiles(dir)
  const model: NativeModel = new (loadAddon().Model)({
    config: { ...cfg, raw: undefined, eosIds: undefined },
    files: ck.files,
    tensors: splitFusedTensors(cfg, ck.tensors, 'model.safetensors'),
    threads: 1,
  })
  return { cfg, model }
}

const PHI3 = { model_type: 'phi3', architectures: ['Phi3ForCausalLM'], rms_norm_eps: 1e-5 }
const SHORT = [1.0, 1.5, 3.0]
const LONG = [2.0, 5.0, 9.0]
const longropeInv = (factors: number[], theta: number, rot: number): number[] => refDefaultInvFreq(theta, rot).map((f, i) => f / factors[i])

interface Case {
  label: string
  tiny: TinyConfig
  ref: Omit<RefConfig, 'vocab' | 'dim' | 'ffn' | 'layers' | 'heads' | 'kvHeads' | 'tied'>
  without: Partial<RefConfig>[]
  maxPos: number
}

const cases: Case[] = [
  {
    label: 'Phi-3-mini shape: fused qkv_proj / gate_up_proj, sliding_window shorter than the phrase, GQA, untied',
    tiny: { vocab: V, dim: 16, ffn: 24, layers: 2, heads: 4, kvHeads: 2, tied: false, seed: 91, configExtra: { ...PHI3, sliding_window: 5, original_max_position_embeddings: 256 } },
    ref: { headDim: 4, eps: 1e-5, invFreq: refDefaultInvFreq(10000, 4), interleaved: false, window: 5 },
    without: [{ window: 0 }],
    maxPos: 256,
  },
  {
    label: 'Phi-4-mini shape: partial_rotary_factor 0.75, longrope (short factors, attention factor from max / original positions), tied',
    tiny: {
      vocab: V, dim: 16, ffn: 24, layers: 2, heads: 2, kvHeads: 1, tied: true, seed: 92,
      configExtra: {
        ...PHI3, partial_rotary_factor: 0.75, max_position_embeddings: 128, original_max_position_embeddings: 32, sliding_window: null,
        rope_scaling: { type: 'longrope', short_factor: SHORT, long_factor: LONG },
      },
    },
    ref: {
      headDim: 8, eps: 1e-5, interleaved: false, window: 0, rotaryDims: 6,
      invFreq: longropeInv(SHORT, 10000, 6), ropeScale: Math.sqrt(1 + Math.log(128 / 32) / Math.log(32)),
    },
    without: [
      { rotaryDims: 8, invFreq: longropeInv([...SHORT, 1], 10000, 8) },
      { invFreq: longropeInv(LONG, 10000, 6) },
      { invFreq: refDefaultInvFreq(10000, 6) },
      { ropeScale: 1 },
    ],
    maxPos: 128,
  },
  {
    label: 'Phi-4 (14B) shape: phi3 without longrope, full rotary, no window, rope_theta 250000',
    tiny: { vocab: V, dim: 16, ffn: 24, layers: 2, heads: 2, kvHeads: 2, tied: false, seed: 93, ropeTheta: 250000, configExtra: { ...PHI3, sliding_window: null, original_max_position_embeddings: 256 } },
    ref: { headDim: 8, eps: 1e-5, invFreq: refDefaultInvFreq(250000, 8), interleaved: false, window: 0 },
    without: [{ invFreq: refDefaultInvFreq(10000, 8) }],
    maxPos: 256,
  },
]

describe('Phi-3 / Phi-4 against the float64 reference', () => {
  for (const c of cases) {
    it(c.label, async () => {
      const t = c.tiny
      const dir = writeTinyModel(tmp(), t, fuse(tinyTensors(t), t.layers))
      const { cfg, model } = openPhi3(dir)
      expect(cfg.family).toBe('phi3')
      expect(cfg.maxPos).toBe(c.maxPos)
      const rc: RefConfig = { vocab: V, dim: t.dim, ffn: t.ffn, layers: t.layers, heads: t.heads, kvHeads: t.kvHeads, tied: t.tied, ...c.ref }
      const w = readWeights(dir)
      expect(Object.keys(w).some((n) => n.endsWith('qkv_proj.weight'))).toBe(true)
      const ids = phraseIds(t.seed!, 12, V)

      const m = { model, rc, w, ids }
      await expectLogProbsAsReference(m, withoutConfigs(c.without))
      const { step, grads } = await expectGradientAsReference(m, (st) => fuseGradients(denseGradients(st.export(), cfg, model.tensorNames()), t.layers))
      const lr = 0.5
      const { weights: ws } = await expectSteppedViewAsReference(m, step, grads, lr, { roundTrip: false })
      await expectGreedyAsReference(model, rc, ids.slice(0, 3), w, { step, lr, weights: ws }, { maxNew: 14, maxSeq: 32, minCompared: 6 })
    })
  }

  it('longrope past original_max_position_embeddings, as transformers chooses the factors per forward call: a longer sequence turns by the long factors everywhere; KV-cached generation keeps each key\'s rotation', async () => {
    const ORIGINAL = 8
    const LONG_FAR = [3.0, 20.0, 60.0]
    const t: TinyConfig = {
      vocab: V, dim: 16, ffn: 24, layers: 2, heads: 2, kvHeads: 1, tied: false, seed: 97,
      configExtra: {
        ...PHI3, partial_rotary_factor: 0.75, max_position_embeddings: 48, original_max_position_embeddings: ORIGINAL, sliding_window: null,
        rope_scaling: { type: 'longrope', short_factor: SHORT, long_factor: LONG_FAR },
      },
    }
    const dir = writeTinyModel(tmp(), t, fuse(tinyTensors(t), t.layers))
    const { cfg, model } = openPhi3(dir)
    expect(cfg.maxPos).toBe(48)
    const base = { vocab: V, dim: t.dim, ffn: t.ffn, layers: t.layers, heads: t.heads, kvHeads: t.kvHeads, tied: t.tied, headDim: 8, eps: 1e-5, interleaved: false, window: 0, rotaryDims: 6, ropeScale: Math.sqrt(1 + Math.log(48 / ORIGINAL) / Math.log(ORIGINAL)) }
    const short: RefConfig = { ...base, invFreq: longropeInv(SHORT, 10000, 6) }
    const long: RefConfig = { ...base, invFreq: longropeInv(LONG_FAR, 10000, 6) }
    // generation from a prompt that fits: the prefill and every call before position ORIGINAL use the short factors,
    // each later call (one position) the long ones, and the cache keeps what each call computed
    const cached: RefConfig = { ...short, invFreqAt: (p) => (p >= ORIGINAL ? long.invFreq : short.invFreq) }
    const w = readWeights(dir)
    const ids = phraseIds(97, 14, V)
    const all = (n: number): number[] => Array.from({ length: n }, (_, i) => i)

    // a whole sequence longer than the original context (scoring, the step): the long factors at every position
    const s = await model.score({ ids, views: [[]], topk: 0, fullAt: all(ids.length) })
    expect(maxDiff(s.full, refLogProbs(refLogits(long, w, ids), V)), 'log-probs past the original context').toBeLessThan(2e-5)
    expect(maxDiff(s.full, refLogProbs(refLogits(short, w, ids), V)), 'the short factors past the original context').toBeGreaterThan(1e-3)
    // exactly the original context: the short factors
    const fit = ids.slice(0, ORIGINAL)
    const sf = await model.score({ ids: fit, views: [[]], topk: 0, fullAt: all(fit.length) })
    expect(maxDiff(sf.full, refLogProbs(refLogits(short, w, fit), V)), 'log-probs at the original context').toBeLessThan(2e-5)
    expect(maxDiff(sf.full, refLogProbs(refLogits(long, w, fit), V)), 'the long factors at the original context').toBeGreaterThan(1e-3)
    // the step on it: the loss and the gradient of every entry of every tensor with the long factors
    const step = await model.gradient(ids, [])
    expect(Math.abs(step.loss - refLoss(long, w, ids))).toBeLessThan(1e-5)
    const grads = fuseGradients(denseGradients(step.export(), cfg, model.tensorNames()), t.layers)
    expect(checkEveryEntry(long, w, ids, grads).entries).toBe(Object.values(w).reduce((a, v) => a + v.length, 0))

    // KV-cached greedy generation: each token and its top-1 / top-2 margin against the reference whose rotation of
    // position p is the one transformers' cache holds for it; the margins past the original context tell it from
    // turning every position by one set of factors
    const greedyAgainst = async (prompt: number[], ref: RefConfig, others: RefConfig[]): Promise<number> => {
      const gen = await model.generate({ prompt, views: [[]], maxNew: 30, maxSeq: 48, temperature: 0, topP: 1, seed: 0, eos: [] })
      const seq = [...prompt]
      let past = 0
      const apart = others.map(() => 0)
      for (const [i, tok] of Array.from(gen.tokens[0]).entries()) {
        const lastOf = (c: RefConfig): number[] => Array.from(refLogits(c, w, seq).subarray((seq.length - 1) * V, seq.length * V))
        const margin = (x: number[]): number => {
          const sorted = [...x].sort((a, b) => b - a)
          return sorted[0] - sorted[1]
        }
        const last = lastOf(ref)
        if (margin(last) < 1e-4) break
        expect(tok, `token at position ${seq.length}`).toBe(last.indexOf(Math.max(...last)))
        expect(Math.abs(gen.margins[0][i] - margin(last)), `margin at position ${seq.length}`).toBeLessThan(1e-4)
        if (seq.length >= ORIGINAL) {
          past++
          others.forEach((o, j) => (apart[j] = Math.max(apart[j], Math.abs(margin(lastOf(o)) - margin(last)))))
        }
        seq.push(tok)
      }
      for (const a of apart) expect(a, 'the other factors give other margins past the original context').toBeGreaterThan(1e-3)
      return past
    }
    expect(await greedyAgainst(ids.slice(0, 3), cached, [short, long]), 'tokens generated past the original context').toBeGreaterThan(10)
    // a prompt longer than the original context: its prefill turns by the long factors, and so does every later call
    expect(await greedyAgainst(ids.slice(0, 10), long, [short, cached]), 'tokens generated past the original context').toBeGreaterThan(10)
  })

  it('what Phi-3 configs carry that the engine does not run is refused by name', () => {
    const base = { ...PHI3, vocab_size: 40, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 1, num_attention_heads: 2, eos_token_id: 2 }
    expect(() => parseModelConfig({ ...base, rope_scaling: { type: 'longrope', short_factor: [1, 1], long_factor: [1, 1, 1, 1] } })).toThrow(/rope_scaling.short_factor must be 4 positive numbers/)
    expect(() => parseModelConfig({ ...base, partial_rotary_factor: 0.1 })).toThrow(/head_dim 8 × partial_rotary_factor 0.1 = 0 rotary dimensions/)
    expect(() => parseModelConfig({ ...base, attention_bias: true })).toThrow(/attention_bias true is not supported \(Phi-3 has no biases\)/)
    expect(() => parseModelConfig({ ...base, rope_scaling: { type: 'ntk' } })).toThrow(/rope_type "ntk" is not supported/)
    // a fused projection whose rows are not q + k + v (here: v left out) is refused naming both shapes
    const t: TinyConfig = { ...cases[0].tiny, vocab: undefined }
    const bad = fuse(tinyTensors(t), t.layers)
    const qkv = bad['model.layers.0.self_attn.qkv_proj.weight']
    bad['model.layers.0.self_attn.qkv_proj.weight'] = { shape: [qkv.shape[0] - 8, qkv.shape[1]], data: qkv.data.slice(0, (qkv.shape[0] - 8) * qkv.shape[1]) }
    expect(() => Engine.load(writeTinyModel(tmp(), t, bad))).toThrow('model.safetensors: model.layers.0.self_attn.qkv_proj.weight has shape [24, 16]; the config needs [32, 16] (q_proj + k_proj + v_proj)')
    // a phi3 GGUF: llama.cpp reads its longrope from the factor tensors, not from rope.scaling.type
    const gguf = (extra: [string, unknown][]): GgufFile => ({
      path: '/m/p.gguf', version: 3, alignment: 32, dataOffset: 0, fileSize: 0, tensors: [],
      kv: new Map<string, never>([
        ['general.architecture', 'phi3'], ['phi3.attention.head_count', 2], ['phi3.embedding_length', 16], ['phi3.feed_forward_length', 24],
        ['phi3.block_count', 1], ['phi3.context_length', 128], ['phi3.vocab_size', 40], ...extra,
      ] as [string, never][]),
    })
    expect(() => ggufConfigDict(gguf([['phi3.rope.scaling.type', 'linear'], ['phi3.rope.scaling.factor', 2]])))
      .toThrow('p.gguf: phi3.rope.scaling.type "linear" is not supported for phi3 (its longrope is read from rope_factors_short / rope_factors_long)')
    expect(() => ggufConfigDict(gguf([['phi3.rope.scaling.attn_factor', 1.2]]))).toThrow('p.gguf: phi3.rope.scaling.attn_factor 1.2 without longrope factors is not supported')
    expect(ggufConfigDict(gguf([['phi3.rope.dimension_count', 6], ['phi3.rope.scaling.original_context_length', 64]])).raw)
      .toMatchObject({ partial_rotary_factor: 0.75, original_max_position_embeddings: 64 })
    // Phi3Config's defaults: original_max_position_embeddings 4096, where the long factors take over; the context is
    // max_position_embeddings (the engine's 65536 cap)
    const p = parseModelConfig({ ...base, max_position_embeddings: 131072, rope_scaling: { type: 'longrope', short_factor: [1, 1, 1, 1], long_factor: [2, 2, 2, 2] } })
    expect([p.maxPos, p.ropeScale, p.ropeLongAfter]).toEqual([65536, Math.sqrt(1 + Math.log(32) / Math.log(4096)), 4096])
    expect(maxDiff(p.ropeInvFreqLong!, longropeInv([2, 2, 2, 2], 10000, 8))).toBeLessThan(1e-7)
  })
})

const ENGINE: TinyConfig = {
  dim: 64, ffn: 128, layers: 2, heads: 4, kvHeads: 2, tied: false, seed: 94,
  configExtra: {
    ...PHI3, partial_rotary_factor: 0.5, max_position_embeddings: 512, original_max_position_embeddings: 128, sliding_window: 48,
    rope_scaling: { type: 'longrope', short_factor: [1, 1.2, 2, 4], long_factor: [1, 2, 4, 8] },
  },
}

describe('Phi-3 through the whole Engine', () => {
  it('phi3: batched sweep = single generations; the HF export is fused again and is the stepped model', async () => {
    const dir = writeTinyModel(tmp(), ENGINE, fuse(tinyTensors(ENGINE), ENGINE.layers))
    const engine = Engine.load(dir, { threads: 1 })
    expect(engine.config.family).toBe('phi3')
    const g = await engine.gradient('To be, or not to be, that is the question')
    await expectBatchedSweepAsSingles(engine, g, { prompt: 'To be', lrs: [0, 0.3, 0.7, 1.5], maxNew: 24, changed: 2 })

    const view: View = [{ gradient: g, lr: 0.7 }]
    const { dir: out } = await expectDenseExportAsStepped(engine, view, { family: 'phi3', maxNew: 24, normFloor: 0 })
    const names = readCheckpointFiles(out).tensors.map((t) => t.name)
    expect(names).toContain('model.layers.1.self_attn.qkv_proj.weight')
    expect(names).toContain('model.layers.1.mlp.gate_up_proj.weight')
    expect(names.some((n) => /\.(q|k|v|gate|up)_proj\./.test(n)), 'no unfused projection in the export').toBe(false)
    await expect(exportPeft(engine, view, tmp())).rejects.toThrow(/PEFT export of a phi3 model is not supported \(its qkv_proj and gate_up_proj are fused modules\)/)
  })
})

const PROMPT = 'To be'
const N = 32

// llama.cpp pads its context to 256 and turns by the long factors past original_context_length: 512 keeps it short
const GGUF_PHI3: TinyConfig = {
  dim: 64, ffn: 128, layers: 2, heads: 4, kvHeads: 2, tied: false, seed: 95,
  configExtra: {
    ...PHI3, partial_rotary_factor: 0.5, max_position_embeddings: 4096, original_max_position_embeddings: 512, sliding_window: null,
    rope_scaling: { type: 'longrope', short_factor: [1, 1.5, 2.5, 6], long_factor: [1, 3, 7, 20] },
  },
}

describe('Phi-3 through GGUF and llama.cpp', () => {
  let llamaCpp: LlamaCppModule
  beforeAll(async () => {
    llamaCpp = await loadPeer(() => {})
  }, 900_000)

  for (const [label, tiny] of [
    ['longrope + partial rotary (Phi-3.5 / 4-mini shape)', GGUF_PHI3],
    ['no rope_scaling, full rotary (Phi-4 shape)', { ...GGUF_PHI3, seed: 96, configExtra: { ...PHI3, sliding_window: null, original_max_position_embeddings: 4096 } }],
  ] as [string, TinyConfig][]) {
    it(`${label}: base and stepped → GGUF (attn_qkv, fused ffn_up) = the HF model in our engine and in llama.cpp; GGUF → HF = the same model`, async () => {
      const hf = Engine.load(writeTinyModel(join(tmp(), 'hf'), tiny, fuse(tinyTensors(tiny), tiny.layers)))
      const g = await hf.gradient('To be, or not to be, that is the question')
      const threads = Math.min(2, loadAddon().threads())
      for (const lr of [0, 0.5]) {
        const view: View = lr === 0 ? [] : [{ gradient: g, lr }]
        const want = await greedy(hf, view)
        const file = join(tmp(), `phi3-${lr}.gguf`)
        await exportGguf(hf, view, file, undefined, { dtype: 'F32' })
        const meta = readGguf(file)
        expect(meta.kv.get('general.architecture')).toBe('phi3')
        const names = meta.tensors.map((t) => t.name)
        expect(names).toContain('blk.0.attn_qkv.weight')
        expect(names).not.toContain('blk.0.ffn_gate.weight')
        expect(names.includes('rope_factors_long.weight')).toBe(tiny === GGUF_PHI3)
        const gg = Engine.load(file)
        expect(gg.config.family).toBe('phi3')
        // llama.cpp picks longrope's factors by its context size: the file's context stops at the original one
        // (the HF model's runs on, to max_position_embeddings)
        if (tiny === GGUF_PHI3) expect([gg.config.maxPos, gg.config.ropeInvFreqLong, hf.config.maxPos]).toEqual([512, undefined, 4096])
        const ours = await greedy(gg, [])
        expect(ours.ids, `α = ${lr}: the GGUF file re-opens with identical ids`).toEqual(want.ids)
        const theirs = await peerGreedy(llamaCpp, file, gg.withBos(PROMPT, 'prompt'), N, threads)
        expectSameGreedy(ours, { ids: theirs.ids, n: theirs.ids.length }, `α = ${lr}: GGUF in llama.cpp`)
        if (lr !== 0) {
          const back = join(tmp(), 'back')
          await exportHF(gg, [], back)
          expect(readCheckpointFiles(back).tensors.map((t) => t.name)).toContain('model.layers.0.mlp.gate_up_proj.weight')
          expectSameGreedy(want, await greedy(Engine.load(back), []), 'GGUF → HF directory')
        }
      }
    }, 300_000)
  }

  it('a Q8_0 phi3 GGUF: the fused attn_qkv / ffn_up split at whole quantised rows, the same model up to Q8_0 rounding, and llama.cpp\'s ids', async () => {
    const hf = Engine.load(writeTinyModel(join(tmp(), 'hf'), GGUF_PHI3, fuse(tinyTensors(GGUF_PHI3), GGUF_PHI3.layers)))
    const file = join(tmp(), 'phi3-q8.gguf')
    await exportGguf(hf, [], file, undefined, { dtype: 'Q8_0' })
    expect(readGguf(file).tensors.find((t) => t.name === 'blk.0.attn_qkv.weight')?.typeName).toBe('Q8_0')
    const q8 = Engine.load(file)
    expect(q8.tensors.filter((t) => /layers\.0\.(self_attn\.[qkv]|mlp\.(gate|up))_proj/.test(t.name)).map((t) => t.dtype)).toEqual(['Q8_0', 'Q8_0', 'Q8_0', 'Q8_0', 'Q8_0'])
    const ids = hf.withBos('To be, or not to be, that is the question', 'text')
    const [a] = await hf.score({ ids, views: [[]] })
    const [b] = await q8.score({ ids, views: [[]] })
    expect(maxDiff(a.nll, b.nll), 'Q8_0 rounding only').toBeLessThan(0.05)
    const threads = Math.min(2, loadAddon().threads())
    const theirs = await peerGreedy(llamaCpp, file, q8.withBos(PROMPT, 'prompt'), N, threads)
    expectSameGreedy(await greedy(q8, []), { ids: theirs.ids, n: theirs.ids.length }, 'Q8_0 GGUF in llama.cpp')
  }, 300_000)

  it('what llama.cpp\'s phi3 graph cannot run is refused by name on export', async () => {
    const open = (extra: Record<string, unknown>): Engine => {
      const t = { ...GGUF_PHI3, configExtra: { ...GGUF_PHI3.configExtra, ...extra } }
      return Engine.load(writeTinyModel(join(tmp(), 'p'), t, fuse(tinyTensors(t), t.layers)))
    }
    await expect(exportGguf(open({ sliding_window: 8 }), [], join(tmp(), 'a.gguf'))).rejects.toThrow(/sliding_window 8 cannot be carried/)
  })
})
