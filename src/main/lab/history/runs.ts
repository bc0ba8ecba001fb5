// The lab's history: SQLite through better-sqlite3 (synchronous, one connection per process), WAL journal so a
// reader (the UI) never blocks the writer, schema migrations keyed by PRAGMA user_version.
//
// A run row is written as `running` before any work starts and completed in one transaction, so a crash leaves
// either the `running` row or the complete result, never half a result. On open, `running` rows whose owning
// process is gone become `interrupted` (rows owned by a live process — the desktop app and the CLI may share a
// data directory — are left alone).
import Database from 'better-sqlite3'
import { hostname } from 'node:os'
import type {
  ChainStep,
  CheckpointRecord,
  GroupKind,
  GroupRecord,
  HistoryFilter,
  HistoryPage,
  RunKind,
  RunMetrics,
  RunRecord,
  RunStatus,
  ScatterPoint,
} from '../../shared/api'

export type DB = Database.Database

/**
 * Ordered migrations: migrations[i] takes user_version i → i + 1. Never edit a released entry; append a new one.
 * v1 is the first released schema (DESIGN §6 as first written: models, runs, sweeps, checkpoints).
 * v2 generalises sweeps into groups (sweeps, lessons, comparisons), adds lineage/chain columns, columns extracted
 * from the metrics JSON for the UI's filters and scatter, process ownership of running rows, and their indices.
 */
export const MIGRATIONS: string[] = [
  // v1
  `
  CREATE TABLE models (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    format TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    config TEXT NOT NULL,
    added_at TEXT NOT NULL
  );
  CREATE TABLE sweeps (
    id INTEGER PRIMARY KEY,
    model_id INTEGER NOT NULL REFERENCES models(id),
    prompt TEXT NOT NULL,
    phrase TEXT NOT NULL,
    lrs TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    sweep_id INTEGER REFERENCES sweeps(id),
    model_id INTEGER NOT NULL REFERENCES models(id),
    prompt TEXT NOT NULL,
    phrase TEXT,
    lr REAL,
    max_gen_len INTEGER NOT NULL,
    temperature REAL NOT NULL,
    seed INTEGER NOT NULL,
    output_ids TEXT,
    output_text TEXT,
    metrics TEXT,
    status TEXT NOT NULL,
    error TEXT,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    ms REAL
  );
  CREATE TABLE checkpoints (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    model_id INTEGER NOT NULL REFERENCES models(id),
    parent_id INTEGER REFERENCES checkpoints(id),
    phrase TEXT NOT NULL,
    lr REAL NOT NULL,
    file TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE INDEX runs_started ON runs(started_at);
  `,
  // v2
  `
  ALTER TABLE sweeps RENAME TO run_groups;
  ALTER TABLE run_groups ADD COLUMN kind TEXT NOT NULL DEFAULT 'sweep';
  ALTER TABLE run_groups ADD COLUMN checkpoint_id INTEGER REFERENCES checkpoints(id) ON DELETE SET NULL;
  ALTER TABLE run_groups ADD COLUMN args TEXT;
  ALTER TABLE run_groups ADD COLUMN result TEXT;
  ALTER TABLE run_groups ADD COLUMN status TEXT NOT NULL DEFAULT 'done';
  ALTER TABLE run_groups ADD COLUMN finished_at TEXT;
  UPDATE run_groups SET args = json_object('prompt', prompt, 'phrase', phrase, 'lrs', json(lrs)) WHERE args IS NULL;

  ALTER TABLE runs RENAME COLUMN sweep_id TO group_id;
  ALTER TABLE runs ADD COLUMN group_index INTEGER;
  ALTER TABLE runs ADD COLUMN checkpoint_id INTEGER REFERENCES checkpoints(id) ON DELETE SET NULL;
  ALTER TABLE runs ADD COLUMN model_ref TEXT;
  ALTER TABLE runs ADD COLUMN parent_run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL;
  ALTER TABLE runs ADD COLUMN chain TEXT NOT NULL DEFAULT '[]';
  ALTER TABLE runs ADD COLUMN max_seq_len INTEGER NOT NULL DEFAULT 128;
  ALTER TABLE runs ADD COLUMN top_p REAL NOT NULL DEFAULT 1;
  ALTER TABLE runs ADD COLUMN full_text TEXT;
  ALTER TABLE runs ADD COLUMN recall REAL;
  ALTER TABLE runs ADD COLUMN stability_kl REAL;
  ALTER TABLE runs ADD COLUMN loss_after REAL;
  ALTER TABLE runs ADD COLUMN distinct2 REAL;
  ALTER TABLE runs ADD COLUMN owner TEXT;
  UPDATE runs SET
    recall = json_extract(metrics, '$.recall'),
    stability_kl = json_extract(metrics, '$.stabilityKl'),
    loss_after = json_extract(metrics, '$.phraseLossAfter'),
    distinct2 = json_extract(metrics, '$.distinct2'),
    full_text = output_text
  WHERE metrics IS NOT NULL AND json_valid(metrics);

  ALTER TABLE models ADD COLUMN name TEXT;
  ALTER TABLE models ADD COLUMN files TEXT NOT NULL DEFAULT '{}';
  ALTER TABLE models ADD COLUMN params INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE models ADD COLUMN file_bytes INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE models ADD COLUMN embedded INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE models ADD COLUMN last_used_at TEXT;

  ALTER TABLE checkpoints ADD COLUMN run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL;
  ALTER TABLE checkpoints ADD COLUMN loss REAL NOT NULL DEFAULT 0;
  ALTER TABLE checkpoints ADD COLUMN base_fingerprint TEXT NOT NULL DEFAULT '';
  UPDATE checkpoints SET base_fingerprint = (SELECT fingerprint FROM models WHERE models.id = checkpoints.model_id);

  DROP INDEX runs_started;
  CREATE INDEX runs_started ON runs(started_at);
  CREATE INDEX runs_model ON runs(model_id, started_at);
  CREATE INDEX runs_kind ON runs(kind, started_at);
  CREATE INDEX runs_lr ON runs(lr);
  CREATE INDEX runs_phrase ON runs(phrase);
  CREATE INDEX runs_status ON runs(status);
  CREATE INDEX runs_group ON runs(group_id, group_index);
  CREATE INDEX runs_checkpoint ON runs(checkpoint_id);
  CREATE INDEX groups_kind ON run_groups(kind, created_at);
  CREATE INDEX checkpoints_parent ON checkpoints(parent_id);
  CREATE INDEX checkpoints_run ON checkpoints(run_id);
  `,
]

