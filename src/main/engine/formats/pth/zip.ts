// The central directory of a zip archive, as torch.save writes it (PKWARE APPNOTE: end-of-central-directory record,
// the ZIP64 locator and record for archives or entries past 4 GiB, central directory headers, local headers).
// Only what a reader of STORED entries needs: each entry's name, sizes, method and the absolute offset of its data,
// so the engine can memory-map tensors in place. Compressed or encrypted entries are listed, never inflated.
import { closeSync, fstatSync, readSync } from 'node:fs'
import { clipped, ModelFormatError, openModelFile } from '../../config'

export interface ZipEntry {
  name: string
  /** 0 = STORED; anything else is compressed */
  method: number
  encrypted: boolean
  compressedSize: number
  size: number
  /** absolute offset of the entry's data in the file (after its local header) */
  dataOffset: number
}

const EOCD = 0x06054b50
const ZIP64_LOCATOR = 0x07064b50
const ZIP64_EOCD = 0x06064b50
const CENTRAL = 0x02014b50
const LOCAL = 0x04034b50

function readAt(fd: number, pos: number, len: number): Buffer {
  const b = Buffer.alloc(len)
  const n = readSync(fd, b, 0, len, pos)
  return n === len ? b : b.subarray(0, n)
}

function u64(b: Buffer, at: number, label: string): number {
  const v = b.readBigUInt64LE(at)
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ModelFormatError(`${label}: corrupt zip (offset beyond 2^53)`)
  return Number(v)
}

/** The largest central directory read (torch.save writes ~150 bytes per tensor: 64 MiB is ~400k tensors). */
const MAX_CENTRAL_DIRECTORY = 64 * 1024 * 1024

