// One page limit, stated by the contract (LIMITS.page.max) and kept by the lab: a call asking for more is refused in
// words (it was accepted up to 100 000 and silently cut to 1 000 before), and a caller that wants every row pages
// through with offset — the way the UI's allRuns does — and gets each row exactly once.
import Database from 'better-sqlite3'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { LIMITS, validateCall } from '../src/shared/api'
import { HISTORY_FILE, Lab } from '../src/main/lab/lab'
import { tmp } from './helpers'

describe('paging through the history', () => {
  it('the contract refuses a page larger than LIMITS.page.max, for runs and for experiments', () => {
    for (const method of ['history', 'experiments'] as const) {
      expect(validateCall(method, { limit: LIMITS.page.max }).ok, method).toBe(true)
      const r = validateCall(method, { limit: LIMITS.page.max + 1 })
      expect(r.ok, method).toBe(false)
      if (!r.ok) expect(r.message, method).toMatch(/Page size/)
    }
  })

  it('more rows than one page: pages of LIMITS.page.max, each row once, in order', async () => {
    const dir = tmp('soliloquy-paging-')
    new Lab({ dataDir: dir }).close()
    // rows written directly: 2.5 pages of finished generate runs of one model
    const n = Math.floor(LIMITS.page.max * 2.5)
    const db = new Database(join(dir, HISTORY_FILE))
    db.prepare(`INSERT INTO models (id, path, format, fingerprint, config, added_at) VALUES (1, '/m', 'hf', 'f', '{}', '2026-01-01T00:00:00.000Z')`).run()
    const ins = db.prepare(
      `INSERT INTO runs (kind, model_id, prompt, max_gen_len, temperature, seed, status, started_at) VALUES ('generate', 1, 'p', 8, 0, 0, 'done', ?)`,
    )
    db.transaction(() => {
      for (let i = 0; i < n; i++) ins.run(`2026-01-01T00:00:00.${String(i % 1000).padStart(3, '0')}Z`)
    })()
    db.close()
    const lab = new Lab({ dataDir: dir })
    try {
      const ids: number[] = []
      for (;;) {
        const page = await lab.history({ sort: 'id', order: 'asc', limit: LIMITS.page.max, offset: ids.length })
        expect(page.total).toBe(n)
        expect(page.runs.length).toBeLessThanOrEqual(LIMITS.page.max)
        ids.push(...page.runs.map((r) => r.id))
        if (page.runs.length === 0 || ids.length >= page.total) break
      }
      expect(ids).toEqual(Array.from({ length: n }, (_, i) => i + 1))
      // a page asked of the lab directly (not through the contract) is held to the same limit
      expect((await lab.history({ limit: 100_000 })).runs.length).toBe(LIMITS.page.max)
    } finally {
      lab.close()
    }
  })
})
