// Checkpoints: a saved step is its gradient factors (DESIGN §2) in a safetensors file plus lineage — kilobytes to
// megabytes instead of a copy of the model. A checkpoint of a chain is its parent checkpoint + this step, so loading
// one replays the lineage root → leaf on the base model. Files are content-addressed (sha256) and verified on load;
// the base model's fingerprint is stored with every step and compared before the step is applied.
import { createHash } from 'node:crypto'
import {
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs'
import { basename, dirname, join, relative, resolve } from 'node:path'
import { CallOptions, Engine, InputError, View } from '../engine/engine'
import type { StepFactors } from '../engine/native'
import type { CheckpointRecord } from '../../shared/labTypes'
import {
  DB,
  deleteCheckpointRows,
  findCheckpointByName,
  getCheckpoint,
  insertCheckpoint,
  listCheckpointRows,
  nowIso,
  renameCheckpointRow,
} from './db'

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'CheckpointError'
  }
}

// ---- model fingerprint --------------------------------------------------------------------------------------

export interface Fingerprint {
  /** sha256 over the per-file digests */
  fingerprint: string
  /** file name → digest of what was sampled ("size:sha256") */
  files: Record<string, string>
}

const SAMPLE = 64 * 1024

/**
 * A cheap, robust identity for a model directory. Hashing every byte of a 7B model (13 GB) would take tens of
 * seconds on each open; instead we hash what identifies it: config.json and the tokenizer in full (small, and they
 * change what ids and shapes mean), and for each safetensors file its size, its whole JSON header (names, dtypes,
 * shapes, offsets) and three 64 KiB blocks of data (start, middle, end). A different model, a re-quantised or
 * re-converted file, a truncated download or a fine-tuned copy saved over the original changes the size, the header
 * or the sampled blocks; only a deliberate edit of unsampled bytes in place would go unnoticed. Reads < 1 MB.
 */
export function modelFingerprint(dir: string): Fingerprint {
  const files: Record<string, string> = {}
  // a single-file model (.gguf) is fingerprinted as the only file of its folder
  const single = statSync(dir).isFile()
  const names = single ? [basename(dir)] : readdirSync(dir).sort()
  if (single) dir = dirname(dir)
  for (const name of names) {
    const p = join(dir, name)
    if (!statSync(p).isFile()) continue
    if (name === 'config.json' || name === 'tokenizer.model' || name === 'tokenizer.json') {
      const b = readFileSync(p)
      files[name] = `${b.length}:${createHash('sha256').update(b).digest('hex')}`
    } else if (name.endsWith('.safetensors') || (single && name.endsWith('.gguf'))) {
      const fd = openSync(p, 'r')
      try {
        const size = fstatSync(fd).size
        const h = createHash('sha256')
        const read = (pos: number, len: number): void => {
          const n = Math.max(0, Math.min(len, size - pos))
          if (n === 0) return
          const b = Buffer.alloc(n)
          readSync(fd, b, 0, n, pos)
          h.update(b)
        }
        // GGUF: the metadata and tensor table lead the file; its first MiB stands in for the header
        let headerEnd = Math.min(size, name.endsWith('.gguf') ? 16 * SAMPLE : 8)
        if (size >= 8 && !name.endsWith('.gguf')) {
          const lb = Buffer.alloc(8)
          readSync(fd, lb, 0, 8, 0)
          headerEnd = Math.min(size, 8 + Number(lb.readBigUInt64LE(0)))
        }
        read(0, headerEnd)
        const dataLen = size - headerEnd
        read(headerEnd, SAMPLE)
        read(headerEnd + Math.max(0, Math.floor(dataLen / 2) - SAMPLE / 2), SAMPLE)
        read(Math.max(headerEnd, size - SAMPLE), SAMPLE)
        files[name] = `${size}:${h.digest('hex')}`
      } finally {
        closeSync(fd)
      }
    }
  }
  const all = createHash('sha256')
  for (const [k, v] of Object.entries(files)) all.update(`${k}=${v}\n`)
  return { fingerprint: all.digest('hex'), files }
}

