// Test-side writer of Meta's original checkpoint layout: a torch.save zip (STORED entries, data 64-byte aligned as
// torch's writer does, optionally with ZIP64 records) holding a data.pkl in the opcodes torch.save emits, plus
// params.json and tokenizer.model. Used to build Meta-layout fixtures from models/organism without the shared files;
// checked once against the shared organism's consolidated.00.pth (test/engine-meta.test.ts).
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { crc32, deflateRawSync } from 'node:zlib'
import { join } from 'node:path'
import { readCheckpointFiles, DType } from '../src/main/engine/formats/safetensors'
import { ORGANISM } from './helpers'

export interface ZipFileEntry {
  name: string
  data: Buffer
  /** 8 = deflate (what torch.save never writes; for refusal tests) */
  method?: 0 | 8
}

/** A zip archive of STORED (or deflated) entries; zip64 forces ZIP64 records even for small files. */
export function zipArchive(entries: ZipFileEntry[], o: { zip64?: boolean } = {}): Buffer {
  const parts: Buffer[] = []
  const central: Buffer[] = []
  let pos = 0
  for (const e of entries) {
    const stored = e.method === 8 ? deflateRawSync(e.data) : e.data
    const name = Buffer.from(e.name, 'utf8')
    const crc = crc32(e.data)
    // pad the local header's extra field so the data starts on a 64-byte boundary (torch's alignment)
    let extraLen = 0
    while ((pos + 30 + name.length + extraLen) % 64 !== 0 || (extraLen > 0 && extraLen < 4)) extraLen++
    const extra = Buffer.alloc(extraLen)
    if (extraLen >= 4) {
      extra.writeUInt16LE(0x4246, 0) // an unregistered padding id, as torch uses ("FB")
      extra.writeUInt16LE(extraLen - 4, 2)
    }
    const lh = Buffer.alloc(30)
    lh.writeUInt32LE(0x04034b50, 0)
    lh.writeUInt16LE(o.zip64 ? 45 : 20, 4)
    lh.writeUInt16LE(e.method ?? 0, 8)
    lh.writeUInt32LE(crc, 14)
    lh.writeUInt32LE(stored.length, 18)
    lh.writeUInt32LE(e.data.length, 22)
    lh.writeUInt16LE(name.length, 26)
    lh.writeUInt16LE(extraLen, 28)
    const localOffset = pos
    parts.push(lh, name, extra, stored)
    pos += 30 + name.length + extraLen + stored.length
    const z64 = Buffer.alloc(o.zip64 ? 28 : 0)
    if (o.zip64) {
      z64.writeUInt16LE(1, 0)
      z64.writeUInt16LE(24, 2)
      z64.writeBigUInt64LE(BigInt(e.data.length), 4)
      z64.writeBigUInt64LE(BigInt(stored.length), 12)
      z64.writeBigUInt64LE(BigInt(localOffset), 20)
    }
    const ch = Buffer.alloc(46)
    ch.writeUInt32LE(0x02014b50, 0)
    ch.writeUInt16LE(45, 4)
    ch.writeUInt16LE(o.zip64 ? 45 : 20, 6)
    ch.writeUInt16LE(e.method ?? 0, 10)
    ch.writeUInt32LE(crc, 16)
    ch.writeUInt32LE(o.zip64 ? 0xffffffff : stored.length, 20)
    ch.writeUInt32LE(o.zip64 ? 0xffffffff : e.data.length, 24)
    ch.writeUInt16LE(name.length, 28)
    ch.writeUInt16LE(z64.length, 30)
    ch.writeUInt32LE(o.zip64 ? 0xffffffff : localOffset, 42)
    central.push(ch, name, z64)
  }
  const cdOffset = pos
  const cd = Buffer.concat(central)
  pos += cd.length
  const tail: Buffer[] = []
  if (o.zip64) {
    const rec = Buffer.alloc(56)
    rec.writeUInt32LE(0x06064b50, 0)
    rec.writeBigUInt64LE(44n, 4)
    rec.writeUInt16LE(45, 12)
    rec.writeUInt16LE(45, 14)
    rec.writeBigUInt64LE(BigInt(entries.length), 24)
    rec.writeBigUInt64LE(BigInt(entries.length), 32)
    rec.writeBigUInt64LE(BigInt(cd.length), 40)
    rec.writeBigUInt64LE(BigInt(cdOffset), 48)
    const loc = Buffer.alloc(20)
    loc.writeUInt32LE(0x07064b50, 0)
    loc.writeBigUInt64LE(BigInt(pos), 8)
    loc.writeUInt32LE(1, 16)
    tail.push(rec, loc)
  }
  const eocd = Buffer.alloc(22)
  eocd.writeUInt32LE(0x06054b50, 0)
  eocd.writeUInt16LE(o.zip64 ? 0xffff : entries.length, 8)
  eocd.writeUInt16LE(o.zip64 ? 0xffff : entries.length, 10)
  eocd.writeUInt32LE(o.zip64 ? 0xffffffff : cd.length, 12)
  eocd.writeUInt32LE(o.zip64 ? 0xffffffff : cdOffset, 16)
  return Buffer.concat([...parts, cd, ...tail, eocd])
}

