// Meta's original layout (params.json + consolidated.NN.pth + tokenizer.model) read natively: the organism written in
// that layout (by test/pth-writer.ts, checked once against the shared organism's own consolidated.00.pth) must give
// the HF directory's logits and sweep; model-parallel shards must merge to the same model; hostile or foreign
// archives are refused with words, never executed.
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { Engine } from '../src/main/engine/engine'
import { metaHiddenDim, metaParamsToConfig, readPthTensors, shardAxis } from '../src/main/engine/formats/pth/pth'
import { readCheckpointFiles } from '../src/main/engine/formats/safetensors'
import { comparableLength, halfToFloat, ORGANISM, reference, tmp } from './helpers'
import {
  interleavedRow,
  ORGANISM_PARAMS,
  organismMetaTensors,
  RawTensor,
  splitTensor,
  torchSaveZip,
  writeMetaDir,
  zipArchive,
} from './pth-writer'
import { exportHF } from '../src/main/engine/export/hf'

// The organism as its author saved it with torch.save (not in the repository: users' clones do not have it). Point
// SOLILOQUY_ORGANISM_META at that directory to check the test writer against it.
const SHARED_META = process.env.SOLILOQUY_ORGANISM_META

let tensors: RawTensor[]
let metaDir: string
let hf: Engine
let meta: Engine

beforeAll(() => {
  tensors = organismMetaTensors()
  metaDir = writeMetaDir(join(tmp(), 'meta'), [tensors], ORGANISM_PARAMS)
  hf = Engine.load(ORGANISM, { threads: 1 })
  meta = Engine.load(metaDir, { threads: 1 })
})

/** log-probs of every position of a text under the base model, flattened */
async function logprobs(e: Engine, ids: number[]): Promise<Float32Array[]> {
  const [row] = await e.score({ ids, views: [[]], fullAt: ids.map((_, i) => i) })
  return row.full
}

function worstRel(a: Float32Array[], b: Float32Array[]): number {
  let worst = 0
  let scale = 0
  a.forEach((x, i) => x.forEach((v, j) => ((worst = Math.max(worst, Math.abs(v - b[i][j]))), (scale = Math.max(scale, Math.abs(v))))))
  return worst / scale
}

