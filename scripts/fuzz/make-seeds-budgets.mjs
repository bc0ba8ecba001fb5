#!/usr/bin/env node
// Corpus entries for the parsers' budgets (issue 20; checked in, run again only to regenerate them): GGUF metadata of
// every value type (arrays of numbers, of strings, of arrays; long strings), pickle opcode streams using the memo and
// the stack as torch.save never does, and zip directories (ZIP64 fields, counts that disagree with sizes). Each
// `regression-…` entry is a small form of an issue-20 file that used to exhaust memory or throw a RangeError; the
// fuzzer mutates them toward the budgets' edges, and test/fuzz-corpus.test.ts replays them.
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const put = (target, name, bytes) => {
  const d = join(root, 'scripts', 'fuzz', 'corpus', target)
  mkdirSync(d, { recursive: true })
  writeFileSync(join(d, name), bytes)
}

class Bytes {
  parts = []
  raw(b) {
    this.parts.push(typeof b === 'string' ? Buffer.from(b) : Buffer.from(b))
    return this
  }
  int(bytes, v, signed = false) {
    const b = Buffer.alloc(bytes)
    if (bytes === 8) signed ? b.writeBigInt64LE(BigInt(v)) : b.writeBigUInt64LE(BigInt(v))
    else if (bytes === 4) signed ? b.writeInt32LE(v) : b.writeUInt32LE(v)
    else if (bytes === 2) b.writeUInt16LE(v)
    else b.writeUInt8(v)
    return this.raw(b)
  }
  u16 = (v) => this.int(2, v)
  u32 = (v) => this.int(4, v)
  u64 = (v) => this.int(8, v)
  str = (s) => this.u64(Buffer.byteLength(s)).raw(s)
  get length() {
    return this.parts.reduce((a, b) => a + b.length, 0)
  }
  done() {
    return Buffer.concat(this.parts)
  }
}

// ---- GGUF: one key of each value type, arrays of each element type, nested arrays, a 4 kB string, one tensor
const T = { U8: 0, I8: 1, U16: 2, I16: 3, U32: 4, I32: 5, F32: 6, BOOL: 7, STR: 8, ARR: 9, U64: 10, I64: 11, F64: 12 }
const ELEM = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 }
function gguf(kvs, tensors = [['a.weight', 0]]) {
  const b = new Bytes().raw('GGUF').u32(3).u64(tensors.length).u64(kvs.length)
  for (const kv of kvs) b.raw(kv)
  for (const [name, rel] of tensors) b.str(name).u32(1).u64(8).u32(0).u64(rel)
  const pad = (32 - (b.length % 32)) % 32
  return Buffer.concat([b.done(), Buffer.alloc(pad + 32 * tensors.length)])
}
const kv = (key, type, body) => new Bytes().str(key).u32(type).raw(body).done()
const arr = (et, n, elem) => {
  const b = new Bytes().u32(et).u64(n)
  for (let i = 0; i < n; i++) b.raw(elem(i))
  return b.done()
}
const num = (et, v) => new Bytes().int(ELEM[et], et === T.F32 || et === T.F64 ? 0 : v, [T.I8, T.I16, T.I32, T.I64].includes(et)).done()
const metadata = [
  kv('general.architecture', T.STR, new Bytes().str('llama').done()),
  kv('general.name', T.STR, new Bytes().str('x'.repeat(4096)).done()),
  kv('general.flag', T.BOOL, [1]),
  kv('general.big', T.U64, new Bytes().u64(2n ** 40n).done()),
  kv('general.neg', T.I64, new Bytes().int(8, -5, true).done()),
  kv('general.f64', T.F64, Buffer.alloc(8)),
  ...Object.keys(ELEM).map((et) => kv(`arrays.of_${et}`, T.ARR, arr(Number(et), 16, (i) => num(Number(et), i % 2)))),
  kv('arrays.of_strings', T.ARR, arr(T.STR, 64, (i) => new Bytes().str(`tok${i}`).done())),
  kv('arrays.of_arrays', T.ARR, arr(T.ARR, 4, () => arr(T.U32, 4, (i) => new Bytes().u32(i).done()))),
]
put('gguf', 'metadata-every-type.gguf', gguf(metadata))
// what issue 20 found, small: a count past the bytes left (a 320M-element array), a string length of 2 GB, two
// tensors sharing bytes
put('gguf', 'regression-array-count', gguf([kv('big.array', T.ARR, new Bytes().u32(T.U8).u64(320_000_000).done())]))
put('gguf', 'regression-string-length', gguf([kv('general.name', T.STR, new Bytes().u64(2 ** 31).raw('x').done())]))
put('gguf', 'regression-overlap', gguf([], [['a.weight', 0], ['b.weight', 0]]))

