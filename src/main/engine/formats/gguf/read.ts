// GGUF reader (llama.cpp's single-file format, versions 2 and 3): header, every metadata value type, tensor infos,
// alignment and the data offset, with strict bounds checks. The weights are not read here: like safetensors, the
// native engine memory-maps them at the offsets found here and dequantises quantised blocks inside its kernels.
// Layout: "GGUF", u32 version, u64 tensor count, u64 kv count, kvs, tensor infos (name, u32 n_dims, u64 dims
// (fastest-varying first), u32 ggml type, u64 offset relative to the data section), padding to general.alignment,
// data.
import { closeSync, fstatSync, readSync } from 'node:fs'
import { basename } from 'node:path'
import { clipped, ModelFormatError, openModelFile } from '../../config'

/** ggml tensor types by id: name, weights per block, bytes per block (ggml.c's type_traits). */
export const GGML_TYPES: Record<number, { name: string; blockElems: number; blockBytes: number }> = {
  0: { name: 'F32', blockElems: 1, blockBytes: 4 },
  1: { name: 'F16', blockElems: 1, blockBytes: 2 },
  2: { name: 'Q4_0', blockElems: 32, blockBytes: 18 },
  3: { name: 'Q4_1', blockElems: 32, blockBytes: 20 },
  6: { name: 'Q5_0', blockElems: 32, blockBytes: 22 },
  7: { name: 'Q5_1', blockElems: 32, blockBytes: 24 },
  8: { name: 'Q8_0', blockElems: 32, blockBytes: 34 },
  9: { name: 'Q8_1', blockElems: 32, blockBytes: 36 },
  10: { name: 'Q2_K', blockElems: 256, blockBytes: 84 },
  11: { name: 'Q3_K', blockElems: 256, blockBytes: 110 },
  12: { name: 'Q4_K', blockElems: 256, blockBytes: 144 },
  13: { name: 'Q5_K', blockElems: 256, blockBytes: 176 },
  14: { name: 'Q6_K', blockElems: 256, blockBytes: 210 },
  15: { name: 'Q8_K', blockElems: 256, blockBytes: 292 },
  16: { name: 'IQ2_XXS', blockElems: 256, blockBytes: 66 },
  17: { name: 'IQ2_XS', blockElems: 256, blockBytes: 74 },
  18: { name: 'IQ3_XXS', blockElems: 256, blockBytes: 98 },
  19: { name: 'IQ1_S', blockElems: 256, blockBytes: 50 },
  20: { name: 'IQ4_NL', blockElems: 32, blockBytes: 18 },
  21: { name: 'IQ3_S', blockElems: 256, blockBytes: 110 },
  22: { name: 'IQ2_S', blockElems: 256, blockBytes: 82 },
  23: { name: 'IQ4_XS', blockElems: 256, blockBytes: 136 },
  24: { name: 'I8', blockElems: 1, blockBytes: 1 },
  25: { name: 'I16', blockElems: 1, blockBytes: 2 },
  26: { name: 'I32', blockElems: 1, blockBytes: 4 },
  27: { name: 'I64', blockElems: 1, blockBytes: 8 },
  28: { name: 'F64', blockElems: 1, blockBytes: 8 },
  29: { name: 'IQ1_M', blockElems: 256, blockBytes: 56 },
  30: { name: 'BF16', blockElems: 1, blockBytes: 2 },
  34: { name: 'TQ1_0', blockElems: 256, blockBytes: 54 },
  35: { name: 'TQ2_0', blockElems: 256, blockBytes: 66 },
  39: { name: 'MXFP4', blockElems: 32, blockBytes: 17 },
  40: { name: 'NVFP4', blockElems: 64, blockBytes: 36 },
  41: { name: 'Q1_0', blockElems: 128, blockBytes: 18 },
  42: { name: 'Q2_0', blockElems: 64, blockBytes: 18 },
}

/** The ggml types the engine computes with (native/src/quants.cpp holds the same names). */
export const ENGINE_GGML_TYPES = [
  'F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q4_K', 'Q5_K', 'Q6_K',
  'Q4_1', 'Q5_0', 'Q5_1', 'Q2_K', 'Q3_K', 'IQ4_NL', 'IQ4_XS', 'MXFP4', 'TQ1_0', 'TQ2_0',
  'IQ3_S', 'IQ3_XXS', 'IQ2_XXS', 'IQ2_XS', 'IQ2_S', 'IQ1_S', 'IQ1_M',
] as const
export type EngineGgmlType = (typeof ENGINE_GGML_TYPES)[number]