export const SCHEMA_VERSION = MIGRATIONS.length

export class DbError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'DbError'
  }
}

export function nowIso(): string {
  return new Date().toISOString()
}

/** "host:pid" of this process, stored on running rows so another process can tell whether they are orphaned. */
export const OWNER = `${hostname()}:${process.pid}`

function ownerAlive(owner: string | null): boolean {
  if (!owner) return false
  const i = owner.lastIndexOf(':')
  const host = owner.slice(0, i)
  const pid = Number(owner.slice(i + 1))
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0) return false
  // another Lab in this very process (e.g. a second worker thread) may be running it: leave it alone
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Applies pending migrations, each in its own transaction. Refuses a database newer than this build. */
export function migrate(db: DB): { from: number; to: number } {
  const from = db.pragma('user_version', { simple: true }) as number
  if (from > MIGRATIONS.length)
    throw new DbError(
      `the history database has schema version ${from}, newer than this Soliloquy understands (${MIGRATIONS.length}); update Soliloquy`,
    )
  // foreign keys are checked after the whole migration (ALTER TABLE … RENAME rewrites references)
  db.pragma('foreign_keys = OFF')
  try {
    for (let v = from; v < MIGRATIONS.length; v++) {
      db.transaction(() => {
        db.exec(MIGRATIONS[v])
        db.pragma(`user_version = ${v + 1}`)
      })()
    }
    const bad = db.pragma('foreign_key_check') as unknown[]
    if (bad.length) throw new DbError(`the history database has ${bad.length} dangling references after migration`)
  } finally {
    db.pragma('foreign_keys = ON')
  }
  return { from, to: MIGRATIONS.length }
}

