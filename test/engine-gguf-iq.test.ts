// Models whose every matrix is one IQ grid type (random valid blocks written here, the organism's shape and
// tokenizer), run by llama.cpp itself (node-llama-cpp 3.21.1), by our engine and by our engine on the same weights
// dequantised into an F32 HF directory (by the test's own decoder, test/ggml-iq.ts). llama.cpp decodes the blocks
// with its own grid tables: a model whose token embeddings are the type (llama.cpp reads those rows exactly) gives
// its logits within 1e-3 — a check of the tables the engine carries as well as of the decoding; a model whose every
// matrix is the type gives its next tokens wherever its 8-bit activations cannot flip them, and the F32 twin's ids
// and logits.
import { readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { Engine } from '../src/main/engine/engine'
import { readGguf } from '../src/main/engine/formats/gguf/read'
import { loadAddon } from '../src/main/engine/native'
import { LlamaCppModule, loadPeer } from '../tools/bench/peer'
import { SentencePieceTokenizer } from '../src/main/engine/tokenizers/sentencepiece/tokenizer'
import { ORGANISM, rng, tmp } from './helpers'
import { GgufTensorOut, ggufName, writeF32Dir, writeLlamaGguf } from './ggml'
import { IQ_BLOCK, IQ_TYPES, IqType, iqValues, randomIqBlocks, setIqScale } from './ggml-iq'

const PROMPT = 'To be, or not to be'
const N = 24

/** The organism's shape and tokenizer with random weights: the matrices `stored(name)` says stored as t, the others
 *  F32, norms 1. The GGUF file and an F32 HF directory holding the values the blocks decode to (q/k rows in HF order
 *  there, interleaved in the GGUF). */
function iqTwins(t: IqType, seed: number, stored: (hfName: string) => boolean): { gguf: string; twin: string } {
  const cfg = JSON.parse(readFileSync(join(ORGANISM, 'config.json'), 'utf8')) as Record<string, number>
  const D = cfg.hidden_size, F = cfg.intermediate_size, V = cfg.vocab_size, L = cfg.num_hidden_layers
  const H = cfg.num_attention_heads, KV = cfg.num_key_value_heads, hd = cfg.head_dim
  const rand = rng(seed)
  const shapes: [string, number[]][] = [['model.embed_tokens.weight', [V, D]], ['lm_head.weight', [V, D]], ['model.norm.weight', [D]]]
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}.`
    shapes.push([`${p}self_attn.q_proj.weight`, [H * hd, D]], [`${p}self_attn.k_proj.weight`, [KV * hd, D]],
      [`${p}self_attn.v_proj.weight`, [KV * hd, D]], [`${p}self_attn.o_proj.weight`, [D, H * hd]],
      [`${p}mlp.gate_proj.weight`, [F, D]], [`${p}mlp.up_proj.weight`, [F, D]], [`${p}mlp.down_proj.weight`, [D, F]],
      [`${p}input_layernorm.weight`, [D]], [`${p}post_attention_layernorm.weight`, [D]])
  }
  const twin = new Map<string, { shape: number[]; data: Float32Array }>()
  const tensors: GgufTensorOut[] = []
  for (const [name, shape] of shapes) {
    if (shape.length === 1) {
      const ones = new Float32Array(shape[0]).fill(1)
      twin.set(name, { shape, data: ones })
      tensors.push({ name: ggufName(name), dims: [shape[0]], type: 0, bytes: Buffer.from(ones.buffer) })
      continue
    }
    // random blocks, their scales then set so that the weights' rms is ~0.05 (embeddings 1): a model whose
    // next-token distributions are neither flat nor one-hot
    const target = name.includes('embed') ? 1 : 0.05
    const heads = name.endsWith('q_proj.weight') ? H : name.endsWith('k_proj.weight') ? KV : 0
    if (!stored(name)) {
      const values = new Float32Array(shape[0] * shape[1]).map(() => target * Math.sqrt(3) * (2 * rand() - 1))
      twin.set(name, { shape, data: heads ? deinterleaveRows(values, shape[0], shape[1], heads) : values })
      tensors.push({ name: ggufName(name), dims: [shape[1], shape[0]], type: 0, bytes: Buffer.from(values.buffer) })
      continue
    }
    const nb = (shape[0] * shape[1]) / 256
    const bytes = randomIqBlocks(t, nb, rand, () => 1)
    const unit = iqValues(t, bytes)
    const rms = Math.sqrt(unit.reduce((s, v) => s + v * v, 0) / unit.length)
    for (let b = 0; b < nb; b++) setIqScale(t, bytes, b * IQ_BLOCK[t].bytes, (target / rms) * (0.5 + rand()))
    const values = iqValues(t, bytes) // rows in GGUF order
    twin.set(name, { shape, data: heads ? deinterleaveRows(values, shape[0], shape[1], heads) : values })
    tensors.push({ name: ggufName(name), dims: [shape[1], shape[0]], type: IQ_BLOCK[t].ggmlType, bytes: Buffer.from(bytes) })
  }
  const dir = tmp()
  const twinDir = writeF32Dir(join(dir, 'twin'), ORGANISM, twin)
  const sp = SentencePieceTokenizer.fromFile(join(ORGANISM, 'tokenizer.model'))
  const pieces = Array.from({ length: sp.vocabSize }, (_, i) => sp.pieceInfo(i))
  const gguf = join(dir, `random-${t}.gguf`)
  writeLlamaGguf(gguf, cfg as Record<string, number & Record<string, number>>, pieces, tensors)
  return { gguf, twin: twinDir }
}

/** GGUF ("llama") interleaved q/k rows → HF's rotate-half order: HF row h·hd + i is GGUF row h·hd + 2i, HF row
 *  h·hd + hd/2 + i is GGUF row h·hd + 2i + 1. */
function deinterleaveRows(src: Float32Array, rows: number, cols: number, heads: number): Float32Array {
  const out = new Float32Array(src.length)
  const hd = rows / heads, half = hd / 2
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < half; i++) {
      out.set(src.subarray((h * hd + 2 * i) * cols, (h * hd + 2 * i + 1) * cols), (h * hd + i) * cols)
      out.set(src.subarray((h * hd + 2 * i + 1) * cols, (h * hd + 2 * i + 2) * cols), (h * hd + half + i) * cols)
    }
  return out
}

/** the parts of node-llama-cpp's API used here beyond peer.ts's: the full next-token distribution at each position */
interface ProbabilityPeer {
  getLlama(o: { gpu: false; build: 'never' }): Promise<{
    loadModel(o: { modelPath: string }): Promise<{
      createContext(o: {
        contextSize: number
        threads: number
        flashAttention: boolean
        experimentalKvCacheKeyType: 'F32'
        experimentalKvCacheValueType: 'F32'
      }): Promise<{
        getSequence(): {
          controlledEvaluate(input: [number, { generateNext: { probabilities: true; options: Record<string, number> } }][]): Promise<
            ({ next: { probabilities?: Map<number, number> } } | undefined)[]
          >
        }
        dispose(): Promise<void>
      }>
      dispose(): Promise<void>
    }>
  }>
}

/** llama.cpp's K most likely next tokens at every position t of each sequence, with their logits relative to the
 *  first's (log of its probabilities renormalised over the K: temperature 1, keys and values cached in F32 as ours) */
type PeerTop = { id: number; gap: number }[]
const TOP_K = 16
async function peerTops(peer: LlamaCppModule, file: string, seqs: number[][]): Promise<PeerTop[][]> {
  const llama = await (peer as unknown as ProbabilityPeer).getLlama({ gpu: false, build: 'never' })
  const model = await llama.loadModel({ modelPath: file })
  try {
    const all: PeerTop[][] = []
    for (const ids of seqs) {
      const ctx = await model.createContext({
        contextSize: Math.max(128, ids.length + 8), threads: Math.min(2, loadAddon().threads()), flashAttention: false,
        experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32',
      })
      try {
        const out = await ctx.getSequence().controlledEvaluate(
          ids.map((id) => [id, { generateNext: { probabilities: true, options: { temperature: 1, topK: TOP_K, topP: 1, minP: 0 } } }]),
        )
        all.push(out.map((o, t) => {
          const p = o?.next.probabilities
          if (!p || p.size !== TOP_K) throw new Error(`llama.cpp gave ${p?.size ?? 'no'} probabilities at position ${t}, not ${TOP_K}`)
          const [[, first]] = p // the map is sorted, most likely first
          return [...p].map(([id, prob]) => ({ id, gap: Math.log(prob / first) }))
        }))
      } finally {
        await ctx.dispose()
      }
    }
    return all
  } finally {
    await model.dispose()
  }
}

/** largest |Δ| over llama.cpp's top tokens of (logit − logit of its most likely token), ours against theirs, at every
 *  position: the logits up to softmax's free constant */
function worstLogitGap(ours: Float32Array[], theirs: PeerTop[]): number {
  let worst = 0
  ours.forEach((row, p) => {
    const top = theirs[p][0].id
    for (const { id, gap } of theirs[p]) worst = Math.max(worst, Math.abs(row[id] - row[top] - gap))
  })
  return worst
}

async function greedy(e: Engine): Promise<{ ids: number[]; n: number }> {
  const [g] = await e.generate({ prompt: e.withBos(PROMPT, 'prompt'), views: [[]], maxNew: N })
  const tie = g.margins.findIndex((m) => m < 1e-3)
  return { ids: Array.from(g.ids), n: tie < 0 ? g.ids.length : tie }
}

let llamaCpp: LlamaCppModule
beforeAll(async () => {
  llamaCpp = await loadPeer(() => {})
}, 900_000)

describe('IQ grid types: llama.cpp decodes the same weights from the same blocks', () => {
  for (const t of IQ_TYPES)
    it(`${t}: token embeddings stored as ${t} (the rest F32), 1200 tokens: logits as llama.cpp computes them`, async () => {
      // llama.cpp reads an embedding row with its reference dequantisation (no rounding of activations, unlike its
      // IQ products): 1200 distinct rows × 32 or 64 random grid indices read every point of every grid (of 2048, the
      // largest, each is missed with probability e^−18.75), so a wrong table entry or bit moves some logit far past
      // the tolerance
      const { gguf } = iqTwins(t, 7000 + IQ_TYPES.indexOf(t), (n) => n === 'model.embed_tokens.weight')
      const ours = Engine.load(gguf)
      const V = ours.config.vocab
      const order = Array.from({ length: V }, (_, i) => i)
      const rand = rng(42)
      for (let i = V - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1))
        ;[order[i], order[j]] = [order[j], order[i]]
      }
      const seqs = [0, 1, 2].map((k) => order.slice(400 * k, 400 * (k + 1)))
      const theirs = await peerTops(llamaCpp, gguf, seqs)
      let worst = 0
      for (let k = 0; k < seqs.length; k++) {
        const [row] = await ours.score({ ids: seqs[k], views: [[]], fullAt: seqs[k].map((_, i) => i) })
        worst = Math.max(worst, worstLogitGap(row.full, theirs[k]))
      }
      console.log(`${t} embeddings: largest |Δ logit| vs llama.cpp over 3 × 400 positions × top ${TOP_K} ${worst.toExponential(2)}`)
      expect(worst, `${t}: largest |Δ logit| against llama.cpp`).toBeLessThan(1e-3)
    }, 300_000)
})

describe('IQ grid types: a model of each type = llama.cpp = its dequantised F32 twin', () => {
  for (const t of IQ_TYPES)
    it(`${t}: greedy ids and logits as its F32 twin; llama.cpp's next tokens wherever its 8-bit activations cannot flip them`, async () => {
      const { gguf, twin } = iqTwins(t, 5000 + IQ_TYPES.indexOf(t), () => true)
      const ours = Engine.load(gguf)
      expect(new Set(ours.tensors.filter((x) => x.shape.length === 2).map((x) => x.dtype))).toEqual(new Set([t]))
      const mine = await greedy(ours)
      const dense = await greedy(Engine.load(twin))
      const n = Math.min(mine.n, dense.n)
      expect(n, 'comparable tokens (twin)').toBeGreaterThan(8)
      expect(dense.ids.slice(0, n), 'F32 twin').toEqual(mine.ids.slice(0, n))
      expect(new Set(mine.ids).size, 'a completion that is not one token repeated').toBeGreaterThan(2)

      const [a, b] = [ours, Engine.load(twin)].map(async (e) => (await e.score({ ids: [...e.withBos(PROMPT, 'prompt'), ...mine.ids], views: [[]], fullAt: [0, 3, 9] }))[0])
      const [ra, rb] = await Promise.all([a, b])
      let twinWorst = 0
      ra.full.forEach((r, k) => r.forEach((v, i) => (twinWorst = Math.max(twinWorst, Math.abs(v - rb.full[k][i])))))
      expect(twinWorst, 'logits of the F32 twin').toBeLessThan(1e-4)

      // llama.cpp on the same file, along our prompt + completion. Its IQ products round the activations to 8 bits
      // (ggml's q8_K) where ours keep fp32: on these models that moves logits by up to ~0.2 (measured 0.16–0.20 over
      // the seven types), so its choice must be ours wherever our top-1/top-2 margin exceeds 0.5, and its logits stay
      // within 0.5 of ours. (That llama.cpp decodes the blocks to exactly our weights is the embedding test above: 1e-5.)
      const prompt = ours.withBos(PROMPT, 'prompt')
      const ids = [...prompt, ...mine.ids.slice(0, mine.n)]
      const [theirs] = await peerTops(llamaCpp, gguf, [ids])
      const [row] = await ours.score({ ids, views: [[]], fullAt: ids.map((_, i) => i) })
      const worst = worstLogitGap(row.full, theirs)
      let compared = 0
      row.full.forEach((r, p) => {
        const top = (x: ArrayLike<number>): [number, number] => {
          let b1 = 0, b2 = 1
          if (x[b2] > x[b1]) [b1, b2] = [b2, b1]
          for (let v = 2; v < x.length; v++) if (x[v] > x[b1]) [b1, b2] = [v, b1]
            else if (x[v] > x[b2]) b2 = v
          return [b1, b2]
        }
        const [o1, o2] = top(r)
        if (r[o1] - r[o2] < 0.5) return
        compared++
        expect(theirs[p][0].id, `${t}: llama.cpp's most likely next token at position ${p}`).toBe(o1)
      })
      console.log(`${t}: ${mine.n} greedy tokens; ${compared} of ${ids.length} positions with margin ≥ 0.5 agree with llama.cpp; largest |Δ logit| ${worst.toExponential(2)}`)
      expect(compared, `${t}: positions compared`).toBeGreaterThan(8)
      expect(worst, `${t}: largest |Δ logit| against llama.cpp`).toBeLessThan(0.5)
    }, 300_000)
})