/** Bits per weight of a ggml type (block bytes · 8 / block weights), e.g. 4.5 for Q4_K. */
export function ggmlBitsPerWeight(typeName: string): number | undefined {
  const t = Object.values(GGML_TYPES).find((x) => x.name === typeName)
  return t && (t.blockBytes * 8) / t.blockElems
}

export const GGML_TYPE_ID: Record<string, number> = Object.fromEntries(
  Object.entries(GGML_TYPES).map(([id, t]) => [t.name, Number(id)]),
)

/** GGUF metadata value types. */
export const GGUF_VALUE = {
  UINT8: 0, INT8: 1, UINT16: 2, INT16: 3, UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9, UINT64: 10,
  INT64: 11, FLOAT64: 12,
} as const

/** A metadata value: numbers (64-bit integers as bigint only when they exceed 2^53), strings, booleans, arrays. */
export type GgufValue = number | bigint | boolean | string | GgufValue[]

export interface GgufTensorInfo {
  name: string
  /** ggml order: fastest-varying dimension first */
  dims: number[]
  type: number
  typeName: string
  /** absolute byte offset of the data in the file */
  offset: number
  bytes: number
}

export interface GgufFile {
  path: string
  version: number
  kv: Map<string, GgufValue>
  tensors: GgufTensorInfo[]
  alignment: number
  dataOffset: number
  fileSize: number
}

/** Bytes a tensor of `count` weights takes in a ggml type, or an error naming what is wrong. */
export function ggmlBytes(type: number, count: number): number {
  const t = GGML_TYPES[type]
  if (!t) throw new Error(`unknown ggml type ${type}`)
  if (count % t.blockElems !== 0) throw new Error(`${count} weights are not whole ${t.name} blocks of ${t.blockElems}`)
  return (count / t.blockElems) * t.blockBytes
}

/**
 * The metadata budget: what a header may make the reader build, whatever the file's size. A file justifies a count
 * only when the bytes left hold that many elements (checked first); beyond that, the largest real headers hold ~1M
 * array elements (a 262k-token vocabulary: tokens, scores, token types; ~300k merges) and ~10 MB of strings (a chat
 * template is kB), so these bounds are 8 and 6 times those, and a 320M-element array is refused before anything is
 * allocated (it took 2.5 GB and aborted the process before).
 */
export const GGUF_MAX_ARRAY_ELEMENTS = 1 << 23
export const GGUF_MAX_STRING_BYTES = 1 << 24
export const GGUF_MAX_TOTAL_STRING_BYTES = 1 << 26

/** Tensors and metadata keys read from one file: a Llama-405B GGUF has ~1,140 tensors and ~40 keys. */
export const GGUF_MAX_TENSORS = 1 << 16
export const GGUF_MAX_KEYS = 1 << 16

