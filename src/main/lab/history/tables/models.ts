// The models the lab has opened (one row per directory, with its fingerprint and config).
import type { DB } from '../db'
import { nowIso } from '../clock'

// ---- models -------------------------------------------------------------------------------------------------

export interface ModelRow {
  id: number
  path: string
  name: string | null
  format: string
  fingerprint: string
  files: string
  config: string
  params: number
  file_bytes: number
  embedded: number
  added_at: string
  last_used_at: string | null
}

export function upsertModel(
  db: DB,
  m: {
    path: string
    name: string
    format: string
    fingerprint: string
    files: Record<string, string>
    config: Record<string, unknown>
    params: number
    fileBytes: number
    embedded: boolean
  },
): ModelRow {
  const now = nowIso()
  const existing = db.prepare('SELECT * FROM models WHERE path = ?').get(m.path) as ModelRow | undefined
  if (existing) {
    db.prepare(
      `UPDATE models SET name = ?, format = ?, fingerprint = ?, files = ?, config = ?, params = ?, file_bytes = ?,
       embedded = ?, last_used_at = ? WHERE id = ?`,
    ).run(m.name, m.format, m.fingerprint, JSON.stringify(m.files), JSON.stringify(m.config), m.params, m.fileBytes,
      m.embedded ? 1 : 0, now, existing.id)
    return db.prepare('SELECT * FROM models WHERE id = ?').get(existing.id) as ModelRow
  }
  const r = db.prepare(
    `INSERT INTO models (path, name, format, fingerprint, files, config, params, file_bytes, embedded, added_at, last_used_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(m.path, m.name, m.format, m.fingerprint, JSON.stringify(m.files), JSON.stringify(m.config), m.params,
    m.fileBytes, m.embedded ? 1 : 0, now, now)
  return db.prepare('SELECT * FROM models WHERE id = ?').get(r.lastInsertRowid) as ModelRow
}

export function getModel(db: DB, id: number): ModelRow | undefined {
  return db.prepare('SELECT * FROM models WHERE id = ?').get(id) as ModelRow | undefined
}

export function listModelRows(db: DB): ModelRow[] {
  return db.prepare('SELECT * FROM models ORDER BY COALESCE(last_used_at, added_at) DESC').all() as ModelRow[]
}