export interface PthTensorSpec {
  name: string
  dtype: DType
  shape: number[]
  /** storage key (data/<key>) and element offset into it */
  key: string
  storageOffset?: number
}

const STORAGE: Record<DType, string> = { F16: 'HalfStorage', BF16: 'BFloat16Storage', F32: 'FloatStorage' }

/** data.pkl as torch.save (protocol 2) writes a dict of tensors; storages: key → element count. */
export function torchPickle(tensors: PthTensorSpec[], numel: Record<string, number>): Buffer {
  const out: number[] = []
  const byte = (...b: number[]): void => void out.push(...b)
  const str = (s: string): void => {
    const b = Buffer.from(s, 'utf8')
    byte(0x58, b.length & 0xff, (b.length >> 8) & 0xff, (b.length >> 16) & 0xff, b.length >>> 24, ...b)
  }
  const int = (v: number): void => {
    if (v < 256) byte(0x4b, v)
    else if (v < 65536) byte(0x4d, v & 0xff, v >> 8)
    else byte(0x4a, v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff)
  }
  const global = (m: string, n: string): void => byte(0x63, ...Buffer.from(`${m}\n${n}\n`, 'utf8'))
  let memo = 0
  const put = (): number => {
    const i = memo++
    if (i < 256) byte(0x71, i)
    else byte(0x72, i & 0xff, (i >> 8) & 0xff, (i >> 16) & 0xff, i >>> 24)
    return i
  }
  const get = (i: number): void => {
    if (i < 256) byte(0x68, i)
    else byte(0x6a, i & 0xff, (i >> 8) & 0xff, (i >> 16) & 0xff, i >>> 24)
  }
  const tuple = (xs: number[]): void => {
    if (xs.length === 1) (int(xs[0]), byte(0x85))
    else if (xs.length === 2) (int(xs[0]), int(xs[1]), byte(0x86))
    else (byte(0x28), xs.forEach(int), byte(0x74))
  }
  byte(0x80, 2, 0x7d)
  put()
  byte(0x28) // MARK for SETITEMS
  let rebuild = -1
  let od = -1
  const storageType: Partial<Record<DType, number>> = {}
  for (const t of tensors) {
    str(t.name)
    put()
    if (rebuild < 0) (global('torch._utils', '_rebuild_tensor_v2'), (rebuild = put()))
    else get(rebuild)
    byte(0x28, 0x28)
    str('storage')
    if (storageType[t.dtype] === undefined) (global('torch', STORAGE[t.dtype]), (storageType[t.dtype] = put()))
    else get(storageType[t.dtype]!)
    str(t.key)
    str('cpu')
    int(numel[t.key])
    byte(0x74) // TUPLE
    byte(0x51) // BINPERSID
    int(t.storageOffset ?? 0)
    tuple(t.shape)
    const stride = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, s) => a * s, 1))
    tuple(stride)
    byte(0x89) // NEWFALSE (requires_grad)
    if (od < 0) (global('collections', 'OrderedDict'), (od = put()))
    else get(od)
    byte(0x29, 0x52) // EMPTY_TUPLE REDUCE (backward hooks)
    byte(0x74, 0x52) // TUPLE REDUCE (_rebuild_tensor_v2(...))
    put()
  }
  byte(0x75, 0x2e) // SETITEMS STOP
  return Buffer.from(out)
}