/** Says in words what changed between two fingerprints' file lists. */
export function describeChange(saved: Record<string, string>, now: Record<string, string>): string {
  const parts: string[] = []
  for (const [name, v] of Object.entries(saved)) {
    const cur = now[name]
    if (cur === undefined) parts.push(`${name} is missing`)
    else if (cur !== v) {
      const [s0] = v.split(':')
      const [s1] = cur.split(':')
      parts.push(s0 !== s1 ? `${name} changed size (${s0} → ${s1} bytes)` : `${name} changed content (same size)`)
    }
  }
  for (const name of Object.keys(now)) if (!(name in saved)) parts.push(`${name} is new`)
  return parts.length ? parts.join('; ') : 'its files differ'
}

// ---- the step file ------------------------------------------------------------------------------------------

export const STEP_FORMAT = 'soliloquy-step'
export const STEP_FORMAT_VERSION = '1'

export interface StepMeta {
  phrase: string
  lr: number
  loss: number
  baseFingerprint: string
  baseFiles: Record<string, string>
  /** sha256 of the parent checkpoint's file ('' for a step on the plain model) */
  parentSha256: string
  parentName: string
  created: string
  name: string
}

type TDType = 'F32' | 'I32'
interface TensorOut {
  name: string
  dtype: TDType
  shape: number[]
  data: Float32Array | Int32Array
}

function stepTensors(f: StepFactors): TensorOut[] {
  const t: TensorOut[] = [{ name: 'ids', dtype: 'I32', shape: [f.ids.length], data: f.ids }]
  f.linears.forEach((l, i) => {
    t.push({ name: `lin.${i}.X`, dtype: 'F32', shape: [l.T, l.in], data: l.X })
    t.push({ name: `lin.${i}.G`, dtype: 'F32', shape: [l.T, l.out], data: l.G })
  })
  t.push({ name: 'emb.rows', dtype: 'I32', shape: [f.embRows.length], data: f.embRows })
  t.push({ name: 'emb.grad', dtype: 'F32', shape: [f.embRows.length, f.embRows.length ? f.embGrad.length / f.embRows.length : 0], data: f.embGrad })
  f.normGrads.forEach((n, i) => t.push({ name: `norm.${i}`, dtype: 'F32', shape: [n.length], data: n }))
  return t
}

/**
 * Writes factors as safetensors (8-byte LE header length, JSON header padded to 8 bytes, little-endian data),
 * atomically (temp file + rename). Returns the file's size and sha256.
 */
export function writeStepFile(path: string, f: StepFactors, meta: StepMeta): { bytes: number; sha256: string } {
  const tensors = stepTensors(f)
  const header: Record<string, unknown> = {
    __metadata__: {
      format: STEP_FORMAT,
      format_version: STEP_FORMAT_VERSION,
      name: meta.name,
      phrase: meta.phrase,
      lr: String(meta.lr),
      loss: String(meta.loss),
      base_fingerprint: meta.baseFingerprint,
      base_files: JSON.stringify(meta.baseFiles),
      parent_sha256: meta.parentSha256,
      parent_name: meta.parentName,
      created: meta.created,
      linears: String(f.linears.length),
      norms: String(f.normGrads.length),
    },
  }
  let off = 0
  for (const t of tensors) {
    const n = t.data.byteLength
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + n] }
    off += n
  }
  let json = JSON.stringify(header)
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8)
  const hb = Buffer.from(json, 'utf8')
  const len = Buffer.alloc(8)
  len.writeBigUInt64LE(BigInt(hb.length))
  const tmp = `${path}.tmp-${process.pid}`
  const hash = createHash('sha256')
  let fd: number
  try {
    fd = openSync(tmp, 'w')
  } catch (e) {
    throw new CheckpointError(`cannot write the checkpoint file ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`)
  }
  try {
    const put = (b: Buffer): void => {
      hash.update(b)
      let done = 0
      while (done < b.length) done += writeSync(fd, b, done, b.length - done)
    }
    put(len)
    put(hb)
    for (const t of tensors) put(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))
    closeSync(fd)
  } catch (e) {
    try {
      closeSync(fd)
    } catch {
      /* already closed */
    }
    rmSync(tmp, { force: true })
    const code = (e as NodeJS.ErrnoException).code
    throw new CheckpointError(
      code === 'ENOSPC' ? `disk full while saving the checkpoint ${path}` : `cannot write the checkpoint file ${path}: ${code ?? String(e)}`,
    )
  }
  renameSync(tmp, path)
  return { bytes: 8 + hb.length + off, sha256: hash.digest('hex') }
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex')
}

