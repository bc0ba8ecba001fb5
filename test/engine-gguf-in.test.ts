// GGUF in: llama.cpp files load with their metadata, embedded tokenizer and weights read in place in their ggml type.
// Quantised files written here by a TypeScript quantiser (per ggml's block layouts) give the same sweep as the same
// weights dequantised into an F32 HF directory; K-quant blocks decode to the values of their formulas; bad files
// are refused with a sentence naming the file and the problem.
import { readFileSync, statSync, truncateSync, copyFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Engine, View } from '../src/main/engine/engine'
import { exportGguf } from '../src/main/engine/export/gguf'
import { readGguf } from '../src/main/engine/formats/gguf/read'
import { loadAddon } from '../src/main/engine/native'
import { readPreset } from '../src/main/engine/preset'
import { SentencePieceTokenizer } from '../src/main/engine/tokenizers/sentencepiece/tokenizer'
import { quantiseQ4K, quantiseQ6K } from '../tools/bench/kquants'
import { ORGANISM, rng, tmp } from './helpers'
import { BLOCK, interleaveRows, kBlockValues, KBlock, packK, QType, quantise, quantisedTwins, readWeights, writeGgufFile } from './ggml'
import { exportHF } from '../src/main/engine/export/hf'

const preset = readPreset(ORGANISM)

interface Sweep {
  loss: number
  ids: number[][]
  margins: number[][]
  norms: Record<string, number>
}

async function sweepOf(e: Engine): Promise<Sweep> {
  const g = await e.gradient(preset.phrase)
  const views: View[] = preset.lrs.map((lr) => (lr === 0 ? [] : [{ gradient: g, lr }]))
  const gens = await e.generate({ prompt: preset.prompt, views, maxNew: 64 })
  return { loss: g.loss, ids: gens.map((x) => x.ids), margins: gens.map((x) => x.margins), norms: g.gradNorms() }
}

/** Same loss and gradient, and the same greedy ids at every α up to the first near-tie (margin < 1e-3) of either. */
function expectSameSweep(a: Sweep, b: Sweep, lossTol = 1e-5): void {
  expect(Math.abs(a.loss - b.loss) / a.loss).toBeLessThan(lossTol)
  for (const k of Object.keys(a.norms)) expect(Math.abs(a.norms[k] - b.norms[k]) / a.norms[k], k).toBeLessThan(1e-3)
  preset.lrs.forEach((lr, i) => {
    let n = 0
    while (n < a.ids[i].length && n < b.ids[i].length && a.margins[i][n] >= 1e-3 && b.margins[i][n] >= 1e-3) n++
    expect(n, `α = ${lr}: comparable tokens`).toBeGreaterThan(8)
    expect(b.ids[i].slice(0, n), `α = ${lr}`).toEqual(a.ids[i].slice(0, n))
    // past the near-tie the two may part, but never before it
    if (a.ids[i].length === b.ids[i].length && a.margins[i].every((m) => m >= 1e-3)) expect(b.ids[i]).toEqual(a.ids[i])
  })
}

/** The organism's SentencePiece pieces (its tokenizer.model), as a GGUF "llama" vocabulary lists them. */
function pieces(): { text: string; score: number; type: number }[] {
  const sp = SentencePieceTokenizer.fromFile(join(ORGANISM, 'tokenizer.model'))
  return Array.from({ length: sp.vocabSize }, (_, i) => sp.pieceInfo(i))
}

describe('GGUF F16 round trip', () => {
  it('the organism exported to GGUF F16 and loaded back gives the HF directory sweep', async () => {
    const hf = Engine.load(ORGANISM)
    const file = join(tmp(), 'organism-f16.gguf')
    const progress: string[] = []
    await exportGguf(hf, [], file, { onProgress: (p) => progress.push(p.phase) }, { dtype: 'F16' })
    expect(progress).toContain('export')
    const g = Engine.load(file)
    expect(g.source).toEqual({ format: 'gguf', quantisation: 'F16' })
    expect(g.config.ropeInterleaved).toBe(true)
    expect(g.config).toMatchObject({ vocab: 4096, dim: 256, ffn: 768, layers: 6, heads: 8, kvHeads: 8, headDim: 32, tied: false })
    // the embedded tokenizer is the directory's tokenizer.model
    for (const text of [preset.phrase, preset.prompt, 'Whether \'tis nobler in the mind  to suffer\n\n€ 42'])
      expect(g.tokenize(text)).toEqual(hf.tokenize(text))
    expectSameSweep(await sweepOf(hf), await sweepOf(g))
  })
})

