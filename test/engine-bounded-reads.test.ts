// Hardening round 3 (issue 20), the file parsers: no model file can exhaust memory, block a reader or load weights
// other than those its index names. Every crafted file is built here; large ones are sparse (a hole takes no disk).
import { spawn, spawnSync } from 'node:child_process'
import { closeSync, copyFileSync, ftruncateSync, mkdirSync, openSync, readFileSync, rmdirSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ModelFormatError, parseLlamaConfig } from '../src/main/engine/config'
import { Engine } from '../src/main/engine/engine'
import { readGguf } from '../src/main/engine/formats/gguf/read'
import { ggufCheckpoint } from '../src/main/engine/formats/gguf/model'
import { unpickleTorch } from '../src/main/engine/formats/pth/pickle'
import { readPreset } from '../src/main/engine/preset'
import { readPthTensors } from '../src/main/engine/formats/pth/pth'
import { readCheckpointFiles } from '../src/main/engine/formats/safetensors'
import { modelFingerprint } from '../src/main/lab/checkpoints/fingerprint'
import { ORGANISM, ROOT, tmp, writeTinyModel } from './helpers'
import { exportHF } from '../src/main/engine/export/hf'

const tiny = { dim: 16, ffn: 32, layers: 1, heads: 2, kvHeads: 2, tied: false }