describe('IQ grid types: malformed blocks and tensors (docs/bad-inputs.md)', () => {
  it('a NaN scale in an IQ3_S block of lm_head is computed (NaN), and the run refuses the non-finite logits in words', async () => {
    const { gguf } = iqTwins('IQ3_S', 9000, () => true)
    const info = readGguf(gguf).tensors.find((x) => x.name === 'output.weight')!
    const bytes = readFileSync(gguf)
    bytes.writeUInt16LE(0x7e00, info.offset) // block 0 of row 0: d = NaN
    writeFileSync(gguf, bytes)
    const e = Engine.load(gguf)
    await expect(e.generate({ prompt: e.withBos(PROMPT, 'prompt'), views: [[]], maxNew: 4 })).rejects.toThrow(
      /the model produced non-finite logits \(NaN\/inf\) at step 1/,
    )
  }, 120_000)

  it('an IQ tensor whose rows are not whole blocks of 256 is refused, naming the tensor', () => {
    const { gguf } = iqTwins('IQ2_XS', 9001, () => true)
    // rewrite token_embd's dims [256, 4096] as [128, 8192] (same byte count) in the tensor table
    const bytes = readFileSync(gguf)
    const name = Buffer.from('token_embd.weight')
    const at = bytes.indexOf(name) + name.length + 4 // past the name and n_dims
    expect(bytes.readBigUInt64LE(at)).toBe(256n)
    bytes.writeBigUInt64LE(128n, at)
    bytes.writeBigUInt64LE(8192n, at + 8)
    writeFileSync(gguf, bytes)
    expect(() => Engine.load(gguf)).toThrow(/random-IQ2_XS\.gguf: token_embd\.weight: rows of 128 weights are not whole IQ2_XS blocks of 256/)
  }, 120_000)

  it('an IQ1_M file cut short inside its last tensor is refused, naming the tensor and the byte counts', () => {
    const { gguf } = iqTwins('IQ1_M', 9002, () => true)
    const last = readGguf(gguf).tensors.filter((x) => x.typeName === 'IQ1_M').at(-1)!
    expect(last.bytes).toBe(((last.dims[0] * last.dims[1]) / 256) * 56)
    expect(statSync(gguf).size).toBeGreaterThan(last.offset + last.bytes)
    truncateSync(gguf, last.offset + last.bytes - 30)
    expect(() => Engine.load(gguf)).toThrow(
      new RegExp(`${last.name.replace(/\./g, '\\.')}: data \\(${last.bytes} bytes at ${last.offset}\\) runs past the end of the file \\(\\d+ bytes\\) — truncated download\\?`),
    )
  }, 120_000)
})
