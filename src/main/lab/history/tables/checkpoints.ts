// Checkpoint rows: the saved steps, their lineage (parent, depth, children) and the run each came from.
import { TRASH_DAYS, type CheckpointRecord } from '../../../../shared/api'
import type { DB } from '../db'

interface CheckpointRow {
  id: number
  name: string
  model_id: number
  parent_id: number | null
  run_id: number | null
  phrase: string
  lr: number
  loss: number
  file: string
  sha256: string
  bytes: number
  base_fingerprint: string
  created_at: string
  deleted_at: string | null
}

const DAY_MS = 86_400_000

export function insertCheckpoint(
  db: DB,
  c: Omit<CheckpointRecord, 'id' | 'modelPath' | 'parentName' | 'depth' | 'childIds' | 'deletedAt' | 'purgeAt'>,
): number {
  const r = db.prepare(
    `INSERT INTO checkpoints (name, model_id, parent_id, run_id, phrase, lr, loss, file, sha256, bytes, base_fingerprint, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(c.name, c.modelId, c.parentId, c.runId, c.phrase, c.lr, c.loss, c.file, c.sha256, c.bytes, c.baseFingerprint, c.createdAt)
  return Number(r.lastInsertRowid)
}

function checkpointRecords(db: DB, rows: CheckpointRow[]): CheckpointRecord[] {
  const all = db.prepare('SELECT id, parent_id, name FROM checkpoints').all() as { id: number; parent_id: number | null; name: string }[]
  const byId = new Map(all.map((c) => [c.id, c]))
  const children = new Map<number, number[]>()
  for (const c of all) if (c.parent_id !== null) children.set(c.parent_id, [...(children.get(c.parent_id) ?? []), c.id])
  const paths = new Map(
    (db.prepare('SELECT id, path FROM models').all() as { id: number; path: string }[]).map((m) => [m.id, m.path]),
  )
  return rows.map((r) => {
    let depth = 1
    for (let p = r.parent_id; p !== null && depth < 10_000; p = byId.get(p)?.parent_id ?? null) depth++
    return {
      id: r.id,
      name: r.name,
      modelId: r.model_id,
      modelPath: paths.get(r.model_id) ?? '',
      parentId: r.parent_id,
      parentName: r.parent_id !== null ? (byId.get(r.parent_id)?.name ?? null) : null,
      runId: r.run_id,
      phrase: r.phrase,
      lr: r.lr,
      loss: r.loss,
      file: r.file,
      sha256: r.sha256,
      bytes: r.bytes,
      baseFingerprint: r.base_fingerprint,
      createdAt: r.created_at,
      depth,
      childIds: children.get(r.id) ?? [],
      deletedAt: r.deleted_at ?? null,
      purgeAt: r.deleted_at ? new Date(Date.parse(r.deleted_at) + TRASH_DAYS * DAY_MS).toISOString() : null,
    }
  })
}

/** Saved checkpoints: live ones (the usable bases, default), the Trash, or all. */
export function listCheckpointRows(db: DB, include: 'live' | 'trash' | 'all' = 'live'): CheckpointRecord[] {
  const where = include === 'live' ? 'WHERE deleted_at IS NULL' : include === 'trash' ? 'WHERE deleted_at IS NOT NULL' : ''
  return checkpointRecords(db, db.prepare(`SELECT * FROM checkpoints ${where} ORDER BY created_at, id`).all() as CheckpointRow[])
}

/** Moves checkpoints to the Trash (file kept) — or back (deletedAt null). */
export function setCheckpointsDeleted(db: DB, ids: number[], deletedAt: string | null): void {
  const upd = db.prepare('UPDATE checkpoints SET deleted_at = ? WHERE id = ?')
  db.transaction(() => {
    for (const id of ids) upd.run(deletedAt, id)
  })()
}

/** Trashed checkpoints deleted before `before` (ISO). */
export function trashedBefore(db: DB, before: string): CheckpointRecord[] {
  return checkpointRecords(
    db,
    db.prepare('SELECT * FROM checkpoints WHERE deleted_at IS NOT NULL AND deleted_at <= ? ORDER BY id').all(before) as CheckpointRow[],
  )
}

export function getCheckpoint(db: DB, id: number): CheckpointRecord | undefined {
  const r = db.prepare('SELECT * FROM checkpoints WHERE id = ?').get(id) as CheckpointRow | undefined
  return r ? checkpointRecords(db, [r])[0] : undefined
}

export function findCheckpointByName(db: DB, name: string): CheckpointRecord | undefined {
  const r = db.prepare('SELECT * FROM checkpoints WHERE name = ?').get(name) as CheckpointRow | undefined
  return r ? checkpointRecords(db, [r])[0] : undefined
}

export function findCheckpointByRun(db: DB, runId: number): CheckpointRecord | undefined {
  const r = db.prepare('SELECT * FROM checkpoints WHERE run_id = ? ORDER BY id LIMIT 1').get(runId) as CheckpointRow | undefined
  return r ? checkpointRecords(db, [r])[0] : undefined
}

export function renameCheckpointRow(db: DB, id: number, name: string): void {
  db.prepare('UPDATE checkpoints SET name = ? WHERE id = ?').run(name, id)
}

/** Deletes checkpoint rows (children first) in one transaction. */
export function deleteCheckpointRows(db: DB, idsChildrenFirst: number[]): void {
  const del = db.prepare('DELETE FROM checkpoints WHERE id = ?')
  db.transaction(() => {
    for (const id of idsChildrenFirst) del.run(id)
  })()
}
