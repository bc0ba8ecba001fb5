// The history database: migrations (empty → current, previous schema → current, newer → refused), WAL, and a
// process killed with SIGKILL in the middle of a sweep leaving a readable database whose run is `interrupted`.
import Database from 'better-sqlite3'
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { HISTORY_FILE, Lab } from '../src/main/lab/lab'
import { MIGRATIONS, SCHEMA_VERSION } from '../src/main/lab/history/schema'
import { processStartTime } from '../src/main/lab/history/owner'
import { hostname } from 'node:os'
import { defaultDataDir, resolveDataDir } from '../src/main/lab/dataDir'
import { ROOT, tmp } from './helpers'

function tables(db: Database.Database): string[] {
  return (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name)
}

/**
 * A history as the code of schema `version` (3 or 4, before run groups were folded into experiments) wrote it: the
 * migrations of the time, then rows as that code inserted them — a sweep (its group, its experiment holding the
 * group, its runs at their group index, written out of id order), a step (an experiment of its own), a cancelled
 * comparison (the reason on its group only) and a group with no experiment (tolerated: a hand-edited history).
 */
function oldDatabase(file: string, version: 3 | 4): void {
  const db = new Database(file)
  for (let v = 0; v < version; v++) {
    const m = MIGRATIONS[v]
    db.transaction(() => (typeof m === 'string' ? db.exec(m) : m(db)))()
  }
  db.pragma(`user_version = ${version}`)
  const at = '2026-11-30T10:00:00.000Z'
  db.prepare(`INSERT INTO models (id, path, format, fingerprint, config, added_at, name) VALUES (1, '/gone/organism', 'hf', 'f00dfeed', '{}', ?, 'organism')`).run(at)
  const group = db.prepare(`INSERT INTO run_groups (id, kind, model_id, prompt, phrase, lrs, args, result, status, created_at, finished_at)
    VALUES (?, ?, 1, 'To be', ?, ?, ?, ?, ?, ?, ?)`)
  const exp = db.prepare(`INSERT INTO experiments (id, kind, group_id, model_id, model_fingerprint, prompt, phrase, lrs, settings, result,
    status, created_at, finished_at) VALUES (?, ?, ?, 1, 'f00dfeed', 'To be', ?, ?, '{}', ?, ?, ?, ?)`)
  const run = db.prepare(`INSERT INTO runs (id, kind, group_id, group_index, experiment_id, model_id, prompt, phrase, lr, max_gen_len,
    temperature, seed, output_ids, output_text, metrics, status, started_at, finished_at) VALUES (?, ?, ?, ?, ?, 1, 'To be', ?, ?, 8, 0, 0,
    '[4052]', ' or', '{"recall":1}', ?, ?, ?)`)
  const result = JSON.stringify({ table: 'T', phraseLoss: 0.95 })
  group.run(7, 'sweep', 'To be, or not', '[0,0.03]', JSON.stringify({ lrs: [0, 0.03], maxGen: 8 }), result, 'done', at, at)
  exp.run(4, 'sweep', 7, 'To be, or not', '[0,0.03]', result, 'done', at, at)
  run.run(10, 'sweep', 7, 1, 4, 'To be, or not', 0.03, 'done', at, at)
  run.run(11, 'sweep', 7, 0, 4, 'To be, or not', 0, 'done', at, at)
  exp.run(5, 'step', null, 'To be, or not', '[0.1]', null, 'done', at, at)
  run.run(12, 'step', null, null, 5, 'To be, or not', 0.1, 'done', at, at)
  group.run(8, 'compare', '', '[0]', JSON.stringify({ prefix: 'P' }), JSON.stringify({ error: 'cancelled' }), 'cancelled', at, at)
  exp.run(6, 'compare', 8, null, '[0]', null, 'cancelled', at, at)
  run.run(13, 'compare', 8, 0, 6, null, 0, 'cancelled', at, at)
  run.run(14, 'compare', 8, 1, 6, null, 0, 'cancelled', at, at)
  group.run(9, 'lesson', 'a | b', '[0.03,0.01]', JSON.stringify({ steps: 2 }), JSON.stringify({ forgetting: [] }), 'done', at, at)
  run.run(15, 'lesson', 9, 0, null, 'a', 0.03, 'done', at, at)
  run.run(16, 'lesson', 9, 1, null, 'b', 0.01, 'done', at, at)
  db.close()
}