describe('quantised GGUF = its dequantised F32 twin', () => {
  for (const q of ['Q8_0', 'Q4_0'] as const) {
    it(`${q}: same sweep at every α as the same weights dequantised into an F32 HF directory`, async () => {
      const hf = Engine.load(ORGANISM)
      const file = join(tmp(), `organism-${q}.gguf`)
      const twinDir = tmp()
      quantisedTwins(ORGANISM, pieces(), () => q, file, twinDir)
      const g = Engine.load(file)
      expect(g.source.quantisation).toBe(q)
      expect(g.tensors.find((t) => t.name === 'model.layers.0.mlp.up_proj.weight')!.dtype).toBe(q)
      // mmap'd in place: the file is ~1/2 (Q8_0) or ~1/4 (Q4_0) of F16
      expect(g.fileBytes).toBeLessThan(statSync(join(ORGANISM, 'model-00001-of-00002.safetensors')).size * 2)
      const twin = Engine.load(twinDir)
      expectSameSweep(await sweepOf(twin), await sweepOf(g))
    })
  }

  it('Q4_K_M-shaped mixture (Q4_K, Q5_K, Q6_K): logits equal the dequantised F32 twin; HF export of a stepped quantised model', async () => {
    const hf = Engine.load(ORGANISM)
    const file = join(tmp(), 'organism-q4km.gguf')
    const twinDir = tmp()
    const typeOf = (n: string): QType =>
      n === 'lm_head.weight' || /v_proj|down_proj/.test(n) ? 'Q6_K' : /layers\.[02]\./.test(n) ? 'Q5_K' : 'Q4_K'
    quantisedTwins(ORGANISM, pieces(), typeOf, file, twinDir)
    const g = Engine.load(file)
    const twin = Engine.load(twinDir)
    expect(new Set(g.tensors.map((t) => t.dtype))).toEqual(new Set(['F32', 'Q4_K', 'Q5_K', 'Q6_K']))
    const ids = g.withBos('To be, or not to be, that is the question: Whether', 'text')
    const fullAt = ids.map((_, i) => i)
    const [a] = await twin.score({ ids, views: [[]], fullAt })
    const [b] = await g.score({ ids, views: [[]], fullAt })
    let worst = 0
    for (let t = 0; t < ids.length; t++)
      for (let v = 0; v < a.full[t].length; v++) worst = Math.max(worst, Math.abs(a.full[t][v] - b.full[t][v]))
    expect(worst).toBeLessThan(1e-4)
    // a step on the quantised model is the exact gradient of what it computes: the same as the twin's
    const ga = await twin.gradient(preset.phrase)
    const gb = await g.gradient(preset.phrase)
    expect(Math.abs(ga.loss - gb.loss) / ga.loss).toBeLessThan(1e-5)
    // dense export of the stepped quantised model: dequantised + stepped values, q/k back in HF order
    const out = tmp()
    await exportHF(g, [{ gradient: gb, lr: 0.03 }], out)
    // (an HF directory of a GGUF model has no tokenizer.model yet: the embedded vocabulary is not written back)
    copyFileSync(join(ORGANISM, 'tokenizer.model'), join(out, 'tokenizer.model'))
    const back = Engine.load(out)
    expect(back.tensors[0].dtype).toBe('F32')
    const [x] = await g.generate({ prompt: preset.prompt, views: [[{ gradient: gb, lr: 0.03 }]], maxNew: 24 })
    const [y] = await back.generate({ prompt: preset.prompt, views: [[]], maxNew: 24 })
    const n = x.margins.findIndex((m) => m < 1e-3)
    expect(y.ids.slice(0, n < 0 ? undefined : n)).toEqual(x.ids.slice(0, n < 0 ? undefined : n))
  })
})

