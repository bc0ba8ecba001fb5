// safetensors: an 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}}, then the
// raw data. We parse headers here (cheap, and errors read better in TypeScript) and hand the native engine only
// file paths and byte offsets; it memory-maps the data.
import { closeSync, fstatSync, readdirSync, readSync } from 'node:fs'
import { join } from 'node:path'
import { clipped, ModelFormatError, openModelFile, readJson, shownValue } from '../config'
import { present } from '../fserrors'
import { jsonScan, staysInside, tooDeep } from '../modelFiles'
import type { EngineGgmlType } from './gguf/read'

export type DType = 'F32' | 'F16' | 'BF16'
/** What a weight may be stored as: the safetensors types, or (GGUF files) ggml's quantised block types. */
export type StoredDType = DType | Exclude<EngineGgmlType, DType>
const DTYPE_BYTES: Record<DType, number> = { F32: 4, F16: 2, BF16: 2 }

export interface TensorEntry {
  name: string
  file: number // index into the checkpoint's file list
  offset: number // absolute byte offset of the data in the file
  dtype: DType | PackedDType
  shape: number[]
}

/** Bytes that are not weights by themselves: GPT-OSS's MXFP4 expert blocks and scales (experts.ts repacks them). */
export type PackedDType = 'U8'
/** a U8 tensor is read only under these names (GPT-OSS's `mlp.experts.{gate_up,down}_proj_{blocks,scales}`) */
export const PACKED_NAME = /_(blocks|scales)$/

/** A weight as the engine maps it: a safetensors entry, or a GGUF tensor in one of ggml's block types. */
export interface StoredTensorEntry extends Omit<TensorEntry, 'dtype'> {
  dtype: StoredDType
}

export interface SafetensorsHeader {
  tensors: TensorEntry[]
  metadata: Record<string, string>
  fileSize: number
}

/** The most tensors one safetensors file may list (an unsharded mixture of experts has ~20k; parsing 64k takes ~1 s). */
export const MAX_TENSORS_PER_FILE = 1 << 16

