// A study's record in the lab's SQLite (the researcher's one record; Redis holds only jobs): the study is an experiment
// of kind `study`; each finished cell is one `study` run per α, written and completed in one transaction — so a cell
// is recorded whole or not at all, and a cell already recorded is never recorded again (a second worker finishing the
// same job after a stall, a collect after the listener, the same study submitted twice). Cells that did not finish
// (refused by a worker, failed, cancelled) are kept in the experiment's result with the reason.
import type { CellResult, CellState, RunStatus, StudyPhraseWindow } from '../../../shared/api'
import { nowIso } from '../history/clock'
import type { DB } from '../history/db'
import { announce } from '../history/events'
import { runCompleter } from '../history/lifecycle'
import { jsonOf } from '../history/tables/experiments'
import { insertRun } from '../history/tables/runs'
import { crossing } from '../experiment/plasticity'
import type { GridCell, StudyModel } from './grid'

export interface CellNote {
  state: Exclude<CellState, 'done' | 'queued' | 'running'>
  reason: string
  host: string | null
}

interface StudyResultJson {
  cells?: Record<string, CellNote>
}

function resultOf(db: DB, id: number): StudyResultJson {
  const r = db.prepare('SELECT result FROM experiments WHERE id = ?').get(id) as { result: string | null } | undefined
  return r?.result ? (JSON.parse(r.result) as StudyResultJson) : {}
}

/** The cells of study `id` recorded as runs: cell id → worker host and compute time. */
export function recordedCells(db: DB, id: number): Map<string, { host: string; ms: number }> {
  const rows = db
    .prepare(
      `SELECT DISTINCT json_extract(metrics, '$.study.cell') AS cell, json_extract(metrics, '$.study.host') AS host,
         json_extract(metrics, '$.study.cellMs') AS ms
       FROM runs WHERE experiment_id = ? AND kind = 'study' AND status = 'done'`,
    )
    .all(id) as { cell: string; host: string; ms: number }[]
  return new Map(rows.map((r) => [r.cell, { host: r.host, ms: r.ms }]))
}

/** Cells that ended without runs (refused, failed, cancelled), with the reason. */
export function notedCells(db: DB, id: number): Record<string, CellNote> {
  return resultOf(db, id).cells ?? {}
}

/**
 * Writes a finished cell as runs of the study (kind `study`, one per α) and settles the study. Returns false when
 * the cell was already recorded (nothing is written).
 */
export function recordCell(db: DB, studyId: number, cell: GridCell, model: StudyModel, r: CellResult, queuedMs: number, total: number): boolean {
  const complete = runCompleter(db)
  let ids: number[] = []
  let settled: RunStatus | null = null
  const written = db.transaction(() => {
    if (recordedCells(db, studyId).has(cell.id)) return false
    const now = nowIso()
    ids = r.runs.map((run, j) => {
      const id = insertRun(db, {
        kind: 'study',
        experimentId: studyId,
        modelId: model.modelId,
        checkpointId: model.checkpoint?.id ?? null,
        base: model.checkpoint,
        modelRef: model.ref,
        prompt: cell.job.prompt,
        prefix: cell.job.prefix,
        phrase: cell.job.phrase,
        lr: run.lr,
        position: cell.index * cell.job.lrs.length + j,
        maxGen: cell.job.maxGen,
        maxSeq: cell.job.maxSeq,
        temperature: cell.job.temperature,
        topP: cell.job.topP,
        seed: cell.job.seed,
      })
      const m = { ...run.metrics, study: { ...run.metrics.study!, cell: cell.id, host: r.host, kernelPath: r.kernelPath, threads: r.threads, queuedMs, cellMs: r.cellMs } }
      complete({ id, outputIds: run.outputIds, outputText: run.outputText, fullText: run.fullText, metrics: m }, now, r.cellMs)
      return id
    })
    // a cell noted as refused or failed before, then finished elsewhere, is no longer noted
    const res = resultOf(db, studyId)
    if (res.cells?.[cell.id]) {
      delete res.cells[cell.id]
      db.prepare('UPDATE experiments SET result = ? WHERE id = ?').run(jsonOf(res), studyId)
    }
    settled = settleStudy(db, studyId, total)
    return true
  })()
  for (const id of ids) announce(db, { type: 'run', id, experimentId: studyId, status: 'done', change: 'finished' })
  if (settled) announce(db, { type: 'experiment', id: studyId, experimentId: studyId, status: settled, change: 'finished' })
  return written
}