export interface OpenResult {
  db: DB
  migrated: { from: number; to: number }
  /** runs found `running` from a process that is gone, now `interrupted` */
  interrupted: number[]
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
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    db.pragma('busy_timeout = 5000')
    const ok = db.pragma('quick_check', { simple: true })
    if (ok !== 'ok') throw new DbError(`the history database ${path} is damaged (${String(ok)})`)
    const migrated = migrate(db)
    const interrupted = markInterrupted(db)
    return { db, migrated, interrupted }
  } catch (e) {
    db.close()
    if (e instanceof DbError) throw e
    throw new DbError(`cannot open the history database ${path}: ${(e as Error).message}`)
  }
}

/** Leftover `running` rows of dead processes → `interrupted` (runs and groups). */
export function markInterrupted(db: DB): number[] {
  const rows = db.prepare(`SELECT id, owner, group_id FROM runs WHERE status = 'running'`).all() as {
    id: number
    owner: string | null
    group_id: number | null
  }[]
  const dead = rows.filter((r) => !ownerAlive(r.owner))
  const now = nowIso()
  db.transaction(() => {
    const upd = db.prepare(
      `UPDATE runs SET status = 'interrupted', finished_at = ?, error = 'the process running it ended before it finished' WHERE id = ?`,
    )
    for (const r of dead) upd.run(now, r.id)
    db.prepare(`UPDATE run_groups SET status = 'interrupted', finished_at = ? WHERE status = 'running'
      AND NOT EXISTS (SELECT 1 FROM runs WHERE runs.group_id = run_groups.id AND runs.status = 'running')`).run(now)
  })()
  return dead.map((r) => r.id)
}

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

// ---- groups -------------------------------------------------------------------------------------------------

interface GroupRow {
  id: number
  kind: GroupKind
  model_id: number
  checkpoint_id: number | null
  prompt: string
  phrase: string
  lrs: string
  args: string | null
  result: string | null
  status: RunStatus
  created_at: string
  finished_at: string | null
}

export function insertGroup(
  db: DB,
  g: { kind: GroupKind; modelId: number; checkpointId: number | null; prompt: string; phrase: string; lrs: number[]; args: unknown },
): number {
  const r = db.prepare(
    `INSERT INTO run_groups (kind, model_id, checkpoint_id, prompt, phrase, lrs, args, status, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?)`,
  ).run(g.kind, g.modelId, g.checkpointId, g.prompt, g.phrase, JSON.stringify(g.lrs), JSON.stringify(g.args), nowIso())
  return Number(r.lastInsertRowid)
}

export function finishGroup(db: DB, id: number, status: RunStatus, result: unknown): void {
  db.prepare('UPDATE run_groups SET status = ?, result = ?, finished_at = ? WHERE id = ?').run(
    status, result === undefined ? null : JSON.stringify(result), nowIso(), id)
}

export function getGroup(db: DB, id: number): GroupRecord | undefined {
  const g = db.prepare('SELECT * FROM run_groups WHERE id = ?').get(id) as GroupRow | undefined
  if (!g) return undefined
  const runIds = (db.prepare('SELECT id FROM runs WHERE group_id = ? ORDER BY group_index, id').all(id) as { id: number }[]).map(
    (r) => r.id,
  )
  return {
    id: g.id,
    kind: g.kind,
    modelId: g.model_id,
    checkpointId: g.checkpoint_id,
    args: g.args ? (JSON.parse(g.args) as Record<string, unknown>) : { prompt: g.prompt, phrase: g.phrase, lrs: JSON.parse(g.lrs) },
    result: g.result ? (JSON.parse(g.result) as Record<string, unknown>) : null,
    status: g.status,
    createdAt: g.created_at,
    finishedAt: g.finished_at,
    runIds,
  }
}

// ---- runs ---------------------------------------------------------------------------------------------------

export interface NewRun {
  kind: RunKind
  groupId?: number | null
  groupIndex?: number | null
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
    `INSERT INTO runs (kind, group_id, group_index, model_id, checkpoint_id, model_ref, parent_run_id, chain, prompt,
       phrase, lr, max_gen_len, max_seq_len, temperature, top_p, seed, status, owner, started_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?)`,
  ).run(r.kind, r.groupId ?? null, r.groupIndex ?? null, r.modelId, r.checkpointId ?? null, r.modelRef ?? null,
    r.parentRunId ?? null, JSON.stringify(r.chain ?? []), r.prompt, r.phrase ?? null, r.lr ?? null, r.maxGen, r.maxSeq,
    r.temperature, r.topP, r.seed, OWNER, nowIso())
  return Number(res.lastInsertRowid)
}