export function readSafetensorsHeader(path: string, fileIndex = 0, label = path): SafetensorsHeader {
  const fd = openModelFile(path, label)
  try {
    const fileSize = fstatSync(fd).size
    if (fileSize < 8) throw new ModelFormatError(`${label}: too short to be a safetensors file (${fileSize} bytes)`)
    const lenBuf = Buffer.alloc(8)
    readSync(fd, lenBuf, 0, 8, 0)
    const headerLen = Number(lenBuf.readBigUInt64LE(0))
    if (headerLen < 2 || headerLen > 100_000_000 || 8 + headerLen > fileSize)
      throw new ModelFormatError(`${label}: corrupt header (declared header length ${headerLen}, file size ${fileSize})`)
    const hb = Buffer.alloc(headerLen)
    readSync(fd, hb, 0, headerLen, 8)
    // counted before parsing: a header of a million tensors took V8 ~20 s to parse, then overflowed the call stack
    const scan = jsonScan(hb)
    if (scan.tooDeepAt >= 0) throw new ModelFormatError(tooDeep(label, 8 + scan.tooDeepAt))
    if (scan.members > MAX_TENSORS_PER_FILE + 1)
      throw new ModelFormatError(
        `${label}: the header lists ${scan.members} entries; at most ${MAX_TENSORS_PER_FILE} tensors are read from one file (the largest models hold a few thousand per file)`,
      )
    let header: Record<string, unknown>
    try {
      header = JSON.parse(hb.toString('utf8')) as Record<string, unknown>
    } catch {
      throw new ModelFormatError(`${label}: corrupt header (not valid JSON)`)
    }
    if (!header || typeof header !== 'object' || Array.isArray(header))
      throw new ModelFormatError(`${label}: corrupt header (not a JSON object)`)
    const dataStart = 8 + headerLen
    const dataSize = fileSize - dataStart
    const tensors: TensorEntry[] = []
    // every tensor's byte range [begin, end) within the data section, to refuse overlaps
    const ranges: { name: string; begin: number; end: number }[] = []
    let metadata: Record<string, string> = {}
    for (const [name, v] of Object.entries(header)) {
      if (name === '__metadata__') {
        if (v !== null && (typeof v !== 'object' || Array.isArray(v)))
          throw new ModelFormatError(`${label}: __metadata__ must be an object of strings`)
        metadata = (v ?? {}) as Record<string, string>
        continue
      }
      const t = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown }
      if (!t || typeof t !== 'object' || !Array.isArray(t.shape) || !Array.isArray(t.data_offsets))
        throw new ModelFormatError(`${label}: corrupt header entry for ${clipped(name)}`)
      const shape = t.shape as unknown[]
      const offsets = t.data_offsets as unknown[]
      if (offsets.length !== 2 || !offsets.every(isSafeCount))
        throw new ModelFormatError(
          `${label}: ${clipped(name)}: data_offsets ${shown(offsets)} must be two non-negative whole numbers`,
        )
      if (!shape.every(isSafeCount))
        throw new ModelFormatError(`${label}: ${clipped(name)}: shape ${shown(shape)} must hold non-negative whole numbers`)
      const [b, e] = offsets as number[]
      if (b > e) throw new ModelFormatError(`${label}: ${clipped(name)}: data_offsets [${b}, ${e}] end before they begin`)
      if (e > dataSize)
        throw new ModelFormatError(`${label}: ${clipped(name)}: data runs past the end of the file (truncated download?)`)
      ranges.push({ name, begin: b, end: e })
      const dtype = t.dtype as DType | PackedDType
      if (!(dtype === 'U8' && PACKED_NAME.test(name)) && (typeof t.dtype !== 'string' || !Object.hasOwn(DTYPE_BYTES, dtype))) {
        // tensors the engine never reads (e.g. rotary inv_freq buffers) may carry other dtypes
        if (name.endsWith('rotary_emb.inv_freq')) continue
        throw new ModelFormatError(`${label}: ${clipped(name)} has dtype ${String(t.dtype)}; only F32, F16 and BF16 are supported`)
      }
      // element count × size, refusing anything past 2^53 (no silent rounding of the product)
      let bytes = dtype === 'U8' ? 1 : DTYPE_BYTES[dtype]
      for (const s of shape as number[]) {
        bytes *= s
        if (!Number.isSafeInteger(bytes))
          throw new ModelFormatError(`${label}: ${clipped(name)}: shape [${shape.join(', ')}] is too large to address`)
      }
      if (e - b !== bytes)
        throw new ModelFormatError(`${label}: ${clipped(name)}: data size does not match its shape [${shape.join(', ')}]`)
      tensors.push({ name, file: fileIndex, offset: dataStart + b, dtype, shape: shape as number[] })
    }
    // sorted by start, every non-empty range must begin at or after the furthest end seen so far
    ranges.sort((x, y) => x.begin - y.begin || x.end - y.end)
    let last: { name: string; begin: number; end: number } | undefined
    for (const r of ranges) {
      if (r.end === r.begin) continue
      if (last && r.begin < last.end)
        throw new ModelFormatError(
          `${label}: ${clipped(r.name)}: data_offsets [${r.begin}, ${r.end}] overlap those of ${clipped(last.name)} [${last.begin}, ${last.end}]`,
        )
      if (!last || r.end > last.end) last = r
    }
    return { tensors, metadata, fileSize }
  } finally {
    closeSync(fd)
  }
}

/** A header value as the user wrote it (JSON.stringify would print 1e400 as null). */
function shown(v: unknown[]): string {
  return `[${v.map((x) => (typeof x === 'number' ? String(x) : JSON.stringify(x))).join(',')}]`
}

/** A JSON value usable as a byte offset or a dimension: a whole number in [0, 2^53). */
function isSafeCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
}

export interface CheckpointFiles {
  files: string[]
  tensors: TensorEntry[]
  bytes: number
}

