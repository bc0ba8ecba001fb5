// The history's schema: migrations keyed by PRAGMA user_version, applied in order when the database is opened
// (history/db.ts). The history is SQLite through better-sqlite3 (synchronous, one connection per process), WAL journal
// so a reader (the UI) never blocks the writer.
import Database from 'better-sqlite3'

export type DB = Database.Database

/** A migration: SQL, or a function for one that needs to move data in code (it runs inside the same transaction). */
export type Migration = string | ((db: DB) => void)

/**
 * Ordered migrations: migrations[i] takes user_version i → i + 1. Never edit a released entry; append a new one.
 * v1 is the first released schema (models, runs, sweeps, checkpoints: docs/design.md, "Data model").
 * v2 generalises sweeps into groups (sweeps, lessons, comparisons), adds lineage/chain columns, columns extracted
 * from the metrics JSON for the UI's filters and scatter, process ownership of running rows, and their indices.
 * v3 makes every action an experiment (experiments table, runs.experiment_id; existing runs grouped by their group,
 * an ungrouped run is an experiment of its own), keeps the provenance of a run's base checkpoint on the run (id,
 * name and hash at the time) so it survives renames and deletion, moves deleted checkpoints to a Trash
 * (checkpoints.deleted_at), stores the engineered prefix apart from the prompt, and keeps per-model texts
 * (reference, probes, paraphrased prompts) by model fingerprint.
 * v4 records the process running an experiment and why it did not finish.
 * v5 folds run groups into experiments — one noun for one action: the group's request (args) and result move onto its
 * experiment, runs.group_index becomes runs.position (a run's place in its experiment), runs.group_id,
 * experiments.group_id and the run_groups table go. Nothing is lost: every group already had its experiment (v3 made
 * one per group; later groups were written with theirs), and a group found without one gets one here.
 */
