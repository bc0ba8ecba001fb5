// The lifecycle of runs and their experiments, and the only code that writes a status: a run is inserted `running`
// (history/tables/runs.ts) and ends here as done, failed, cancelled or interrupted, in one transaction with its
// experiment (settled from its runs, with the experiment's result), then announced to every client.
import type { RunMetrics, RunStatus } from '../../../shared/api'
import { nowIso } from './clock'
import type { DB } from './db'
import { announce } from './events'
import { experimentsOf, jsonOf, setExperimentResult } from './tables/experiments'

export interface RunOutcome {
  id: number
  outputIds: number[]
  outputText: string
  fullText: string
  metrics: RunMetrics
}

function finiteOrNull(x: number | undefined): number | null {
  return typeof x === 'number' && Number.isFinite(x) ? x : null
}

/**
 * The statement that ends a run as done with its outputs (prepared once; call it inside the caller's transaction, at
 * `finishedAt` after `ms`): the metrics as JSON that survives NaN/∞ (stored as null — metrics of a diverged step can
 * be infinite), and the indexed metric columns history sorts and filters on null where a value is missing or not
 * finite. Every kind's runs end here, a study's cells too (study/record.ts).
 */
export function runCompleter(db: DB): (o: RunOutcome, finishedAt: string, ms: number) => void {
  const upd = db.prepare(
    `UPDATE runs SET status = 'done', output_ids = ?, output_text = ?, full_text = ?, metrics = ?, recall = ?,
       stability_kl = ?, loss_after = ?, distinct2 = ?, repetition = ?, error = NULL, finished_at = ?, ms = ? WHERE id = ?`,
  )
  return (o, finishedAt, ms) => {
    const m = o.metrics
    upd.run(JSON.stringify(o.outputIds), o.outputText, o.fullText, jsonOf(m), finiteOrNull(m.recall), finiteOrNull(m.stabilityKl),
      finiteOrNull(m.phraseLossAfter), finiteOrNull(m.distinct2), finiteOrNull(m.repetition), finishedAt, ms, o.id)
  }
}

/** Completes runs in one transaction; with `experiment`, also that experiment's result (it then settles done). */
export function completeRuns(
  db: DB,
  outcomes: RunOutcome[],
  startedMs: number,
  experiment?: { id: number; result: unknown },
): void {
  const now = nowIso()
  const ms = Date.now() - startedMs
  const complete = runCompleter(db)
  let settled: ReturnType<typeof settleExperiments> = []
  db.transaction(() => {
    for (const o of outcomes) complete(o, now, ms)
    // the experiment named is settled with its result even with no runs left to complete (a window search's end)
    const named = experiment ? [experiment.id] : []
    settled = settleExperiments(db, [...new Set([...experimentsOf(db, outcomes.map((o) => o.id)), ...named])], experiment?.result)
  })()
  announceRuns(db, outcomes.map((o) => o.id), settled)
}

function announceRuns(db: DB, ids: number[], settled: { id: number; status: RunStatus; finished: boolean }[]): void {
  for (const id of ids) {
    const r = db.prepare('SELECT status, experiment_id FROM runs WHERE id = ?').get(id) as { status: RunStatus; experiment_id: number | null } | undefined
    if (r) announce(db, { type: 'run', id, experimentId: r.experiment_id, status: r.status, change: 'finished' })
  }
  for (const e of settled) if (e.finished) announce(db, { type: 'experiment', id: e.id, experimentId: e.id, status: e.status, change: 'finished' })
}

/** What a cancelled generation had produced for one run: kept on the `cancelled` row. */
export interface PartialOutput {
  outputIds: number[]
  outputText: string
  fullText: string
  metrics?: RunMetrics
}

/**
 * Marks runs (still `running`) failed or cancelled, with the reason. `partial`: the tokens a cancelled generation
 * had produced per run, stored with the cancelled row (a cancelled sweep keeps what it generated).
 */