export function setParentRun(db: DB, id: number, parentRunId: number): void {
  db.prepare('UPDATE runs SET parent_run_id = ? WHERE id = ?').run(parentRunId, id)
}

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

/** JSON that survives NaN/∞ (stored as null) — metrics of a diverged step can be infinite. */
function metricsJson(m: RunMetrics): string {
  return JSON.stringify(m, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v))
}

/** Completes runs (and optionally their group) in one transaction. */
export function completeRuns(
  db: DB,
  outcomes: RunOutcome[],
  startedMs: number,
  group?: { id: number; result: unknown },
): void {
  const now = nowIso()
  const ms = Date.now() - startedMs
  const upd = db.prepare(
    `UPDATE runs SET status = 'done', output_ids = ?, output_text = ?, full_text = ?, metrics = ?, recall = ?,
       stability_kl = ?, loss_after = ?, distinct2 = ?, error = NULL, finished_at = ?, ms = ? WHERE id = ?`,
  )
  db.transaction(() => {
    for (const o of outcomes)
      upd.run(JSON.stringify(o.outputIds), o.outputText, o.fullText, metricsJson(o.metrics), finiteOrNull(o.metrics.recall),
        finiteOrNull(o.metrics.stabilityKl), finiteOrNull(o.metrics.phraseLossAfter), finiteOrNull(o.metrics.distinct2),
        now, ms, o.id)
    if (group) finishGroup(db, group.id, 'done', group.result)
  })()
}

/** Marks runs (still `running`) failed or cancelled, with the reason. */
export function abortRuns(db: DB, ids: number[], status: 'failed' | 'cancelled', error: string, startedMs: number, groupId?: number): void {
  const now = nowIso()
  const ms = Date.now() - startedMs
  const upd = db.prepare(`UPDATE runs SET status = ?, error = ?, finished_at = ?, ms = ? WHERE id = ? AND status = 'running'`)
  db.transaction(() => {
    for (const id of ids) upd.run(status, error, now, ms, id)
    if (groupId !== undefined) finishGroup(db, groupId, status, { error })
  })()
}