/** A torch.save archive named `archive` (the file's stem, as torch names it). */
export function torchSaveZip(
  archive: string,
  tensors: PthTensorSpec[],
  storages: Record<string, Buffer>,
  elBytes: Record<string, number>,
  o: { zip64?: boolean } = {},
): Buffer {
  const numel: Record<string, number> = {}
  for (const [k, b] of Object.entries(storages)) numel[k] = b.length / elBytes[k]
  return zipArchive(
    [
      { name: `${archive}/data.pkl`, data: torchPickle(tensors, numel) },
      { name: `${archive}/byteorder`, data: Buffer.from('little') },
      ...Object.keys(storages).map((k) => ({ name: `${archive}/data/${k}`, data: storages[k] })),
      { name: `${archive}/version`, data: Buffer.from('3\n') },
    ],
    o,
  )
}

// ---- the organism in Meta's layout --------------------------------------------------------------------------

export const HF_TO_META: [RegExp, string][] = [
  [/^model\.embed_tokens\.weight$/, 'tok_embeddings.weight'],
  [/^model\.norm\.weight$/, 'norm.weight'],
  [/^lm_head\.weight$/, 'output.weight'],
  [/^model\.layers\.(\d+)\.self_attn\.q_proj\.weight$/, 'layers.$1.attention.wq.weight'],
  [/^model\.layers\.(\d+)\.self_attn\.k_proj\.weight$/, 'layers.$1.attention.wk.weight'],
  [/^model\.layers\.(\d+)\.self_attn\.v_proj\.weight$/, 'layers.$1.attention.wv.weight'],
  [/^model\.layers\.(\d+)\.self_attn\.o_proj\.weight$/, 'layers.$1.attention.wo.weight'],
  [/^model\.layers\.(\d+)\.mlp\.gate_proj\.weight$/, 'layers.$1.feed_forward.w1.weight'],
  [/^model\.layers\.(\d+)\.mlp\.up_proj\.weight$/, 'layers.$1.feed_forward.w3.weight'],
  [/^model\.layers\.(\d+)\.mlp\.down_proj\.weight$/, 'layers.$1.feed_forward.w2.weight'],
  [/^model\.layers\.(\d+)\.input_layernorm\.weight$/, 'layers.$1.attention_norm.weight'],
  [/^model\.layers\.(\d+)\.post_attention_layernorm\.weight$/, 'layers.$1.ffn_norm.weight'],
]

export interface RawTensor {
  name: string // Meta name
  dtype: DType
  shape: number[]
  data: Buffer
}

/** HF row r of a q/k projection lives in Meta's row interleavedRow(r) (per head: i → 2i, i + hd/2 → 2i + 1). */
export function interleavedRow(row: number, hd: number): number {
  const h = Math.floor(row / hd)
  const r = row % hd
  const half = hd / 2
  return h * hd + (r < half ? 2 * r : 2 * (r - half) + 1)
}

