// Crafted files and calls that used to crash, read out of bounds or finish as "done" with garbage (issue 9,
// defects 2, 5 and 8): each is refused with a message naming the file, the tensor or the field.
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ModelFormatError, parseLlamaConfig } from '../src/main/engine/config'
import { Engine } from '../src/main/engine/engine'
import { loadAddon } from '../src/main/engine/native'
import { readSafetensorsHeader } from '../src/main/engine/formats/safetensors'
import { tinyTensors, tmp, writeTinyModel } from './helpers'
import { exportHF } from '../src/main/engine/export/hf'

const tiny = { dim: 16, ffn: 32, layers: 1, heads: 2, kvHeads: 2, tied: false, vocab: 4096 }

/** A safetensors file with a hand-written header (offsets as given, even invalid ones) and `dataBytes` of data. */
function craft(header: string, dataBytes: number): string {
  const p = join(tmp(), 'model.safetensors')
  const h = Buffer.from(header)
  const len = Buffer.alloc(8)
  len.writeBigUInt64LE(BigInt(h.length))
  writeFileSync(p, Buffer.concat([len, h, Buffer.alloc(dataBytes)]))
  return p
}

describe('safetensors data_offsets are validated in TypeScript (defect 2)', () => {
  const cases: [string, string, number, RegExp][] = [
    ['negative offsets', '{"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}', 64, /a: data_offsets \[-8,0\] must be two non-negative whole numbers/],
    ['a negative end', '{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,-4]}}', 64, /a: data_offsets \[0,-4\] must be two non-negative whole numbers/],
    ['infinite offsets (1e400 in JSON)', '{"a":{"dtype":"F32","shape":[2],"data_offsets":[1e400,1e400]}}', 64, /model\.safetensors: a: data_offsets \[Infinity,Infinity\] must be two non-negative whole numbers/],
    ['fractional offsets', '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0.5,8.5]}}', 64, /a: data_offsets \[0\.5,8\.5\] must be two non-negative whole numbers/],
    ['offsets that are strings', '{"a":{"dtype":"F32","shape":[2],"data_offsets":["0","8"]}}', 64, /a: data_offsets \["0","8"\] must be two/],
    ['three offsets', '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8,16]}}', 64, /a: data_offsets \[0,8,16\] must be two/],
    ['end before begin', '{"a":{"dtype":"F32","shape":[0],"data_offsets":[16,8]}}', 64, /a: data_offsets \[16, 8\] end before they begin/],
    ['overlapping tensors', '{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}', 64, /b: data_offsets \[8, 16\] overlap those of a \[0, 16\]/],
    ['a tensor inside another, after an empty one', '{"a":{"dtype":"F32","shape":[16],"data_offsets":[0,64]},"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"c":{"dtype":"F32","shape":[2],"data_offsets":[40,48]}}', 64, /c: data_offsets \[40, 48\] overlap those of a \[0, 64\]/],
    ['a negative dimension', '{"a":{"dtype":"F32","shape":[-2,-1],"data_offsets":[0,8]}}', 64, /a: shape \[-2,-1\] must hold non-negative whole numbers/],
    ['a shape whose byte count overflows 2^53', '{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}', 64, /a: shape \[4294967296, 4294967296\] is too large to address/],
    ['data past the end', '{"a":{"dtype":"F32","shape":[32],"data_offsets":[0,128]}}', 64, /a: data runs past the end of the file/],
    ['a header that is a JSON array', '[1,2,3]', 0, /corrupt header \(not a JSON object\)/],
  ]
  for (const [what, header, bytes, message] of cases)
    it(what, () => {
      const p = craft(header, bytes)
      let err: unknown
      try {
        readSafetensorsHeader(p, 0, 'model.safetensors')
      } catch (e) {
        err = e
      }
      expect(err).toBeInstanceOf(ModelFormatError)
      expect((err as Error).message).toMatch(message)
    })

  it('well-formed files still load, empty tensors anywhere included', () => {
    const p = craft('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"b":{"dtype":"F16","shape":[2,2],"data_offsets":[8,16]}}', 16)
    const h = readSafetensorsHeader(p)
    expect(h.tensors.map((t) => [t.name, t.offset - h.tensors[0].offset])).toEqual([['a', 0], ['z', 4], ['b', 8]])
  })
})

