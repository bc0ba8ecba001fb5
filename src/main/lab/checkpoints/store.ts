// The checkpoint store: a saved step is its gradient factors (docs/design.md, "The exact low-rank step") in a
// safetensors file plus lineage — kilobytes to megabytes instead of a copy of the model. A checkpoint of a chain is its parent checkpoint + this step, so loading
// one replays the lineage root → leaf on the base model. Files are content-addressed (sha256) and verified on load;
// the base model's fingerprint is stored with every step and compared before the step is applied.
import { existsSync, mkdirSync, renameSync, rmSync, statSync, unlinkSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { Engine, InputError, View } from '../../engine/engine'
import type { StepFactors } from '../../engine/native'
import { checkpointNameProblem, type CheckpointRecord } from '../../../shared/api'
import type { DB } from '../history/migrations'
import { nowIso } from '../history/runs'
import {
  deleteCheckpointRows,
  findCheckpointByName,
  getCheckpoint,
  insertCheckpoint,
  listCheckpointRows,
  renameCheckpointRow,
} from '../history/checkpoints'
import { CheckpointError } from './error'
import { describeChange, type Fingerprint } from './fingerprint'
import { readStepFile, writeStepFile } from './stepFile'

export { CheckpointError }

// ---- the store ----------------------------------------------------------------------------------------------


/** The contract's rule for checkpoint names (src/shared/api.ts), enforced by the store itself as well. */
export function checkName(name: unknown): string {
  const why = checkpointNameProblem(name)
  if (why) throw new InputError(why)
  return name as string
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

