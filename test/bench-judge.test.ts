// The benchmark's float64 judge of the first position where our greedy ids and llama.cpp's part (tools/bench/judge.ts):
// - K-quant bytes unpack to the parts they were packed from (unpackK, packK's inverse), and every block type the
//   bench's files hold decodes (test/reference/gguf.ts refDecode) to the weights the quantiser says it wrote;
// - the float64 forward on a GGUF file's own blocks (q/k in GGUF's interleaved rows) gives the log-probs of the same
//   forward on its dequantised F32 twin (HF layout), a file of every one of those types;
// - the judge on that file names the position, the right pick (ours or llama.cpp's, whichever float64 ranks higher)
//   and the margin as float64 computes it; our error and llama.cpp's (its probabilities, node-llama-cpp 3.21.1) are
//   small beside that margin;
// - the 2026 families' files (qwen3, gemma3 — the families2 lines — and qwen3moe — the 30B-A3B line), tiny models
//   exported to GGUF by our writer: the judge's float64 forward on the file gives the log-probs of the float64
//   reference on the same weights in their transformers layout (Gemma's norms as w with the (1 + w) of HF, there as
//   the stored 1 + w), the verdict comes out both ways round, and of a mixture's experts only those the tokens are
//   routed to are decoded, each one expert's rows of the layer's 3-D tensor.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Engine } from '../src/main/engine/engine'
import { loadAddon } from '../src/main/engine/native'
import { SentencePieceTokenizer } from '../src/main/engine/tokenizers/sentencepiece/tokenizer'
import { float64NextLogProbs, judgeFirstDifference } from '../tools/bench/judge'
import { LlamaCppModule, loadPeer, PeerSession, peerSession } from '../tools/bench/peer'
import { sharedPrefix } from '../tools/bench/turns'
import { exportGguf } from '../src/main/engine/export/gguf'
import { readGguf } from '../src/main/engine/formats/gguf/read'
import { floatToHalf, KBlock, kBlockValues, packK, QType, quantise, quantisedTwins, unpackK } from './ggml'
import { halfToFloat } from './half'
import { ORGANISM, rng, TinyConfig, tinyTensors, tmp, writeTinyModel } from './helpers'
import { MoeTiny, writeMoe } from './moeTiny'
import { readWeights } from './reference/check'
import { refDecode, refGguf } from './reference/gguf'
import { refDefaultInvFreq, RefConfig, refLogits, refLogProbs, RefWeights } from './reference/llama'

/** the block types of the bench's 1.1B files (benchFamilies.ts), and Q4_0 */
const TYPES: QType[] = ['Q4_K', 'Q5_K', 'Q6_K', 'Q8_0', 'Q4_0', 'Q5_0', 'Q5_1', 'Q3_K', 'IQ4_XS']