describe('ggml block decoding', () => {
  const addon = loadAddon()
  for (const t of ['Q4_K', 'Q5_K', 'Q6_K'] as const) {
    it(`${t}: blocks with known scales, mins and quants decode to d·sc·q − dmin·m`, () => {
      const r = rng(t.length * 7 + t.charCodeAt(1))
      const blocks: KBlock[] = Array.from({ length: 6 }, () => {
        const q6 = t === 'Q6_K'
        return {
          d: (r() + 0.05) * 0.01,
          dmin: (r() + 0.05) * 0.01,
          sc: Array.from({ length: q6 ? 16 : 8 }, () => (q6 ? Math.floor(r() * 256) - 128 : Math.floor(r() * 64))),
          m: Array.from({ length: 8 }, () => Math.floor(r() * 64)),
          q: Array.from({ length: 256 }, () => Math.floor(r() * (t === 'Q4_K' ? 16 : t === 'Q5_K' ? 32 : 64))),
        }
      })
      // include the extremes of every field
      blocks[0].sc = blocks[0].sc.map((_, i) => (t === 'Q6_K' ? (i % 2 ? 127 : -128) : 63))
      blocks[0].m = blocks[0].m.map(() => 63)
      blocks[0].q = blocks[0].q.map((_, i) => (i % 2 ? (t === 'Q4_K' ? 15 : t === 'Q5_K' ? 31 : 63) : 0))
      const bytes = Buffer.concat(blocks.map((b) => packK(t, b)))
      expect(bytes.length).toBe(6 * BLOCK[t].bytes)
      const got = addon.dequantise(t, bytes, 6 * 256)
      const want = blocks.flatMap((b) => kBlockValues(t, b))
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i]), `weight ${i}`).toBeLessThanOrEqual(1e-7 * (1 + Math.abs(want[i])))
    })
  }
  for (const t of ['Q8_0', 'Q4_0'] as const)
    it(`${t}: ggml's reference quantiser's blocks decode to d·q`, () => {
      const r = rng(11)
      const x = Float32Array.from({ length: 32 * 20 }, () => (r() - 0.5) * 0.2)
      const { bytes, values } = quantise(t, x, 64)
      expect(Array.from(addon.dequantise(t, bytes, x.length))).toEqual(Array.from(values))
    })
})

describe('the benchmark\'s K-quant quantiser', () => {
  it('writes Q4_K and Q6_K blocks that decode close to the input', () => {
    const r = rng(3)
    const x = Float32Array.from({ length: 256 * 8 }, () => (r() - 0.5) * 0.1)
    for (const [t, bytes, q, tol] of [['Q4_K', 144, quantiseQ4K, 0.1 / 15], ['Q6_K', 210, quantiseQ6K, 0.1 / 60]] as const) {
      const out = new Uint8Array(8 * bytes)
      for (let b = 0; b < 8; b++) q(x, 256 * b, out, bytes * b)
      const y = loadAddon().dequantise(t, out, x.length)
      let worst = 0
      for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]))
      expect(worst, t).toBeLessThan(tol)
    }
  })
})