/** The weights of an HF directory: model.safetensors, or shards listed by model.safetensors.index.json. */
export function readCheckpointFiles(dir: string): CheckpointFiles {
  const index = join(dir, 'model.safetensors.index.json')
  const single = join(dir, 'model.safetensors')
  let files: string[]
  let weightMap: Map<string, string> | undefined
  if (present(index)) {
    weightMap = readWeightMap(dir, index)
    files = [...new Set(weightMap.values())]
  } else if (present(single)) {
    files = ['model.safetensors']
  } else {
    const legacy = readdirSync(dir).find((f) => /^pytorch_model.*\.bin$|^consolidated\.\d+\.pth$|\.gguf$/.test(f))
    throw new ModelFormatError(
      legacy && /^consolidated/.test(legacy)
        ? `${dir}: has ${legacy} but no params.json beside it (Meta's layout needs both)`
        : legacy
        ? `${dir}: has ${legacy} but no safetensors weights; only safetensors checkpoints are supported (save the model with safe_serialization=True)`
        : `${dir}: no model.safetensors or model.safetensors.index.json`,
    )
  }
  const tensors: TensorEntry[] = []
  /** tensor name → the shard it was found in, to refuse a tensor in two shards */
  const foundIn = new Map<string, string>()
  let bytes = 0
  files.forEach((f, i) => {
    const h = readSafetensorsHeader(join(dir, f), i, f)
    // one at a time: spreading a million-tensor header into push() overflowed the call stack
    for (const t of h.tensors) {
      const other = foundIn.get(t.name)
      if (other !== undefined) {
        const named = weightMap?.get(t.name)
        throw new ModelFormatError(
          `model.safetensors.index.json: ${clipped(t.name)} is in two shards, ${[other, f].sort().join(' and ')}${named ? ` (weight_map names ${named})` : ''}; which copy is meant is ambiguous — remove the stray one`,
        )
      }
      foundIn.set(t.name, f)
      tensors.push(t)
    }
    bytes += h.fileSize
  })
  // the weights the index names: a tensor found in another shard than weight_map says is refused, not used
  if (weightMap)
    for (const [name, shard] of weightMap) {
      const found = foundIn.get(name)
      if (found !== undefined && found !== shard)
        throw new ModelFormatError(`model.safetensors.index.json: weight_map places ${clipped(name)} in ${shard}, but it is in ${found}`)
    }
  return { files: files.map((f) => join(dir, f)), tensors, bytes }
}

/**
 * model.safetensors.index.json's weight_map (tensor name → shard file), each shard a file name inside the model
 * folder: a value that is not a string, is absolute or climbs out with ".." is refused by name (weights were read from
 * outside the folder without a word before). Symlinked shards are followed, as the Hugging Face cache links them.
 */
function readWeightMap(dir: string, index: string): Map<string, string> {
  const idx = readJson(index, 'model.safetensors.index.json')
  const map = idx.weight_map
  if (!map || typeof map !== 'object' || Array.isArray(map))
    throw new ModelFormatError('model.safetensors.index.json: has no weight_map')
  const out = new Map<string, string>()
  for (const [name, file] of Object.entries(map as Record<string, unknown>)) {
    if (typeof file !== 'string' || file.length === 0)
      throw new ModelFormatError(`model.safetensors.index.json: weight_map["${clipped(name)}"] must be a shard's file name (found ${shownValue(file)})`)
    if (!staysInside(dir, file))
      throw new ModelFormatError(
        `model.safetensors.index.json: weight_map places ${clipped(name)} in ${shownValue(file)}, outside the model folder; shards must lie inside it`,
      )
    out.set(name, file)
  }
  return out
}

/** JSON header for tensors written in order, padded with spaces to a multiple of 8 bytes as the format requires. */
export function safetensorsHeader(
  tensors: { name: string; dtype: DType; shape: number[] }[],
  metadata: Record<string, string> = {},
): { header: string; dataBytes: number } {
  const obj: Record<string, unknown> = {}
  if (Object.keys(metadata).length) obj.__metadata__ = metadata
  let off = 0
  for (const t of tensors) {
    const n = t.shape.reduce((a, s) => a * s, 1) * DTYPE_BYTES[t.dtype]
    obj[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + n] }
    off += n
  }
  let header = JSON.stringify(obj)
  const pad = (8 - (Buffer.byteLength(header) % 8)) % 8
  header += ' '.repeat(pad)
  return { header, dataBytes: off }
}

export function dtypeBytes(d: DType): number {
  return DTYPE_BYTES[d]
}