describe('float64 decoding of the bench files’ blocks', () => {
  it('unpackK is packK’s inverse on random Q4_K, Q5_K and Q6_K blocks', () => {
    const rand = rng(11)
    const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1))
    for (const t of ['Q4_K', 'Q5_K', 'Q6_K'] as const)
      for (let n = 0; n < 200; n++) {
        const six = t === 'Q6_K'
        const b: KBlock = {
          d: halfToFloat(floatToHalf((rand() - 0.5) * 0.02)),
          dmin: six ? 0 : halfToFloat(floatToHalf(rand() * 0.01)),
          sc: Array.from({ length: six ? 16 : 8 }, () => (six ? int(-128, 127) : int(0, 63))),
          m: six ? [] : Array.from({ length: 8 }, () => int(0, 63)),
          q: Array.from({ length: 256 }, () => int(0, t === 'Q4_K' ? 15 : t === 'Q5_K' ? 31 : 63)),
        }
        expect(unpackK(t, packK(t, b)), `${t} block ${n}`).toEqual(b)
      }
  })

  it('refDecode’s K-quant decoders give unpackK + kBlockValues’s values on random Q4_K, Q5_K and Q6_K bytes', () => {
    const rand = rng(12)
    for (const [t, size, dAt] of [['Q4_K', 144, [0, 2]], ['Q5_K', 176, [0, 2]], ['Q6_K', 210, [208]]] as const) {
      const bytes = Uint8Array.from({ length: 64 * size }, () => Math.floor(rand() * 256))
      for (let k = 0; k < 64; k++) for (const at of dAt) Buffer.from(bytes.buffer).writeUInt16LE(floatToHalf((rand() - 0.3) * 0.01), k * size + at)
      const want: number[] = []
      for (let k = 0; k < 64; k++) want.push(...kBlockValues(t, unpackK(t, bytes.subarray(k * size, (k + 1) * size))))
      expect(Array.from(refDecode(t, bytes)), t).toEqual(want)
    }
  })

  it('F16 and BF16: refDecode gives each 16-bit value', () => {
    const rand = rng(13)
    const bytes = Uint8Array.from({ length: 2 * 4096 }, () => Math.floor(rand() * 256))
    const view = new DataView(bytes.buffer)
    const bf16 = (i: number): number => new DataView(Uint32Array.of(view.getUint16(2 * i, true) << 16).buffer).getFloat32(0, true)
    expect(Array.from(refDecode('F16', bytes))).toEqual(Array.from({ length: 4096 }, (_, i) => halfToFloat(view.getUint16(2 * i, true))))
    expect(Array.from(refDecode('BF16', bytes))).toEqual(Array.from({ length: 4096 }, (_, i) => bf16(i)))
  })

  for (const t of TYPES)
    it(`${t}: refDecode of the quantised bytes gives the weights the quantiser computed`, () => {
      const rand = rng(100 + TYPES.indexOf(t))
      const data = Float32Array.from({ length: 8 * 256 }, () => (rand() - 0.5) * 0.1)
      const { bytes, values } = quantise(t, data, 256)
      expect(Array.from(refDecode(t, bytes))).toEqual(Array.from(values))
    })
})

/** the organism's pieces, as a GGUF "llama" vocabulary lists them */
function pieces(): { text: string; score: number; type: number }[] {
  const sp = SentencePieceTokenizer.fromFile(join(ORGANISM, 'tokenizer.model'))
  return Array.from({ length: sp.vocabSize }, (_, i) => sp.pieceInfo(i))
}

/** the float64 reference's config of an HF Llama directory (config.json) */
function hfRefConfig(dir: string): RefConfig {
  const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, number & { rope_theta: number }>
  const headDim = c.head_dim ?? c.hidden_size / c.num_attention_heads
  return {
    vocab: c.vocab_size, dim: c.hidden_size, ffn: c.intermediate_size, layers: c.num_hidden_layers, heads: c.num_attention_heads,
    kvHeads: c.num_key_value_heads, headDim, eps: c.rms_norm_eps, invFreq: refDefaultInvFreq(c.rope_parameters.rope_theta, headDim),
    interleaved: false, window: 0, tied: Boolean(c.tie_word_embeddings),
  }
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let worst = 0
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]))
  return worst
}

