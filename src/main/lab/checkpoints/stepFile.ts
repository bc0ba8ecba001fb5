// The step file: one saved step's gradient factors (and bias gradients, for a model with biases) in a safetensors file with its metadata (format, phrase, α, loss,
// the base model's fingerprint, the parent's sha256), written atomically and verified on read.
import { createHash } from 'node:crypto'
import { closeSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs'
import { basename } from 'node:path'
import type { StepFactors } from '../../engine/native'
import { CheckpointError } from './error'

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
  // ∂L/∂b per linear slot, only for a model with biases (empty slots kept so indices stay the linears')
  if (hasBiasGrads(f)) f.biasGrads!.forEach((b, i) => t.push({ name: `bias.${i}`, dtype: 'F32', shape: [b.length], data: b }))
  return t
}

function hasBiasGrads(f: StepFactors): boolean {
  return (f.biasGrads ?? []).some((b) => b.length > 0)
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
      // absent in files of bias-free models (and in files written before biases existed)
      ...(hasBiasGrads(f) ? { biases: String(f.biasGrads!.length) } : {}),
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
  if (md.biases !== undefined) {
    const nb = Number(md.biases)
    if (!Number.isInteger(nb) || nb !== nl) bad(`${md.biases} bias gradients for ${nl} linears`)
    factors.biasGrads = Array.from({ length: nb }, (_, i) => tensor(`bias.${i}`, Float32Array))
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

