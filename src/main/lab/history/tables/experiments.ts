// Experiments: one row per action (generate, step, sweep, compare, lesson, and the instruments: layer study, window
// search, emergence heatmap) holding its runs. An experiment is created `running` before its runs are written and
// settled from its runs when they finish (done when all are done; else cancelled / failed / interrupted), in the
// same transaction that finishes them. Notes, tags, a title and a star are the researcher's own.
import type {
  BaseCheckpoint,
  ExperimentFilter,
  ExperimentKind,
  ExperimentPage,
  ExperimentSummary,
  RunStatus,
  UpdateExperimentRequest,
} from '../../../../shared/api'
import { TRASH_DAYS } from '../../../../shared/api'
import { announce } from '../events'
import { nowIso } from '../clock'
import { orderBy, page, Where } from '../filter'
import type { DB } from '../db'

/** Provenance of a base checkpoint: what it was called at the time, and what became of it (live, trashed, purged). */
export function baseOf(db: DB, id: number | null, nameThen: string | null, sha256Then: string | null): BaseCheckpoint | null {
  if (id === null && nameThen === null) return null
  const c =
    id !== null
      ? (db.prepare('SELECT name, sha256, deleted_at FROM checkpoints WHERE id = ?').get(id) as
          | { name: string; sha256: string; deleted_at: string | null }
          | undefined)
      : undefined
  return {
    id: id ?? -1,
    name: nameThen ?? c?.name ?? '',
    sha256: sha256Then ?? c?.sha256 ?? '',
    currentName: c?.name ?? null,
    state: !c ? 'purged' : c.deleted_at ? 'trashed' : 'live',
    deletedAt: c?.deleted_at ?? null,
  }
}

export interface NewExperiment {
  kind: ExperimentKind
  /** the request as run, for kinds with several runs (ExperimentSummary.args) */
  args?: unknown
  modelId: number | null
  modelFingerprint: string
  modelRef: string | null
  base: { id: number; name: string; sha256: string } | null
  prompt: string
  phrase: string | null
  maxGen: number | null
  maxSeq: number | null
  lrs: number[]
  /** the full settings as run (plain JSON) */
  settings: Record<string, unknown>
  /** the process running it ("host:pid/start", runs.ts OWNER): another process settles it if this one ends first */
  owner?: string
}

/** Writes an experiment as `running` (before its runs). Instruments call this too, then insertRun with experimentId. */
export function createExperiment(db: DB, e: NewExperiment): number {
  const r = db
    .prepare(
      `INSERT INTO experiments (kind, args, model_id, model_fingerprint, model_ref, base_checkpoint_id, base_name, base_sha256,
         prompt, phrase, max_gen_len, max_seq_len, lrs, settings, status, created_at, owner)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?)`,
    )
    .run(e.kind, e.args === undefined ? null : jsonOf(e.args), e.modelId, e.modelFingerprint, e.modelRef, e.base?.id ?? null, e.base?.name ?? null,
      e.base?.sha256 ?? null, e.prompt, e.phrase, e.maxGen, e.maxSeq, JSON.stringify(e.lrs), jsonOf(e.settings), nowIso(), e.owner ?? null)
  const id = Number(r.lastInsertRowid)
  announce(db, { type: 'experiment', id, experimentId: id, status: 'running', change: 'created' })
  return id
}

export function jsonOf(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? null : x))
}

/** Stores an experiment's result summary (the sweep's table, an instrument's numbers). */
export function setExperimentResult(db: DB, id: number, result: unknown): void {
  db.prepare('UPDATE experiments SET result = ? WHERE id = ?').run(result === undefined ? null : jsonOf(result), id)
}

/** The experiments that runs `runIds` belong to, each once. */
export function experimentsOf(db: DB, runIds: number[]): number[] {
  const get = db.prepare('SELECT experiment_id AS e FROM runs WHERE id = ?')
  const out = new Set<number>()
  for (const id of runIds) {
    const r = get.get(id) as { e: number | null } | undefined
    if (r?.e != null) out.add(r.e)
  }
  return [...out]
}

interface ExperimentRow {
  id: number
  kind: ExperimentKind
  args: string | null
  model_id: number | null
  model_fingerprint: string
  model_ref: string | null
  base_checkpoint_id: number | null
  base_name: string | null
  base_sha256: string | null
  prompt: string
  phrase: string | null
  max_gen_len: number | null
  max_seq_len: number | null
  lrs: string
  settings: string
  result: string | null
  status: RunStatus
  created_at: string
  finished_at: string | null
  title: string
  notes: string
  tags: string
  starred: number
  error: string | null
  model_name: string | null
  model_path: string | null
  run_count: number
}

const SELECT = `SELECT e.*, m.name AS model_name, m.path AS model_path,
  (SELECT COUNT(*) FROM runs WHERE runs.experiment_id = e.id) AS run_count
  FROM experiments e LEFT JOIN models m ON m.id = e.model_id`

function parse<T>(s: string | null, d: T): T {
  if (!s) return d
  try {
    return JSON.parse(s) as T
  } catch {
    return d
  }
}