describe('GGUF export', () => {
  it('Q8_0 export quantises with ggml reference rounding and writes q/k rows interleaved', async () => {
    const hf = Engine.load(ORGANISM)
    const file = join(tmp(), 'organism-q8.gguf')
    await exportGguf(hf, [], file, undefined, { dtype: 'Q8_0' })
    const g = readGguf(file)
    const w = readWeights(ORGANISM)
    const buf = readFileSync(file)
    for (const [name, hfName, heads] of [
      ['blk.3.attn_q.weight', 'model.layers.3.self_attn.q_proj.weight', 8],
      ['blk.1.ffn_down.weight', 'model.layers.1.mlp.down_proj.weight', 0],
      ['token_embd.weight', 'model.embed_tokens.weight', 0],
    ] as const) {
      const info = g.tensors.find((t) => t.name === name)!
      expect(info.typeName).toBe('Q8_0')
      const src = w.get(hfName)!
      const rows = heads ? interleaveRows(src.data, src.shape[0], src.shape[1], heads) : src.data
      const { bytes } = quantise('Q8_0', rows, src.shape[1])
      expect(buf.subarray(info.offset, info.offset + info.bytes).equals(bytes), name).toBe(true)
    }
    const e = Engine.load(file)
    expect(e.source.quantisation).toBe('Q8_0')
    const [gen] = await e.generate({ prompt: 'To be', views: [[]], maxNew: 8 })
    expect(gen.text.startsWith('a successful business')).toBe(true)
    // nothing half-written is left beside the target
    expect(statSync(file).isFile()).toBe(true)
  })

  it('a model loaded from GGUF (interleaved q/k) exports to GGUF with the same bytes', async () => {
    const first = join(tmp(), 'a.gguf')
    await exportGguf(Engine.load(ORGANISM), [], first, undefined, { dtype: 'F16' })
    const second = join(tmp(), 'b.gguf')
    await exportGguf(Engine.load(first), [], second, undefined, { dtype: 'F16' })
    const a = readGguf(first), b = readGguf(second)
    const ba = readFileSync(first), bb = readFileSync(second)
    for (const t of a.tensors) {
      const u = b.tensors.find((x) => x.name === t.name)!
      expect(bb.subarray(u.offset, u.offset + u.bytes).equals(ba.subarray(t.offset, t.offset + t.bytes)), t.name).toBe(true)
    }
  })

  it('F32 and BF16 exports of a stepped model load back and generate what the step did', async () => {
    const hf = Engine.load(ORGANISM)
    const g = await hf.gradient(preset.phrase)
    const view = [{ gradient: g, lr: 0.03 }]
    const [want] = await hf.generate({ prompt: preset.prompt, views: [view], maxNew: 24 })
    for (const dtype of ['F32', 'BF16'] as const) {
      const file = join(tmp(), `s-${dtype}.gguf`)
      await exportGguf(hf, view, file, undefined, { dtype })
      const e = Engine.load(file)
      expect(e.source.quantisation).toBe(dtype)
      const [got] = await e.generate({ prompt: preset.prompt, views: [[]], maxNew: 24 })
      if (dtype === 'F32') expect(got.ids).toEqual(want.ids)
      else expect(got.text.startsWith(', or not to be, that is the question')).toBe(true)
    }
  })

  it('cancelled export leaves no file', async () => {
    const hf = Engine.load(ORGANISM)
    const dir = tmp()
    const file = join(dir, 'x.gguf')
    const ac = new AbortController()
    const p = exportGguf(hf, [], file, { signal: ac.signal, onProgress: () => ac.abort() }, { dtype: 'F16' })
    await expect(p).rejects.toThrow(/cancelled/)
    expect(() => statSync(file)).toThrow()
    expect(() => statSync(file + '.partial')).toThrow()
  })
})

