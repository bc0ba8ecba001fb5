// Runs, each in its experiment at its position (a sweep's α columns, a lesson's steps, a comparison's cells): inserted
// `running` before any work (their end is history/lifecycle.ts); history queries (filters, sort, paging) and the
// plasticity/stability scatter. (Schema v5 folded the run groups of v2–v4 into experiments: a run's experiment and
// position are all that place it.)
import type {
  HistoryFilter,
  HistoryPage,
  RunKind,
  RunMetrics,
  RunRecord,
  RunStatus,
  ScatterPoint,
  ChainStep,
} from '../../../../shared/api'
import type { DB } from '../db'
import { announce } from '../events'
import { jsonCell } from '../cells'
import { baseOf } from './experiments'
import { nowIso } from '../clock'
import { OWNER } from '../owner'
import { orderBy, page, Where } from '../filter'

// ---- runs ---------------------------------------------------------------------------------------------------

/** The experiments the given runs belong to (distinct). */
export interface NewRun {
  kind: RunKind
  /** the experiment (one action) it belongs to */
  experimentId?: number | null
  /** the checkpoint it starts from: id, name and hash at the time (kept when the checkpoint is renamed or deleted) */
  base?: { id: number; name: string; sha256: string } | null
  /** prompt engineering: generated in front of the prompt, excluded from recall */
  prefix?: string
  /** its place in its experiment (a sweep's α column, a lesson's step, a comparison's cell); null for a lone run */
  position?: number | null
  modelId: number
  checkpointId?: number | null
  modelRef?: string | null
  parentRunId?: number | null
  chain?: ChainStep[]
  prompt: string
  phrase?: string | null
  lr?: number | null
  maxGen: number
  maxSeq: number
  temperature: number
  topP: number
  seed: number
}

/** Inserts a run as `running` (before any work is done). */
export function insertRun(db: DB, r: NewRun): number {
  const res = db.prepare(
    `INSERT INTO runs (kind, experiment_id, position, model_id, checkpoint_id, base_checkpoint_id, base_name,
       base_sha256, model_ref, parent_run_id, chain, prompt, prefix, phrase, lr, max_gen_len, max_seq_len, temperature,
       top_p, seed, status, owner, started_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?)`,
  ).run(r.kind, r.experimentId ?? null, r.position ?? null, r.modelId, r.checkpointId ?? null,
    r.base?.id ?? null, r.base?.name ?? null, r.base?.sha256 ?? null, r.modelRef ?? null,
    r.parentRunId ?? null, JSON.stringify(r.chain ?? []), r.prompt, r.prefix ?? '', r.phrase ?? null, r.lr ?? null, r.maxGen,
    r.maxSeq, r.temperature, r.topP, r.seed, OWNER, nowIso())
  const id = Number(res.lastInsertRowid)
  announce(db, { type: 'run', id, experimentId: r.experimentId ?? null, status: 'running', change: 'created' })
  return id
}

interface RunRow {
  id: number
  kind: RunKind
  position: number | null
  model_id: number
  checkpoint_id: number | null
  model_ref: string | null
  parent_run_id: number | null
  experiment_id: number | null
  base_checkpoint_id: number | null
  base_name: string | null
  base_sha256: string | null
  prefix: string | null
  chain: string
  prompt: string
  phrase: string | null
  lr: number | null
  max_gen_len: number
  max_seq_len: number
  temperature: number
  top_p: number
  seed: number
  output_ids: string | null
  output_text: string | null
  full_text: string | null
  metrics: string | null
  status: RunStatus
  error: string | null
  started_at: string
  finished_at: string | null
  ms: number | null
}

function toRecord(db: DB, r: RunRow): RunRecord {
  const unreadable: string[] = []
  const rec: RunRecord = {
    id: r.id,
    kind: r.kind,
    experimentId: r.experiment_id ?? null,
    base: baseOf(db, r.base_checkpoint_id ?? r.checkpoint_id, r.base_name, r.base_sha256),
    position: r.position,
    modelId: r.model_id,
    checkpointId: r.checkpoint_id,
    modelRef: r.model_ref,
    parentRunId: r.parent_run_id,
    chain: jsonCell<ChainStep[]>(r.chain, [], 'chain', unreadable),
    prompt: r.prompt,
    prefix: r.prefix ?? '',
    phrase: r.phrase,
    lr: r.lr,
    maxGen: r.max_gen_len,
    maxSeq: r.max_seq_len,
    temperature: r.temperature,
    topP: r.top_p,
    seed: r.seed,
    outputIds: jsonCell<number[]>(r.output_ids, [], 'outputIds', unreadable),
    outputText: r.output_text ?? '',
    fullText: r.full_text ?? r.output_text ?? '',
    metrics: jsonCell<RunMetrics>(r.metrics, {}, 'metrics', unreadable),
    status: r.status,
    error: r.error,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    ms: r.ms,
  }
  if (unreadable.length) rec.unreadable = unreadable
  return rec
}

