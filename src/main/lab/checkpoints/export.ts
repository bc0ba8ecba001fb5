// Export: a checkpoint's model (or a model as it is) merged as a standard Hugging Face directory with the preset,
// the reference/probe files it names and a lineage file; merged as one GGUF file; or the step as a PEFT adapter.
// Every format streams (the engine writes tensor by tensor) into a partial path beside the target, renamed at the end.
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { basename, dirname, isAbsolute, join, resolve } from 'node:path'
import { CallOptions, CancelledError, Engine, InputError, View } from '../../engine/engine'
import { exportGguf, type Kv } from '../../engine/export/gguf'
import { exportHF } from '../../engine/export/hf'
import { exportPeft, type PeftExport } from '../../engine/export/peft'
import type { ExportDtype } from '../../../shared/api'
import type { Fingerprint } from './fingerprint'
import { CheckpointError } from './error'
import { ExportJournal, removeStalePartials } from './exportLeftovers'

/** What the OS said, in words, for the errors a user can meet choosing an export directory. */
function fsWords(code: string | undefined): string {
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied'
    case 'EROFS':
      return 'the file system is read-only'
    case 'ENOTDIR':
      return 'a part of the path is a file, not a directory'
    case 'ENOENT':
      return 'the file system does not allow creating it'
    case 'ENOSPC':
      return 'the disk is full'
    case 'EEXIST':
      return 'something else created it meanwhile'
    default:
      return code ?? 'unknown error'
  }
}

/**
 * Creates the missing directories of `dir` one level at a time. (mkdirSync(…, { recursive: true }) loops forever
 * between ENOENT and EEXIST on /proc/nope; one plain mkdir per level fails at once with the OS's reason.)
 */
function makeDirs(dir: string, target: string): void {
  const missing: string[] = []
  let p = dir
  while (!existsSync(p)) {
    missing.unshift(p)
    const up = dirname(p)
    if (up === p) break
    p = up
  }
  if (existsSync(p) && !statSync(p).isDirectory()) throw new InputError(`cannot create the export directory ${target}: ${p} is a file`)
  for (const m of missing) {
    try {
      mkdirSync(m)
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      throw new InputError(`cannot create the export directory ${target}: ${fsWords(code)} (${code ?? ''} at ${m})`)
    }
  }
}

/** Export staging folders are named `.NAME.partial-PID` beside the target: never loadable under the target's name. */
export const PARTIAL_EXPORT = /^\..+\.partial-\d+$/

/** A validated export target: where the result will be, and the partial path it is written to beside it. */
export interface ExportTarget {
  /** absolute final path (a directory for hf/peft, a file for gguf) */
  target: string
  /** written first, renamed onto `target` only when complete (same directory, so the rename is atomic) */
  partial: string
  kind: 'dir' | 'file'
}

/**
 * Every check of an export target, in one place: the target must be new (or, for a directory, empty), its parent
 * creatable; the output is written to a partial path beside it and renamed at the end.
 */
export function checkExportTarget(path: string, kind: 'dir' | 'file'): ExportTarget {
  // relative to what? The server's working directory is no place a user chose; the UI and CLI resolve first
  if (!isAbsolute(path)) throw new InputError(`the export target must be an absolute path (got ${JSON.stringify(path)})`)
  const target = resolve(path)
  let st: ReturnType<typeof statSync> | undefined
  try {
    st = statSync(target)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new InputError(`cannot use the export target ${target}: ${fsWords(code)} (${code ?? ''})`)
  }
  if (st) {
    if (kind === 'dir') {
      if (!st.isDirectory()) throw new InputError(`export target ${target} is a file (give a new or empty directory)`)
      if (readdirSync(target).length > 0) throw new InputError(`export target ${target} is not empty`)
    } else {
      throw new InputError(`export target ${target} already exists${st.isDirectory() ? ' and is a directory' : ''} (give a new .gguf file name)`)
    }
  }
  if (kind === 'file' && !/\.gguf$/i.test(target)) throw new InputError(`export target ${target}: a GGUF file name ends in .gguf`)
  const parent = dirname(target)
  makeDirs(parent, target)
  return { target, partial: join(parent, `.${basename(target)}.partial-${process.pid}`), kind }
}

/**
 * Runs `write` into the target's partial path, then renames it onto the target. On any failure or a cancel the
 * partial output is removed, and the target is left as it was.
 */
export async function writeExport<R>(
  t: ExportTarget,
  write: (partial: string) => Promise<R>,
  opts?: CallOptions,
  journal?: ExportJournal,
): Promise<R> {
  // what killed exports left in this folder (exportLeftovers.ts), then this one journalled until it ends
  removeStalePartials(dirname(t.target))
  const end = journal?.begin(t.partial)
  try {
    return await writeStaged(t, write, opts)
  } finally {
    end?.()
  }
}

async function writeStaged<R>(t: ExportTarget, write: (partial: string) => Promise<R>, opts?: CallOptions): Promise<R> {
  const removePartial = (): void => {
    try {
      rmSync(t.partial, { recursive: true, force: true })
    } catch {
      /* best effort */
    }
  }
  removePartial()
  if (t.kind === 'dir') {
    try {
      mkdirSync(t.partial)
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      throw new InputError(`cannot create the export directory ${t.target}: ${fsWords(code)} (${code ?? ''} in ${dirname(t.target)})`)
    }
  }
  try {
    const r = await write(t.partial)
    // a cancel that came while the last tensors were written still means "keep nothing"
    if (opts?.signal?.aborted) throw new CancelledError()
    if (t.kind === 'dir' && existsSync(t.target)) rmdirSync(t.target) // checked empty; rename cannot replace it otherwise
    renameSync(t.partial, t.target)
    return r
  } catch (e) {
    removePartial()
    const msg = (e as Error).message ?? String(e)
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOSPC' || /no space left/i.test(msg))
      throw new CheckpointError(`export failed: the disk is full (${t.target}); nothing was kept`)
    if ((e as Error).name === 'CancelledError' || (e as Error).name === 'InputError') throw e
    throw new CheckpointError(`export failed: ${msg.split('\n')[0]}`)
  }
}