describe('Meta .pth checkpoint', () => {
  it.skipIf(!SHARED_META)('the test writer produces exactly the torch.save organism checkpoint (names, dtypes, shapes, bytes)', () => {
    const shared = SHARED_META!
    const path = join(shared, 'consolidated.00.pth')
    const theirs = readPthTensors(path)
    const ours = readPthTensors(join(metaDir, 'consolidated.00.pth'))
    expect(ours.map((t) => t.name)).toEqual(theirs.map((t) => t.name))
    const a = readFileSync(path)
    const b = readFileSync(join(metaDir, 'consolidated.00.pth'))
    for (let i = 0; i < theirs.length; i++) {
      const t = theirs[i]
      const u = ours[i]
      expect([u.dtype, u.shape], t.name).toEqual([t.dtype, t.shape])
      const n = t.shape.reduce((x, s) => x * s, 1) * 2
      expect(b.subarray(u.offset, u.offset + n).equals(a.subarray(t.offset, t.offset + n)), t.name).toBe(true)
    }
    expect(JSON.parse(readFileSync(join(shared, 'params.json'), 'utf8'))).toEqual(ORGANISM_PARAMS)
    // and the shared directory itself loads as the same model
    const fromShared = Engine.load(shared, { threads: 1 })
    expect(fromShared.config).toEqual(meta.config)
  })

  it('params.json becomes the HF config (hidden size as Meta computes it) and q/k run in the interleaved order', () => {
    expect(meta.config.ffn).toBe(768)
    expect(meta.config.ropeInterleaved).toBe(true)
    expect(meta.config.tied).toBe(false)
    const { raw, ...rest } = meta.config
    const { raw: hfRaw, ...hfRest } = hf.config
    expect({ ...rest, ropeInterleaved: false, dtype: 'x', maxPos: 0 }).toEqual({ ...hfRest, dtype: 'x', maxPos: 0 })
    expect(raw.intermediate_size).toBe(hfRaw.intermediate_size)
    // the released models' FFN widths (their HF config.json intermediate_size)
    expect(metaHiddenDim(4096, 256)).toBe(11008) // Llama-2-7B
    expect(metaHiddenDim(5120, 256)).toBe(13824) // Llama-2-13B
    expect(metaHiddenDim(8192, 4096, 1.3)).toBe(28672) // Llama-2-70B
    expect(metaHiddenDim(4096, 1024, 1.3)).toBe(14336) // Llama-3-8B
    expect(metaHiddenDim(2048, 256, 1.5)).toBe(8192) // Llama-3.2-1B
    const l31 = metaParamsToConfig(
      { dim: 4096, n_layers: 32, n_heads: 32, n_kv_heads: 8, vocab_size: 128256, multiple_of: 1024, ffn_dim_multiplier: 1.3, norm_eps: 1e-5, rope_theta: 500000, use_scaled_rope: true },
      { tokenizerVocab: 0, tied: false },
    )
    expect(l31.rope_scaling).toEqual({ rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 })
    expect([l31.intermediate_size, l31.num_key_value_heads, l31.vocab_size, l31.rope_theta]).toEqual([14336, 8, 128256, 500000])
    const l2 = metaParamsToConfig({ dim: 4096, multiple_of: 256, n_heads: 32, n_layers: 32, norm_eps: 1e-5, vocab_size: -1 }, { tokenizerVocab: 32000, tied: false })
    expect([l2.vocab_size, l2.num_key_value_heads, l2.rope_theta]).toEqual([32000, 32, 10000])
  })

  it('gives the HF directory’s logits (≤ 1e-6 relative), in place and zero-copy', async () => {
    // zero-copy: the engine maps the .pth itself
    expect(meta.fileBytes).toBe(statSync(join(metaDir, 'consolidated.00.pth')).size)
    const ref = reference()
    const ids = ref.phrase_ids
    const a = await logprobs(hf, ids)
    const b = await logprobs(meta, ids)
    expect(worstRel(a, b)).toBeLessThan(1e-6)
  })

  it('gives the HF directory’s sweep (gradient, then generations at every step size)', async () => {
    const ref = reference()
    const ga = await hf.gradient(ref.phrase)
    const gb = await meta.gradient(ref.phrase)
    expect(gb.phraseIds).toEqual(ga.phraseIds)
    expect(Math.abs(gb.loss - ga.loss) / ga.loss).toBeLessThan(1e-6)
    const na = ga.gradNorms()
    const nb = gb.gradNorms()
    for (const k of Object.keys(na)) expect(Math.abs(nb[k] - na[k]) / na[k], k).toBeLessThan(1e-4)
    const lrs = ref.lrs
    const prompt = ref.prompts.plain
    const A = await hf.generate({ prompt, views: lrs.map((lr) => (lr === 0 ? [] : [{ gradient: ga, lr }])) })
    const B = await meta.generate({ prompt, views: lrs.map((lr) => (lr === 0 ? [] : [{ gradient: gb, lr }])) })
    lrs.forEach((lr, i) => {
      const n = comparableLength(A[i].margins)
      expect(n, `α=${lr}`).toBeGreaterThan(0)
      expect(B[i].ids.slice(0, n), `α=${lr}`).toEqual(A[i].ids.slice(0, n))
    })
    // and, independently of the HF path, the float64 reference's loss and sweep (both prompts, every step size)
    expect(Math.abs(gb.loss - ref.phrase_loss) / ref.phrase_loss).toBeLessThan(1e-4)
    for (const which of ['plain', 'engineered'] as const) {
      const gens = await meta.generate({ prompt: ref.prompts[which], views: lrs.map((lr) => [{ gradient: gb, lr }]), maxNew: 64, maxSeq: 128 })
      ref.sweep.forEach((row, i) => {
        const n = comparableLength(row[which].margins)
        expect(gens[i].ids.slice(0, n), `${which} α=${row.lr} vs float64`).toEqual(row[which].ids.slice(0, n))
      })
    }
  })

  it('a checkpoint without output.weight is a tied model (Llama-3.2 1B/3B)', async () => {
    const dir = writeMetaDir(join(tmp(), 'meta-tied'), [tensors.filter((t) => t.name !== 'output.weight')], ORGANISM_PARAMS)
    const e = Engine.load(dir, { threads: 1 })
    expect(e.config.tied).toBe(true)
    expect(e.config.raw.tie_word_embeddings).toBe(true)
    expect((await e.gradient('To be')).loss).toBeGreaterThan(0)
  })

  it('reads the ZIP64 records torch writes for archives past 4 GiB', async () => {
    const dir = writeMetaDir(join(tmp(), 'meta64'), [tensors], ORGANISM_PARAMS, { zip64: true })
    const e = Engine.load(dir, { threads: 1 })
    const ids = reference().phrase_ids
    expect(worstRel(await logprobs(meta, ids), await logprobs(e, ids))).toBe(0)
  })

  it('exports to an HF directory with q/k rows permuted back to HF order', async () => {
    const ref = reference()
    const ga = await hf.gradient(ref.phrase)
    const gb = await meta.gradient(ref.phrase)
    const outA = join(tmp(), 'hf-out')
    const outB = join(tmp(), 'meta-out')
    await exportHF(hf, [{ gradient: ga, lr: 0.03 }], outA, { dtype: 'F32' })
    await exportHF(meta, [{ gradient: gb, lr: 0.03 }], outB, { dtype: 'F32' })
    const A = readCheckpointFiles(outA)
    const B = readCheckpointFiles(outB)
    const fa = readFileSync(A.files[0])
    const fb = readFileSync(B.files[0])
    expect(B.tensors.map((t) => t.name)).toEqual(A.tensors.map((t) => t.name))
    for (let i = 0; i < A.tensors.length; i++) {
      const ta = A.tensors[i]
      const tb = B.tensors[i]
      const n = ta.shape.reduce((x, s) => x * s, 1)
      const xa = new Float32Array(fa.buffer.slice(fa.byteOffset + ta.offset, fa.byteOffset + ta.offset + 4 * n))
      const xb = new Float32Array(fb.buffer.slice(fb.byteOffset + tb.offset, fb.byteOffset + tb.offset + 4 * n))
      let worst = 0
      let scale = 0
      xa.forEach((v, j) => ((worst = Math.max(worst, Math.abs(v - xb[j]))), (scale = Math.max(scale, Math.abs(v)))))
      expect(worst / scale, ta.name).toBeLessThan(1e-6)
    }
    // the export is an ordinary HF directory (interleaving is not a property of the exported files)
    const cfg = JSON.parse(readFileSync(join(outB, 'config.json'), 'utf8')) as Record<string, unknown>
    expect(cfg.intermediate_size).toBe(768)
    const back = Engine.load(outB, { threads: 1 })
    expect(back.config.ropeInterleaved).toBe(false)
  })
})