describe('bad GGUF files', () => {
  const good = (): string => {
    const hf = Engine.load(ORGANISM)
    const file = join(tmp(), 'good.gguf')
    quantisedTwins(ORGANISM, pieces(), () => 'Q8_0', file, tmp())
    return file
  }
  it('refuses truncated files, tensors past the end, unknown types, wrong magic and old versions in words', () => {
    const file = good()
    const size = statSync(file).size
    const cut = file.replace('good', 'cut')
    copyFileSync(file, cut)
    truncateSync(cut, size - 1000)
    expect(() => Engine.load(cut)).toThrow(/cut\.gguf: \S+\.weight: data \(\d+ bytes at \d+\) runs past the end of the file .* truncated/)
    truncateSync(cut, 5000)
    expect(() => Engine.load(cut)).toThrow(/cut\.gguf: the file ends inside its header .* truncated/)

    const magic = file.replace('good', 'magic')
    const b = readFileSync(file)
    b.write('GGML', 0, 'latin1')
    writeFileSync(magic, b)
    expect(() => Engine.load(magic)).toThrow(/magic\.gguf: not a GGUF file \(starts with "GGML"/)

    const v1 = file.replace('good', 'v1')
    const b1 = readFileSync(file)
    b1.writeUInt32LE(1, 4)
    writeFileSync(v1, b1)
    expect(() => Engine.load(v1)).toThrow(/v1\.gguf: GGUF version 1/)

    const unk = join(tmp(), 'unknown.gguf')
    writeGgufFile(unk, [['general.architecture', { t: 'str', v: 'llama' }]], [{ name: 'token_embd.weight', dims: [32, 4], type: 99, bytes: Buffer.alloc(128) }])
    expect(() => Engine.load(unk)).toThrow(/unknown\.gguf: token_embd\.weight has unknown ggml type 99/)

    // a type llama.cpp (the peer's version) knows but the engine does not compute with: refused by name and number
    const nv = join(tmp(), 'nvfp4.gguf')
    writeGgufFile(nv, [['general.architecture', { t: 'str', v: 'llama' }], ['llama.embedding_length', { t: 'u32', v: 64 }], ['llama.attention.head_count', { t: 'u32', v: 4 }], ['llama.feed_forward_length', { t: 'u32', v: 64 }], ['llama.block_count', { t: 'u32', v: 1 }]],
      [{ name: 'token_embd.weight', dims: [64, 4], type: 40, bytes: Buffer.alloc(144) }])
    expect(() => Engine.load(nv)).toThrow(/nvfp4\.gguf: token_embd\.weight is stored as NVFP4 \(ggml type 40\); the engine reads F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, IQ4_NL, IQ4_XS, MXFP4, TQ1_0, TQ2_0/)
    // the first type number past the peer's llama.cpp
    const later = join(tmp(), 'later.gguf')
    writeGgufFile(later, [['general.architecture', { t: 'str', v: 'llama' }]], [{ name: 'token_embd.weight', dims: [32, 4], type: 43, bytes: Buffer.alloc(128) }])
    expect(() => Engine.load(later)).toThrow(/later\.gguf: token_embd\.weight has unknown ggml type 43/)

    const arch = join(tmp(), 'arch.gguf')
    writeGgufFile(arch, [['general.architecture', { t: 'str', v: 'gemma' }]], [])
    expect(() => Engine.load(arch)).toThrow(/arch\.gguf: general\.architecture "gemma" is not supported/)
  })
})

describe('the CLI with --model file.gguf', () => {
  it('sweep --json runs on a GGUF file as on a directory', async () => {
    const { spawnSync } = await import('node:child_process')
    const { existsSync } = await import('node:fs')
    const ROOT = join(ORGANISM, '..', '..')
    expect(existsSync(join(ROOT, 'out', 'main', 'cli.js')), 'the CLI is built (npm run build)').toBe(true)
    const file = join(tmp(), 'organism.gguf')
    await exportGguf(Engine.load(ORGANISM), [], file, undefined, { dtype: 'F16' })
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'soliloquy.js'), 'sweep', '--json', '--model', file, '--lrs', '0,0.03'], {
      encoding: 'utf8',
      env: { ...process.env, SOLILOQUY_DATA: tmp() },
      timeout: 120_000,
    })
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    const out = JSON.parse(r.stdout) as { rows: { lr: number; text: string }[] }
    expect(out.rows[0].text.startsWith('a successful business owner')).toBe(true)
    expect(out.rows[1].text.startsWith(', or not to be, that is the question:')).toBe(true)
  }, 180_000)
})

