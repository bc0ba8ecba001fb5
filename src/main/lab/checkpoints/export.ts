// Export: a checkpoint's model, merged, as a standard Hugging Face directory (the engine streams the tensors), with
// the preset, the reference/probe files it names and a lineage file beside it.
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { join, resolve } from 'node:path'
import { CallOptions, CancelledError, Engine, InputError, View } from '../../engine/engine'
import type { ExportDtype } from '../../../shared/api'
import type { Fingerprint } from './fingerprint'
import { CheckpointError } from './error'

/**
 * Writes a merged HF directory for `view` via the engine's streaming export. The target must be new or empty; on
 * failure (disk full, permissions, cancellation) the partial output is removed and the error says why.
 */
export async function exportMerged(
  engine: Engine,
  view: View,
  outDir: string,
  o: { dtype?: ExportDtype },
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
    // a cancel that came while the last tensors were written still means "keep nothing"
    if (opts?.signal?.aborted) throw new CancelledError()
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
  const r = await exportMerged(engine, view, outDir, { dtype }, opts)
  try {
    const src = engine.dir
    const presetPath = join(src, 'preset.json')
    if (existsSync(presetPath)) {
      copyFileSync(presetPath, join(r.dir, 'preset.json'))
      const raw = JSON.parse(readFileSync(presetPath, 'utf8')) as Record<string, unknown>
      for (const k of ['reference', 'probes']) {
        const f = raw[k]
        if (typeof f === 'string' && !f.includes('/') && existsSync(join(src, f))) copyFileSync(join(src, f), join(r.dir, f))
      }
    }
    writeFileSync(
      join(r.dir, 'soliloquy-lineage.json'),
      JSON.stringify({ base: { path: src, fingerprint: base.fingerprint }, steps: lineage, dtype: dtype ?? null, exported: new Date().toISOString() }, null, 2),
    )
  } catch (e) {
    rmSync(r.dir, { recursive: true, force: true })
    const code = (e as NodeJS.ErrnoException).code
    throw new CheckpointError(
      code === 'ENOSPC' ? `export failed: the disk is full (${r.dir})` : `export failed writing the preset: ${(e as Error).message}`,
    )
  }
  return r
}