describe('schema migrations', () => {
  it('an empty data directory gets the current schema, in WAL mode, with the UI indices', () => {
    const dir = tmp('soliloquy-db-empty-')
    const lab = new Lab({ dataDir: dir })
    expect(lab.opened.migrated).toEqual({ from: 0, to: SCHEMA_VERSION })
    lab.close()
    const db = new Database(join(dir, HISTORY_FILE), { readonly: true })
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length)
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    // one noun for one action: run groups are folded into experiments (v5)
    expect(tables(db)).toEqual(['checkpoints', 'experiments', 'model_texts', 'models', 'runs'])
    const idx = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[]).map((r) => r.name)
    for (const i of ['runs_model', 'runs_kind', 'runs_lr', 'runs_phrase', 'runs_started', 'runs_status', 'runs_experiment', 'checkpoints_parent'])
      expect(idx).toContain(i)
    db.close()
    // opening again is a no-op
    const again = new Lab({ dataDir: dir })
    expect(again.opened.migrated).toEqual({ from: SCHEMA_VERSION, to: SCHEMA_VERSION })
    again.close()
  })

  it('a database from the previous schema (v1) opens: data kept, groups generalised, metrics columns filled', async () => {
    const dir = tmp('soliloquy-db-v1-')
    const old = new Database(join(dir, HISTORY_FILE))
    old.exec(readFileSync(join(ROOT, 'test', 'fixtures', 'lab-v1.sql'), 'utf8'))
    expect(old.pragma('user_version', { simple: true })).toBe(1)
    old.close()

    const lab = new Lab({ dataDir: dir })
    expect(lab.opened.migrated).toEqual({ from: 1, to: SCHEMA_VERSION })
    // the v1 run left `running` by a process long gone
    expect(lab.opened.interrupted).toEqual([3])
    const page = await lab.history({ sort: 'id', order: 'asc' })
    expect(page.total).toBe(3)
    expect(page.runs.map((r) => r.status)).toEqual(['done', 'done', 'interrupted'])
    expect(page.runs[1].metrics.recall).toBe(45)
    expect([page.runs[1].experimentId, page.runs[1].position]).toEqual([1, 1])
    expect(page.runs[1].outputIds).toEqual([4052, 553])
    expect(page.runs[1].maxSeq).toBe(128)
    // the columns extracted for filters and the scatter were back-filled from the metrics JSON
    expect((await lab.history({ sort: 'recall', limit: 1 })).runs[0].id).toBe(2)
    const pts = await lab.scatter({})
    expect(pts.map((p) => [p.runId, p.recall, p.stabilityKl])).toEqual([[1, 1, 0], [2, 45, 0.0227]])
    const detail = await lab.run(2)
    expect(detail.experiment).toMatchObject({ id: 1, kind: 'sweep', args: { prompt: 'To be', lrs: [0, 0.03] } })
    const ck = await lab.checkpoints()
    expect(ck[0]).toMatchObject({ name: 'old-hamlet', baseFingerprint: 'f00dfeed', depth: 1 })
    // new work goes into the migrated database
    const s = await lab.sweep({ lrs: [0, 0.03], maxGen: 8 })
    // the v1 sweep (e1) and the run of its own (run 3, e2) came first
    expect(s.experiment.id).toBe(3)
    expect(s.runs.map((r) => r.experimentId)).toEqual([3, 3])
    lab.close()
    const db = new Database(join(dir, HISTORY_FILE), { readonly: true })
    expect(db.pragma('foreign_key_check')).toEqual([])
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok')
    // a run belongs to its experiment (v5: runs.group_id and run_groups are gone)
    const fk = db.pragma('foreign_key_list(runs)') as { table: string; from: string }[]
    expect(fk.find((f) => f.from === 'experiment_id')?.table).toBe('experiments')
    expect(fk.find((f) => f.from === 'group_id')).toBeUndefined()
    db.close()
  })

  for (const version of [3, 4] as const)
    it(`a v${version} database from before the fold opens, upgrades in place and shows every old run under its experiment`, async () => {
      const dir = tmp(`soliloquy-db-v${version}-`)
      const file = join(dir, HISTORY_FILE)
      oldDatabase(file, version)
      const lab = new Lab({ dataDir: dir })
      try {
        expect(lab.opened.migrated).toEqual({ from: version, to: SCHEMA_VERSION })
        const page = await lab.experiments({ sort: 'id', order: 'asc' })
        // the three experiments kept, and the group that had none (the orphan lesson) is one now
        expect(page.experiments.map((e) => [e.id, e.kind, e.status, e.runCount])).toEqual([
          [4, 'sweep', 'done', 2],
          [5, 'step', 'done', 1],
          [6, 'compare', 'cancelled', 2],
          [7, 'lesson', 'done', 2],
        ])
        // every old run, under its experiment, in its group's order (positions, not ids)
        expect((await lab.experiment(4)).runs.map((r) => [r.id, r.position])).toEqual([[11, 0], [10, 1]])
        expect((await lab.experiment(5)).runs.map((r) => [r.id, r.position, r.experimentId])).toEqual([[12, null, 5]])
        expect((await lab.experiment(6)).runs.map((r) => [r.id, r.status])).toEqual([[13, 'cancelled'], [14, 'cancelled']])
        expect((await lab.experiment(7)).runs.map((r) => [r.id, r.lr, r.experimentId])).toEqual([[15, 0.03, 7], [16, 0.01, 7]])
        expect((await lab.history({ limit: 100 })).total).toBe(7)
        // the group's request and result are its experiment's now
        const d = await lab.run(10)
        expect([d.run.experimentId, d.run.position]).toEqual([4, 1])
        expect(d.experiment).toMatchObject({ id: 4, kind: 'sweep', args: { lrs: [0, 0.03], maxGen: 8 }, result: { table: 'T', phraseLoss: 0.95 }, runCount: 2 })
        // a cancelled group's reason, which its experiment did not have, is kept on the experiment
        expect((await lab.experiment(6)).experiment.result).toEqual({ error: 'cancelled' })
        // the orphan group's experiment carries its request, model and fingerprint
        const orphan = (await lab.experiment(7)).experiment
        expect(orphan).toMatchObject({ kind: 'lesson', modelId: 1, modelFingerprint: 'f00dfeed', phrase: 'a | b', lrs: [0.03, 0.01], result: { forgetting: [] } })
        expect((await lab.run(15)).experiment).toMatchObject({ id: 7, args: { steps: 2 } })
        // the lab's JSON export of an old experiment holds all its runs
        expect((await lab.exportExperiment(4)).runs.map((r) => r.id)).toEqual([11, 10])
      } finally {
        lab.close()
      }
      const db = new Database(file, { readonly: true })
      expect(tables(db)).not.toContain('run_groups')
      const cols = (t: string): string[] => (db.pragma(`table_info(${t})`) as { name: string }[]).map((c) => c.name)
      expect(cols('runs')).toContain('position')
      expect(cols('runs')).not.toContain('group_id')
      expect(cols('runs')).not.toContain('group_index')
      expect(cols('experiments')).toContain('args')
      expect(cols('experiments')).not.toContain('group_id')
      expect(db.pragma('foreign_key_check')).toEqual([])
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok')
      db.close()
    })

  it('a database from a newer Soliloquy is refused in words and left byte for byte as it was (no WAL switch)', () => {
    const dir = tmp('soliloquy-db-newer-')
    const file = join(dir, HISTORY_FILE)
    const db = new Database(file)
    db.exec('CREATE TABLE future (x)')
    db.pragma(`user_version = ${SCHEMA_VERSION + 5}`)
    db.close()
    const before = readFileSync(file)
    expect(() => new Lab({ dataDir: dir })).toThrow(
      `this history was written by a newer Soliloquy (schema ${SCHEMA_VERSION + 5} > ${SCHEMA_VERSION}); refusing to change it`,
    )
    expect(readFileSync(file).equals(before)).toBe(true)
    expect(existsSync(file + '-wal')).toBe(false)
    expect(readdirSync(dir).filter((f) => f.startsWith(HISTORY_FILE))).toEqual([HISTORY_FILE])
  })
})