/** Every run of an experiment, in its order. */
export function experimentRuns(db: DB, experimentId: number): RunRecord[] {
  const rows = db.prepare('SELECT * FROM runs WHERE experiment_id = ? ORDER BY position, id').all(experimentId) as RunRow[]
  return rows.map((r) => toRecord(db, r))
}

export function getRun(db: DB, id: number): RunRecord | undefined {
  const r = db.prepare('SELECT * FROM runs WHERE id = ?').get(id) as RunRow | undefined
  return r ? toRecord(db, r) : undefined
}

const SORT_COLUMNS: Record<NonNullable<HistoryFilter['sort']>, string> = {
  started: 'started_at',
  lr: 'lr',
  recall: 'recall',
  stability: 'stability_kl',
  loss: 'loss_after',
  ms: 'ms',
  id: 'id',
}

function whereClause(f: HistoryFilter): { sql: string; params: unknown[] } {
  const w = new Where()
  if (f.model !== undefined && f.model !== '') {
    if (typeof f.model === 'number') w.add('model_id = ?', f.model)
    else w.add('model_id IN (SELECT id FROM models WHERE path LIKE ? OR name LIKE ?)', `%${f.model}%`, `%${f.model}%`)
  }
  if (f.phrase) w.add('phrase LIKE ?', `%${f.phrase}%`)
  if (f.lrMin !== undefined) w.add('lr >= ?', f.lrMin)
  if (f.lrMax !== undefined) w.add('lr <= ?', f.lrMax)
  w.dateRange('started_at', f.from, f.to)
  w.inList('kind', f.kind)
  w.inList('status', f.status)
  if (f.experimentId !== undefined) w.add('experiment_id = ?', f.experimentId)
  if (f.checkpointId !== undefined) w.add('COALESCE(base_checkpoint_id, checkpoint_id) = ?', f.checkpointId)
  return { sql: w.sql, params: w.params }
}

export function queryRuns(db: DB, f: HistoryFilter = {}): HistoryPage {
  const { sql, params } = whereClause(f)
  const col = SORT_COLUMNS[f.sort ?? 'started'] ?? 'started_at'
  const { limit, offset } = page(f)
  const total = (db.prepare(`SELECT COUNT(*) AS n FROM runs ${sql}`).get(...params) as { n: number }).n
  const rows = db
    .prepare(`SELECT * FROM runs ${sql} ${orderBy(col, f.order, 'id')} LIMIT ? OFFSET ?`)
    .all(...params, limit, offset) as RunRow[]
  return { total, runs: rows.map((r) => toRecord(db, r)) }
}

export function scatterPoints(db: DB, f: HistoryFilter = {}): ScatterPoint[] {
  const { sql, params } = whereClause({ status: 'done', ...f })
  const rows = db
    .prepare(
      `SELECT id, kind, model_id, phrase, lr, recall, loss_after, stability_kl, distinct2, started_at,
         json_extract(metrics, '$.referenceLogprob') AS ref_lp, repetition, experiment_id,
         json_extract(metrics, '$.compressionRatio') AS compression, prefix <> '' AS prefixed
       FROM runs ${sql} ORDER BY started_at, id LIMIT 20000`,
    )
    .all(...params) as {
    id: number
    kind: RunKind
    model_id: number
    phrase: string | null
    lr: number | null
    recall: number | null
    loss_after: number | null
    stability_kl: number | null
    distinct2: number | null
    started_at: string
    ref_lp: number | null
    repetition: number | null
    compression: number | null
    experiment_id: number | null
    prefixed: number
  }[]
  return rows.map((r) => ({
    runId: r.id,
    kind: r.kind,
    modelId: r.model_id,
    phrase: r.phrase,
    lr: r.lr,
    recall: r.recall,
    phraseLossAfter: r.loss_after,
    referenceLogprob: r.ref_lp,
    stabilityKl: r.stability_kl,
    distinct2: r.distinct2,
    repetition: r.repetition,
    compressionRatio: r.compression,
    experimentId: r.experiment_id,
    prefixed: r.prefixed === 1,
    startedAt: r.started_at,
  }))
}