export const MIGRATIONS: Migration[] = [
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
  // v3
  (db) => {
    db.exec(`
    CREATE TABLE experiments (
      id INTEGER PRIMARY KEY,
      kind TEXT NOT NULL,
      group_id INTEGER REFERENCES run_groups(id) ON DELETE SET NULL,
      model_id INTEGER REFERENCES models(id),
      model_fingerprint TEXT NOT NULL DEFAULT '',
      model_ref TEXT,
      base_checkpoint_id INTEGER,
      base_name TEXT,
      base_sha256 TEXT,
      prompt TEXT NOT NULL DEFAULT '',
      phrase TEXT,
      max_gen_len INTEGER,
      max_seq_len INTEGER,
      lrs TEXT NOT NULL DEFAULT '[]',
      settings TEXT NOT NULL DEFAULT '{}',
      result TEXT,
      status TEXT NOT NULL DEFAULT 'done',
      created_at TEXT NOT NULL,
      finished_at TEXT,
      title TEXT NOT NULL DEFAULT '',
      notes TEXT NOT NULL DEFAULT '',
      tags TEXT NOT NULL DEFAULT '[]',
      starred INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX experiments_created ON experiments(created_at);
    CREATE INDEX experiments_kind ON experiments(kind, created_at);
    CREATE INDEX experiments_group ON experiments(group_id);
    CREATE INDEX experiments_base ON experiments(base_checkpoint_id);

    ALTER TABLE runs ADD COLUMN experiment_id INTEGER REFERENCES experiments(id) ON DELETE SET NULL;
    ALTER TABLE runs ADD COLUMN base_checkpoint_id INTEGER;
    ALTER TABLE runs ADD COLUMN base_name TEXT;
    ALTER TABLE runs ADD COLUMN base_sha256 TEXT;
    ALTER TABLE runs ADD COLUMN prefix TEXT NOT NULL DEFAULT '';
    ALTER TABLE runs ADD COLUMN repetition REAL;
    CREATE INDEX runs_experiment ON runs(experiment_id, group_index);

    ALTER TABLE checkpoints ADD COLUMN deleted_at TEXT;

    CREATE TABLE model_texts (
      fingerprint TEXT PRIMARY KEY,
      reference TEXT,
      probes TEXT NOT NULL DEFAULT '{}',
      paraphrases TEXT NOT NULL DEFAULT '[]',
      updated_at TEXT NOT NULL
    );

    UPDATE runs SET base_checkpoint_id = checkpoint_id,
      base_name = (SELECT name FROM checkpoints WHERE checkpoints.id = runs.checkpoint_id),
      base_sha256 = (SELECT sha256 FROM checkpoints WHERE checkpoints.id = runs.checkpoint_id)
    WHERE checkpoint_id IS NOT NULL;
    UPDATE runs SET base_name = substr(model_ref, 6) WHERE checkpoint_id IS NULL AND model_ref LIKE 'ckpt:%';
    `)
    // existing groups (sweeps, comparisons, lessons) become experiments holding their runs
    const groups = db.prepare('SELECT * FROM run_groups ORDER BY id').all() as {
      id: number; kind: string; model_id: number; checkpoint_id: number | null; prompt: string; phrase: string; lrs: string
      args: string | null; result: string | null; status: string; created_at: string; finished_at: string | null
    }[]
    const ins = db.prepare(`INSERT INTO experiments (kind, group_id, model_id, model_fingerprint, model_ref, base_checkpoint_id,
      base_name, base_sha256, prompt, phrase, max_gen_len, max_seq_len, lrs, settings, result, status, created_at, finished_at)
      VALUES (?, ?, ?, COALESCE((SELECT fingerprint FROM models WHERE id = ?), ''), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
    for (const g of groups) {
      const first = db.prepare('SELECT * FROM runs WHERE group_id = ? ORDER BY id LIMIT 1').get(g.id) as
        | { model_ref: string | null; base_checkpoint_id: number | null; base_name: string | null; base_sha256: string | null; max_gen_len: number; max_seq_len: number }
        | undefined
      const id = Number(
        ins.run(g.kind, g.id, g.model_id, g.model_id, first?.model_ref ?? null, first?.base_checkpoint_id ?? g.checkpoint_id,
          first?.base_name ?? null, first?.base_sha256 ?? null, g.prompt, g.phrase || null, first?.max_gen_len ?? null,
          first?.max_seq_len ?? null, g.lrs, g.args ?? '{}', g.result, g.status, g.created_at, g.finished_at).lastInsertRowid,
      )
      db.prepare('UPDATE runs SET experiment_id = ? WHERE group_id = ?').run(id, g.id)
    }
    // an ungrouped run (generate, step) is an experiment of its own
    const single = db.prepare('SELECT * FROM runs WHERE experiment_id IS NULL ORDER BY id').all() as {
      id: number; kind: string; model_id: number; model_ref: string | null; base_checkpoint_id: number | null; base_name: string | null
      base_sha256: string | null; prompt: string; phrase: string | null; lr: number | null; max_gen_len: number; max_seq_len: number
      temperature: number; top_p: number; seed: number; status: string; started_at: string; finished_at: string | null
    }[]
    for (const r of single) {
      const settings = { prompt: r.prompt, phrase: r.phrase, lr: r.lr, maxGen: r.max_gen_len, maxSeq: r.max_seq_len,
        temperature: r.temperature, topP: r.top_p, seed: r.seed, model: r.model_ref }
      const id = Number(
        ins.run(r.kind, null, r.model_id, r.model_id, r.model_ref, r.base_checkpoint_id, r.base_name, r.base_sha256, r.prompt,
          r.phrase, r.max_gen_len, r.max_seq_len, JSON.stringify(r.lr === null ? [] : [r.lr]), JSON.stringify(settings), null,
          r.status, r.started_at, r.finished_at).lastInsertRowid,
      )
      db.prepare('UPDATE runs SET experiment_id = ? WHERE id = ?').run(id, r.id)
    }
  },
  // v4: an experiment records the process that runs it and why it did not finish: one left `running` by a process
  // that ended (disk full before its runs were written, a kill) is settled at the next open (history/settle.ts)
  `
  ALTER TABLE experiments ADD COLUMN owner TEXT;
  ALTER TABLE experiments ADD COLUMN error TEXT;
  `,
  // v5: run groups folded into experiments (see above)
  (db) => {
    db.exec('ALTER TABLE experiments ADD COLUMN args TEXT')
    const orphans = db
      .prepare('SELECT * FROM run_groups g WHERE NOT EXISTS (SELECT 1 FROM experiments e WHERE e.group_id = g.id) ORDER BY id')
      .all() as { id: number; kind: string; model_id: number; prompt: string; phrase: string; lrs: string; args: string | null; status: string; created_at: string; finished_at: string | null }[]
    const ins = db.prepare(`INSERT INTO experiments (kind, group_id, model_id, model_fingerprint, prompt, phrase, lrs, settings, status,
      created_at, finished_at) VALUES (?, ?, ?, COALESCE((SELECT fingerprint FROM models WHERE id = ?), ''), ?, ?, ?, ?, ?, ?, ?)`)
    for (const g of orphans)
      ins.run(g.kind, g.id, g.model_id, g.model_id, g.prompt, g.phrase || null, g.lrs, g.args ?? '{}', g.status, g.created_at, g.finished_at)
    db.exec(`
    UPDATE experiments SET
      args = (SELECT g.args FROM run_groups g WHERE g.id = experiments.group_id),
      result = COALESCE(result, (SELECT g.result FROM run_groups g WHERE g.id = experiments.group_id))
    WHERE group_id IS NOT NULL;
    UPDATE runs SET experiment_id = (SELECT MIN(e.id) FROM experiments e WHERE e.group_id = runs.group_id)
    WHERE experiment_id IS NULL AND group_id IS NOT NULL;
    -- a v1 sweep's runs had no index in their group: their place is their order
    UPDATE runs SET group_index = (SELECT COUNT(*) FROM runs r2 WHERE r2.group_id = runs.group_id AND r2.id < runs.id)
    WHERE group_id IS NOT NULL AND group_index IS NULL;
    DROP INDEX IF EXISTS runs_group;
    DROP INDEX IF EXISTS runs_experiment;
    DROP INDEX IF EXISTS experiments_group;
    DROP INDEX IF EXISTS groups_kind;
    ALTER TABLE runs RENAME COLUMN group_index TO position;
    ALTER TABLE runs DROP COLUMN group_id;
    ALTER TABLE experiments DROP COLUMN group_id;
    DROP TABLE run_groups;
    CREATE INDEX runs_experiment ON runs(experiment_id, position);
    `)
  },
]

export const SCHEMA_VERSION = MIGRATIONS.length

export class DbError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'DbError'
  }
}

/** Applies pending migrations, each in its own transaction. Refuses a database newer than this build. */
export function migrate(db: DB): { from: number; to: number } {
  const from = db.pragma('user_version', { simple: true }) as number
  refuseNewer(from)
  // foreign keys are checked after the whole migration (ALTER TABLE … RENAME rewrites references)
  db.pragma('foreign_keys = OFF')
  try {
    for (let v = from; v < MIGRATIONS.length; v++) {
      // one transaction per migration: a migration that fails leaves the database at the version before it
      db.transaction(() => {
        const m = MIGRATIONS[v]
        if (typeof m === 'string') db.exec(m)
        else m(db)
        db.pragma(`user_version = ${v + 1}`)
      })()
    }
    // only a migration is checked here: a reference left dangling by hand (a deleted parent checkpoint row) must not
    // lock the whole history; the lab names it where it is used ("its parent (id 3) is missing")
    if (from < MIGRATIONS.length) {
      const bad = db.pragma('foreign_key_check') as unknown[]
      if (bad.length) throw new DbError(`the history database has ${bad.length} dangling references after migration`)
    }
  } finally {
    db.pragma('foreign_keys = ON')
  }
  return { from, to: MIGRATIONS.length }
}

/** A history written by a newer build is left exactly as it is: checked before any write (WAL, migrations). */
export function refuseNewer(version: number): void {
  if (version > MIGRATIONS.length)
    throw new DbError(
      `this history was written by a newer Soliloquy (schema ${version} > ${MIGRATIONS.length}); refusing to change it — update Soliloquy`,
    )
}