/** Notes a cell that ended without runs (refused by a worker, failed, cancelled) and settles the study. */
export function noteCell(db: DB, studyId: number, cellId: string, note: CellNote, total: number): void {
  let settled: RunStatus | null = null
  db.transaction(() => {
    if (recordedCells(db, studyId).has(cellId)) return
    const res = resultOf(db, studyId)
    res.cells = { ...(res.cells ?? {}), [cellId]: note }
    db.prepare('UPDATE experiments SET result = ? WHERE id = ?').run(jsonOf(res), studyId)
    settled = settleStudy(db, studyId, total)
  })()
  if (settled) announce(db, { type: 'experiment', id: studyId, experimentId: studyId, status: settled, change: 'finished' })
}

/** Forgets the notes of cells about to be run again (the study resubmitted). */
export function clearNotes(db: DB, studyId: number, cellIds: string[]): void {
  const res = resultOf(db, studyId)
  if (!res.cells) return
  for (const c of cellIds) delete res.cells[c]
  db.prepare(`UPDATE experiments SET result = ?, status = 'running', finished_at = NULL, error = NULL WHERE id = ?`).run(jsonOf(res), studyId)
}

/**
 * The study's status from its cells: running while any cell has no outcome; then done when every cell is recorded,
 * cancelled when one was cancelled, else failed (with the count of refused/failed cells in words). Returns the new
 * status when the study just finished.
 */
export function settleStudy(db: DB, id: number, total: number): RunStatus | null {
  const done = recordedCells(db, id).size
  const notes = Object.values(notedCells(db, id))
  const before = (db.prepare('SELECT status FROM experiments WHERE id = ?').get(id) as { status: RunStatus } | undefined)?.status
  if (done + notes.length < total) {
    if (before !== 'running') db.prepare(`UPDATE experiments SET status = 'running', finished_at = NULL, error = NULL WHERE id = ?`).run(id)
    return null
  }
  const refused = notes.filter((n) => n.state === 'refused').length
  const failed = notes.filter((n) => n.state === 'failed').length
  const status: RunStatus = notes.length === 0 ? 'done' : notes.some((n) => n.state === 'cancelled') ? 'cancelled' : 'failed'
  const error = notes.length === 0 ? null : [refused ? `${refused} cell(s) refused by the workers` : '', failed ? `${failed} cell(s) failed` : '', notes.some((n) => n.state === 'cancelled') ? 'cancelled' : '']
    .filter(Boolean)
    .join('; ')
  db.prepare('UPDATE experiments SET status = ?, finished_at = COALESCE(finished_at, ?), error = ? WHERE id = ?').run(status, nowIso(), error, id)
  return before === 'running' ? status : null
}

/** α_learn and α_break of each (model, prompt, phrase) from its recorded runs (the grid's α; null when not bracketed). */
export function studyWindows(db: DB, id: number): StudyPhraseWindow[] {
  const rows = db
    .prepare(
      `SELECT r.prompt, r.phrase, r.lr, COALESCE(m.name, r.model_ref, '') AS model, json_extract(r.metrics, '$.study.learned') AS learned,
         json_extract(r.metrics, '$.study.broken') AS broken
       FROM runs r LEFT JOIN models m ON m.id = r.model_id WHERE r.experiment_id = ? AND r.kind = 'study' AND r.status = 'done'
       ORDER BY r.position`,
    )
    .all(id) as { prompt: string; phrase: string; lr: number; model: string; learned: number; broken: number }[]
  const by = new Map<string, typeof rows>()
  for (const r of rows) {
    const k = JSON.stringify([r.model, r.prompt, r.phrase])
    by.set(k, [...(by.get(k) ?? []), r])
  }
  return [...by.values()].map((rs) => {
    const learn = crossing(rs.map((r) => ({ lr: r.lr, yes: !!r.learned })))
    const brk = crossing(rs.map((r) => ({ lr: r.lr, yes: !!r.broken })))
    return {
      model: rs[0].model,
      prompt: rs[0].prompt,
      phrase: rs[0].phrase,
      // bracketed: some α below it did not (or it is the grid's smallest and not 0)
      alphaLearn: learn.at !== null && (learn.below !== null || learn.at > 0) ? learn.at : null,
      alphaBreak: brk.at !== null && (brk.below !== null || brk.at > 0) ? brk.at : null,
    }
  })
}