describe('the judge on a GGUF file of every type the bench files hold', () => {
  // every matrix of the organism in one of TYPES, each type in several layers and roles
  const LIN = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']
  const typeOf = (name: string): QType => {
    if (name === 'model.embed_tokens.weight') return 'Q4_K'
    if (name === 'lm_head.weight') return 'Q6_K'
    const layer = Number(/layers\.(\d+)\./.exec(name)![1])
    return TYPES[(layer * LIN.length + LIN.findIndex((l) => name.includes(l))) % TYPES.length]
  }
  const file = join(tmp(), 'organism-mix.gguf')
  const twinDir = tmp()
  quantisedTwins(ORGANISM, pieces(), typeOf, file, twinDir)
  const twinCfg = hfRefConfig(twinDir)
  const twin = readWeights(twinDir)
  const engine = Engine.load(file)
  const prompt = engine.withBos('To be', 'prompt')
  const V = twinCfg.vocab

  it('the float64 forward on the GGUF blocks gives the log-probs of the same forward on the F32 twin', () => {
    expect(new Set(engine.tensors.filter((t) => t.shape.length === 2).map((t) => t.dtype))).toEqual(new Set(TYPES))
    const ids = engine.withBos('To be, or not to be, that is', 'text')
    const ref = refGguf(file)
    try {
      expect(ref.config).toMatchObject({ vocab: V, dim: twinCfg.dim, layers: twinCfg.layers, heads: twinCfg.heads, interleaved: true, tied: false })
      const want = refLogProbs(refLogits(twinCfg, twin, ids), V).subarray((ids.length - 1) * V)
      expect(maxDiff(float64NextLogProbs(ref, ids), want)).toBeLessThan(1e-9)
    } finally {
      ref.close()
    }
  })

  let llamaCpp: LlamaCppModule
  let session: PeerSession
  beforeAll(async () => {
    llamaCpp = await loadPeer(() => {})
    session = await peerSession(llamaCpp, file, Math.min(2, loadAddon().threads()))
  }, 900_000)
  afterAll(() => session?.dispose())

  it('names the position, the right pick and the float64 margin; both engines’ errors are small beside it', async () => {
    const [g] = await engine.generate({ prompt, views: [[]], maxNew: 16 })
    // a position well clear of a near-tie, where float64's runner-up is a clearly wrong pick
    const k = g.margins.findIndex((m, i) => i > 0 && m > 0.5)
    expect(k).toBeGreaterThan(0)
    const ids = [...prompt, ...g.ids.slice(0, k)]
    const want = refLogProbs(refLogits(twinCfg, twin, ids), V).subarray((ids.length - 1) * V)
    const order = Array.from(want.keys()).sort((a, b) => want[b] - want[a])
    const [top, second] = order
    expect(g.ids[k]).toBe(top)
    const wrong = [...g.ids.slice(0, k), second, ...g.ids.slice(k + 1)]
    const log = (): void => {}

    // ours right: llama.cpp's (here made up) ids take float64's runner-up at k
    const a = await judgeFirstDifference(engine, session, file, prompt, g.ids, wrong, log)
    expect(sharedPrefix(g.ids, wrong)).toBe(k)
    expect(a.float64_prefers).toBe('ours')
    const j = a.float64_judge!
    expect(j).toMatchObject({ position: k, ours_id: top, llamacpp_id: second, float64_top_id: top })
    expect(Math.abs(j.float64_margin - (want[top] - want[second]))).toBeLessThan(2e-6)
    expect(Math.abs(j.ours_margin_error)).toBeLessThan(1e-3)
    expect(j.ours_logprob_error.every((e) => Math.abs(e) < 1e-3)).toBe(true)
    // llama.cpp rounds activations to 8 bits: its error is larger than ours, still far below a clear margin
    expect(j.llamacpp_margin).not.toBeNull()
    expect(Math.abs(j.llamacpp_margin_error!)).toBeLessThan(0.02)

    // the same ids the other way round: llama.cpp right
    const b = await judgeFirstDifference(engine, session, file, prompt, wrong, g.ids, log)
    expect(b.float64_prefers).toBe('llama.cpp')
    expect(b.float64_judge).toMatchObject({ position: k, ours_id: second, llamacpp_id: top })
    expect(b.float64_judge!.float64_margin).toBeCloseTo(-j.float64_margin, 6)

    // nothing to judge when the ids agree, or when one list ends where they would part
    expect(await judgeFirstDifference(engine, session, file, prompt, g.ids, g.ids, log)).toEqual({ float64_prefers: null, float64_judge: null })
    expect((await judgeFirstDifference(engine, null, file, prompt, g.ids, g.ids.slice(0, k), log)).float64_judge).toBeNull()
  }, 600_000)

  it('refuses a file the float64 reference does not read, by name', async () => {
    const other = join(tmp(), 'not-llama.gguf')
    const bytes = readFileSync(file)
    // the same file with its architecture renamed (same length, so every offset holds)
    const at = bytes.indexOf(Buffer.from('llama', 'latin1'), bytes.indexOf(Buffer.from('general.architecture', 'latin1')))
    Buffer.from('llamb', 'latin1').copy(bytes, at)
    writeFileSync(other, bytes)
    const [g] = await engine.generate({ prompt, views: [[]], maxNew: 4 })
    const r = await judgeFirstDifference(engine, null, other, prompt, g.ids, [...g.ids.slice(0, 2), (g.ids[2] + 1) % V], () => {})
    expect(r).toMatchObject({ float64_prefers: null, float64_judge: null })
    expect(r.float64_judge_refused).toMatch(/"llamb" GGUF file; the float64 reference here reads "llama", "qwen3", "qwen3moe", "gemma3" files only/)
  })
})