function toSummary(db: DB, r: ExperimentRow): ExperimentSummary {
  const statuses = db.prepare('SELECT status, COUNT(*) AS n FROM runs WHERE experiment_id = ? GROUP BY status').all(r.id) as {
    status: string
    n: number
  }[]
  return {
    id: r.id,
    kind: r.kind,
    status: r.status,
    createdAt: r.created_at,
    finishedAt: r.finished_at,
    modelId: r.model_id,
    modelName: r.model_name,
    modelFingerprint: r.model_fingerprint,
    modelRef: r.model_ref,
    base: baseOf(db, r.base_checkpoint_id, r.base_name, r.base_sha256),
    prompt: r.prompt,
    phrase: r.phrase,
    maxGen: r.max_gen_len,
    maxSeq: r.max_seq_len,
    lrs: parse<number[]>(r.lrs, []),
    settings: parse<Record<string, unknown>>(r.settings, {}),
    result: parse<Record<string, unknown> | null>(r.result, null),
    title: r.title,
    notes: r.notes,
    tags: parse<string[]>(r.tags, []),
    starred: r.starred === 1,
    runCount: r.run_count,
    runStatuses: Object.fromEntries(statuses.map((s) => [s.status, s.n])),
    args: parse<Record<string, unknown> | null>(r.args, null),
    error: r.error ?? null,
  }
}

export function getExperiment(db: DB, id: number): ExperimentSummary | undefined {
  const r = db.prepare(`${SELECT} WHERE e.id = ?`).get(id) as ExperimentRow | undefined
  return r ? toSummary(db, r) : undefined
}

/** The model path of an experiment (for exports). */
export function experimentModelPath(db: DB, id: number): string | null {
  const r = db.prepare('SELECT m.path FROM experiments e LEFT JOIN models m ON m.id = e.model_id WHERE e.id = ?').get(id) as
    | { path: string | null }
    | undefined
  return r?.path ?? null
}

const SORTS: Record<NonNullable<ExperimentFilter['sort']>, string> = {
  created: 'e.created_at',
  finished: 'e.finished_at',
  kind: 'e.kind',
  runs: 'run_count',
  id: 'e.id',
}

export function listExperiments(db: DB, f: ExperimentFilter = {}): ExperimentPage {
  const w = new Where()
  w.inList('e.kind', f.kind)
  w.inList('e.status', f.status)
  if (f.tag) w.add(`EXISTS (SELECT 1 FROM json_each(e.tags) WHERE lower(json_each.value) = lower(?))`, f.tag.trim())
  if (f.starred !== undefined) w.add('e.starred = ?', f.starred ? 1 : 0)
  if (f.text) {
    const like = `%${f.text}%`
    w.add(`(e.title LIKE ? OR e.notes LIKE ? OR e.prompt LIKE ? OR COALESCE(e.phrase, '') LIKE ? OR e.tags LIKE ?)`, like, like, like, like, like)
  }
  if (f.model !== undefined && f.model !== '') {
    if (typeof f.model === 'number') w.add('e.model_id = ?', f.model)
    else w.add('(m.path LIKE ? OR m.name LIKE ? OR e.model_fingerprint = ?)', `%${f.model}%`, `%${f.model}%`, f.model)
  }
  if (f.checkpointId !== undefined) w.add('e.base_checkpoint_id = ?', f.checkpointId)
  w.dateRange('e.created_at', f.from, f.to)
  const col = SORTS[f.sort ?? 'created']
  const { limit, offset } = page(f)
  const total = (db.prepare(`SELECT COUNT(*) AS n FROM experiments e LEFT JOIN models m ON m.id = e.model_id ${w.sql}`).get(...w.params) as { n: number }).n
  const rows = db
    .prepare(`${SELECT} ${w.sql} ${orderBy(col, f.order, 'e.id')} LIMIT ? OFFSET ?`)
    .all(...w.params, limit, offset) as ExperimentRow[]
  return { total, experiments: rows.map((r) => toSummary(db, r)) }
}

/** Notes, tags (trimmed, de-duplicated case-insensitively), title and star. */
export function updateExperiment(db: DB, u: UpdateExperimentRequest): ExperimentSummary | undefined {
  const cur = getExperiment(db, u.id)
  if (!cur) return undefined
  let tags = cur.tags
  if (u.tags !== undefined) {
    // the first spelling of a tag wins: "hamlet" and " Hamlet " are one tag
    const byKey = new Map<string, string>()
    for (const t of u.tags) if (!byKey.has(t.trim().toLowerCase())) byKey.set(t.trim().toLowerCase(), t.trim())
    tags = [...byKey.values()]
  }
  db.prepare('UPDATE experiments SET title = ?, notes = ?, tags = ?, starred = ? WHERE id = ?').run(
    u.title ?? cur.title, u.notes ?? cur.notes, JSON.stringify(tags), (u.starred ?? cur.starred) ? 1 : 0, u.id)
  announce(db, { type: 'experiment', id: u.id, experimentId: u.id, status: cur.status, change: 'updated' })
  return getExperiment(db, u.id)
}
