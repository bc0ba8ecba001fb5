// A seeded mutation engine for the TypeScript fuzzer: byte-level edits (flips, interesting integers, chunk
// insert/delete/duplicate, splices with another corpus entry, truncation) and, for JSON targets, value-level edits
// of the parsed document (numbers → −1, 2^53+1, 1e400, strings, nesting). The same seed gives the same inputs.

import { mutateChain } from './mutateChain'

export type Rand = () => number

export function prng(seed: number): Rand {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x22, 0x5b, 0x7b, 0x2d, 0x30, 0x39, 0x0a]
const INTERESTING_INTS = [0, 1, -1, 2, 7, 8, 127, 128, 255, 256, 0x7fff, 0x8000, 0xffff, 0x7fffffff, -0x80000000, 0xffffffff]
const INTERESTING_TEXT = ['-1', '-8', '0', '1e400', '-1e400', '9007199254740993', '4294967296', '1e12', '0.5', 'null', 'true', '"x"', '[]', '{}', '[[[[[[[[', '"\\ud800"', 'NaN', ',', ':', '"']
const INTERESTING_VALUES: unknown[] = [-1, -8, 0, 1, 2, 0.5, 1e12, 2 ** 53 + 2, 2 ** 31, -(2 ** 63), 1e308, null, true, 'x', '', [], {}, [-1, 8], [-8, 0], [0, 0], [8, 16], [0, 1e300], [[1]], [2], [0], [-2, 4], 'F32', 'BF16', 'I64']

const pick = <T>(r: Rand, a: readonly T[]): T => a[Math.floor(r() * a.length)]
const int = (r: Rand, n: number): number => Math.floor(r() * n)

function mutateBytes(r: Rand, input: Buffer, other: Buffer): Buffer {
  let b = Buffer.from(input)
  const rounds = 1 + int(r, 4)
  for (let k = 0; k < rounds; k++) {
    const n = b.length
    switch (int(r, 10)) {
      case 0: // flip a bit
        if (n) b[int(r, n)] ^= 1 << int(r, 8)
        break
      case 1: // interesting byte
        if (n) b[int(r, n)] = pick(r, INTERESTING_BYTES)
        break
      case 2: { // interesting 8/16/32/64-bit little-endian integer
        const w = pick(r, [1, 2, 4, 8])
        if (n < w) break
        const at = int(r, n - w + 1)
        const v = BigInt.asUintN(64, BigInt(pick(r, INTERESTING_INTS)))
        for (let i = 0; i < w; i++) b[at + i] = Number((v >> BigInt(8 * i)) & 0xffn)
        break
      }
      case 3: { // delete a chunk
        if (!n) break
        const at = int(r, n)
        const len = 1 + int(r, Math.min(64, n - at))
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + len)])
        break
      }
      case 4: { // duplicate a chunk in place
        if (!n) break
        const at = int(r, n)
        const len = 1 + int(r, Math.min(256, n - at))
        b = Buffer.concat([b.subarray(0, at + len), b.subarray(at, at + len), b.subarray(at + len)])
        break
      }
      case 5: { // insert interesting text (numbers, brackets, quotes)
        const at = int(r, n + 1)
        b = Buffer.concat([b.subarray(0, at), Buffer.from(pick(r, INTERESTING_TEXT)), b.subarray(at)])
        break
      }
      case 6: { // replace a decimal number with an interesting one
        const s = b.toString('latin1')
        const nums = [...s.matchAll(/-?\d+(\.\d+)?(e[+-]?\d+)?/gi)]
        if (!nums.length) break
        const m = pick(r, nums)
        b = Buffer.concat([b.subarray(0, m.index!), Buffer.from(pick(r, INTERESTING_TEXT)), b.subarray(m.index! + m[0].length)])
        break
      }
      case 7: { // splice with another input
        const at = int(r, n + 1)
        const from = int(r, other.length + 1)
        b = Buffer.concat([b.subarray(0, at), other.subarray(from, from + 1 + int(r, 512))])
        break
      }
      case 8: // truncate
        b = b.subarray(0, int(r, n + 1))
        break
      default: { // random bytes
        const at = int(r, n + 1)
        const len = 1 + int(r, 8)
        const add = Buffer.alloc(len)
        for (let i = 0; i < len; i++) add[i] = int(r, 256)
        b = Buffer.concat([b.subarray(0, at), add, b.subarray(at)])
      }
    }
  }
  return b
}