interface RunRow {
  id: number
  kind: RunKind
  group_id: number | null
  group_index: number | null
  model_id: number
  checkpoint_id: number | null
  model_ref: string | null
  parent_run_id: number | null
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

function toRecord(r: RunRow): RunRecord {
  return {
    id: r.id,
    kind: r.kind,
    groupId: r.group_id,
    groupIndex: r.group_index,
    modelId: r.model_id,
    checkpointId: r.checkpoint_id,
    modelRef: r.model_ref,
    parentRunId: r.parent_run_id,
    chain: JSON.parse(r.chain || '[]') as ChainStep[],
    prompt: r.prompt,
    phrase: r.phrase,
    lr: r.lr,
    maxGen: r.max_gen_len,
    maxSeq: r.max_seq_len,
    temperature: r.temperature,
    topP: r.top_p,
    seed: r.seed,
    outputIds: r.output_ids ? (JSON.parse(r.output_ids) as number[]) : [],
    outputText: r.output_text ?? '',
    fullText: r.full_text ?? r.output_text ?? '',
    metrics: r.metrics ? (JSON.parse(r.metrics) as RunMetrics) : {},
    status: r.status,
    error: r.error,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    ms: r.ms,
  }
}

export function getRun(db: DB, id: number): RunRecord | undefined {
  const r = db.prepare('SELECT * FROM runs WHERE id = ?').get(id) as RunRow | undefined
  return r ? toRecord(r) : undefined
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
  const w: string[] = []
  const p: unknown[] = []
  if (f.model !== undefined && f.model !== '') {
    if (typeof f.model === 'number') {
      w.push('model_id = ?')
      p.push(f.model)
    } else {
      w.push('model_id IN (SELECT id FROM models WHERE path LIKE ? OR name LIKE ?)')
      p.push(`%${f.model}%`, `%${f.model}%`)
    }
  }
  if (f.phrase) {
    w.push('phrase LIKE ?')
    p.push(`%${f.phrase}%`)
  }
  if (f.lrMin !== undefined) {
    w.push('lr >= ?')
    p.push(f.lrMin)
  }
  if (f.lrMax !== undefined) {
    w.push('lr <= ?')
    p.push(f.lrMax)
  }
  if (f.from) {
    w.push('started_at >= ?')
    p.push(f.from)
  }
  if (f.to) {
    // a bare date means the whole day
    w.push('started_at <= ?')
    p.push(/^\d{4}-\d{2}-\d{2}$/.test(f.to) ? `${f.to}T23:59:59.999Z` : f.to)
  }
  for (const [key, col] of [['kind', 'kind'], ['status', 'status']] as const) {
    const v = f[key]
    if (v === undefined) continue
    const list = Array.isArray(v) ? v : [v]
    if (list.length === 0) continue
    w.push(`${col} IN (${list.map(() => '?').join(', ')})`)
    p.push(...list)
  }
  if (f.groupId !== undefined) {
    w.push('group_id = ?')
    p.push(f.groupId)
  }
  if (f.checkpointId !== undefined) {
    w.push('checkpoint_id = ?')
    p.push(f.checkpointId)
  }
  return { sql: w.length ? `WHERE ${w.join(' AND ')}` : '', params: p }
}

export function queryRuns(db: DB, f: HistoryFilter = {}): HistoryPage {
  const { sql, params } = whereClause(f)
  const col = SORT_COLUMNS[f.sort ?? 'started'] ?? 'started_at'
  const order = f.order === 'asc' ? 'ASC' : 'DESC'
  const limit = Number.isFinite(f.limit) ? Math.max(1, Math.min(1000, Math.floor(f.limit!))) : 50
  const offset = Number.isFinite(f.offset) ? Math.max(0, Math.floor(f.offset!)) : 0
  const total = (db.prepare(`SELECT COUNT(*) AS n FROM runs ${sql}`).get(...params) as { n: number }).n
  const rows = db
    .prepare(`SELECT * FROM runs ${sql} ORDER BY ${col} IS NULL, ${col} ${order}, id ${order} LIMIT ? OFFSET ?`)
    .all(...params, limit, offset) as RunRow[]
  return { total, runs: rows.map(toRecord) }
}

export function scatterPoints(db: DB, f: HistoryFilter = {}): ScatterPoint[] {
  const { sql, params } = whereClause({ status: 'done', ...f })
  const rows = db
    .prepare(
      `SELECT id, kind, model_id, group_id, phrase, lr, recall, loss_after, stability_kl, distinct2, started_at,
         json_extract(metrics, '$.referenceLogprob') AS ref_lp
       FROM runs ${sql} ORDER BY started_at, id LIMIT 20000`,
    )
    .all(...params) as {
    id: number
    kind: RunKind
    model_id: number
    group_id: number | null
    phrase: string | null
    lr: number | null
    recall: number | null
    loss_after: number | null
    stability_kl: number | null
    distinct2: number | null
    started_at: string
    ref_lp: number | null
  }[]
  return rows.map((r) => ({
    runId: r.id,
    kind: r.kind,
    modelId: r.model_id,
    groupId: r.group_id,
    phrase: r.phrase,
    lr: r.lr,
    recall: r.recall,
    phraseLossAfter: r.loss_after,
    referenceLogprob: r.ref_lp,
    stabilityKl: r.stability_kl,
    distinct2: r.distinct2,
    startedAt: r.started_at,
  }))
}

// ---- checkpoints --------------------------------------------------------------------------------------------

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
}

export function insertCheckpoint(
  db: DB,
  c: {
    name: string
    modelId: number
    parentId: number | null
    runId: number | null
    phrase: string
    lr: number
    loss: number
    file: string
    sha256: string
    bytes: number
    baseFingerprint: string
    createdAt: string
  },
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
    }
  })
}

export function listCheckpointRows(db: DB): CheckpointRecord[] {
  return checkpointRecords(db, db.prepare('SELECT * FROM checkpoints ORDER BY created_at, id').all() as CheckpointRow[])
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