/** The fewest bytes one element of each metadata value type takes in the file (a string: its u64 length). */
const MIN_VALUE_BYTES: Record<number, number> = {
  0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 8: 8, 9: 12, 10: 8, 11: 8, 12: 8,
}
const VALUE_TYPE_NAMES = ['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'f32', 'bool', 'string', 'array', 'u64', 'i64', 'f64']

// A forward reader over the file's header, reading in chunks (headers of 128k-token vocabularies run to megabytes).
class HeaderReader {
  private buf = Buffer.alloc(0)
  private bufStart = 0 // file offset of buf[0]
  pos = 0 // file offset of the next byte
  /** array elements and string bytes read so far, against the budget above */
  private elements = 0
  private stringBytes = 0
  constructor(
    private readonly fd: number,
    readonly size: number,
    private readonly fail: (msg: string) => never,
  ) {}

  private need(n: number, what: string): void {
    if (this.pos + n > this.size)
      this.fail(`the file ends inside its header (reading ${what} at byte ${this.pos}; file size ${this.size}) — truncated download?`)
    if (this.pos + n <= this.bufStart + this.buf.length) return
    const len = Math.min(Math.max(n, 1 << 20), this.size - this.pos)
    const b = Buffer.alloc(len)
    let got = 0
    while (got < len) {
      const r = readSync(this.fd, b, got, len - got, this.pos + got)
      if (r <= 0) this.fail(`could not read byte ${this.pos + got}`)
      got += r
    }
    this.buf = b
    this.bufStart = this.pos
  }
  private at(): number {
    return this.pos - this.bufStart
  }
  u8(what: string): number {
    this.need(1, what)
    const v = this.buf.readUInt8(this.at())
    this.pos += 1
    return v
  }
  u32(what: string): number {
    this.need(4, what)
    const v = this.buf.readUInt32LE(this.at())
    this.pos += 4
    return v
  }
  u64(what: string): bigint {
    this.need(8, what)
    const v = this.buf.readBigUInt64LE(this.at())
    this.pos += 8
    return v
  }
  /** a u64 that must be a size or count below `max` */
  size64(what: string, max: number): number {
    const v = this.u64(what)
    if (v > BigInt(max)) this.fail(`${what} is ${v}, larger than the file allows — corrupt header`)
    return Number(v)
  }
  value(type: number, what: string, depth = 0): GgufValue {
    const num = (n: number, read: (b: Buffer, o: number) => number | bigint): number | bigint => {
      this.need(n, what)
      const v = read(this.buf, this.at())
      this.pos += n
      return v
    }
    switch (type) {
      case GGUF_VALUE.UINT8: return num(1, (b, o) => b.readUInt8(o))
      case GGUF_VALUE.INT8: return num(1, (b, o) => b.readInt8(o))
      case GGUF_VALUE.UINT16: return num(2, (b, o) => b.readUInt16LE(o))
      case GGUF_VALUE.INT16: return num(2, (b, o) => b.readInt16LE(o))
      case GGUF_VALUE.UINT32: return num(4, (b, o) => b.readUInt32LE(o))
      case GGUF_VALUE.INT32: return num(4, (b, o) => b.readInt32LE(o))
      case GGUF_VALUE.FLOAT32: return num(4, (b, o) => b.readFloatLE(o))
      case GGUF_VALUE.FLOAT64: return num(8, (b, o) => b.readDoubleLE(o))
      case GGUF_VALUE.BOOL: {
        const v = this.u8(what)
        if (v > 1) this.fail(`${what}: boolean byte ${v} is neither 0 nor 1`)
        return v === 1
      }
      case GGUF_VALUE.UINT64:
      case GGUF_VALUE.INT64: {
        const v = num(8, (b, o) => (type === GGUF_VALUE.UINT64 ? b.readBigUInt64LE(o) : b.readBigInt64LE(o))) as bigint
        return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v
      }
      case GGUF_VALUE.STRING: return this.string(what)
      case GGUF_VALUE.ARRAY: {
        if (depth > 4) this.fail(`${what}: arrays nested too deeply`)
        const et = this.u32(`${what} element type`)
        const min = MIN_VALUE_BYTES[et]
        if (min === undefined) this.fail(`${what}: unknown metadata value type ${et} (array elements)`)
        const n64 = this.u64(`${what} length`)
        // counts checked against the bytes left, then the budget, before anything is allocated
        const left = this.size - this.pos
        if (n64 > BigInt(Math.floor(left / min)))
          this.fail(`the file ends inside its header (${what}: an array of ${n64} ${VALUE_TYPE_NAMES[et]} elements needs at least ${n64 * BigInt(min)} bytes at byte ${this.pos}; ${left} are left) — truncated download or corrupt header?`)
        const n = Number(n64)
        this.elements += n
        if (this.elements > GGUF_MAX_ARRAY_ELEMENTS)
          this.fail(`${what}: an array of ${n} elements takes the metadata past ${GGUF_MAX_ARRAY_ELEMENTS} array elements in all, more than any model's vocabulary needs (the largest have ~262144 tokens)`)
        const out: GgufValue[] = new Array(n)
        for (let i = 0; i < n; i++) out[i] = this.value(et, what, depth + 1)
        return out
      }
      default:
        return this.fail(`${what}: unknown metadata value type ${type}`)
    }
  }
  string(what: string): string {
    const n = this.size64(`${what} string length`, this.size - this.pos)
    if (n > GGUF_MAX_STRING_BYTES)
      this.fail(`${what}: a string of ${n} bytes; at most ${GGUF_MAX_STRING_BYTES} are read (a chat template is a few kB)`)
    this.stringBytes += n
    if (this.stringBytes > GGUF_MAX_TOTAL_STRING_BYTES)
      this.fail(`${what}: the metadata's strings pass ${GGUF_MAX_TOTAL_STRING_BYTES} bytes in all, more than any model's vocabulary needs`)
    this.need(n, what)
    const s = this.buf.toString('utf8', this.at(), this.at() + n)
    this.pos += n
    return s
  }
}

/** Parses a GGUF file's header and tensor table; errors name the file and what is wrong. */
export function readGguf(path: string): GgufFile {
  const label = basename(path)
  const fail = (msg: string): never => {
    throw new ModelFormatError(`${label}: ${msg}`)
  }
  const fd = openModelFile(path, label)
  try {
    const size = fstatSync(fd).size
    const r = new HeaderReader(fd, size, fail)
    if (size < 4) fail(`too short to be a GGUF file (${size} bytes)`)
    const magic = Buffer.alloc(4)
    readSync(fd, magic, 0, 4, 0)
    if (magic.toString('latin1') !== 'GGUF')
      fail(`not a GGUF file (starts with ${JSON.stringify(magic.toString('latin1'))}, expected "GGUF")`)
    r.pos = 4
    const version = r.u32('version')
    if (version === 1) fail('GGUF version 1 (pre-August 2023) is not supported; convert it again with a current llama.cpp')
    if (version === 0x03000000 || version === 0x02000000) fail('big-endian GGUF files are not supported')
    if (version !== 2 && version !== 3) fail(`unknown GGUF version ${version} (2 and 3 are supported)`)
    const nTensors = r.size64('tensor count', size)
    const nKv = r.size64('metadata count', size)
    // a Map of 17M keys throws, and every entry costs memory a byte of the file does not: counts bounded first
    if (nTensors > GGUF_MAX_TENSORS) fail(`tensor count ${nTensors} is more than any model has (at most ${GGUF_MAX_TENSORS} are read)`)
    if (nKv > GGUF_MAX_KEYS) fail(`metadata count ${nKv} is more than any model has (at most ${GGUF_MAX_KEYS} keys are read)`)
    const kv = new Map<string, GgufValue>()
    for (let i = 0; i < nKv; i++) {
      const key = r.string(`metadata key ${i}`)
      const type = r.u32(`type of ${clipped(key)}`)
      kv.set(key, r.value(type, clipped(key)))
    }
    const alignRaw = kv.get('general.alignment') ?? 32
    if (typeof alignRaw !== 'number' || !Number.isInteger(alignRaw) || alignRaw <= 0 || (alignRaw & (alignRaw - 1)) !== 0)
      fail(`general.alignment ${String(alignRaw)} is not a power of two`)
    const alignment = alignRaw as number
    const infos: { name: string; dims: number[]; type: number; rel: number }[] = []
    for (let i = 0; i < nTensors; i++) {
      const name = r.string(`tensor name ${i}`)
      // llama.cpp refuses names of GGML_MAX_NAME (64) bytes or more
      if (Buffer.byteLength(name) >= 64) fail(`tensor name ${i} (${clipped(name)}) is ${Buffer.byteLength(name)} bytes long; ggml names are shorter than 64`)
      const nd = r.u32(`${name}: number of dimensions`)
      if (nd < 1 || nd > 4) fail(`${name}: ${nd} dimensions (ggml tensors have 1 to 4)`)
      const dims: number[] = []
      for (let j = 0; j < nd; j++) dims.push(r.size64(`${name}: dimension ${j}`, Number.MAX_SAFE_INTEGER))
      const type = r.u32(`${name}: type`)
      const rel = r.size64(`${name}: offset`, size)
      infos.push({ name, dims, type, rel })
    }
    const dataOffset = Math.ceil(r.pos / alignment) * alignment
    const tensors: GgufTensorInfo[] = []
    const seen = new Set<string>()
    for (const t of infos) {
      if (seen.has(t.name)) fail(`tensor ${t.name} is listed twice`)
      seen.add(t.name)
      const gt = GGML_TYPES[t.type]
      if (!gt) fail(`${t.name} has unknown ggml type ${t.type}`)
      const count = t.dims.reduce((a, d) => a * d, 1)
      if (t.dims[0] % gt.blockElems !== 0)
        fail(`${t.name}: rows of ${t.dims[0]} weights are not whole ${gt.name} blocks of ${gt.blockElems}`)
      const bytes = ggmlBytes(t.type, count)
      if (t.rel % alignment !== 0) fail(`${t.name}: data offset ${t.rel} is not a multiple of general.alignment ${alignment}`)
      const offset = dataOffset + t.rel
      if (offset + bytes > size)
        fail(`${t.name}: data (${bytes} bytes at ${offset}) runs past the end of the file (${size} bytes) — truncated download?`)
      tensors.push({ name: t.name, dims: t.dims, type: t.type, typeName: gt.name, offset, bytes })
    }
    // no two tensors may share bytes (llama.cpp refuses such files; one tensor's weights would be another's)
    const ranges = tensors.filter((t) => t.bytes > 0).sort((x, y) => x.offset - y.offset)
    let last: GgufTensorInfo | undefined
    for (const t of ranges) {
      if (last && t.offset < last.offset + last.bytes)
        fail(`${t.name}: data [${t.offset - dataOffset}, ${t.offset - dataOffset + t.bytes}) overlaps that of ${last.name} [${last.offset - dataOffset}, ${last.offset - dataOffset + last.bytes})`)
      if (!last || t.offset + t.bytes > last.offset + last.bytes) last = t
    }
    return { path, version, kv, tensors, alignment, dataOffset, fileSize: size }
  } finally {
    closeSync(fd)
  }
}