describe('the native loader never casts a bad offset to uint64 (defect 2)', () => {
  const addon = loadAddon()
  const dir = writeTinyModel(tmp(), tiny)
  const file = join(dir, 'model.safetensors')
  const good = readSafetensorsHeader(file)
  const spec = (edit: (t: Record<string, unknown>) => void, name = 'model.layers.0.mlp.up_proj.weight'): unknown => ({
    config: { vocab: 4096, dim: 16, ffn: 32, layers: 1, heads: 2, kvHeads: 2, headDim: 8, tied: false, maxPos: 256 },
    files: [file],
    tensors: good.tensors.map((t) => {
      const c: Record<string, unknown> = { ...t, shape: [...t.shape] }
      if (t.name === name) edit(c)
      return c
    }),
  })
  it('loads the untouched spec', () => {
    expect(() => new addon.Model(spec(() => {}))).not.toThrow()
  })
  const cases: [string, (t: Record<string, unknown>) => void, string | RegExp][] = [
    ['a negative offset', (t) => (t.offset = -8), /model\.safetensors: model\.layers\.0\.mlp\.up_proj\.weight: byte offset -8 must be a whole number/],
    ['a small negative offset', (t) => (t.offset = -1), /up_proj\.weight: byte offset -1 must be a whole number/],
    ['an infinite offset', (t) => (t.offset = Infinity), /model\.safetensors: model\.layers\.0\.mlp\.up_proj\.weight: byte offset inf must be a whole number/],
    ['a NaN offset', (t) => (t.offset = NaN), /up_proj\.weight: byte offset nan must be a whole number/],
    ['an offset past 2^53', (t) => (t.offset = 2 ** 60), /up_proj\.weight: byte offset 1152921504606846976 must be a whole number/],
    ['an offset that would wrap the bound check', (t) => (t.offset = 2 ** 53 - 1), /up_proj\.weight: data at byte 9007199254740991 \(2048 bytes\) runs past the end of the file/],
    ['a fractional offset', (t) => (t.offset = 8.5), /byte offset 8.5 must be a whole number/],
    ['a file index past the list', (t) => (t.file = 3), /up_proj\.weight: file index 3 must be a whole number in \[0, 0\]/],
    ['a negative file index', (t) => (t.file = -1), /file index -1 must be a whole number/],
    ['a huge file index', (t) => (t.file = 1e12), /file index 1000000000000 must be a whole number/],
    ['a negative dimension', (t) => (t.shape = [-32, 16]), /up_proj\.weight: dimension -32 must be a whole number/],
    ['a dimension that is not a number', (t) => (t.shape = ['x', 16]), /up_proj\.weight: dimension must be a number/],
  ]
  for (const [what, edit, message] of cases)
    it(what, () => {
      expect(() => new addon.Model(spec(edit))).toThrow(message)
    })
  it('config values beyond int32 are named, not cast', () => {
    const s = spec(() => {}) as { config: Record<string, unknown> }
    s.config.vocab = 1e12
    expect(() => new addon.Model(s)).toThrow('config.json: vocab_size 1000000000000 is beyond what the engine can address (at most 2147483647)')
    s.config.vocab = 4096
    s.config.layers = 100000
    expect(() => new addon.Model(s)).toThrow('config.json: num_hidden_layers 100000 is beyond what the engine can address (at most 4096)')
    s.config.layers = 2000
    expect(() => new addon.Model(s)).toThrow('config.json: num_hidden_layers 2000 needs 18000 layer tensors; the checkpoint has 12 tensors in all')
    s.config.layers = 1
    s.config.maxPos = -5
    expect(() => new addon.Model(s)).toThrow('config.json: max_position_embeddings -5 must be positive')
  })
})