/**
 * The verdict both ways round at a position of `engine`'s greedy ids clear of a near-tie: float64's runner-up there
 * (from the HF-layout reference `hfLogProbs`) stands in for the other engine's pick, then the two swap.
 */
async function expectVerdictBothWays(engine: Engine, session: PeerSession | null, file: string, hfLogProbs: (ids: number[]) => Float64Array): Promise<void> {
  const prompt = engine.withBos('To be', 'prompt')
  const [g] = await engine.generate({ prompt, views: [[]], maxNew: 12 })
  const k = g.margins.findIndex((m, i) => i > 0 && m > 0.5)
  expect(k).toBeGreaterThan(0)
  const want = hfLogProbs([...prompt, ...g.ids.slice(0, k)])
  const [top, second] = Array.from(want.keys()).sort((a, b) => want[b] - want[a])
  expect(g.ids[k]).toBe(top)
  const wrong = [...g.ids.slice(0, k), second, ...g.ids.slice(k + 1)]
  const log = (): void => {}
  const a = await judgeFirstDifference(engine, session, file, prompt, g.ids, wrong, log)
  expect(a.float64_prefers).toBe('ours')
  const j = a.float64_judge!
  expect(j).toMatchObject({ position: k, ours_id: top, llamacpp_id: second, float64_top_id: top })
  expect(Math.abs(j.float64_margin - (want[top] - want[second]))).toBeLessThan(2e-6)
  expect(Math.abs(j.ours_margin_error)).toBeLessThan(1e-3)
  if (session) {
    expect(j.llamacpp_margin).not.toBeNull()
    expect(Math.abs(j.llamacpp_margin_error!)).toBeLessThan(0.02)
  }
  const b = await judgeFirstDifference(engine, session, file, prompt, wrong, g.ids, log)
  expect(b.float64_prefers).toBe('llama.cpp')
  expect(b.float64_judge).toMatchObject({ position: k, ours_id: second, llamacpp_id: top, float64_top_id: top })
  expect(b.float64_judge!.float64_margin).toBeCloseTo(-j.float64_margin, 6)
}

/** log-probs [T, V] of the float64 reference */
const logProbs = (c: RefConfig, w: RefWeights, ids: number[]): Float64Array => refLogProbs(refLogits(c, w, ids), c.vocab)