/** The entries of a zip archive; `label` names the file in errors. */
export function readZipEntries(path: string, label = path): ZipEntry[] {
  const fd = openModelFile(path, label)
  try {
    const fileSize = fstatSync(fd).size
    const truncated = `${label}: not a complete zip archive (no end-of-central-directory record; truncated download?)`
    if (fileSize < 22) throw new ModelFormatError(truncated)
    // the EOCD record is 22 bytes plus a comment of up to 65535 bytes at the very end
    const tailLen = Math.min(fileSize, 22 + 65535)
    const tail = readAt(fd, fileSize - tailLen, tailLen)
    let eocd = -1
    for (let i = tail.length - 22; i >= 0; i--)
      if (tail.readUInt32LE(i) === EOCD) {
        eocd = i
        break
      }
    if (eocd < 0) throw new ModelFormatError(truncated)
    const eocdPos = fileSize - tailLen + eocd
    let count = tail.readUInt16LE(eocd + 10)
    let cdSize = tail.readUInt32LE(eocd + 12)
    let cdOffset = tail.readUInt32LE(eocd + 16)
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      // ZIP64: a 20-byte locator right before the EOCD points at the ZIP64 EOCD record
      if (eocdPos < 20) throw new ModelFormatError(`${label}: corrupt zip (ZIP64 locator missing)`)
      const loc = readAt(fd, eocdPos - 20, 20)
      if (loc.readUInt32LE(0) !== ZIP64_LOCATOR) throw new ModelFormatError(`${label}: corrupt zip (ZIP64 locator missing)`)
      const recPos = u64(loc, 8, label)
      const rec = readAt(fd, recPos, 56)
      if (rec.length < 56 || rec.readUInt32LE(0) !== ZIP64_EOCD)
        throw new ModelFormatError(`${label}: corrupt zip (ZIP64 end-of-central-directory record missing)`)
      count = u64(rec, 32, label)
      cdSize = u64(rec, 40, label)
      cdOffset = u64(rec, 48, label)
    }
    if (cdOffset + cdSize > fileSize) throw new ModelFormatError(`${label}: corrupt zip (central directory past the end of the file; truncated?)`)
    // the directory is read whole: its size must be what its entries can take (46 bytes each at least, 46 + three
    // 64 KiB fields at most) and within a budget far above any torch.save archive's (a few hundred bytes per tensor)
    if (count * 46 > cdSize)
      throw new ModelFormatError(`${label}: corrupt zip (the central directory claims ${count} entries but has ${cdSize} bytes; each takes at least 46)`)
    if (cdSize > MAX_CENTRAL_DIRECTORY || cdSize > count * (46 + 3 * 65535))
      throw new ModelFormatError(
        `${label}: corrupt zip (a central directory of ${cdSize} bytes for ${count} entries; at most ${Math.min(MAX_CENTRAL_DIRECTORY, count * (46 + 3 * 65535))} are read)`,
      )
    const cd = readAt(fd, cdOffset, cdSize)
    const entries: ZipEntry[] = []
    let p = 0
    for (let i = 0; i < count; i++) {
      if (p + 46 > cd.length || cd.readUInt32LE(p) !== CENTRAL)
        throw new ModelFormatError(`${label}: corrupt zip (central directory entry ${i} is damaged)`)
      const flags = cd.readUInt16LE(p + 8)
      const method = cd.readUInt16LE(p + 10)
      let compressedSize = cd.readUInt32LE(p + 20)
      let size = cd.readUInt32LE(p + 24)
      const nameLen = cd.readUInt16LE(p + 28)
      const extraLen = cd.readUInt16LE(p + 30)
      const commentLen = cd.readUInt16LE(p + 32)
      let localOffset = cd.readUInt32LE(p + 42)
      if (p + 46 + nameLen + extraLen + commentLen > cd.length)
        throw new ModelFormatError(`${label}: corrupt zip (central directory entry ${i} runs past the directory)`)
      const name = cd.toString('utf8', p + 46, p + 46 + nameLen)
      // ZIP64 extended information (header id 1): the 64-bit values of exactly those fields that read 0xFFFFFFFF,
      // in the order uncompressed size, compressed size, local header offset
      let e = p + 46 + nameLen
      const extraEnd = e + extraLen
      while (e + 4 <= extraEnd) {
        const id = cd.readUInt16LE(e)
        const len = cd.readUInt16LE(e + 2)
        if (e + 4 + len > extraEnd) throw new ModelFormatError(`${label}: corrupt zip (extra field of ${clipped(name)} runs past its entry)`)
        if (id === 0x0001) {
          let q = e + 4
          const need = 8 * [size, compressedSize, localOffset].filter((v) => v === 0xffffffff).length
          if (need > len) throw new ModelFormatError(`${label}: corrupt zip (ZIP64 field of ${clipped(name)} is too short)`)
          if (size === 0xffffffff) (size = u64(cd, q, label)), (q += 8)
          if (compressedSize === 0xffffffff) (compressedSize = u64(cd, q, label)), (q += 8)
          if (localOffset === 0xffffffff) (localOffset = u64(cd, q, label)), (q += 8)
        }
        e += 4 + len
      }
      p = extraEnd + commentLen
      const lh = readAt(fd, localOffset, 30)
      if (lh.length < 30 || lh.readUInt32LE(0) !== LOCAL)
        throw new ModelFormatError(`${label}: corrupt zip (local header of ${clipped(name)} missing; truncated?)`)
      const dataOffset = localOffset + 30 + lh.readUInt16LE(26) + lh.readUInt16LE(28)
      if (dataOffset + compressedSize > fileSize)
        throw new ModelFormatError(`${label}: ${clipped(name)} runs past the end of the file (truncated download?)`)
      entries.push({ name, method, encrypted: (flags & 1) !== 0, compressedSize, size, dataOffset })
    }
    return entries
  } finally {
    closeSync(fd)
  }
}

/** Largest entry read into memory whole (data.pkl of a 405B shard is a few hundred kB). */
const MAX_STORED_ENTRY = 256 * 1024 * 1024

/** The bytes of a small STORED entry (data.pkl). */
export function readStoredEntry(path: string, e: ZipEntry, label = path): Buffer {
  if (e.method !== 0 || e.encrypted)
    throw new ModelFormatError(`${label}: ${clipped(e.name)} is compressed (zip method ${e.method}); torch.save stores entries uncompressed — re-save the checkpoint with torch.save`)
  // stored: the size is the compressed size (checked against the file when the directory was read)
  if (e.size !== e.compressedSize)
    throw new ModelFormatError(`${label}: corrupt zip (${clipped(e.name)} is stored but its sizes differ: ${e.size} and ${e.compressedSize})`)
  if (e.size > MAX_STORED_ENTRY)
    throw new ModelFormatError(`${label}: ${clipped(e.name)} is ${e.size} bytes; a torch.save data.pkl is far smaller (at most ${MAX_STORED_ENTRY} read)`)
  const fd = openModelFile(path, label)
  try {
    return readAt(fd, e.dataOffset, e.size)
  } finally {
    closeSync(fd)
  }
}
