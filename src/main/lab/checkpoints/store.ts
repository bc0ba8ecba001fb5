// The checkpoint store: a saved step is its gradient factors (docs/design.md, "The exact low-rank step") in a
// safetensors file plus lineage — kilobytes to megabytes instead of a copy of the model. A checkpoint of a chain is its parent checkpoint + this step, so loading
// one replays the lineage root → leaf on the base model. Files are content-addressed (sha256) and verified on load;
// the base model's fingerprint is stored with every step and compared before the step is applied.
import { trashedMessage } from '../../../shared/baseCheckpoint'
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, unlinkSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { Engine, InputError, View } from '../../engine/engine'
import type { StepFactors } from '../../engine/native'
import { checkpointNameProblem, TRASH_DAYS, type CheckpointRecord } from '../../../shared/api'
import type { DB } from '../history/db'
import { nowIso } from '../history/clock'
import {
  deleteCheckpointRows,
  findCheckpointByName,
  getCheckpoint,
  insertCheckpoint,
  listCheckpointRows,
  renameCheckpointRow,
  setCheckpointsDeleted,
  trashedBefore,
} from '../history/tables/checkpoints'
import { CheckpointError } from './error'
import { describeChange, type Fingerprint } from './fingerprint'
import { readStepFile, writeStepFile } from './stepFile'

export { CheckpointError }

// ---- the store ----------------------------------------------------------------------------------------------

/** "the base checkpoint "x" was deleted on …; restore it from Checkpoints → Trash" (words shared with the window) */
export { trashedMessage }