function mutateJson(r: Rand, input: Buffer): Buffer | undefined {
  let doc: unknown
  try {
    doc = JSON.parse(input.toString('utf8'))
  } catch {
    return undefined
  }
  // collect every (container, key) and replace one value, or delete it
  const slots: [Record<string, unknown> | unknown[], string | number][] = []
  const walk = (v: unknown, depth: number): void => {
    if (depth > 8 || !v || typeof v !== 'object') return
    for (const k of Object.keys(v)) {
      const key = Array.isArray(v) ? Number(k) : k
      slots.push([v as Record<string, unknown>, key])
      walk((v as Record<string, unknown>)[k], depth + 1)
    }
  }
  walk(doc, 0)
  if (!slots.length) return undefined
  const [obj, key] = pick(r, slots)
  const o = obj as Record<string | number, unknown>
  const v = o[key]
  if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'number' && r() < 0.5) {
    // a range [begin, end] moved as a whole (keeps its length, so size checks pass and bounds checks are tested)
    const [b, e] = v as number[]
    const d = pick(r, [-(e - b), Math.floor((e - b) / 2), -b - 8, -b - 1, -b, 8, -8, 2 ** 53, -(2 ** 53)])
    o[key] = [b + d, e + d]
  } else if (r() < 0.15 && !Array.isArray(obj)) delete o[key]
  else if (typeof o[key] === 'number' && r() < 0.5) o[key] = (o[key] as number) * pick(r, [-1, 2, 1e6, 0.5, 1e300])
  else o[key] = structuredClone(pick(r, INTERESTING_VALUES))
  // 1e400 and friends are not JSON.stringify-able: write them as text on purpose
  return Buffer.from(JSON.stringify(doc).replace(/1e\+308/g, () => pick(r, ['1e308', '1e400', '-1e400'])))
}

/** A safetensors file: mutate the JSON header's values and re-frame it with a correct length prefix. */
function mutateSafetensors(r: Rand, input: Buffer): Buffer | undefined {
  if (input.length < 8) return undefined
  const n = Number(input.readBigUInt64LE(0))
  if (n < 2 || 8 + n > input.length) return undefined
  const j = mutateJson(r, input.subarray(8, 8 + n))
  if (!j) return undefined
  const len = Buffer.alloc(8)
  len.writeBigUInt64LE(BigInt(j.length))
  return Buffer.concat([len, j, input.subarray(8 + n)])
}

// ---- protobuf (tokenizer.model): edit field values and re-serialise, so lengths stay consistent --------------

interface PbField {
  num: number
  wt: number
  varint?: bigint
  fixed?: Buffer // 4 or 8 bytes
  bytes?: Buffer
  children?: PbField[] // a submessage (ModelProto's pieces, trainer_spec, normalizer_spec, denormalizer_spec)
  raw?: Buffer // the field's bytes as parsed (tag included); dropped when the field is edited
}

function readVarint(b: Buffer, pos: number): [bigint, number] | undefined {
  let v = 0n
  for (let i = 0; i < 10 && pos < b.length; i++) {
    const byte = b[pos++]
    v |= BigInt(byte & 0x7f) << BigInt(7 * i)
    if (byte < 0x80) return [v, pos]
  }
  return undefined
}

function parsePb(b: Buffer, nested: (num: number) => boolean): PbField[] | undefined {
  const out: PbField[] = []
  let pos = 0
  while (pos < b.length) {
    const at = pos
    const t = readVarint(b, pos)
    if (!t) return undefined
    pos = t[1]
    const num = Number(t[0] >> 3n)
    const wt = Number(t[0] & 7n)
    if (wt === 0) {
      const v = readVarint(b, pos)
      if (!v) return undefined
      out.push({ num, wt, varint: v[0] })
      pos = v[1]
    } else if (wt === 1 || wt === 5) {
      const n = wt === 1 ? 8 : 4
      if (pos + n > b.length) return undefined
      out.push({ num, wt, fixed: b.subarray(pos, pos + n) })
      pos += n
    } else if (wt === 2) {
      const l = readVarint(b, pos)
      if (!l || l[1] + Number(l[0]) > b.length) return undefined
      const body = b.subarray(l[1], l[1] + Number(l[0]))
      pos = l[1] + Number(l[0])
      const children = nested(num) ? parsePb(body, () => false) : undefined
      out.push(children ? { num, wt, children } : { num, wt, bytes: body })
    } else return undefined
    out[out.length - 1].raw = b.subarray(at, pos)
  }
  return out
}