describe('files written by PyTorch itself (scripts/make-torch-pth-fixtures.py, torch 1.13)', () => {
  const dir = join(__dirname, 'fixtures', 'torch-pth')
  it('an OrderedDict of fp16/bf16/fp32 tensors, a slice at a storage offset, two views of one storage', () => {
    const want = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as Record<string, { shape: number[]; values: number[] }>
    const got = readPthTensors(join(dir, 'state.pth'))
    expect(got.map((t) => t.name)).toEqual(Object.keys(want))
    const buf = readFileSync(join(dir, 'state.pth'))
    const value = (dtype: string, at: number): number =>
      dtype === 'F32' ? buf.readFloatLE(at) : dtype === 'F16' ? halfToFloat(buf.readUInt16LE(at)) : new Float32Array(new Uint32Array([buf.readUInt16LE(at) << 16]).buffer)[0]
    for (const t of got) {
      expect(t.shape, t.name).toEqual(want[t.name].shape)
      const el = t.dtype === 'F32' ? 4 : 2
      expect(want[t.name].values.map((_, i) => value(t.dtype, t.offset + i * el)), t.name).toEqual(want[t.name].values)
    }
    expect(got.find((t) => t.name === 'bf16_slice')!.dtype).toBe('BF16')
  })
  it('refuses a transposed tensor, int64 storage and the legacy format, in words', () => {
    expect(() => readPthTensors(join(dir, 'transposed.pth'))).toThrow('transposed.pth: w is not contiguous (stride [1, 3] for shape [3, 4]); save tensor.contiguous()')
    expect(() => readPthTensors(join(dir, 'int64.pth'))).toThrow('int64.pth: tensor storage torch.LongStorage is not supported; only float16, bfloat16 and float32 tensors are')
    expect(() => readPthTensors(join(dir, 'legacy.pth'))).toThrow(/legacy\.pth: is in torch\.save's legacy format/)
  })
})

describe('model-parallel shards', () => {
  it('two shards, split as Meta splits them, merge to the one-shard model (same logits), once', async () => {
    const parts = tensors.map((t) => splitTensor(t, shardAxis(t.name), 2))
    const dir = writeMetaDir(join(tmp(), 'meta2'), [parts.map((p) => p[0]), parts.map((p) => p[1])], ORGANISM_PARAMS)
    // the split really splits: wq halves rows, wo halves columns, tok_embeddings halves the embedding dimension
    const s0 = readPthTensors(join(dir, 'consolidated.00.pth'))
    const shape = (n: string): number[] => s0.find((t) => t.name === n)!.shape
    expect(shape('layers.0.attention.wq.weight')).toEqual([128, 256])
    expect(shape('layers.0.attention.wo.weight')).toEqual([256, 128])
    expect(shape('tok_embeddings.weight')).toEqual([4096, 128])
    expect(shape('output.weight')).toEqual([2048, 256])
    const e = Engine.load(dir, { threads: 1 })
    const cache = join(dir, 'consolidated.merged.safetensors')
    expect(existsSync(cache)).toBe(true)
    const ids = reference().phrase_ids
    expect(worstRel(await logprobs(meta, ids), await logprobs(e, ids))).toBe(0)
    // the merged cache is reused while the shards are unchanged
    const mtime = statSync(cache).mtimeMs
    Engine.load(dir, { threads: 1 })
    expect(statSync(cache).mtimeMs).toBe(mtime)
    // replicated norms that differ between shards are an error, not a silent choice
    const bad = parts.map((p) => [...p])
    const norm = tensors.findIndex((t) => t.name === 'norm.weight')
    const d = Buffer.from(bad[norm][1].data)
    d[0] ^= 1
    bad[norm] = [bad[norm][0], { ...bad[norm][1], data: d }]
    const badDir = writeMetaDir(join(tmp(), 'meta2bad'), [bad.map((p) => p[0]), bad.map((p) => p[1])], ORGANISM_PARAMS)
    expect(() => Engine.load(badDir)).toThrow(/consolidated\.01\.pth: norm\.weight differs from consolidated\.00\.pth/)
  })
})

describe('hostile and foreign archives are refused, never executed', () => {
  function pthDir(archive: Buffer): string {
    const dir = writeMetaDir(join(tmp(), 'bad'), [], ORGANISM_PARAMS)
    writeFileSync(join(dir, 'consolidated.00.pth'), archive)
    return dir
  }
  const pickleZip = (pkl: Buffer, extra: { name: string; data: Buffer; method?: 0 | 8 }[] = []): Buffer =>
    zipArchive([{ name: 'consolidated.00/data.pkl', data: pkl }, ...extra])

  it('GLOBAL os.system + REDUCE', () => {
    const marker = join(tmp(), 'pwned')
    const cmd = Buffer.from(`touch ${marker}`)
    const len = Buffer.alloc(4)
    len.writeUInt32LE(cmd.length)
    const pkl = Buffer.concat([
      Buffer.from([0x80, 2]),
      Buffer.from('cos\nsystem\n', 'latin1'),
      Buffer.from([0x58]), len, cmd,
      Buffer.from([0x85, 0x52, 0x2e]), // TUPLE1 REDUCE STOP
    ])
    expect(() => Engine.load(pthDir(pickleZip(pkl)))).toThrow('consolidated.00.pth: pickle imports os.system; only torch tensors are allowed')
    expect(existsSync(marker)).toBe(false)
    // the same through protocol 4's STACK_GLOBAL
    const p4 = Buffer.concat([Buffer.from([0x80, 4, 0x8c, 8]), Buffer.from('builtins'), Buffer.from([0x8c, 4]), Buffer.from('eval'), Buffer.from([0x93, 0x2e])])
    expect(() => Engine.load(pthDir(pickleZip(p4)))).toThrow('pickle imports builtins.eval; only torch tensors are allowed')
  })

  it('an opcode torch.save does not write', () => {
    const pkl = Buffer.from([0x80, 2, 0x7d, 0x28, 0x58, 1, 0, 0, 0, 0x61, 0x5d, 0x75, 0x2e]) // {'a': []} via EMPTY_LIST
    expect(() => Engine.load(pthDir(pickleZip(pkl)))).toThrow(/consolidated\.00\.pth: data\.pkl uses pickle opcode EMPTY_LIST at byte 10/)
    const build = Buffer.from([0x80, 2, 0x7d, 0x7d, 0x62, 0x2e]) // BUILD
    expect(() => Engine.load(pthDir(pickleZip(build)))).toThrow(/pickle opcode BUILD/)
  })

  it('a .pth without params.json', () => {
    const dir = tmp()
    writeFileSync(join(dir, 'consolidated.00.pth'), readFileSync(join(metaDir, 'consolidated.00.pth')))
    expect(() => Engine.load(dir)).toThrow(/consolidated\.00\.pth but no params\.json beside it/)
  })

  it('a truncated archive', () => {
    const good = readFileSync(join(metaDir, 'consolidated.00.pth'))
    expect(() => Engine.load(pthDir(good.subarray(0, good.length >> 1)))).toThrow(/consolidated\.00\.pth: not a complete zip archive .*truncated/)
    // cut inside the data, but with a directory that still claims the full length
    expect(() => readPthTensors(join(pthDir(Buffer.concat([good.subarray(0, 4096), good.subarray(good.length - 4096)])), 'consolidated.00.pth'))).toThrow(
      /consolidated\.00\.pth: (corrupt zip|.*truncated)/,
    )
  })

  it('a compressed entry', () => {
    const t = tensors[1] // norm.weight
    const storages = { '0': t.data }
    const zip = torchSaveZip('consolidated.00', [{ name: t.name, dtype: t.dtype, shape: t.shape, key: '0' }], storages, { '0': 2 })
    expect(readPthTensors(join(pthDir(zip), 'consolidated.00.pth'))[0].shape).toEqual([256])
    const entries = [
      { name: 'consolidated.00/data.pkl', data: readPickle(zip) },
      { name: 'consolidated.00/data/0', data: t.data, method: 8 as const },
    ]
    expect(() => readPthTensors(join(pthDir(zipArchive(entries)), 'consolidated.00.pth'))).toThrow(
      /consolidated\.00\.pth: consolidated\.00\/data\/0 is compressed \(zip method 8\)/,
    )
    const pklDeflated = [{ name: 'consolidated.00/data.pkl', data: readPickle(zip), method: 8 as const }]
    expect(() => readPthTensors(join(pthDir(zipArchive(pklDeflated)), 'consolidated.00.pth'))).toThrow(/data\.pkl is compressed/)
  })

  it('a non-contiguous tensor', () => {
    const t = tensors.find((x) => x.name === 'layers.0.attention.wq.weight')!
    const zip = torchSaveZip('consolidated.00', [{ name: t.name, dtype: t.dtype, shape: t.shape, key: '0' }], { '0': t.data }, { '0': 2 })
    // swap the stride tuple (256, 1) → (1, 256): a transposed view
    const buf = Buffer.from(zip)
    const at = buf.indexOf(Buffer.from([0x4d, 0x00, 0x01, 0x4b, 0x01, 0x86, 0x89]))
    expect(at).toBeGreaterThan(0)
    buf.set([0x4b, 0x01, 0x4d, 0x00, 0x01, 0x86, 0x89], at)
    expect(() => readPthTensors(join(pthDir(buf), 'consolidated.00.pth'))).toThrow(/layers\.0\.attention\.wq\.weight is not contiguous/)
  })
})

/** data.pkl of a zip written by zipArchive (first entry, stored) */
function readPickle(zip: Buffer): Buffer {
  const nameLen = zip.readUInt16LE(26)
  const extraLen = zip.readUInt16LE(28)
  const size = zip.readUInt32LE(22)
  const start = 30 + nameLen + extraLen
  return zip.subarray(start, start + size)
}

// interleavedRow is the inverse of HF's permute: a sanity check of the fixture itself
it('the fixture’s interleaving is a permutation of each head', () => {
  const hd = 32
  const seen = new Set(Array.from({ length: 64 }, (_, r) => interleavedRow(r, hd)))
  expect(seen.size).toBe(64)
  expect(interleavedRow(1, hd)).toBe(2)
  expect(interleavedRow(16, hd)).toBe(1)
})