describe('config.json values and model paths are named (defect 8)', () => {
  it('vocab_size 10^12 names the field', () => {
    expect(() => parseLlamaConfig({ vocab_size: 1e12, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2 })).toThrow(
      'config.json: vocab_size 1000000000000 is beyond what the engine can address (at most 2147483647)',
    )
    const d = writeTinyModel(tmp(), tiny)
    const p = join(d, 'config.json')
    writeFileSync(p, readFileSync(p, 'utf8').replace('"vocab_size": 4096', '"vocab_size": 1000000000000'))
    expect(() => Engine.load(d)).toThrow('config.json: vocab_size 1000000000000 is beyond what the engine can address')
  })
  it('head_dim 2^30 is refused at once, with the native engine\'s limits and words (fuzz finding: a 4 GiB RoPE loop)', () => {
    const base = { vocab_size: 128256, hidden_size: 2048, intermediate_size: 8192, num_hidden_layers: 16, num_attention_heads: 32, num_key_value_heads: 8 }
    expect(() => parseLlamaConfig({ ...base, head_dim: 2 ** 30 })).toThrow(
      'config.json: head_dim 1073741824 is beyond what the engine can address (at most 16384)',
    )
    expect(() => parseLlamaConfig({ ...base, num_attention_heads: 128, head_dim: 16384 })).toThrow(
      'config.json: num_attention_heads × head_dim (128 × 16384) is beyond what the engine can address (at most 1048576)',
    )
    expect(() => parseLlamaConfig({ ...base, num_hidden_layers: 5000 })).toThrow(
      'config.json: num_hidden_layers 5000 is beyond what the engine can address (at most 4096)',
    )
    expect(parseLlamaConfig({ ...base, head_dim: 64 }).ropeInvFreq).toHaveLength(32)
  })
  it('a file given as the model path says it is a file', () => {
    const d = writeTinyModel(tmp(), tiny)
    expect(() => Engine.load(join(d, 'config.json'))).toThrow(/config\.json: is a file, not a model directory/)
  })
  it('a symlink loop says it is a loop', () => {
    const d = tmp()
    symlinkSync(join(d, 'b'), join(d, 'a'))
    symlinkSync(join(d, 'a'), join(d, 'b'))
    expect(() => Engine.load(join(d, 'a'))).toThrow(/a: cannot open the model directory: is a symbolic link loop .*\(ELOOP\)/)
  })
  it('a path through a file says so (ENOTDIR)', () => {
    const d = writeTinyModel(tmp(), tiny)
    expect(() => Engine.load(join(d, 'config.json', 'model'))).toThrow(/cannot open the model directory: a part of the path is a file, not a directory \(ENOTDIR\)/)
  })
  it('files inside the model directory report what the OS refused, in words', () => {
    const d = writeTinyModel(tmp(), tiny)
    rmSync(join(d, 'config.json'))
    mkdirSync(join(d, 'config.json'))
    expect(() => Engine.load(d)).toThrow('config.json: cannot be read: is a directory (EISDIR)')
    const d2 = writeTinyModel(tmp(), tiny)
    rmSync(join(d2, 'model.safetensors'))
    symlinkSync(join(d2, 'model.safetensors'), join(d2, 'model.safetensors'))
    expect(() => Engine.load(d2)).toThrow('model.safetensors: cannot be opened: is a symbolic link loop (or has too many levels of links) (ELOOP)')
    const d3 = writeTinyModel(tmp(), tiny)
    rmSync(join(d3, 'tokenizer.model'))
    symlinkSync(join(d3, 'tokenizer.model'), join(d3, 'tokenizer.model'))
    expect(() => Engine.load(d3)).toThrow(/^tokenizer\.model: cannot be read: is a symbolic link loop .*\(ELOOP\)/)
  })
  it('a directory that cannot be read says permission denied', () => {
    if (process.getuid?.() === 0) return // root reads everything: nothing to refuse
    const d = writeTinyModel(tmp(), tiny)
    mkdirSync(join(d, 'locked'), { mode: 0 })
    expect(() => Engine.load(join(d, 'locked', 'x'))).toThrow(/permission denied \(EACCES\)/)
  })
})