// ---- pickle: a dict of two storages-less values built with MEMOIZE, BINPUT / LONG_BINPUT, BINGET / LONG_BINGET,
// FRAME, MARK + SETITEMS and TUPLE (protocol 4); and floods of what builds objects without bound
const pkl = (...ops) => Buffer.from(ops.flat())
const short = (s) => [0x8c, s.length, ...Buffer.from(s)]
put('pickle', 'memo-opcodes.pkl', pkl(
  [0x80, 0x04, 0x95], [...Buffer.alloc(8)],
  [0x7d, 0x94], // EMPTY_DICT, MEMOIZE (0)
  [0x28], // MARK
  short('a'), [0x71, 0x01], [0x4e], // 'a' BINPUT 1, None
  short('b'), [0x72, 0x02, 0, 0, 0], [0x28, 0x4b, 0x01, 0x4b, 0x02, 0x74, 0x94], // 'b' LONG_BINPUT 2, (1, 2) MEMOIZE
  short('c'), [0x68, 0x01], // 'c' → BINGET 1 ('a')
  short('d'), [0x6a, 0x02, 0, 0, 0], // 'd' → LONG_BINGET 2 ('b')
  [0x75, 0x2e], // SETITEMS, STOP
))
put('pickle', 'regression-empty-dict-flood', Buffer.concat([Buffer.from([0x80, 0x02]), Buffer.alloc(70_000, 0x7d), Buffer.from([0x2e])]))
put('pickle', 'regression-memoize-flood', Buffer.concat([Buffer.from([0x80, 0x04, 0x7d]), Buffer.alloc(70_000, 0x94), Buffer.from([0x2e])]))

// ---- zip directories: a torch.save-shaped archive whose entry carries a ZIP64 extra field and a ZIP64 end record,
// and one whose end record claims 60000 entries in a 46-byte directory
function zip(entries, o = {}) {
  const out = new Bytes()
  const central = new Bytes()
  for (const [name, data] of entries) {
    const at = out.length
    out.u32(0x04034b50).u16(45).u16(0).u16(0).u16(0).u16(0).u32(0).u32(data.length).u32(data.length).u16(name.length).u16(0).raw(name).raw(data)
    const extra = o.zip64 ? new Bytes().u16(1).u16(8).u64(at).done() : Buffer.alloc(0)
    central.u32(0x02014b50).u16(45).u16(45).u16(0).u16(0).u16(0).u16(0).u32(0).u32(data.length).u32(data.length)
      .u16(name.length).u16(extra.length).u16(0).u16(0).u16(0).u32(0).u32(o.zip64 ? 0xffffffff : at).raw(name).raw(extra)
  }
  const cd = central.done()
  const cdAt = out.length
  out.raw(cd)
  const count = o.count ?? entries.length
  if (o.zip64) {
    const recAt = out.length
    out.u32(0x06064b50).u64(44).u16(45).u16(45).u32(0).u32(0).u64(count).u64(count).u64(cd.length).u64(cdAt)
    out.u32(0x07064b50).u32(0).u64(recAt).u32(1)
    out.u32(0x06054b50).u16(0).u16(0).u16(0xffff).u16(0xffff).u32(0xffffffff).u32(0xffffffff).u16(0)
  } else {
    out.u32(0x06054b50).u16(0).u16(0).u16(count).u16(count).u32(cd.length).u32(cdAt).u16(0)
  }
  return out.done()
}
const dataPkl = pkl([0x80, 0x02, 0x7d, 0x2e]) // {}
put('pth', 'zip64-empty-state.pth', zip([['archive/data.pkl', dataPkl], ['archive/version', Buffer.from('3\n')]], { zip64: true }))
put('pth', 'regression-directory-count', zip([['archive/data.pkl', dataPkl]], { count: 60000 }))