/** The organism's HF weights in Meta's names and row order (the inverse of HF's permute), in file order. */
export function organismMetaTensors(): RawTensor[] {
  const ck = readCheckpointFiles(ORGANISM)
  const cfg = JSON.parse(readFileSync(join(ORGANISM, 'config.json'), 'utf8')) as { head_dim: number }
  const files = ck.files.map((f) => readFileSync(f))
  const out: RawTensor[] = []
  for (const t of ck.tensors) {
    const rule = HF_TO_META.find(([re]) => re.test(t.name))
    if (!rule) throw new Error(`no Meta name for ${t.name}`)
    if (t.dtype === 'U8') throw new Error(`${t.name}: U8 has no Meta form`)
    const el = t.dtype === 'F32' ? 4 : 2
    const n = t.shape.reduce((a, s) => a * s, 1) * el
    let data = Buffer.from(files[t.file].subarray(t.offset, t.offset + n))
    if (/(q_proj|k_proj)\.weight$/.test(t.name)) {
      const rowBytes = t.shape[1] * el
      const perm = Buffer.alloc(n)
      for (let r = 0; r < t.shape[0]; r++)
        data.copy(perm, interleavedRow(r, cfg.head_dim) * rowBytes, r * rowBytes, (r + 1) * rowBytes)
      data = perm
    }
    out.push({ name: t.name.replace(rule[0], rule[1]), dtype: t.dtype, shape: t.shape, data })
  }
  // Meta's file order: tok_embeddings, norm, output, then layers — as in the shared checkpoint
  const rank = (n: string): number => (n.startsWith('tok_') ? 0 : n === 'norm.weight' ? 1 : n === 'output.weight' ? 2 : 3)
  const layerOrder = ['attention.wq', 'attention.wk', 'attention.wv', 'attention.wo', 'feed_forward.w1', 'feed_forward.w2', 'feed_forward.w3', 'attention_norm', 'ffn_norm']
  const key = (n: string): number[] => {
    const m = /^layers\.(\d+)\.(.+)\.weight$/.exec(n)
    return m ? [3, Number(m[1]), layerOrder.indexOf(m[2])] : [rank(n), 0, 0]
  }
  return out.sort((a, b) => {
    const ka = key(a.name)
    const kb = key(b.name)
    return ka[0] - kb[0] || ka[1] - kb[1] || ka[2] - kb[2]
  })
}

/** Split one tensor into n model-parallel parts the way Meta's shards hold it. */
export function splitTensor(t: RawTensor, axis: 0 | 1 | 'replicated', n: number): RawTensor[] {
  if (axis === 'replicated') return Array.from({ length: n }, () => t)
  const [rows, cols] = t.shape
  const el = t.dtype === 'F32' ? 4 : 2
  if (axis === 0) {
    const r = rows / n
    return Array.from({ length: n }, (_, i) => ({ ...t, shape: [r, cols], data: t.data.subarray(i * r * cols * el, (i + 1) * r * cols * el) }))
  }
  const c = cols / n
  return Array.from({ length: n }, (_, i) => {
    const d = Buffer.alloc(rows * c * el)
    for (let r = 0; r < rows; r++) t.data.copy(d, r * c * el, (r * cols + i * c) * el, (r * cols + (i + 1) * c) * el)
    return { ...t, shape: [rows, c], data: d }
  })
}

/** Writes consolidated.NN.pth (one per shard), params.json and the organism's tokenizer.model into dir. */
export function writeMetaDir(dir: string, shards: RawTensor[][], params: Record<string, unknown>, o: { zip64?: boolean } = {}): string {
  mkdirSync(dir, { recursive: true })
  shards.forEach((tensors, i) => {
    const stem = `consolidated.${String(i).padStart(2, '0')}`
    const storages: Record<string, Buffer> = {}
    const el: Record<string, number> = {}
    const specs: PthTensorSpec[] = tensors.map((t, k) => {
      storages[String(k)] = t.data
      el[String(k)] = t.dtype === 'F32' ? 4 : 2
      return { name: t.name, dtype: t.dtype, shape: t.shape, key: String(k) }
    })
    writeFileSync(join(dir, `${stem}.pth`), torchSaveZip(stem, specs, storages, el, o))
  })
  writeFileSync(join(dir, 'params.json'), JSON.stringify(params))
  copyFileSync(join(ORGANISM, 'tokenizer.model'), join(dir, 'tokenizer.model'))
  return dir
}

export const ORGANISM_PARAMS = { dim: 256, multiple_of: 256, n_heads: 8, n_kv_heads: 8, n_layers: 6, norm_eps: 1e-5, vocab_size: 4096 }