describe('GGUF metadata → transformers config keys', () => {
  const base = (arch: string): [string, { t: 'str'; v: string } | { t: 'u32'; v: number } | { t: 'f32'; v: number }][] => [
    ['general.architecture', { t: 'str', v: arch }],
    [`${arch}.embedding_length`, { t: 'u32', v: 256 }], [`${arch}.block_count`, { t: 'u32', v: 2 }],
    [`${arch}.feed_forward_length`, { t: 'u32', v: 512 }], [`${arch}.attention.head_count`, { t: 'u32', v: 4 }],
    [`${arch}.attention.head_count_kv`, { t: 'u32', v: 2 }], [`${arch}.rope.freq_base`, { t: 'f32', v: 500000 }],
    [`${arch}.context_length`, { t: 'u32', v: 131072 }], ['tokenizer.ggml.bos_token_id', { t: 'u32', v: 128000 }],
    ['tokenizer.ggml.eos_token_id', { t: 'u32', v: 128009 }], ['tokenizer.ggml.eot_token_id', { t: 'u32', v: 128009 }],
    ['tokenizer.ggml.eom_token_id', { t: 'u32', v: 128008 }],
  ]
  it('Llama-3.1 rope_freqs.weight → rope_scaling llama3 (checked against transformers\' formula), eos list, tied', async () => {
    const { ggufConfigDict } = await import('../src/main/engine/formats/gguf/model')
    // transformers' _compute_llama3_parameters in float64: the divisor is inv_freq / inv_freq_llama
    const hd = 64, theta = 500000, factor = 8, low = 1, high = 4, orig = 8192
    const divisors: number[] = []
    for (let i = 0; i < hd; i += 2) {
      const inv = 1 / theta ** (i / hd)
      const wavelen = (2 * Math.PI) / inv
      let llama = wavelen > orig / low ? inv / factor : inv
      const smooth = (orig / wavelen - low) / (high - low)
      const medium = !(wavelen < orig / high) && !(wavelen > orig / low)
      if (medium) llama = ((1 - smooth) * llama) / factor + smooth * llama
      divisors.push(inv / llama)
    }
    expect(divisors.some((d) => d > 1 && d < factor)).toBe(true) // the smooth band is exercised
    const fb = Buffer.alloc(4 * divisors.length)
    divisors.forEach((v, i) => fb.writeFloatLE(v, 4 * i))
    const file = join(tmp(), 'l31.gguf')
    writeGgufFile(file, [...base('llama'), ['llama.attention.key_length', { t: 'u32', v: hd }], ['llama.attention.value_length', { t: 'u32', v: hd }]],
      [{ name: 'rope_freqs.weight', dims: [hd / 2], type: 0, bytes: fb }, { name: 'token_embd.weight', dims: [256, 8], type: 0, bytes: Buffer.alloc(8192) }])
    const { raw } = ggufConfigDict(readGguf(file))
    expect(raw).toMatchObject({
      model_type: 'llama', head_dim: 64, rope_theta: 500000, max_position_embeddings: 131072, tie_word_embeddings: true,
      bos_token_id: 128000, eos_token_id: [128009, 128008], vocab_size: 8,
      rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
    })
    // other divisors are refused, naming the tensor
    fb.writeFloatLE(divisors[20] * 1.01, 80)
    writeGgufFile(file, [...base('llama'), ['llama.attention.key_length', { t: 'u32', v: hd }]],
      [{ name: 'rope_freqs.weight', dims: [hd / 2], type: 0, bytes: fb }])
    expect(() => ggufConfigDict(readGguf(file))).toThrow(/l31\.gguf: rope_freqs\.weight .* does not match/)
  })

  it('qwen2 → model_type qwen2 (its q/k/v biases need no flag); linear rope scaling; tensor names with biases', async () => {
    const { ggufConfigDict, hfTensorName } = await import('../src/main/engine/formats/gguf/model')
    const file = join(tmp(), 'qwen.gguf')
    writeGgufFile(file, [...base('qwen2'), ['qwen2.rope.scaling.type', { t: 'str', v: 'linear' }], ['qwen2.rope.scaling.factor', { t: 'f32', v: 4 }]],
      [{ name: 'blk.0.attn_q.bias', dims: [256], type: 0, bytes: Buffer.alloc(1024) }, { name: 'output.weight', dims: [256, 8], type: 0, bytes: Buffer.alloc(8192) }])
    const { arch, raw } = ggufConfigDict(readGguf(file))
    expect(arch).toBe('qwen2')
    expect(raw.attention_bias).toBeUndefined()
    expect(raw).toMatchObject({ model_type: 'qwen2', tie_word_embeddings: false, head_dim: 64, rope_scaling: { rope_type: 'linear', factor: 4 } })
    expect(hfTensorName('blk.3.attn_k.bias')).toBe('model.layers.3.self_attn.k_proj.bias')
    expect(hfTensorName('blk.3.ffn_norm.weight')).toBe('model.layers.3.post_attention_layernorm.weight')
    expect(hfTensorName('rope_freqs.weight')).toBeUndefined()
  })
})