describe('broken runs fail instead of finishing as done (defect 5)', () => {
  it('NaN weights: generate and score fail with the step; the gradient fails with its loss', async () => {
    const t = tinyTensors(tiny)
    t['model.layers.0.mlp.down_proj.weight'].data[5] = NaN
    const engine = Engine.load(writeTinyModel(tmp(), tiny, t))
    await expect(engine.generate({ prompt: [1, 100, 200], views: [[]], maxNew: 8 })).rejects.toThrow(
      'the model produced non-finite logits (NaN/inf) at step 1: the weights or the step size overflow float32',
    )
    await expect(engine.score({ ids: [1, 100, 200], views: [[]] })).rejects.toThrow(/the model produced non-finite logits \(NaN\/inf\) when scoring view 0/)
    await expect(engine.gradient('To be')).rejects.toThrow(/the phrase loss is not finite/)
  })

  it('an infinite weight in a later step is caught at that step', async () => {
    // +inf in one embedding row: only the token that reads it breaks the forward, so the failure names its step
    const t = tinyTensors(tiny)
    const emb = t['model.embed_tokens.weight'].data
    const engine0 = Engine.load(writeTinyModel(tmp(), tiny))
    const [g] = await engine0.generate({ prompt: [1, 100], views: [[]], maxNew: 3 })
    const third = g.ids[1] // the token fed back at step 3
    for (let i = 0; i < 16; i++) emb[third * 16 + i] = Infinity
    const engine = Engine.load(writeTinyModel(tmp(), tiny, t))
    await expect(engine.generate({ prompt: [1, 100], views: [[]], maxNew: 3 })).rejects.toThrow(
      'the model produced non-finite logits (NaN/inf) at step 3: the weights or the step size overflow float32',
    )
  })

  it('--lr=1e308 is refused up front with the numbers', async () => {
    const engine = Engine.load(writeTinyModel(tmp(), tiny))
    const g = await engine.gradient('To be, or not to be')
    await expect(engine.generate({ prompt: 'To be', views: [[{ gradient: g, lr: 1e308 }]] })).rejects.toThrow(
      'step size 1e+308 is beyond float32 (max 3.40282e+38): the stepped weights would overflow',
    )
    await expect(engine.score({ ids: [1, 100, 200], views: [[{ gradient: g, lr: -1e308 }]] })).rejects.toThrow(/step size -1e\+308 is beyond float32/)
    await expect(exportHF(engine, [{ gradient: g, lr: 1e308 }], tmp())).rejects.toThrow(/step size 1e\+308 is beyond float32/)
    await expect(engine.gradient('To be', [{ gradient: g, lr: 1e308 }])).rejects.toThrow(/step size 1e\+308 is beyond float32/)
  })

  it('a step size within float32 whose product with the gradient overflows is refused with both numbers', async () => {
    const engine = Engine.load(writeTinyModel(tmp(), tiny))
    const g = await engine.gradient('To be, or not to be')
    // a saved step whose head factor G holds 5e3 (finite): 1e35 · 5e3 = 5e38 > FLT_MAX
    const f = g.factors()
    const head = f.linears.length - 1
    const big = { ...f, linears: f.linears.map((l, i) => (i === head ? { ...l, G: l.G.map((x, j) => (j === 0 ? 5e3 : x)) } : l)) }
    const step = engine.importGradient(big, 'big')
    await expect(engine.generate({ prompt: 'To be', views: [[{ gradient: step, lr: 1e35 }]] })).rejects.toThrow(
      "step size 1e+35 times the gradient's largest entry 5e+03 is 5e+38, beyond float32 (max 3.4e+38): the stepped weights would overflow",
    )
    // a step size that passes that check but still overflows inside the forward fails on its logits
    await expect(engine.generate({ prompt: 'To be', views: [[{ gradient: g, lr: 3e38 }]] })).rejects.toThrow(
      /^the model produced non-finite logits \(NaN\/inf\) at step 1: the weights or the step size overflow float32$/,
    )
    // a large but representable step still runs
    const [ok] = await engine.generate({ prompt: 'To be', views: [[{ gradient: g, lr: 10 }]], maxNew: 2 })
    expect(ok.ids.length).toBe(2)
  })

  it('imported factors with NaN, bad T or unsorted rows are refused', async () => {
    const engine = Engine.load(writeTinyModel(tmp(), tiny))
    const g = await engine.gradient('To be, or not to be')
    const f = g.factors()
    const nanX = { ...f, linears: f.linears.map((l, i) => (i === 2 ? { ...l, X: l.X.map((x, j) => (j === 0 ? NaN : x)) } : l)) }
    expect(() => engine.importGradient(nanX, 'x')).toThrow('factor 2: holds NaN or infinite values')
    const badT = { ...f, linears: f.linears.map((l, i) => (i === 0 ? { ...l, T: -3 } : l)) }
    expect(() => engine.importGradient(badT, 'x')).toThrow(/T -3 must be a whole number/)
    const hugeT = { ...f, linears: f.linears.map((l, i) => (i === 0 ? { ...l, T: 1e10 } : l)) }
    expect(() => engine.importGradient(hugeT, 'x')).toThrow(/T 10000000000 must be a whole number/)
    const infLoss = { ...f, loss: Infinity }
    expect(() => engine.importGradient(infLoss, 'x')).toThrow(/loss must be a finite number/)
    const nanNorm = { ...f, normGrads: f.normGrads.map((n, i) => (i === 1 ? n.map(() => NaN) : n)) }
    expect(() => engine.importGradient(nanNorm, 'x')).toThrow('a norm gradient holds NaN or infinite values')
    // the untouched factors still import and reproduce the loss
    expect(engine.importGradient(f, 'x').loss).toBe(g.loss)
  })

  it('a temperature beyond float32 is refused before the cast (undefined behaviour before)', async () => {
    const engine = Engine.load(writeTinyModel(tmp(), tiny))
    await expect(engine.generate({ prompt: [1, 100], views: [[]], maxNew: 2, temperature: 1e300 })).rejects.toThrow(
      'temperature must be in [0, 3.4e38] and topP in (0, 1]',
    )
  })

  it('a tiny temperature samples the greedy token instead of NaN probabilities (fuzz finding)', async () => {
    // logits / 1e-39 overflowed float32 inside the sampler: inf − inf gave NaN probabilities and an arbitrary token
    const engine = Engine.load(writeTinyModel(tmp(), tiny))
    const [greedy] = await engine.generate({ prompt: [1, 100, 200], views: [[]], maxNew: 6 })
    const [cold] = await engine.generate({ prompt: [1, 100, 200], views: [[]], maxNew: 6, temperature: 1e-39, seed: 3 })
    expect(cold.ids).toEqual(greedy.ids)
  })
})