function varintBytes(v: bigint): Buffer {
  const out: number[] = []
  let x = BigInt.asUintN(64, v)
  do {
    let byte = Number(x & 0x7fn)
    x >>= 7n
    if (x) byte |= 0x80
    out.push(byte)
  } while (x)
  return Buffer.from(out)
}

function writePb(fields: PbField[]): Buffer {
  const parts: Buffer[] = []
  for (const f of fields) {
    if (f.raw) {
      parts.push(f.raw)
      continue
    }
    parts.push(varintBytes(BigInt(f.num * 8 + f.wt)))
    if (f.wt === 0) parts.push(varintBytes(f.varint ?? 0n))
    else if (f.fixed) parts.push(f.fixed)
    else {
      const body = f.children ? writePb(f.children) : (f.bytes ?? Buffer.alloc(0))
      parts.push(varintBytes(BigInt(body.length)), body)
    }
  }
  return Buffer.concat(parts)
}

const PB_VARINTS = [0n, 1n, 2n, 3n, 4n, 5n, 6n, 7n, 255n, 256n, 0x7fffffffn, 0xffffffffn, -1n, -(2n ** 31n), 2n ** 53n, 2n ** 63n]
const PB_FLOATS = [NaN, Infinity, -Infinity, 0, -0, 1e38, -1e38, 1e-45, -1]
const PB_STRINGS = ['', '\u2581', '<0x41>', '<0xZZ>', '<unk>', '<s>', 'a'.repeat(300), '\u2581\u2581', ' ', 'To', '\u{1F3AD}']

// parsed once per corpus entry; mutations copy only the lists and fields they touch
const pbCache = new WeakMap<Buffer, PbField[] | null>()

function mutateProtobuf(r: Rand, input: Buffer): Buffer | undefined {
  let parsed = pbCache.get(input)
  if (parsed === undefined) {
    parsed = parsePb(input, (n) => n === 1 || n === 2 || n === 3 || n === 5) ?? null
    pbCache.set(input, parsed)
  }
  if (!parsed || !parsed.length) return undefined
  const top = parsed.slice()
  const rounds = 1 + int(r, 3)
  for (let k = 0; k < rounds; k++) {
    // a top-level field, or a field inside one of the submessages (copied before it is edited)
    let list = top
    const ti = int(r, top.length)
    if (top[ti]?.children?.length && r() < 0.7) {
      const parent = { ...top[ti], raw: undefined, children: top[ti].children!.slice() }
      top[ti] = parent
      list = parent.children
    }
    if (!list.length) continue
    const i = int(r, list.length)
    const f = list[i]
    switch (int(r, 5)) {
      case 0: // drop the field
        list.splice(i, 1)
        break
      case 1: // repeat it (a second trainer_spec, a duplicate piece…)
        list.splice(i, 0, f)
        break
      case 2: // move it elsewhere
        list.splice(i, 1)
        list.splice(int(r, list.length + 1), 0, f)
        break
      default: { // change its value
        const g: PbField = { ...f, raw: undefined }
        if (g.wt === 0) g.varint = pick(r, PB_VARINTS)
        else if (g.fixed && g.fixed.length === 4) {
          g.fixed = Buffer.alloc(4)
          g.fixed.writeFloatLE(pick(r, PB_FLOATS))
        } else if (g.bytes) g.bytes = r() < 0.2 ? Buffer.from([0xff, 0xfe, 0x80]) : Buffer.from(pick(r, PB_STRINGS))
        else if (g.children && g.children.length) {
          g.children = g.children.slice()
          g.children.splice(int(r, g.children.length), 1)
        }
        list[i] = g
      }
    }
  }
  return writePb(top)
}

/** How a target's inputs are built, so the mutator can also edit values rather than only bytes. */
export type InputFormat = 'bytes' | 'json' | 'safetensors' | 'protobuf' | 'chain'

export function mutate(r: Rand, input: Buffer, other: Buffer, format: InputFormat = 'bytes'): Buffer {
  if (format === 'chain' && r() < 0.7) {
    const c = mutateChain(r, input) ?? mutateJson(r, input)
    if (c) return c
  }
  if (format !== 'bytes' && format !== 'chain' && r() < 0.6) {
    const j = format === 'json' ? mutateJson(r, input) : format === 'protobuf' ? mutateProtobuf(r, input) : mutateSafetensors(r, input)
    if (j) return j
  }
  return mutateBytes(r, input, other)
}