/** Reads a step file; verifies its sha256 when given. */
export function readStepFile(path: string, expectSha256?: string, label = basename(path)): { factors: StepFactors; meta: StepMeta } {
  let buf: Buffer
  try {
    buf = readFileSync(path)
  } catch (e) {
    throw new CheckpointError(`checkpoint "${label}": its file ${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`)
  }
  if (expectSha256) {
    const got = createHash('sha256').update(buf).digest('hex')
    if (got !== expectSha256)
      throw new CheckpointError(
        `checkpoint "${label}": its file ${path} is damaged or was replaced (sha256 ${got.slice(0, 12)}…, expected ${expectSha256.slice(0, 12)}…)`,
      )
  }
  const bad = (why: string): never => {
    throw new CheckpointError(`checkpoint "${label}": ${path} is not a Soliloquy step file (${why})`)
  }
  if (buf.length < 8) bad('too short')
  const hlen = Number(buf.readBigUInt64LE(0))
  if (hlen < 2 || 8 + hlen > buf.length) bad('corrupt header length')
  let header: Record<string, unknown> = {}
  try {
    header = JSON.parse(buf.subarray(8, 8 + hlen).toString('utf8')) as Record<string, unknown>
  } catch {
    bad('header is not JSON')
  }
  const md = (header.__metadata__ ?? {}) as Record<string, string>
  if (md.format !== STEP_FORMAT) bad(`format "${String(md.format)}"`)
  const start = 8 + hlen
  const tensor = <T extends Float32Array | Int32Array>(name: string, ctor: new (b: ArrayBuffer) => T): T => {
    const e = header[name] as { dtype: string; shape: number[]; data_offsets: [number, number] } | undefined
    if (!e) return bad(`missing tensor ${name}`)
    const [b, en] = e.data_offsets
    if (start + en > buf.length || en < b) bad(`tensor ${name} runs past the end`)
    // copy: the file buffer is not guaranteed to be 4-byte aligned
    const ab = new ArrayBuffer(en - b)
    new Uint8Array(ab).set(buf.subarray(start + b, start + en))
    return new ctor(ab)
  }
  const nl = Number(md.linears)
  const nn = Number(md.norms)
  const linears: StepFactors['linears'] = []
  for (let i = 0; i < nl; i++) {
    const ex = header[`lin.${i}.X`] as { shape: number[] } | undefined
    const eg = header[`lin.${i}.G`] as { shape: number[] } | undefined
    if (!ex || !eg) bad(`missing factors of linear ${i}`)
    linears.push({ T: ex!.shape[0], in: ex!.shape[1], out: eg!.shape[1], X: tensor(`lin.${i}.X`, Float32Array), G: tensor(`lin.${i}.G`, Float32Array) })
  }
  const normGrads: Float32Array[] = []
  for (let i = 0; i < nn; i++) normGrads.push(tensor(`norm.${i}`, Float32Array))
  const factors: StepFactors = {
    ids: tensor('ids', Int32Array),
    loss: Number(md.loss),
    linears,
    embRows: tensor('emb.rows', Int32Array),
    embGrad: tensor('emb.grad', Float32Array),
    normGrads,
  }
  let baseFiles: Record<string, string> = {}
  try {
    baseFiles = JSON.parse(md.base_files ?? '{}') as Record<string, string>
  } catch {
    /* older/edited metadata: the fingerprint alone still identifies the base */
  }
  return {
    factors,
    meta: {
      phrase: md.phrase ?? '',
      lr: Number(md.lr),
      loss: Number(md.loss),
      baseFingerprint: md.base_fingerprint ?? '',
      baseFiles,
      parentSha256: md.parent_sha256 ?? '',
      parentName: md.parent_name ?? '',
      created: md.created ?? '',
      name: md.name ?? '',
    },
  }
}

// ---- the store ----------------------------------------------------------------------------------------------

const NAME_RE = /^[^\s/\\:][^/\\:]{0,119}$/

export function checkName(name: unknown): string {
  if (typeof name !== 'string' || !NAME_RE.test(name.trim()) || name.trim() !== name)
    throw new InputError(
      `a checkpoint name must be 1–120 characters without "/", "\\" or ":" and without leading/trailing spaces (got ${JSON.stringify(name)})`,
    )
  if (/^\d+$/.test(name)) throw new InputError(`a checkpoint name cannot be only digits (${name}): ids are written that way`)
  return name
}