/** Writes a merged HF directory for `view` via the engine's streaming export (see checkExportTarget / writeExport). */
export async function exportMerged(
  engine: Engine,
  view: View,
  outDir: string,
  o: { dtype?: ExportDtype; finish?: (stagingDir: string) => void },
  opts?: CallOptions,
): Promise<{ dir: string; files: string[]; bytes: number }> {
  const t = checkExportTarget(outDir, 'dir')
  const r = await writeExport(t, (dir) => exportHF(engine, view, dir, { dtype: hfDtype(o.dtype) }, opts), opts)
  return { dir: t.target, files: r.files, bytes: r.bytes }
}

function hfDtype(d: ExportDtype | undefined): 'F32' | 'F16' | 'BF16' | undefined {
  if (d !== undefined && d !== 'F32' && d !== 'F16' && d !== 'BF16')
    throw new InputError(`${d} is a GGUF block type: export --format gguf for it (an HF directory holds F32, F16 or BF16)`)
  return d
}

/** One saved step of a lineage, as the export's soliloquy-lineage.json lists it (root first). */
export interface LineageStep {
  name: string
  phrase: string
  lr: number
  sha256: string
}

/** Copies the defaults (preset.json and the reference/probe files it names) and writes soliloquy-lineage.json. */
function writeProvenance(src: string, dir: string, base: Fingerprint, lineage: LineageStep[], dtype: ExportDtype | undefined): void {
  const presetPath = join(src, 'preset.json')
  if (existsSync(presetPath)) {
    copyFileSync(presetPath, join(dir, 'preset.json'))
    const raw = JSON.parse(readFileSync(presetPath, 'utf8')) as Record<string, unknown>
    for (const k of ['reference', 'probes']) {
      const f = raw[k]
      if (typeof f === 'string' && !f.includes('/') && existsSync(join(src, f))) copyFileSync(join(src, f), join(dir, f))
    }
  }
  writeFileSync(
    join(dir, 'soliloquy-lineage.json'),
    JSON.stringify({ base: { path: src, fingerprint: base.fingerprint }, steps: lineage, dtype: dtype ?? null, exported: new Date().toISOString() }, null, 2),
  )
}

/**
 * The whole export of a checkpoint as a merged HF directory: the weights streamed by the engine, then the defaults
 * (preset.json and the reference/probe files it names) travel with the model, and soliloquy-lineage.json says where
 * it came from — all in the partial directory, renamed onto the target at the end.
 */
export async function exportCheckpointDir(
  engine: Engine,
  view: View,
  base: Fingerprint,
  lineage: LineageStep[],
  outDir: string,
  dtype: ExportDtype | undefined,
  opts?: CallOptions,
  journal?: ExportJournal,
): Promise<{ dir: string; files: string[]; bytes: number }> {
  const t = checkExportTarget(outDir, 'dir')
  const r = await writeExport(
    t,
    async (dir) => {
      const w = await exportHF(engine, view, dir, { dtype: hfDtype(dtype) }, opts)
      if (!opts?.signal?.aborted) writeProvenance(engine.dir, dir, base, lineage, dtype)
      return w
    },
    opts,
    journal,
  )
  return { dir: t.target, files: r.files, bytes: r.bytes }
}

/** The merged model under `view` as one GGUF file (F32, F16, BF16, Q8_0, Q4_0, Q4_K or Q6_K weights, or one of llama.cpp's mixtures; norms stay F32;
 *  `notes` name the matrices that fell back to another type). */
export async function exportGgufFile(
  engine: Engine,
  view: View,
  outPath: string,
  dtype: ExportDtype | undefined,
  name: string,
  opts?: CallOptions,
  journal?: ExportJournal,
  extraKv?: Kv[],
): Promise<{ dir: string; files: string[]; bytes: number; notes: string[] }> {
  const t = checkExportTarget(outPath, 'file')
  const r = await writeExport(t, (file) => exportGguf(engine, view, file, opts, { dtype: dtype ?? 'F16', name, extraKv }), opts, journal)
  return { dir: t.target, files: [basename(t.target)], bytes: r.bytes, notes: r.notes }
}

/** The step(s) of `view` as a PEFT LoRA adapter directory, with what it cannot carry measured (peft.ts). */
export async function exportAdapter(
  engine: Engine,
  view: View,
  outDir: string,
  dtype: ExportDtype | undefined,
  opts?: CallOptions,
  journal?: ExportJournal,
): Promise<PeftExport & { dir: string }> {
  if (view.length === 0) throw new InputError('a PEFT adapter is a step: export a checkpoint (the base model has no step to carry)')
  const t = checkExportTarget(outDir, 'dir')
  const r = await writeExport(t, (dir) => exportPeft(engine, view, dir, { dtype: hfDtype(dtype), baseModel: engine.dir }, opts), opts, journal)
  return { ...r, dir: t.target }
}