describe('the judge on the 2026 families’ GGUF files (qwen3, gemma3, qwen3moe)', () => {
  const V = 4096
  // a sequence longer than Gemma's window of 8, so its sliding layers mask and its global layer does not
  const ids = Array.from({ length: 12 }, (_, i) => (i * 977 + 13) % V)
  const dense: { arch: string; tiny: TinyConfig; ref: RefConfig; tensors?: (c: TinyConfig) => ReturnType<typeof tinyTensors> }[] = [
    {
      arch: 'qwen3',
      tiny: {
        dim: 64, ffn: 128, layers: 2, heads: 4, kvHeads: 2, headDim: 32, tied: true, seed: 81, ropeTheta: 1000000, qkNorm: true,
        configExtra: { model_type: 'qwen3', architectures: ['Qwen3ForCausalLM'], head_dim: 32, rms_norm_eps: 1e-6 },
      },
      ref: { vocab: V, dim: 64, ffn: 128, layers: 2, heads: 4, kvHeads: 2, headDim: 32, eps: 1e-6, invFreq: refDefaultInvFreq(1e6, 32), interleaved: false, window: 0, tied: true, qkNorm: true },
    },
    {
      arch: 'gemma3',
      tiny: {
        dim: 64, ffn: 128, layers: 6, heads: 4, kvHeads: 2, headDim: 16, tied: true, seed: 82, postNorms: true, qkNorm: true, ropeTheta: 1000000,
        configExtra: { model_type: 'gemma3_text', architectures: ['Gemma3ForCausalLM'], head_dim: 16, query_pre_attn_scalar: 16, sliding_window: 8, rms_norm_eps: 1e-6 },
      },
      ref: {
        vocab: V, dim: 64, ffn: 128, layers: 6, heads: 4, kvHeads: 2, headDim: 16, eps: 1e-6, invFreq: refDefaultInvFreq(1e6, 16), interleaved: false, window: 8, tied: true,
        qkNorm: true, normOffset: 1, postNorms: true, geluTanh: true, embeddingMultiplier: 8, attentionScale: 0.25,
        layerSliding: [true, true, true, true, true, false], invFreqLocal: refDefaultInvFreq(10000, 16),
      },
      // norms on a grid of 2^-16, so the 1 + w the GGUF file holds is exact in fp32 and both sides are one model
      tensors: (c) => {
        const t = tinyTensors(c)
        for (const [name, x] of Object.entries(t)) if (name.endsWith('norm.weight')) x.data = x.data.map((v) => Math.round(v * 65536) / 65536)
        return t
      },
    },
  ]

  let llamaCpp: LlamaCppModule
  beforeAll(async () => {
    llamaCpp = await loadPeer(() => {})
  }, 900_000)

  for (const f of dense)
    it(`${f.arch}: the float64 forward on the file = the reference on the HF weights (1e-9); the verdict both ways round`, async () => {
      const dir = writeTinyModel(join(tmp(), 'hf'), f.tiny, f.tensors?.(f.tiny))
      const file = join(tmp(), `${f.arch}.gguf`)
      await exportGguf(Engine.load(dir), [], file, undefined, { dtype: 'F32' })
      const hf = readWeights(dir)
      const ref = refGguf(file)
      try {
        expect(ref.arch).toBe(f.arch)
        const want = logProbs(f.ref, hf, ids)
        expect(maxDiff(logProbs(ref.config, ref.weights, ids), want)).toBeLessThan(1e-9)
        expect(maxDiff(float64NextLogProbs(ref, ids), want.subarray((ids.length - 1) * V))).toBeLessThan(1e-9)
      } finally {
        ref.close()
      }
      const session = await peerSession(llamaCpp, file, Math.min(2, loadAddon().threads()))
      try {
        await expectVerdictBothWays(Engine.load(file), session, file, (x) => logProbs(f.ref, hf, x).subarray((x.length - 1) * V))
      } finally {
        await session.dispose()
      }
    }, 300_000)

  // more experts than two tokens can choose in a layer, so some are never routed to
  const moe: MoeTiny = {
    family: 'qwen3_moe', vocab: V, dim: 64, ffn: 96, layers: 2, heads: 4, kvHeads: 2, headDim: 16, tied: true, experts: 8, topk: 2, expertFfn: 64, moeLayers: [true, true], seed: 83,
    configExtra: { model_type: 'qwen3_moe', architectures: ['Qwen3MoeForCausalLM'], num_experts: 8, num_experts_per_tok: 2, moe_intermediate_size: 64, norm_topk_prob: true, head_dim: 16, rms_norm_eps: 1e-6, rope_theta: 1e6 },
  }
  const moeRef: RefConfig = {
    vocab: V, dim: 64, ffn: 96, layers: 2, heads: 4, kvHeads: 2, headDim: 16, eps: 1e-6, invFreq: refDefaultInvFreq(1e6, 16), interleaved: false, window: 0, tied: true, qkNorm: true,
    moe: { family: 'qwen3_moe', experts: 8, topk: 2, ffn: 64, normTopk: true, layers: [true, true] },
  }

  it('qwen3moe: the float64 forward on the file = the reference on the HF weights (1e-9); only the routed experts are decoded; the verdict both ways round', async () => {
    const dir = writeMoe(moe)
    const file = join(tmp(), 'qwen3moe.gguf')
    await exportGguf(Engine.load(dir), [], file, undefined, { dtype: 'F32' })
    const hf = readWeights(dir)
    const ref = refGguf(file)
    try {
      expect(ref.arch).toBe('qwen3moe')
      expect(ref.config.moe).toMatchObject({ family: 'qwen3_moe', experts: 8, topk: 2, ffn: 64, normTopk: true })
      const want = logProbs(moeRef, hf, ids)
      expect(maxDiff(logProbs(ref.config, ref.weights, ids), want)).toBeLessThan(1e-9)

      // two tokens: each layer's decoded experts are exactly the ones they are routed to, each decoded once
      const few = ids.slice(0, 2)
      const routed = new Set<string>()
      ref.config.moe!.onRoute = (p, _t, chosen) => chosen.forEach((e) => routed.add(`${/\d+/.exec(p)![0]}:${e}`))
      ref.decoded.clear()
      expect(maxDiff(float64NextLogProbs(ref, few), logProbs(moeRef, hf, few).subarray(V))).toBeLessThan(1e-9)
      const decoded = new Set<string>()
      for (const [key, n] of ref.decoded) {
        const m = /^blk\.(\d+)\.ffn_(gate|up|down)_exps\.weight#(\d+)$/.exec(key)
        if (!m) continue
        expect(n, key).toBe(64 * 64)
        decoded.add(`${m[1]}:${m[3]}`)
      }
      expect(routed.size).toBeLessThan(2 * 8)
      expect([...decoded].sort()).toEqual([...routed].sort())
      // no expert tensor was decoded whole
      expect([...ref.decoded.keys()].filter((k) => /_exps\.weight$/.test(k))).toEqual([])
      // the embedding table by the tokens' rows and the (tied) output table once
      expect(ref.decoded.get('token_embd.weight')).toBe((few.length + V) * 64)
      ref.config.moe!.onRoute = undefined
    } finally {
      ref.close()
    }
    const session = await peerSession(llamaCpp, file, Math.min(2, loadAddon().threads()))
    try {
      await expectVerdictBothWays(Engine.load(file), session, file, (x) => logProbs(moeRef, hf, x).subarray((x.length - 1) * V))
    } finally {
      await session.dispose()
    }
  }, 300_000)

  it('qwen3moe in Q8_0: one expert’s rows decode to its slice of the whole 3-D tensor', async () => {
    const file = join(tmp(), 'qwen3moe-q8.gguf')
    await exportGguf(Engine.load(writeMoe(moe)), [], file, undefined, { dtype: 'Q8_0' })
    const g = readGguf(file)
    const ref = refGguf(file)
    try {
      for (const [hfName, name, e, size] of [
        ['model.layers.1.mlp.experts.5.down_proj.weight', 'blk.1.ffn_down_exps.weight', 5, 64 * 64],
        ['model.layers.0.mlp.experts.7.gate_proj.weight', 'blk.0.ffn_gate_exps.weight', 7, 64 * 64],
        ['model.layers.0.mlp.experts.0.up_proj.weight', 'blk.0.ffn_up_exps.weight', 0, 64 * 64],
      ] as const) {
        const t = g.tensors.find((x) => x.name === name)!
        expect(t.typeName).toBe('Q8_0')
        const whole = refDecode(t.typeName, readFileSync(file).subarray(t.offset, t.offset + t.bytes))
        expect(Array.from(ref.weights[hfName])).toEqual(Array.from(whole.subarray(e * size, (e + 1) * size)))
      }
    } finally {
      ref.close()
    }
  })

  it('a "llama" file with experts (Mixtral) is refused by name', async () => {
    const file = join(tmp(), 'mixtral.gguf')
    const mixtral: MoeTiny = {
      ...moe, family: 'mixtral', tied: false, seed: 84,
      configExtra: { model_type: 'mixtral', architectures: ['MixtralForCausalLM'], num_local_experts: 8, num_experts_per_tok: 2, intermediate_size: 64, rope_theta: 1e6 },
    }
    await exportGguf(Engine.load(writeMoe(mixtral)), [], file, undefined, { dtype: 'F32' })
    expect(() => refGguf(file)).toThrow(/is a "llama" file with experts \(Mixtral\); the float64 reference here reads the mixtures of "qwen3moe" files only/)
  })
})
