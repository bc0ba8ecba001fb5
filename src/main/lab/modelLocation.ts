// Models found again when their folder moves (issue 20, item 13). A checkpoint (and an experiment) names its model by
// the history's model row: a fingerprint and the path it was last opened from. Before, that path was all the lab
// tried: move the model, reinstall the app (the embedded organism's path changes with it) or open a history from
// another machine, and "checkpoint hamlet: its model … cannot be opened". Now:
//  - the embedded organism is the embedded model wherever this build keeps it (its row is marked embedded, and the
//    path it holds is only where it was last seen);
//  - any other model is looked for, when its last path no longer holds its fingerprint, in the user's model folders:
//    the folders given to the lab (--models DIR, SOLILOQUY_MODEL_DIRS) and the folders the lab has opened models
//    from, each folder itself and the models directly inside it; a match by fingerprint re-points the row;
//  - found nowhere, the error says which folder to pass (CLI) or to open the model's folder again (Models view),
//    which re-points the row as well (adoptMovedModel).
import { existsSync, readdirSync, statSync } from 'node:fs'
import { delimiter, dirname, join, resolve } from 'node:path'
import { InputError } from '../engine/engine'
import { modelFingerprint } from './checkpoints/fingerprint'
import type { DB } from './history/db'
import type { ModelRow } from './history/tables/models'

/** The folders given by the user: the lab's option, then SOLILOQUY_MODEL_DIRS (separated like PATH). */
export function userModelDirs(option: string[] = []): string[] {
  const env = (process.env.SOLILOQUY_MODEL_DIRS ?? '').split(delimiter).filter(Boolean)
  return [...option, ...env].map((d) => resolve(d))
}

/** Where to look for a model that moved: the user's folders, then the parents of every model the lab has opened. */
function searchDirs(db: DB, given: string[], row: ModelRow): string[] {
  const known = (db.prepare('SELECT path FROM models WHERE embedded = 0').all() as { path: string }[]).map((r) => dirname(r.path))
  return [...new Set([...given, dirname(row.path), ...known])]
}

/** A folder that could hold a model: its files of the fingerprint have the recorded sizes (cheap, before hashing). */
function sizesMatch(candidate: string, files: Record<string, string>): boolean {
  try {
    const single = statSync(candidate).isFile()
    for (const [name, v] of Object.entries(files)) {
      const size = Number(v.split(':')[0])
      const p = single ? (name === candidate.split(/[/\\]/).pop() ? candidate : '') : join(candidate, name)
      if (!p || statSync(p).size !== size) return false
    }
    return Object.keys(files).length > 0
  } catch {
    return false
  }
}

function candidates(dir: string): string[] {
  const out = [dir]
  try {
    for (const n of readdirSync(dir)) {
      if (n.startsWith('.')) continue
      out.push(join(dir, n))
    }
  } catch {
    /* not a readable folder: only itself */
  }
  return out
}

/** The path that holds the model of `row` (fingerprint `row.fingerprint`) among the user's model folders, or null. */
export function findMovedModel(db: DB, row: ModelRow, given: string[]): string | null {
  const files = JSON.parse(row.files || '{}') as Record<string, string>
  for (const dir of searchDirs(db, given, row))
    for (const c of candidates(dir)) {
      if (resolve(c) === resolve(row.path) || !sizesMatch(c, files)) continue
      try {
        if (modelFingerprint(c).fingerprint === row.fingerprint) return resolve(c)
      } catch {
        /* unreadable: not it */
      }
    }
  return null
}

/** Points `row` at `path` (where its fingerprint was found), unless another row already holds that path. */
export function repointModel(db: DB, row: ModelRow, path: string): void {
  const taken = db.prepare('SELECT id FROM models WHERE path = ?').get(path) as { id: number } | undefined
  if (!taken) db.prepare('UPDATE models SET path = ? WHERE id = ?').run(path, row.id)
}

/**
 * Before a model opened at `path` is registered: when no row holds that path but a row with the same fingerprint
 * holds a path that no longer has it (the folder was moved, the app reinstalled), that row is moved to `path` — the
 * model keeps its id, so its checkpoints and experiments follow it. The embedded organism's row moves whenever the
 * embedded model is opened from a new place.
 */
export function adoptMovedModel(db: DB, path: string, fingerprint: string, embedded: boolean): void {
  if (db.prepare('SELECT 1 FROM models WHERE path = ?').get(path)) return
  const rows = db.prepare('SELECT * FROM models WHERE fingerprint = ? ORDER BY id').all(fingerprint) as ModelRow[]
  const moved = rows.find((r) => (embedded ? r.embedded === 1 : r.embedded === 0 && !holds(r.path, fingerprint)))
  if (moved) db.prepare('UPDATE models SET path = ? WHERE id = ?').run(path, moved.id)
}

function holds(path: string, fingerprint: string): boolean {
  if (!existsSync(path)) return false
  try {
    return modelFingerprint(path).fingerprint === fingerprint
  } catch {
    return false
  }
}

/** A model found nowhere: a wrong request (InputError) of its own kind, so that the app can ask for the folder. */
export class ModelMissingError extends InputError {
  constructor(message: string) {
    super(message)
    this.name = 'ModelMissingError'
  }
}

/** The refusal when a model is found nowhere: what it was, where it was, where the lab looked, and what to do. */
export function modelMissingError(why: string, row: ModelRow, given: string[], db: DB): ModelMissingError {
  const looked = searchDirs(db, given, row)
  return new ModelMissingError(
    `${why}: its model ${row.name ? `"${row.name}" ` : ''}(fingerprint ${row.fingerprint.slice(0, 12)}) is no longer at ${row.path} ` +
      `and is not in ${looked.join(', ')}; pass the folder that holds it now with --models DIR (CLI), or open the model's folder ` +
      `again in Models (the app) — its checkpoints follow it`,
  )
}
