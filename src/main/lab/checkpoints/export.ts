// Export: a checkpoint's model, merged, as a standard Hugging Face directory (the engine streams the tensors), with
// the preset, the reference/probe files it names and a lineage file beside it.
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
import type { ExportDtype } from '../../../shared/api'
import type { Fingerprint } from './fingerprint'
import { CheckpointError } from './error'

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

/**
 * Writes a merged HF directory for `view` via the engine's streaming export, plus whatever `finish` adds, into a
 * staging folder beside the target, and renames it into place at the end: a killed or failed export never leaves a
 * loadable half model under the target's name. The target must be an absolute path, new or an empty directory.
 */
export async function exportMerged(
  engine: Engine,
  view: View,
  outDir: string,
  o: { dtype?: ExportDtype; finish?: (stagingDir: string) => void },
  opts?: CallOptions,
): Promise<{ dir: string; files: string[]; bytes: number }> {
  if (!isAbsolute(outDir)) throw new InputError(`the export target must be an absolute path (got ${JSON.stringify(outDir)})`)
  const dir = resolve(outDir)
  let targetExists = false
  try {
    const st = statSync(dir)
    if (!st.isDirectory()) throw new InputError(`export target ${dir} is a file`)
    if (readdirSync(dir).length > 0) throw new InputError(`export target ${dir} is not empty`)
    targetExists = true
  } catch (e) {
    if (e instanceof InputError) throw e
    const code = (e as NodeJS.ErrnoException).code
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new InputError(`cannot use the export target ${dir}: ${fsWords(code)} (${code ?? ''})`)
  }
  const parent = dirname(dir)
  makeDirs(parent, dir)
  const staging = join(parent, `.${basename(dir)}.partial-${process.pid}`)
  try {
    rmSync(staging, { recursive: true, force: true })
    mkdirSync(staging)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    throw new InputError(`cannot create the export directory ${dir}: ${fsWords(code)} (${code ?? ''} in ${parent})`)
  }
  try {
    const r = await engine.exportHF(view, staging, { dtype: o.dtype }, opts)
    // a cancel that came while the last tensors were written still means "keep nothing"
    if (opts?.signal?.aborted) throw new CancelledError()
    o.finish?.(staging)
    if (targetExists) rmdirSync(dir) // still empty (checked above); rename cannot replace it on every OS
    renameSync(staging, dir)
    return { dir, files: r.files, bytes: r.bytes }
  } catch (e) {
    try {
      rmSync(staging, { recursive: true, force: true })
    } catch {
      /* best effort */
    }
    const msg = (e as Error).message ?? String(e)
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOSPC' || /no space left/i.test(msg))
      throw new CheckpointError(`export failed: the disk is full (${dir}); nothing was kept`)
    if ((e as Error).name === 'CancelledError' || (e as Error).name === 'InputError' || e instanceof CheckpointError) throw e
    throw new CheckpointError(`export failed: ${msg.split('\n')[0]}`)
  }
}

/** One saved step of a lineage, as the export's soliloquy-lineage.json lists it (root first). */
export interface LineageStep {
  name: string
  phrase: string
  lr: number
  sha256: string
}

/**
 * The whole export of a checkpoint: the merged weights (exportMerged), then the defaults (preset.json and the
 * reference/probe files it names) travel with the model, and soliloquy-lineage.json says where it came from.
 */
export async function exportCheckpointDir(
  engine: Engine,
  view: View,
  base: Fingerprint,
  lineage: LineageStep[],
  outDir: string,
  dtype: ExportDtype | undefined,
  opts?: CallOptions,
): Promise<{ dir: string; files: string[]; bytes: number }> {
  const src = engine.dir
  const finish = (staging: string): void => {
    try {
      const presetPath = join(src, 'preset.json')
      if (existsSync(presetPath)) {
        copyFileSync(presetPath, join(staging, 'preset.json'))
        const raw = JSON.parse(readFileSync(presetPath, 'utf8')) as Record<string, unknown>
        for (const k of ['reference', 'probes']) {
          const f = raw[k]
          if (typeof f === 'string' && !f.includes('/') && existsSync(join(src, f))) copyFileSync(join(src, f), join(staging, f))
        }
      }
      writeFileSync(
        join(staging, 'soliloquy-lineage.json'),
        JSON.stringify({ base: { path: src, fingerprint: base.fingerprint }, steps: lineage, dtype: dtype ?? null, exported: new Date().toISOString() }, null, 2),
      )
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      throw new CheckpointError(
        code === 'ENOSPC' ? `export failed: the disk is full (${outDir})` : `export failed writing the preset: ${(e as Error).message}`,
      )
    }
  }
  const r = await exportMerged(engine, view, outDir, { dtype, finish }, opts)
  return r
}
