// Opening the history database: the file, its pragmas (WAL so a reader never blocks the writer), an integrity check,
// and the schema's migrations (history/schema.ts). Rows left `running` by a process that is gone are the owner's
// business (history/owner.ts), called by the lab right after this.
//
// A run row is written as `running` before any work starts and completed in one transaction, so a crash leaves
// either the `running` row or the complete result, never half a result.
import Database from 'better-sqlite3'
import { DbError, migrate, refuseNewer, type DB } from './schema'

export { DbError, type DB }

export interface OpenResult {
  db: DB
  migrated: { from: number; to: number }
}

export function openDb(path: string): OpenResult {
  let db: DB
  try {
    // Inside Electron the SQLite binding must match Electron's ABI: `npm start` builds a separate copy and names it
    // here, so the Node build used by the CLI stays untouched.
    const binding = process.env.SOLILOQUY_SQLITE_BINDING
    db = binding ? new Database(path, { nativeBinding: binding }) : new Database(path)
  } catch (e) {
    throw new DbError(`cannot open the history database ${path}: ${(e as Error).message}`)
  }
  try {
    // reading user_version writes nothing; switching to WAL would (it rewrites the header and leaves -wal/-shm)
    refuseNewer(db.pragma('user_version', { simple: true }) as number)
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    db.pragma('busy_timeout = 5000')
    // SQLite lists problems over several rows and lines ("*** in database main ***\nTree 2 page 6 …"): keep the
    // message on one line, whole, with the first few and a count
    const problems = (db.pragma('quick_check') as Record<string, unknown>[])
      .flatMap((r) => String(Object.values(r)[0]).split('\n'))
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('***'))
    if (problems.length !== 1 || problems[0] !== 'ok') {
      const shown = problems.slice(0, 3).join('; ')
      const more = problems.length > 3 ? ` and ${problems.length - 3} more` : ''
      throw new DbError(
        `the history database ${path} is damaged (${shown}${more}); move it aside or restore a backup, and Soliloquy starts a new history`,
      )
    }
    const migrated = migrate(db)
    return { db, migrated }
  } catch (e) {
    db.close()
    if (e instanceof DbError) throw e
    // garbage or a truncated file: SQLite's SQLITE_NOTADB / SQLITE_CORRUPT; the file is left as it is
    const code = (e as { code?: unknown }).code
    if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT')
      throw new DbError(`the history database ${path} is damaged (${(e as Error).message}); move it aside or restore a backup, and Soliloquy starts a new history`)
    throw new DbError(`cannot open the history database ${path}: ${(e as Error).message}`)
  }
}

