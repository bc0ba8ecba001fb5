// Cancelling a step, a lesson and an export part-way (the AbortSignal every transport's cancel reaches): the call
// rejects with "cancelled", the history records the unfinished runs as cancelled (finished ones stay done), no
// checkpoint is saved and no export directory is left half-written; the lab works normally afterwards.
import Database from 'better-sqlite3'
import { existsSync, mkdirSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HISTORY_FILE, Lab } from '../src/main/lab/lab'
import { tmp } from './helpers'

let lab: Lab
let dataDir: string

beforeAll(() => {
  dataDir = tmp('soliloquy-lab-cancel-')
  lab = new Lab({ dataDir })
})
afterAll(() => lab?.close())

/** The rows as the database holds them (a separate read-only connection, as another process would see them). */
/** (groupStatus: the status of the experiment holding the run, which v5 folded the run groups into) */
function rows(kind: string): { id: number; status: string; error: string | null; groupStatus: string | null }[] {
  const db = new Database(join(dataDir, HISTORY_FILE), { readonly: true })
  try {
    return db
      .prepare('SELECT r.id, r.status, r.error, e.status AS groupStatus FROM runs r LEFT JOIN experiments e ON e.id = r.experiment_id WHERE r.kind = ? ORDER BY r.id')
      .all(kind) as { id: number; status: string; error: string | null; groupStatus: string | null }[]
  } finally {
    db.close()
  }
}
const stepFiles = (): string[] => (existsSync(join(dataDir, 'checkpoints')) ? readdirSync(join(dataDir, 'checkpoints')) : [])
const LONG = { maxGen: 400, maxSeq: 512 }

describe('cancelling part-way', () => {
  it('a step (with --save): cancelled while generating; run cancelled, no checkpoint row or file', async () => {
    const ctl = new AbortController()
    const phases = new Set<string>()
    const p = lab.step({ lr: 0.03, save: 'never-saved', ...LONG }, {
      signal: ctl.signal,
      onProgress: (pr) => {
        phases.add(pr.phase)
        if (pr.phase === 'generate' && pr.done > 2) ctl.abort()
      },
    })
    await expect(p).rejects.toThrow(/^cancelled$/)
    expect(phases.has('generate')).toBe(true)
    expect(rows('step')).toMatchObject([{ status: 'cancelled', error: 'cancelled' }])
    expect(await lab.checkpoints()).toEqual([])
    expect(stepFiles()).toEqual([])
    // the same step, not cancelled, completes and saves under that name
    const ok = await lab.step({ lr: 0.03, save: 'never-saved', maxGen: 8 })
    expect(ok.run.status).toBe('done')
    expect(stepFiles().length).toBe(1)
  })

  it('a lesson: cancelled in its second step; the first step stays done, the second and the group are cancelled', async () => {
    const ctl = new AbortController()
    let firstDone = false
    const p = lab.lesson(
      { steps: [{ phrase: 'To be, or not to be', lr: 0.03 }, { phrase: 'Hello there, my good friend', lr: 0.03 }], ...LONG },
      {
        signal: ctl.signal,
        onProgress: (pr) => {
          if (!firstDone) firstDone = rows('lesson')[0]?.status === 'done'
          else if (pr.phase === 'generate' && pr.done > 2) ctl.abort()
        },
      },
    )
    await expect(p).rejects.toThrow(/^cancelled$/)
    expect(firstDone).toBe(true)
    const r = rows('lesson')
    expect(r.map((x) => x.status)).toEqual(['done', 'cancelled'])
    expect(r.map((x) => x.groupStatus)).toEqual(['cancelled', 'cancelled'])
    expect((await lab.history({ status: 'running' })).total).toBe(0)
  })

  it('an export: cancelled while writing tensors; the new directory is removed, an existing empty one emptied', async () => {
    const before = stepFiles()
    const cancelAt = (): { signal: AbortSignal; onProgress: (p: { phase: string; done: number }) => void; seen: () => number } => {
      const ctl = new AbortController()
      let seen = 0
      return {
        signal: ctl.signal,
        onProgress: (pr) => {
          if (pr.phase !== 'export') return
          seen++
          ctl.abort()
        },
        seen: () => seen,
      }
    }
    const out = join(tmp('soliloquy-cancel-export-'), 'merged')
    const c1 = cancelAt()
    await expect(lab.exportCheckpoint({ id: 'never-saved', outDir: out }, c1)).rejects.toThrow(/^cancelled$/)
    expect(c1.seen()).toBeGreaterThan(0) // it was cancelled while writing, not before starting
    expect(existsSync(out)).toBe(false)
    const empty = tmp('soliloquy-cancel-export-empty-')
    const c2 = cancelAt()
    await expect(lab.exportCheckpoint({ id: 'never-saved', outDir: empty }, c2)).rejects.toThrow(/^cancelled$/)
    expect(c2.seen()).toBeGreaterThan(0)
    expect(readdirSync(empty)).toEqual([])
    // the checkpoint is untouched and exports in full when not cancelled
    expect(stepFiles()).toEqual(before)
    mkdirSync(out, { recursive: true })
    const r = await lab.exportCheckpoint({ id: 'never-saved', outDir: out })
    expect(r.files).toEqual(['model.safetensors'])
    expect(readdirSync(out)).toContain('config.json')
  })
})