export interface SaveStep {
  name: string
  modelId: number
  parentId: number | null
  runId: number | null
  phrase: string
  lr: number
  factors: StepFactors
  baseFingerprint: string
  baseFiles: Record<string, string>
}

export class CheckpointStore {
  readonly dir: string
  constructor(
    private readonly db: DB,
    readonly dataDir: string,
  ) {
    this.dir = join(dataDir, 'checkpoints')
    mkdirSync(this.dir, { recursive: true })
  }

  list(): CheckpointRecord[] {
    return listCheckpointRows(this.db)
  }

  /** By id (number or digits) or name; a clear error when there is none. */
  get(ref: number | string): CheckpointRecord {
    let c: CheckpointRecord | undefined
    if (typeof ref === 'number' || /^\d+$/.test(ref)) c = getCheckpoint(this.db, Number(ref))
    if (!c && typeof ref === 'string') c = findCheckpointByName(this.db, ref.replace(/^ckpt:/, ''))
    if (!c) {
      const names = this.list().map((x) => x.name)
      throw new InputError(
        `no checkpoint ${JSON.stringify(typeof ref === 'string' ? ref.replace(/^ckpt:/, '') : ref)}` + (names.length ? ` (saved: ${names.slice(0, 10).join(', ')}${names.length > 10 ? ', …' : ''})` : ' (none saved yet)'),
      )
    }
    return c
  }

  /** Root → leaf: the checkpoints whose steps make up this one. */
  lineage(c: CheckpointRecord): CheckpointRecord[] {
    const chain: CheckpointRecord[] = [c]
    const seen = new Set([c.id])
    let cur = c
    while (cur.parentId !== null) {
      const p = getCheckpoint(this.db, cur.parentId)
      if (!p) throw new CheckpointError(`checkpoint "${cur.name}": its parent (id ${cur.parentId}) is missing`)
      if (seen.has(p.id)) throw new CheckpointError(`checkpoint "${c.name}": its lineage has a cycle`)
      seen.add(p.id)
      chain.unshift(p)
      cur = p
    }
    return chain
  }

  save(s: SaveStep): CheckpointRecord {
    const name = checkName(s.name)
    if (findCheckpointByName(this.db, name)) throw new InputError(`a checkpoint named "${name}" already exists`)
    const parent = s.parentId !== null ? getCheckpoint(this.db, s.parentId) : undefined
    const created = nowIso()
    const tmpPath = join(this.dir, `.new-${process.pid}-${Date.now()}.safetensors`)
    const { bytes, sha256 } = writeStepFile(tmpPath, s.factors, {
      phrase: s.phrase,
      lr: s.lr,
      loss: s.factors.loss,
      baseFingerprint: s.baseFingerprint,
      baseFiles: s.baseFiles,
      parentSha256: parent?.sha256 ?? '',
      parentName: parent?.name ?? '',
      created,
      name,
    })
    // content-addressed: the same step saved twice shares nothing but the name would clash, so add the id suffix
    const finalName = `${sha256.slice(0, 16)}-${Date.now().toString(36)}.safetensors`
    const finalPath = join(this.dir, finalName)
    renameSync(tmpPath, finalPath)
    try {
      const id = insertCheckpoint(this.db, {
        name,
        modelId: s.modelId,
        parentId: s.parentId,
        runId: s.runId,
        phrase: s.phrase,
        lr: s.lr,
        loss: s.factors.loss,
        file: relative(this.dataDir, finalPath),
        sha256,
        bytes,
        baseFingerprint: s.baseFingerprint,
        createdAt: created,
      })
      return getCheckpoint(this.db, id)!
    } catch (e) {
      rmSync(finalPath, { force: true })
      throw e
    }
  }

  rename(ref: number | string, newName: string): CheckpointRecord {
    const c = this.get(ref)
    const name = checkName(newName)
    if (name === c.name) return c
    if (findCheckpointByName(this.db, name)) throw new InputError(`a checkpoint named "${name}" already exists`)
    renameCheckpointRow(this.db, c.id, name)
    return getCheckpoint(this.db, c.id)!
  }

  /** All descendants, children before parents. */
  descendants(c: CheckpointRecord): CheckpointRecord[] {
    const out: CheckpointRecord[] = []
    const visit = (x: CheckpointRecord): void => {
      for (const id of x.childIds) {
        const ch = getCheckpoint(this.db, id)
        if (ch) {
          visit(ch)
          out.push(ch)
        }
      }
    }
    visit(c)
    return out
  }