/** Refuses a name already taken (by a live checkpoint, or one in the Trash) in words. */
export function nameFree(db: DB, name: string): void {
  const other = findCheckpointByName(db, name)
  if (!other) return
  if (other.deletedAt)
    throw new InputError(`a checkpoint named "${name}" is in the Trash; restore or purge it there, or choose another name`)
  throw new InputError(`a checkpoint named "${name}" already exists`)
}


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
    this.swept = this.sweepLeftovers()
  }

  /** Files removed when the store opened: what a process killed mid-save (kill -9, power loss) left behind. */
  readonly swept: string[]

  /**
   * A save writes `.new-PID-….safetensors.tmp-PID`, renames it to `.new-PID-….safetensors`, then to its final name,
   * then inserts the row. A kill between any two leaves a file nobody refers to. Temporary files of a process that
   * is gone are removed; a final-named file no row refers to is removed once it is a minute old (another process
   * sharing this data directory may be between its rename and its insert).
   */
  private sweepLeftovers(now = Date.now()): string[] {
    const referenced = new Set(this.list().map((c) => resolve(this.dataDir, c.file)))
    const removed: string[] = []
    const alive = (pid: number): boolean => {
      if (pid === process.pid) return false // this store is just opening: none of ours is in progress
      try {
        process.kill(pid, 0)
        return true
      } catch (e) {
        return (e as NodeJS.ErrnoException).code === 'EPERM'
      }
    }
    let entries: string[]
    try {
      entries = readdirSync(this.dir)
    } catch {
      return removed
    }
    for (const f of entries) {
      const path = join(this.dir, f)
      const temp = /^\.new-(\d+)-/.exec(f) ?? /\.tmp-(\d+)$/.exec(f)
      let remove = false
      if (temp) remove = !alive(Number(temp[1]))
      else if (f.endsWith('.safetensors') && !referenced.has(path)) {
        try {
          remove = now - statSync(path).mtimeMs > 60_000
        } catch {
          remove = false
        }
      }
      if (!remove) continue
      try {
        rmSync(path, { force: true })
        removed.push(f)
      } catch {
        /* leave it: the next open tries again */
      }
    }
    return removed
  }

  /** Live checkpoints (the usable bases); include 'trash' / 'all' for the Trash. */
  list(include: 'live' | 'trash' | 'all' = 'live'): CheckpointRecord[] {
    return listCheckpointRows(this.db, include)
  }

  /**
   * By id (number or digits) or name; a clear error when there is none. A checkpoint in the Trash is refused with
   * when it was deleted and where to restore it, unless `trashed` is allowed (restore, purge).
   */
  get(ref: number | string, o: { trashed?: boolean } = {}): CheckpointRecord {
    let c: CheckpointRecord | undefined
    if (typeof ref === 'number' || /^\d+$/.test(ref)) c = getCheckpoint(this.db, Number(ref))
    if (!c && typeof ref === 'string') c = findCheckpointByName(this.db, ref.replace(/^ckpt:/, ''))
    if (!c) {
      const names = this.list().map((x) => x.name)
      const trash = this.list('trash').length
      const what = names.length
        ? ` (saved: ${names.slice(0, 10).join(', ')}${names.length > 10 ? ', …' : ''})`
        : trash
          ? ` (none saved; ${trash} in Checkpoints → Trash)`
          : ' (none saved yet)'
      throw new InputError(`no checkpoint ${JSON.stringify(typeof ref === 'string' ? ref.replace(/^ckpt:/, '') : ref)}${what}`)
    }
    if (c.deletedAt && !o.trashed) throw new InputError(trashedMessage(c))
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
    nameFree(this.db, name)
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
    nameFree(this.db, name)
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
   * Deletes a checkpoint: moves it to the Trash (its file kept; restorable for TRASH_DAYS days), or with `purge`
   * deletes row and file for good. Its children are built on it, so deleting one that has live descendants is
   * refused unless `force`, which deletes the whole subtree. Runs keep their provenance (id, name, hash) either way.
   */
  delete(ref: number | string, force = false, purge = false): { deleted: string[]; freedBytes: number; trashed: boolean } {
    const c = this.get(ref, { trashed: purge })
    const desc = this.descendants(c).filter((d) => purge || !d.deletedAt)
    if (desc.some((d) => !d.deletedAt) && !force)
      throw new InputError(
        `checkpoint "${c.name}" has ${desc.length} descendant${desc.length > 1 ? 's' : ''} built on it (${desc
          .map((d) => d.name)
          .join(', ')}); deleting it would orphan them — delete with force to remove them too`,
      )
    const victims = [...desc, c]
    if (!purge) {
      setCheckpointsDeleted(this.db, victims.map((v) => v.id), nowIso())
      return { deleted: victims.map((v) => v.name), freedBytes: 0, trashed: true }
    }
    return { ...this.purgeRows(victims), trashed: false }
  }

  /** Deletes rows (children first) and their files for good. */
  private purgeRows(victimsChildrenFirst: CheckpointRecord[]): { deleted: string[]; freedBytes: number } {
    deleteCheckpointRows(this.db, victimsChildrenFirst.map((v) => v.id))
    let freed = 0
    for (const v of victimsChildrenFirst) {
      const p = resolve(this.dataDir, v.file)
      try {
        freed += statSync(p).size
        unlinkSync(p)
      } catch {
        /* already gone */
      }
    }
    return { deleted: victimsChildrenFirst.map((v) => v.name), freedBytes: freed }
  }

  /** Brings a checkpoint back from the Trash, with any trashed ancestors (it is built on them). */
  restore(ref: number | string): CheckpointRecord {
    const c = this.get(ref, { trashed: true })
    const chain = this.lineage(c).filter((x) => x.deletedAt)
    const path = resolve(this.dataDir, c.file)
    if (!existsSync(path)) throw new CheckpointError(`checkpoint "${c.name}": its file ${path} is missing; it cannot be restored`)
    setCheckpointsDeleted(this.db, chain.map((x) => x.id), null)
    return getCheckpoint(this.db, c.id)!
  }

  /**
   * Purges the Trash: one checkpoint (`ref`, with its trashed descendants), or every checkpoint deleted more than
   * `olderThanDays` (default TRASH_DAYS) ago. Live checkpoints are never purged here.
   */
  purge(o: { ref?: number | string; olderThanDays?: number } = {}): { deleted: string[]; freedBytes: number } {
    let roots: CheckpointRecord[]
    if (o.ref !== undefined) {
      const c = this.get(o.ref, { trashed: true })
      if (!c.deletedAt) throw new InputError(`checkpoint "${c.name}" is not in the Trash; delete it first`)
      roots = [c]
    } else {
      const before = new Date(Date.now() - (o.olderThanDays ?? TRASH_DAYS) * 86_400_000).toISOString()
      roots = trashedBefore(this.db, before)
    }
    const seen = new Set<number>()
    const victims: CheckpointRecord[] = []
    for (const r of roots) {
      for (const x of [...this.descendants(r), r]) {
        if (seen.has(x.id) || !x.deletedAt) continue
        seen.add(x.id)
        victims.push(x)
      }
    }
    // children before parents across roots too: deeper first
    victims.sort((a, b) => b.depth - a.depth)
    return this.purgeRows(victims)
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

