// Experiments a process left `running` (issue 20, item 14). Runs already carry their owner and are settled at open
// (owner.ts markInterrupted), and an experiment is settled from its runs; but an experiment whose process ended before
// its runs were written — "database or disk is full" on the runs' insert, a kill in between — has no runs to settle
// it from, and stayed `running` forever, across later processes. At every open such an experiment, when the process
// that owns it is gone, is settled: from its runs if it has any, else `interrupted` with the reason.
import { nowIso } from './clock'
import type { DB } from './db'
import { settleExperiments } from './lifecycle'
import { ownerAlive } from './owner'

/** The reason an experiment without runs is given when the process running it is gone. */
export const ENDED_BEFORE_RUNS = 'the process running it ended before its runs were written (disk full, or the process was killed)'

/** Settles the `running` experiments of processes that are gone; returns their ids. */
export function settleOrphanExperiments(db: DB): number[] {
  const rows = db
    .prepare(
      `SELECT id, owner, (SELECT COUNT(*) FROM runs WHERE runs.experiment_id = e.id) AS n FROM experiments e
       WHERE status = 'running' AND NOT EXISTS (SELECT 1 FROM runs WHERE runs.experiment_id = e.id AND runs.status = 'running')`,
    )
    .all() as { id: number; owner: string | null; n: number }[]
  const dead = rows.filter((r) => !ownerAlive(r.owner))
  if (!dead.length) return []
  db.transaction(() => {
    settleExperiments(db, dead.filter((r) => r.n > 0).map((r) => r.id))
    const upd = db.prepare(
      `UPDATE experiments SET status = 'interrupted', finished_at = COALESCE(finished_at, ?), error = COALESCE(error, ?)
       WHERE id = ? AND status = 'running'`,
    )
    for (const r of dead) upd.run(nowIso(), ENDED_BEFORE_RUNS, r.id)
  })()
  return dead.map((r) => r.id)
}

/**
 * Best effort, in the process that failed: an experiment whose runs could not be written is settled `failed` with
 * the reason at once (when even that write fails — the disk is full — the next open settles it, as above).
 */
export function failExperimentWithoutRuns(db: DB, id: number, reason: string): void {
  try {
    db.prepare(
      `UPDATE experiments SET status = 'failed', finished_at = ?, error = ? WHERE id = ? AND status = 'running'
       AND NOT EXISTS (SELECT 1 FROM runs WHERE runs.experiment_id = experiments.id)`,
    ).run(nowIso(), reason, id)
  } catch {
    /* the next open settles it */
  }
}

/** Writes an experiment's runs with `write`; when that fails (disk full), the experiment is failed with the reason. */
export function writingRuns<T>(db: DB, experimentId: number, write: () => T): T {
  try {
    return write()
  } catch (e) {
    failExperimentWithoutRuns(db, experimentId, `its runs could not be written: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`)
    throw e
  }
}