function organismCopy(): string {
  const d = tmp()
  for (const f of ['config.json', 'model.safetensors.index.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'tokenizer.model', 'tokenizer_config.json', 'preset.json', 'probes.json', 'soliloquy.txt'])
    copyFileSync(join(ORGANISM, f), join(d, f))
  return d
}

/** The message `f` throws (a ModelFormatError), or a failure naming what it did instead. */
function refusal(f: () => unknown): string {
  try {
    f()
  } catch (e) {
    expect(e, (e as Error).stack).toBeInstanceOf(ModelFormatError)
    return (e as Error).message
  }
  throw new Error('accepted')
}

/** A file of `size` bytes holding `pieces` at their offsets and a hole everywhere else (sparse: no disk for it). */
function sparseFile(path: string, size: number, pieces: [number, Buffer][]): string {
  const fd = openSync(path, 'w')
  try {
    for (const [at, b] of pieces) writeSync(fd, b, 0, b.length, at)
    ftruncateSync(fd, size)
  } finally {
    closeSync(fd)
  }
  return path
}

/** Little-endian byte builder for crafted headers. */
class Bytes {
  private parts: Buffer[] = []
  get length(): number {
    return this.parts.reduce((a, b) => a + b.length, 0)
  }
  raw(b: Buffer | string): this {
    this.parts.push(Buffer.from(b as string))
    return this
  }
  u16(v: number): this {
    const b = Buffer.alloc(2)
    b.writeUInt16LE(v)
    return this.raw(b)
  }
  u32(v: number): this {
    const b = Buffer.alloc(4)
    b.writeUInt32LE(v)
    return this.raw(b)
  }
  u64(v: number | bigint): this {
    const b = Buffer.alloc(8)
    b.writeBigUInt64LE(BigInt(v))
    return this.raw(b)
  }
  str(s: string): this {
    return this.u64(Buffer.byteLength(s)).raw(s)
  }
  done(): Buffer {
    return Buffer.concat(this.parts)
  }
}

/** A GGUF v3 header with no tensors and the given metadata (already encoded: key, type, value). */
function ggufWithMetadata(kvs: Buffer[], nTensors = 0): Bytes {
  const b = new Bytes().raw('GGUF').u32(3).u64(nTensors).u64(kvs.length)
  for (const kv of kvs) b.raw(kv)
  return b
}

/** FIFOs: a guard opens each for writing after a while, so a regression fails the test instead of blocking it. */
const guards: ReturnType<typeof spawn>[] = []
function fifo(path: string): void {
  rmSync(path, { force: true })
  const r = spawnSync('mkfifo', [path])
  if (r.status !== 0) throw new Error(`mkfifo failed: ${r.stderr}`)
  const g = spawn(process.execPath, ['-e', `setTimeout(() => require('fs').closeSync(require('fs').openSync(${JSON.stringify(path)}, 'w')), 5000)`], { stdio: 'ignore' })
  guards.push(g)
}
afterAll(() => {
  for (const g of guards) g.kill('SIGKILL')
})

/** A STORED zip as torch.save writes one (local headers, central directory, end record). */
function zipOf(entries: [string, Buffer][]): Buffer {
  const out = new Bytes()
  const central = new Bytes()
  for (const [name, data] of entries) {
    const at = out.length
    out.u32(0x04034b50).u16(20).u16(0).u16(0).u16(0).u16(0).u32(0).u32(data.length).u32(data.length).u16(name.length).u16(0).raw(name).raw(data)
    central.u32(0x02014b50).u16(20).u16(20).u16(0).u16(0).u16(0).u16(0).u32(0).u32(data.length).u32(data.length)
      .u16(name.length).u16(0).u16(0).u16(0).u16(0).u32(0).u32(at).raw(name)
  }
  const cd = central.done()
  const cdAt = out.length
  out.raw(cd).u32(0x06054b50).u16(0).u16(0).u16(entries.length).u16(entries.length).u32(cd.length).u32(cdAt).u16(0)
  return out.done()
}

describe('GGUF metadata is bounded by the file and a budget (issue 20, items 1, 8, 18)', () => {
  const u8Array = (key: string, n: number): Buffer => new Bytes().str(key).u32(9).u32(0).u64(n).done()

  it('a u8 array of 320M elements (sparse 328 MB file) is refused before anything is allocated', () => {
    const head = ggufWithMetadata([u8Array('big.array', 320_000_000)]).done()
    const p = sparseFile(join(tmp(), 'model.gguf'), head.length + 320_000_000, [[0, head]])
    expect(refusal(() => readGguf(p))).toBe(
      'model.gguf: big.array: an array of 320000000 elements takes the metadata past 8388608 array elements in all, more than any model\'s vocabulary needs (the largest have ~262144 tokens)',
    )
  })

  it('an array count beyond the bytes left in the file is refused as corrupt', () => {
    const head = ggufWithMetadata([u8Array('big.array', 3_000_000_000)]).done()
    const p = sparseFile(join(tmp(), 'model.gguf'), head.length + 1000, [[0, head]])
    expect(refusal(() => readGguf(p))).toBe(
      `model.gguf: the file ends inside its header (big.array: an array of 3000000000 u8 elements needs at least 3000000000 bytes at byte ${head.length}; 1000 are left) — truncated download or corrupt header?`,
    )
  })

  it('a 2 GB string (sparse) is refused by its length, and a 3 GB one no longer gives a RangeError', () => {
    for (const n of [2 ** 31, 3_000_000_000]) {
      const head = ggufWithMetadata([new Bytes().str('general.name').u32(8).u64(n).done()]).done()
      const p = sparseFile(join(tmp(), 'model.gguf'), head.length + n, [[0, head]])
      expect(refusal(() => readGguf(p))).toBe(`model.gguf: general.name: a string of ${n} bytes; at most 16777216 are read (a chat template is a few kB)`)
    }
  })
})

describe('GGUF strings and names in all are bounded too (issue 20, items 8, 16)', () => {
  it('five 16 MB strings pass the metadata\'s string budget (sparse)', () => {
    const n = 16 * 1024 * 1024
    const pieces: [number, Buffer][] = []
    const head = new Bytes().raw('GGUF').u32(3).u64(0).u64(5).done()
    pieces.push([0, head])
    let at = head.length
    for (let i = 0; i < 5; i++) {
      const kv = new Bytes().str(`s${i}`).u32(8).u64(n).done()
      pieces.push([at, kv])
      at += kv.length + n
    }
    const p = sparseFile(join(tmp(), 'model.gguf'), at, pieces)
    expect(refusal(() => readGguf(p))).toBe('model.gguf: s3: the metadata\'s strings pass 67108864 bytes in all, more than any model\'s vocabulary needs')
  })
  it('tensor and metadata counts past what any model has are refused before the tables are built', () => {
    const p = join(tmp(), 'model.gguf')
    writeFileSync(p, Buffer.concat([new Bytes().raw('GGUF').u32(3).u64(100_000).u64(0).done(), Buffer.alloc(4_000_000)]))
    expect(refusal(() => readGguf(p))).toBe('model.gguf: tensor count 100000 is more than any model has (at most 65536 are read)')
    sparseFile(p, 400_000_000, [[0, new Bytes().raw('GGUF').u32(3).u64(0).u64(20_000_000).done()]])
    expect(refusal(() => readGguf(p))).toBe('model.gguf: metadata count 20000000 is more than any model has (at most 65536 keys are read)')
  })
  it('a tensor name of 64 bytes or more is refused as llama.cpp refuses it', () => {
    const name = 'n'.repeat(5000)
    const b = ggufWithMetadata([], 1).str(name).u32(1).u64(8).u32(0).u64(0).done()
    const p = join(tmp(), 'model.gguf')
    writeFileSync(p, Buffer.concat([b, Buffer.alloc(64)]))
    expect(refusal(() => readGguf(p))).toBe(`model.gguf: tensor name 0 (${'n'.repeat(120)}… (5000 characters)) is 5000 bytes long; ggml names are shorter than 64`)
  })
  it('any error line of a model file is capped, keeping its head and tail', () => {
    const base = JSON.parse(readFileSync(join(ORGANISM, 'config.json'), 'utf8')) as Record<string, unknown>
    const m = refusal(() => parseLlamaConfig({ ...base, model_type: 'x'.repeat(50_000) }))
    expect(m.length).toBeLessThanOrEqual(1000)
    expect(m).toMatch(/^config\.json: model_type "x{600,}… \(50078 characters in all\) …x+" is not a Llama-family model \(llama, mistral, qwen2\)$/)
  })
})

describe('GGUF tensors may not share bytes (issue 20, item 11)', () => {
  it('two tensors at the same offset are refused, as llama.cpp refuses them', () => {
    const info = (name: string, rel: number): Buffer => new Bytes().str(name).u32(1).u64(8).u32(0).u64(rel).done()
    const b = ggufWithMetadata([], 2).raw(info('a.weight', 0)).raw(info('b.weight', 0))
    const head = b.done()
    const dataAt = Math.ceil(head.length / 32) * 32
    const p = join(tmp(), 'model.gguf')
    writeFileSync(p, Buffer.concat([head, Buffer.alloc(dataAt - head.length + 64)]))
    expect(refusal(() => readGguf(p))).toBe('model.gguf: b.weight: data [0, 32) overlaps that of a.weight [0, 32)')
  })
})

describe('context lengths are refused by name, never replaced (issue 20, item 12)', () => {
  const base = JSON.parse(readFileSync(join(ORGANISM, 'config.json'), 'utf8')) as Record<string, unknown>
  for (const [value, shown] of [[-5, '-5'], ['abc', '"abc"'], [0, '0'], [2.5, '2.5']] as const)
    it(`max_position_embeddings ${shown}`, () => {
      expect(refusal(() => parseLlamaConfig({ ...base, max_position_embeddings: value }))).toBe(
        `config.json: max_position_embeddings must be a positive integer (found ${shown})`,
      )
    })
  it('absent still takes the model class default; huge is capped at what the engine uses', () => {
    const { max_position_embeddings: _, ...rest } = base
    expect(parseLlamaConfig(rest).maxPos).toBe(2048)
    expect(parseLlamaConfig({ ...base, max_position_embeddings: 1e9 }).maxPos).toBe(65536)
  })
  it('GGUF context_length 0', () => {
    const seed = readFileSync(join(ROOT, 'scripts', 'fuzz', 'corpus', 'gguf', 'llama-spm-q8_0.gguf'))
    const key = Buffer.from('llama.context_length')
    const at = seed.indexOf(key)
    expect(at).toBeGreaterThan(0)
    expect(seed.readUInt32LE(at + key.length)).toBe(4) // u32
    const b = Buffer.from(seed)
    b.writeUInt32LE(0, at + key.length + 4)
    const p = join(tmp(), 'model.gguf')
    writeFileSync(p, b)
    expect(refusal(() => ggufCheckpoint(readGguf(p)))).toBe('model.gguf: llama.context_length must be a positive integer (found 0)')
  })
})

describe('pickle and zip readers are bounded (issue 20, items 2, 8, 16, 18)', () => {
  it('100M EMPTY_DICT opcodes stop at the stack bound', () => {
    const b = Buffer.alloc(2 + 1e8 + 1, 0x7d)
    b[0] = 0x80
    b[1] = 0x02
    b[b.length - 1] = 0x2e
    expect(refusal(() => unpickleTorch(b, 'consolidated.00.pth'))).toBe(
      'consolidated.00.pth: data.pkl holds more than 65536 values on its stack (at byte 65539); torch.save\'s stack stays below a few thousand',
    )
  })

  it('17M MEMOIZE opcodes stop at the memo bound', () => {
    const b = Buffer.alloc(3 + 17e6 + 1, 0x94)
    b.set([0x80, 0x04, 0x7d])
    b[b.length - 1] = 0x2e
    expect(refusal(() => unpickleTorch(b, 'consolidated.00.pth'))).toBe(
      'consolidated.00.pth: data.pkl stores more than 1048576 memo entries (at byte 1048579); torch.save writes about ten per tensor',
    )
  })

  it('dicts tucked into tuples stop at the object bound', () => {
    // MARK, 60000 × EMPTY_DICT, TUPLE, MEMOIZE: the stack never grows past 60001, the objects do
    const round = Buffer.concat([Buffer.from([0x28]), Buffer.alloc(60000, 0x7d), Buffer.from([0x74, 0x94])])
    const b = Buffer.concat([Buffer.from([0x80, 0x04]), ...Array(20).fill(round), Buffer.from([0x2e])])
    expect(refusal(() => unpickleTorch(b, 'consolidated.00.pth'))).toMatch(
      /^consolidated\.00\.pth: data\.pkl builds more than 1048576 objects \(at byte \d+\); torch\.save writes about ten per tensor$/,
    )
  })

  it('a 50 MB dict key makes an error line of a few hundred characters, not 50 MB', () => {
    const key = 50 * 1024 * 1024
    const pkl = new Bytes().raw(Buffer.from([0x80, 0x02, 0x7d, 0x58])).u32(key).raw(Buffer.alloc(key, 0x61)).raw(Buffer.from([0x4e, 0x73, 0x2e])).done()
    const p = join(tmp(), 'consolidated.00.pth')
    writeFileSync(p, zipOf([['archive/data.pkl', pkl]]))
    const m = refusal(() => readPthTensors(p))
    expect(m).toBe(`consolidated.00.pth: ${'a'.repeat(120)}… (52428800 characters) is not a tensor`)
  })

  it('an end-of-central-directory record claiming a 2.1 GB directory (sparse) is refused before reading it', () => {
    for (const size of [2.1e9, 3e9]) {
      const local = new Bytes().u32(0x04034b50).raw(Buffer.alloc(26)).done()
      const eocd = new Bytes().u32(0x06054b50).u16(0).u16(0).u16(1).u16(1).u32(size - 22 - 30).u32(30).u16(0).done()
      const p = sparseFile(join(tmp(), 'consolidated.00.pth'), size, [[0, local], [size - 22, eocd]])
      expect(refusal(() => readPthTensors(p))).toBe(
        `consolidated.00.pth: corrupt zip (a central directory of ${size - 52} bytes for 1 entries; at most 196651 are read)`,
      )
    }
  })
})

describe('only regular files are read from a model folder (issue 20, items 6, 7)', () => {
  const FIFO = 'is a named pipe (FIFO), not a regular file; only regular files are read from a model folder'
  for (const f of ['config.json', 'model.safetensors.index.json', 'model-00002-of-00002.safetensors', 'tokenizer.model', 'tokenizer_config.json'])
    it(`a FIFO as ${f}`, () => {
      const d = organismCopy()
      fifo(join(d, f))
      expect(refusal(() => Engine.load(d))).toBe(`${f}: ${FIFO}`)
    })
  it('a FIFO as preset.json, and as the reference text it names', () => {
    const d = organismCopy()
    fifo(join(d, 'preset.json'))
    expect(refusal(() => readPreset(d))).toBe(`preset.json: ${FIFO}`)
    const d2 = organismCopy()
    const preset = JSON.parse(readFileSync(join(d2, 'preset.json'), 'utf8')) as Record<string, unknown>
    writeFileSync(join(d2, 'preset.json'), JSON.stringify({ ...preset, reference: 'soliloquy.txt' }))
    fifo(join(d2, 'soliloquy.txt'))
    expect(refusal(() => readPreset(d2))).toBe(`soliloquy.txt: ${FIFO}`)
  })
  it('a preset naming a text outside the model folder is refused; one inside is read, a name that is no file is the text', () => {
    const d = organismCopy()
    const preset = JSON.parse(readFileSync(join(d, 'preset.json'), 'utf8')) as Record<string, unknown>
    writeFileSync(join(d, '..', 'outside.txt'), 'not the model folder\'s')
    writeFileSync(join(d, 'preset.json'), JSON.stringify({ ...preset, reference: '../outside.txt' }))
    expect(refusal(() => readPreset(d))).toBe(
      'preset.json: reference "../outside.txt" names a file outside the model folder; give a file inside it (or the text itself)',
    )
    writeFileSync(join(d, 'preset.json'), JSON.stringify({ ...preset, reference: 'soliloquy.txt' }))
    expect(readPreset(d).reference).toBe(readFileSync(join(d, 'soliloquy.txt'), 'utf8'))
    writeFileSync(join(d, 'preset.json'), JSON.stringify({ ...preset, reference: 'To be, or not to be' }))
    expect(readPreset(d).reference).toBe('To be, or not to be')
  })
  it('a FIFO as a .pth shard', () => {
    const d = tmp()
    fifo(join(d, 'consolidated.00.pth'))
    expect(refusal(() => readPthTensors(join(d, 'consolidated.00.pth')))).toBe(`consolidated.00.pth: ${FIFO}`)
  })

  it('a FIFO or a link to /dev/zero among the files an export copies (never read at load) fails the export in words', async () => {
    for (const [f, make] of [['generation_config.json', (p: string) => fifo(p)], ['special_tokens_map.json', (p: string) => symlinkSync('/dev/zero', p)]] as const) {
      const d = organismCopy()
      const engine = Engine.load(d)
      make(join(d, f))
      const err = await exportHF(engine, [], join(tmp(), 'out'), { dtype: 'F32' }).then(() => undefined, (e: Error) => e)
      expect(err).toBeInstanceOf(ModelFormatError)
      expect(err!.message).toMatch(new RegExp(`^${f.replace('.', '\\.')}: is a (named pipe \\(FIFO\\)|character device \\(a link to /dev/zero\\)), not a regular file; only regular files are read from a model folder$`))
    }
  })

  for (const [f, dev] of [['config.json', '/dev/zero'], ['tokenizer.json', '/dev/zero'], ['tokenizer_config.json', '/dev/zero'], ['tokenizer.model', '/dev/urandom']])
    it(`${f} linked to ${dev}`, () => {
      const d = organismCopy()
      rmSync(join(d, f), { force: true })
      symlinkSync(dev, join(d, f))
      expect(refusal(() => Engine.load(d))).toBe(`${f}: is a character device (a link to ${dev}), not a regular file; only regular files are read from a model folder`)
    })

  it('a regular file beyond its kind\'s bound is refused by size, sparse', () => {
    const d = organismCopy()
    sparseFile(join(d, 'config.json'), 5e9, [[0, Buffer.from('{')]])
    expect(refusal(() => Engine.load(d))).toBe('config.json: is 5000000000 bytes, more than a config.json can justify (at most 16777216 are read)')
  })
})

describe('JSON nesting and huge headers name the file (issue 20, item 17)', () => {
  it('a normalizer nested 20,000 deep in tokenizer.json', () => {
    const d = writeTinyModel(tmp(), tiny)
    let norm = '{"type":"Lowercase"}'
    for (let i = 0; i < 20000; i++) norm = `{"type":"Sequence","normalizers":[${norm}]}`
    writeFileSync(join(d, 'tokenizer.json'), `{"version":"1.0","normalizer":${norm},"model":{"type":"BPE","vocab":{},"merges":[]}}`)
    expect(refusal(() => Engine.load(d))).toBe(
      'tokenizer.json: nests arrays and objects more than 128 levels deep (at byte 2205); no model file needs that many',
    )
  })
  it('a weight_map of a million entries is refused before it is parsed', () => {
    const d = organismCopy()
    const parts: string[] = []
    for (let i = 0; i < 1e6; i++) parts.push(`"t${i}":"model-00001-of-00002.safetensors"`)
    writeFileSync(join(d, 'model.safetensors.index.json'), `{"metadata":{},"weight_map":{${parts.join(',')}}}`)
    expect(refusal(() => Engine.load(d))).toMatch(
      /^model\.safetensors\.index\.json: an object or array has more than 262144 members \(at byte \d+\); no model\.safetensors\.index\.json needs that many$/,
    )
  })
  it('a safetensors header with a million tensors is refused by its count, before it is parsed', () => {
    const d = tmp()
    const parts: string[] = []
    for (let i = 0; i < 1e6; i++) parts.push(`"t${i}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`)
    const h = Buffer.from(`{${parts.join(',')}}`)
    const len = Buffer.alloc(8)
    len.writeBigUInt64LE(BigInt(h.length))
    writeFileSync(join(d, 'model.safetensors'), Buffer.concat([len, h]))
    expect(refusal(() => readCheckpointFiles(d))).toBe(
      'model.safetensors: the header lists 1000000 entries; at most 65536 tensors are read from one file (the largest models hold a few thousand per file)',
    )
  })
})

describe('the weights the index names (issue 20, items 9, 10, 18)', () => {
  const editIndex = (d: string, edit: (m: Record<string, unknown>) => void): void => {
    const p = join(d, 'model.safetensors.index.json')
    const idx = JSON.parse(readFileSync(p, 'utf8')) as { weight_map: Record<string, unknown> }
    edit(idx.weight_map)
    writeFileSync(p, JSON.stringify(idx))
  }
  /** Adds a copy of `name` (zeros) to shard `file`'s header and data. */
  const addTensor = (d: string, file: string, name: string, shape: number[]): void => {
    const p = join(d, file)
    const b = readFileSync(p)
    const n = Number(b.readBigUInt64LE(0))
    const header = JSON.parse(b.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>
    const data = b.subarray(8 + n)
    const bytes = shape.reduce((a, s) => a * s, 2)
    header[name] = { dtype: 'F16', shape, data_offsets: [data.length, data.length + bytes] }
    const h = Buffer.from(JSON.stringify(header))
    const len = Buffer.alloc(8)
    len.writeBigUInt64LE(BigInt(h.length))
    writeFileSync(p, Buffer.concat([len, h, data, Buffer.alloc(bytes)]))
  }

  it('a tensor in two shards is refused, whichever shard the index names', () => {
    const d = organismCopy()
    const idx = JSON.parse(readFileSync(join(d, 'model.safetensors.index.json'), 'utf8')) as { weight_map: Record<string, string> }
    const shard = idx.weight_map['model.norm.weight']
    const other = shard === 'model-00001-of-00002.safetensors' ? 'model-00002-of-00002.safetensors' : 'model-00001-of-00002.safetensors'
    const cfg = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8')) as { hidden_size: number }
    addTensor(d, other, 'model.norm.weight', [cfg.hidden_size])
    const [first, second] = [shard, other].sort()
    expect(refusal(() => Engine.load(d))).toBe(
      `model.safetensors.index.json: model.norm.weight is in two shards, ${first} and ${second} (weight_map names ${shard}); which copy is meant is ambiguous — remove the stray one`,
    )
  })

  it('a tensor found in another shard than weight_map names is refused', () => {
    const d = organismCopy()
    let from = ''
    editIndex(d, (m) => {
      from = m['model.norm.weight'] as string
      // name another shard for it, keeping both shards in the index
      m['model.norm.weight'] = from === 'model-00001-of-00002.safetensors' ? 'model-00002-of-00002.safetensors' : 'model-00001-of-00002.safetensors'
    })
    const named = from === 'model-00001-of-00002.safetensors' ? 'model-00002-of-00002.safetensors' : 'model-00001-of-00002.safetensors'
    expect(refusal(() => Engine.load(d))).toBe(`model.safetensors.index.json: weight_map places model.norm.weight in ${named}, but it is in ${from}`)
  })

  it('weight_map paths outside the model folder are refused', () => {
    for (const path of ['../../../../etc/model.safetensors', '/etc/model.safetensors', '..', 'sub/../../x.safetensors']) {
      const d = organismCopy()
      editIndex(d, (m) => (m['model.norm.weight'] = path))
      expect(refusal(() => Engine.load(d))).toBe(
        `model.safetensors.index.json: weight_map places model.norm.weight in ${JSON.stringify(path)}, outside the model folder; shards must lie inside it`,
      )
    }
  })

  it('a weight_map value that is not a string names the entry', () => {
    const d = organismCopy()
    editIndex(d, (m) => (m['model.norm.weight'] = 5))
    expect(refusal(() => Engine.load(d))).toBe('model.safetensors.index.json: weight_map["model.norm.weight"] must be a shard\'s file name (found 5)')
  })

  it('a shard in a subfolder of the model folder still loads', () => {
    const d = organismCopy()
    mkdirSync(join(d, 'shards'))
    copyFileSync(join(d, 'model-00002-of-00002.safetensors'), join(d, 'shards', 'model-00002-of-00002.safetensors'))
    rmSync(join(d, 'model-00002-of-00002.safetensors'))
    editIndex(d, (m) => {
      for (const k of Object.keys(m)) if (m[k] === 'model-00002-of-00002.safetensors') m[k] = 'shards/model-00002-of-00002.safetensors'
    })
    expect(() => Engine.load(d)).not.toThrow()
  })
})

describe('the fingerprint reads a bounded sample of every file (issue 20)', () => {
  it('a stray .safetensors claiming a 3 GB header (sparse) is sampled, not read whole', () => {
    const d = organismCopy()
    const len = Buffer.alloc(8)
    len.writeBigUInt64LE(3_000_000_000n)
    sparseFile(join(d, 'stray.safetensors'), 3_000_000_008, [[0, len]])
    expect(modelFingerprint(d).files['stray.safetensors']).toMatch(/^3000000008:[0-9a-f]{64}$/)
  })
  it('config.json and the tokenizer files it hashes whole are read within their bounds (a sparse 3 GB tokenizer.model)', () => {
    const d = organismCopy()
    sparseFile(join(d, 'tokenizer.model'), 3e9, [])
    expect(refusal(() => modelFingerprint(d))).toBe('tokenizer.model: is 3000000000 bytes, more than a tokenizer.model can justify (at most 67108864 are read)')
  })
})

describe('the fuzz harness caps memory (issue 20)', () => {
  it('a run that takes the process past --rss-mb is a finding, saved with its reproducer', () => {
    const input = join(ROOT, 'scripts', 'fuzz', 'corpus', 'pickle', 'memo-opcodes.pkl')
    const run = (cap: string) => spawnSync(process.execPath, [join(ROOT, 'scripts', 'fuzz.mjs'), '--ts', '--target', 'pickle', '--replay', input, '--rss-mb', cap], { cwd: ROOT, encoding: 'utf8' })
    const over = run('1')
    const m = /ts pickle: FINDING \(memory: \d+ MB > 1 MB\), reproducer (\S+)/.exec(over.stdout)
    expect(m, over.stdout + over.stderr).not.toBeNull()
    // a replayed input is its own reproducer (the corpus file): only a copy the harness saved is removed
    if (m![1].startsWith(join(ROOT, 'fuzz-findings'))) rmSync(m![1], { force: true })
    try {
      rmdirSync(join(ROOT, 'fuzz-findings')) // only when this run made it and left it empty
    } catch {
      /* other findings are kept */
    }
    expect(over.status).toBe(1)
    const within = run('4096')
    expect(within.stdout, within.stderr).toMatch(/ts pickle: replayed: ok/)
    expect(within.status).toBe(0)
  }, 120_000)
})