export function abortRuns(
  db: DB,
  ids: number[],
  status: 'failed' | 'cancelled',
  error: string,
  startedMs: number,
  partial?: Map<number, PartialOutput>,
): void {
  const now = nowIso()
  const ms = Date.now() - startedMs
  const upd = db.prepare(`UPDATE runs SET status = ?, error = ?, finished_at = ?, ms = ? WHERE id = ? AND status = 'running'`)
  const out = db.prepare(
    `UPDATE runs SET output_ids = ?, output_text = ?, full_text = ?, metrics = ?, repetition = ? WHERE id = ? AND status = 'running'`,
  )
  let settled: ReturnType<typeof settleExperiments> = []
  db.transaction(() => {
    for (const id of ids) {
      const p = partial?.get(id)
      if (p) out.run(JSON.stringify(p.outputIds), p.outputText, p.fullText, jsonOf(p.metrics ?? {}), finiteOrNull(p.metrics?.repetition), id)
      upd.run(status, error, now, ms, id)
    }
    settled = settleExperiments(db, experimentsOf(db, ids))
  })()
  announceRuns(db, ids, settled)
}

/**
 * An experiment's status from its runs: running while any runs; else done when all are done, otherwise the first of
 * failed / cancelled / interrupted found. An experiment without runs keeps its status (instruments finish it).
 * Returns the experiments that changed, for the change events.
 */
export function settleExperiments(db: DB, ids: number[], result?: unknown): { id: number; status: RunStatus; finished: boolean }[] {
  const out: { id: number; status: RunStatus; finished: boolean }[] = []
  for (const id of ids) {
    const rows = db.prepare('SELECT status, COUNT(*) AS n FROM runs WHERE experiment_id = ? GROUP BY status').all(id) as {
      status: RunStatus
      n: number
    }[]
    if (!rows.length) continue
    const has = (s: RunStatus): boolean => rows.some((r) => r.status === s)
    const status: RunStatus = has('running')
      ? 'running'
      : rows.every((r) => r.status === 'done')
        ? 'done'
        : has('failed')
          ? 'failed'
          : has('cancelled')
            ? 'cancelled'
            : 'interrupted'
    const before = db.prepare('SELECT status FROM experiments WHERE id = ?').get(id) as { status: RunStatus } | undefined
    if (!before) continue
    if (status === 'running') continue
    db.prepare('UPDATE experiments SET status = ?, finished_at = COALESCE(finished_at, ?) WHERE id = ?').run(status, nowIso(), id)
    if (result !== undefined) setExperimentResult(db, id, result)
    out.push({ id, status, finished: before.status === 'running' })
  }
  return out
}

/** Finishes an experiment explicitly (instruments whose result is not a set of runs). */
export function finishExperiment(db: DB, id: number, status: RunStatus, result?: unknown): void {
  db.prepare('UPDATE experiments SET status = ?, finished_at = ?, result = COALESCE(?, result) WHERE id = ?').run(
    status, nowIso(), result === undefined ? null : jsonOf(result), id)
  announce(db, { type: 'experiment', id, experimentId: id, status, change: 'finished' })
}

/** Runs whose process ended before they finished → `interrupted`, and their experiments settled. */
export function interruptRuns(db: DB, ids: number[]): void {
  const now = nowIso()
  db.transaction(() => {
    const upd = db.prepare(
      `UPDATE runs SET status = 'interrupted', finished_at = ?, error = 'the process running it ended before it finished' WHERE id = ?`,
    )
    for (const id of ids) upd.run(now, id)
    settleExperiments(db, experimentsOf(db, ids))
  })()
}

/** Runs of a lab process that died → `failed` with the host's reason. */
export function failRunsOfDeadProcess(db: DB, ids: number[], reason: string): void {
  const now = nowIso()
  db.transaction(() => {
    const upd = db.prepare(`UPDATE runs SET status = 'failed', error = ?, finished_at = COALESCE(finished_at, ?) WHERE id = ?`)
    for (const id of ids) upd.run(reason, now, id)
  })()
}
