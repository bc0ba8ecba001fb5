// Damaged state on disk gives a clear error and corrupts nothing: a history database of garbage bytes or cut short,
// a migration that fails half-way (rolled back: user_version and tables as before), a checkpoint whose file is gone,
// a checkpoint whose parent's file or row is gone.
import Database from 'better-sqlite3'
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { HISTORY_FILE, Lab } from '../src/main/lab/lab'
import { ROOT, tmp } from './helpers'

const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex')

function schema(path: string): { version: number; objects: { type: string; name: string; sql: string | null }[]; counts: Record<string, number> } {
  const db = new Database(path, { readonly: true })
  try {
    const objects = db.prepare("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").all() as { type: string; name: string; sql: string | null }[]
    const counts: Record<string, number> = {}
    for (const t of objects.filter((o) => o.type === 'table')) counts[t.name] = (db.prepare(`SELECT COUNT(*) AS n FROM "${t.name}"`).get() as { n: number }).n
    return { version: db.pragma('user_version', { simple: true }) as number, objects, counts }
  } finally {
    db.close()
  }
}

describe('a damaged history database', () => {
  it('garbage bytes: refused in words, the file left byte for byte as it was', () => {
    const dir = tmp('soliloquy-db-garbage-')
    const file = join(dir, HISTORY_FILE)
    writeFileSync(file, Buffer.from('this is not an SQLite database, only some bytes '.repeat(300)))
    const before = sha(file)
    expect(() => new Lab({ dataDir: dir })).toThrow(/^the history database .*history\.sqlite is damaged \(file is not a database\); move it aside to start a new history$/)
    expect(sha(file)).toBe(before)
    expect(readdirSync(dir).filter((f) => f.startsWith(HISTORY_FILE))).toEqual([HISTORY_FILE]) // no -wal/-shm left behind
  })

  it('a truncated file: refused in words, left as it was', async () => {
    const dir = tmp('soliloquy-db-truncated-')
    const lab = new Lab({ dataDir: dir })
    await lab.sweep({ lrs: [0, 0.01, 0.03], maxGen: 64 })
    lab.close()
    const file = join(dir, HISTORY_FILE)
    expect(readdirSync(dir).filter((f) => f.startsWith(HISTORY_FILE))).toEqual([HISTORY_FILE]) // WAL folded back on close
    const size = statSync(file).size
    expect(size).toBeGreaterThan(8 * 4096) // several pages, so half of it loses tables' pages
    truncateSync(file, Math.floor(size / 2))
    const before = sha(file)
    expect(() => new Lab({ dataDir: dir })).toThrow(/^the history database .*history\.sqlite is damaged \((database disk image is malformed|.*)\); move it aside to start a new history$/)
    expect(sha(file)).toBe(before)
    expect(statSync(file).size).toBe(Math.floor(size / 2))
  })
})

describe('a migration that fails half-way', () => {
  it('is rolled back: user_version, tables, indices and rows exactly as before, and the error says why', () => {
    const dir = tmp('soliloquy-db-failed-migration-')
    const file = join(dir, HISTORY_FILE)
    const old = new Database(file)
    old.exec(readFileSync(join(ROOT, 'test', 'fixtures', 'lab-v1.sql'), 'utf8'))
    // a v1 database someone added an index to, under a name v2 creates near its end (after renaming sweeps,
    // renaming runs.sweep_id and adding some twenty columns): the migration fails late, not at its first statement
    old.exec('CREATE INDEX runs_group ON runs(prompt)')
    old.close()
    const before = schema(file)
    expect(before.version).toBe(1)
    expect(before.objects.map((o) => o.name)).toContain('sweeps')
    expect(() => new Lab({ dataDir: dir })).toThrow(/^cannot open the history database .*history\.sqlite: index runs_group already exists$/)
    const after = schema(file)
    expect(after).toEqual(before)
    // and the database is whole
    const db = new Database(file, { readonly: true })
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok')
    expect((db.prepare('PRAGMA table_info(runs)').all() as { name: string }[]).map((c) => c.name)).toContain('sweep_id')
    db.close()
  })
})

describe('checkpoints whose files or parents are gone', () => {
  it('a missing checkpoint file, a missing parent file, a missing parent row: errors naming them; the rest still works', async () => {
    const dir = tmp('soliloquy-ckpt-missing-')
    const lab = new Lab({ dataDir: dir })
    const a = (await lab.step({ lr: 0.03, maxGen: 4, save: 'a' })).checkpoint!
    const b = (await lab.step({ model: 'ckpt:a', phrase: 'Hello there, my friend', lr: 0.01, maxGen: 4, save: 'b' })).checkpoint!
    const c = (await lab.step({ lr: 0.01, maxGen: 4, save: 'c' })).checkpoint!
    expect(b.parentId).toBe(a.id)
    const doneBefore = (await lab.history({ status: 'done' })).total

    lab.close()

    // b's parent's file is gone (in a fresh lab: a running one keeps the steps it loaded in memory): using b names a's
    rmSync(join(dir, a.file))
    const lab2 = new Lab({ dataDir: dir })
    await expect(lab2.generate({ model: 'ckpt:b', maxGen: 4 })).rejects.toThrow(new RegExp(`^checkpoint "a": its file .*${a.file.split('/').pop()} is missing$`))
    // a's own file is gone
    await expect(lab2.generate({ model: 'ckpt:a', maxGen: 4 })).rejects.toThrow(/^checkpoint "a": its file .* is missing$/)
    await expect(lab2.exportCheckpoint({ id: 'a', outDir: join(tmp(), 'out') })).rejects.toThrow(/checkpoint "a": its file .* is missing/)
    await expect(lab2.step({ model: 'ckpt:a', lr: 0.01, maxGen: 4 })).rejects.toThrow(/checkpoint "a": its file .* is missing/)
    lab2.close()

    // b's parent row is gone (a database edited by hand or restored from an older copy)
    const db = new Database(join(dir, HISTORY_FILE))
    db.pragma('foreign_keys = OFF')
    db.prepare('DELETE FROM checkpoints WHERE id = ?').run(a.id)
    db.close()
    const again = new Lab({ dataDir: dir })
    await expect(again.generate({ model: 'ckpt:b', maxGen: 4 })).rejects.toThrow(new RegExp(`^checkpoint "b": its parent \\(id ${a.id}\\) is missing$`))
    await expect(again.exportCheckpoint({ id: 'b', outDir: join(tmp(), 'out') })).rejects.toThrow(/its parent \(id \d+\) is missing/)

    // nothing was recorded as succeeded, failed calls left no `running` rows, the database is whole
    expect((await again.history({ status: 'done' })).total).toBe(doneBefore)
    expect((await again.history({ status: 'running' })).total).toBe(0)
    // an unrelated checkpoint still loads and generates
    const g = await again.generate({ model: 'ckpt:c', maxGen: 4 })
    expect(g.run.status).toBe('done')
    expect((await again.checkpoints()).map((x) => x.name).sort()).toEqual(['b', 'c'])
    again.close()
    const check = new Database(join(dir, HISTORY_FILE), { readonly: true })
    expect(check.pragma('integrity_check', { simple: true })).toBe('ok')
    check.close()
    expect(c.parentId).toBeNull()
  })
})