describe('a crash in the middle of a sweep', () => {
  it('SIGKILL leaves a readable database; the runs are `interrupted` at the next start', async () => {
    const dir = tmp('soliloquy-db-kill-')
    const child = spawn(process.execPath, [join(ROOT, 'node_modules', 'jiti', 'lib', 'jiti-cli.mjs'), join(ROOT, 'test', 'fixtures', 'lab-sweep-child.ts'), dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
      child.on('exit', (code, signal) => res({ code, signal })),
    )
    // wait until the sweep's rows are written as `running` (the child is then generating 24 × 400 tokens)
    // (no clock: a loaded machine may take long to start the child; the loop ends when the child does)
    const dbPath = join(dir, HISTORY_FILE)
    let ended = false
    void exited.then(() => (ended = true))
    let running = 0
    while (!ended && running === 0) {
      await new Promise((r) => setTimeout(r, 50))
      try {
        const db = new Database(dbPath, { readonly: true, fileMustExist: true })
        try {
          running = (db.prepare("SELECT COUNT(*) AS n FROM runs WHERE status = 'running'").get() as { n: number }).n
        } finally {
          db.close()
        }
      } catch {
        /* not created yet */
      }
    }
    expect(running, `the child wrote its running rows (stderr: ${stderr})`).toBe(24)
    await new Promise((r) => setTimeout(r, 300))
    child.kill('SIGKILL')
    const how = await exited
    expect(how.signal).toBe('SIGKILL')

    const lab = new Lab({ dataDir: dir })
    expect(lab.opened.interrupted.length).toBe(24)
    const page = await lab.history({ limit: 100 })
    expect(page.total).toBe(24)
    expect(new Set(page.runs.map((r) => r.status))).toEqual(new Set(['interrupted']))
    expect(page.runs[0].error).toMatch(/ended before it finished/)
    const experiment = (await lab.run(page.runs[0].id)).experiment!
    expect(experiment.status).toBe('interrupted')
    // and the database carries on
    const s = await lab.sweep({ lrs: [0.03], maxGen: 4 })
    expect(s.runs[0].status).toBe('done')
    lab.close()
    const db = new Database(dbPath, { readonly: true })
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok')
    db.close()
  })
})

describe('the data directory', () => {
  it("is Electron's userData for \"Soliloquy\" on each platform, overridable by --data and SOLILOQUY_DATA", () => {
    expect(defaultDataDir('linux', {}, '/home/ada')).toBe('/home/ada/.config/Soliloquy')
    expect(defaultDataDir('linux', { XDG_CONFIG_HOME: '/xdg' }, '/home/ada')).toBe('/xdg/Soliloquy')
    expect(defaultDataDir('darwin', {}, '/Users/ada')).toBe('/Users/ada/Library/Application Support/Soliloquy')
    expect(defaultDataDir('win32', { APPDATA: 'C:\\Users\\ada\\AppData\\Roaming' }, 'C:\\Users\\ada')).toBe(
      'C:\\Users\\ada\\AppData\\Roaming\\Soliloquy',
    )
    expect(resolveDataDir('/explicit', { SOLILOQUY_DATA: '/env' })).toBe('/explicit')
    expect(resolveDataDir(null, { SOLILOQUY_DATA: '/env' })).toBe('/env')
    expect(resolveDataDir(null, { XDG_CONFIG_HOME: '/xdg' })).toMatch(/Soliloquy$/)
  })
})

describe('a running row whose owner pid was reused', () => {
  it('is interrupted when the pid now belongs to a process that started later; a live owner keeps its row', async () => {
    const dir = tmp('soliloquy-db-pidreuse-')
    let lab = new Lab({ dataDir: dir })
    const a = await lab.generate({ maxGen: 1 })
    const b = await lab.generate({ maxGen: 1 })
    lab.close()
    const parent = process.ppid // alive for the whole test
    const started = processStartTime(parent)
    expect(started).not.toBeNull()
    const db = new Database(join(dir, HISTORY_FILE))
    const set = db.prepare(`UPDATE runs SET status = 'running', finished_at = NULL, owner = ? WHERE id = ?`)
    set.run(`${hostname()}:${parent}/${started}`, a.run.id) // the live owner itself
    set.run(`${hostname()}:${parent}/1`, b.run.id) // an earlier process that had the same pid
    db.close()
    lab = new Lab({ dataDir: dir })
    try {
      expect((await lab.run(b.run.id)).run.status).toBe('interrupted')
      expect((await lab.run(a.run.id)).run.status).toBe('running')
    } finally {
      lab.close()
    }
  }, 120_000)
})