  /**
   * Deletes a checkpoint. Its children are built on it and would be unloadable, so deleting a checkpoint that has
   * any is refused unless `force`, which deletes the whole subtree. Returns the names deleted.
   */
  delete(ref: number | string, force = false): { deleted: string[]; freedBytes: number } {
    const c = this.get(ref)
    const desc = this.descendants(c)
    if (desc.length && !force)
      throw new InputError(
        `checkpoint "${c.name}" has ${desc.length} descendant${desc.length > 1 ? 's' : ''} built on it (${desc
          .map((d) => d.name)
          .join(', ')}); deleting it would orphan them — delete with force to remove them too`,
      )
    const victims = [...desc, c]
    deleteCheckpointRows(this.db, victims.map((v) => v.id))
    let freed = 0
    for (const v of victims) {
      const p = resolve(this.dataDir, v.file)
      try {
        freed += statSync(p).size
        unlinkSync(p)
      } catch {
        /* already gone */
      }
    }
    return { deleted: victims.map((v) => v.name), freedBytes: freed }
  }

  /**
   * The view (base − Σ lr·step) a checkpoint stands for, on `engine` (its base model). Each file's hash is verified
   * and the base model's fingerprint compared with the one stored at save time: a changed base is reported in words.
   */
  view(engine: Engine, c: CheckpointRecord, current: Fingerprint, cache?: Map<number, View>): View {
    let view: View = []
    for (const link of this.lineage(c)) {
      const hit = cache?.get(link.id)
      if (hit) {
        view = hit
        continue
      }
      const path = resolve(this.dataDir, link.file)
      if (!existsSync(path)) throw new CheckpointError(`checkpoint "${link.name}": its file ${path} is missing`)
      const { factors, meta } = readStepFile(path, link.sha256, link.name)
      if (link.baseFingerprint !== current.fingerprint || meta.baseFingerprint !== current.fingerprint)
        throw new CheckpointError(
          `checkpoint "${link.name}" was saved on a different version of the model in ${engine.dir}: ` +
            `${describeChange(meta.baseFiles, current.files)}. Its step no longer applies to these weights`,
        )
      let g
      try {
        g = engine.importGradient(factors, meta.phrase, view)
      } catch (e) {
        throw new CheckpointError(`checkpoint "${link.name}" does not fit the model in ${engine.dir}: ${(e as Error).message}`)
      }
      view = [...view, { gradient: g, lr: link.lr }]
      cache?.set(link.id, view)
    }
    return view
  }
}

/**
 * Writes a merged HF directory for `view` via the engine's streaming export. The target must be new or empty; on
 * failure (disk full, permissions, cancellation) the partial output is removed and the error says why.
 */
export async function exportMerged(
  engine: Engine,
  view: View,
  outDir: string,
  o: { dtype?: 'F32' | 'F16' | 'BF16' },
  opts?: CallOptions,
): Promise<{ dir: string; files: string[]; bytes: number }> {
  const dir = resolve(outDir)
  let created = false
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new InputError(`export target ${dir} is a file`)
    if (readdirSync(dir).length > 0) throw new InputError(`export target ${dir} is not empty`)
  } else {
    try {
      mkdirSync(dir, { recursive: true })
      created = true
    } catch (e) {
      throw new InputError(`cannot create the export directory ${dir} (${(e as NodeJS.ErrnoException).code ?? String(e)})`)
    }
  }
  try {
    const r = await engine.exportHF(view, dir, { dtype: o.dtype }, opts)
    return { dir, files: r.files, bytes: r.bytes }
  } catch (e) {
    try {
      if (created) rmSync(dir, { recursive: true, force: true })
      else for (const f of readdirSync(dir)) rmSync(join(dir, f), { recursive: true, force: true })
    } catch {
      /* best effort */
    }
    const msg = (e as Error).message ?? String(e)
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOSPC' || /no space left/i.test(msg))
      throw new CheckpointError(`export failed: the disk is full (${dir}); nothing was kept`)
    if ((e as Error).name === 'CancelledError' || (e as Error).name === 'InputError') throw e
    throw new CheckpointError(`export failed: ${msg.split('\n')[0]}`)
  }
}
