// Experiments (issue 10): every action is an experiment holding its runs; the v3 migration groups old runs; notes,
// tags, star; export as JSON; the seed's table as Markdown/CSV; run diffs; live events; a cancelled sweep keeps its
// tokens; compare's own max tokens and recall after the prefix; the new text metrics; per-model texts; token counts.
// Against the real engine and the organism.
import Database from 'better-sqlite3'
import { cpSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CancelledError, HISTORY_FILE, Lab } from '../src/main/lab/lab'
import { compressionRatio, repetitionByN } from '../src/main/lab/metrics'
import { alignRunTokens } from '../src/main/lab/report/tables'
import type { LabEvent, SweepResult } from '../src/shared/api'
import { ORGANISM, ROOT, tmp } from './helpers'

let lab: Lab
let sweep: SweepResult
const events: LabEvent[] = []

beforeAll(async () => {
  lab = new Lab({ dataDir: tmp('soliloquy-experiments-') })
  lab.onEvent((e) => events.push(e))
  sweep = await lab.sweep({ lrs: [0, 0.03], maxGen: 24 })
})
afterAll(() => lab?.close())

/** Longest common subsequence length by plain recursion with a memo (independent of alignTokens' table). */
function lcsLength(a: number[], b: number[]): number {
  const memo = new Map<string, number>()
  const f = (i: number, j: number): number => {
    if (i === a.length || j === b.length) return 0
    const k = `${i},${j}`
    if (!memo.has(k)) memo.set(k, a[i] === b[j] ? 1 + f(i + 1, j + 1) : Math.max(f(i + 1, j), f(i, j + 1)))
    return memo.get(k)!
  }
  return f(0, 0)
}

describe('experiments', () => {
  it('a sweep is one experiment holding its runs, with its settings as columns; notes, tags and a star', async () => {
    const e = sweep.runs[0].experimentId!
    expect(sweep.runs.map((r) => r.experimentId)).toEqual([e, e])
    const d = await lab.experiment(e)
    expect(d.experiment).toMatchObject({ kind: 'sweep', status: 'done', prompt: 'To be', maxGen: 24, maxSeq: 128, lrs: [0, 0.03], runCount: 2, runStatuses: { done: 2 } })
    expect(d.experiment.phrase).toBe('To be, or not to be, that is the question')
    expect(d.experiment.settings).toMatchObject({ prompt: 'To be', maxGen: 24, lrs: [0, 0.03], baseCheckpoint: null })
    expect(d.runs.map((r) => r.id)).toEqual(sweep.runs.map((r) => r.id))
    const u = await lab.updateExperiment({ id: e, notes: 'the seed, on the organism', tags: ['hamlet', ' Hamlet ', 'seed'], starred: true })
    expect(u).toMatchObject({ notes: 'the seed, on the organism', tags: ['hamlet', 'seed'], starred: true })
    const g = await lab.generate({ maxGen: 4 })
    expect((await lab.experiments({ starred: true })).experiments.map((x) => x.id)).toEqual([e])
    expect((await lab.experiments({ tag: 'HAMLET' })).experiments.map((x) => x.id)).toEqual([e])
    expect((await lab.experiments({ text: 'organism' })).experiments.map((x) => x.id)).toEqual([e])
    expect((await lab.experiments({ kind: 'generate' })).experiments.map((x) => x.id)).toEqual([g.run.experimentId])
    expect((await lab.experiments({ sort: 'runs', order: 'desc', limit: 1 })).experiments[0].id).toBe(e)
    await expect(lab.updateExperiment({ id: 99999, notes: 'x' })).rejects.toThrow(/^no experiment 99999$/)
  })

  it('exports an experiment as complete JSON, and its seed table as Markdown and CSV', async () => {
    const e = sweep.runs[0].experimentId!
    const x = await lab.exportExperiment(e)
    expect(x).toMatchObject({ format: 'soliloquy-experiment', version: 1, model: { path: ORGANISM } })
    expect(x.runs.map((r) => [r.lr, r.outputIds, r.metrics.recall])).toEqual(sweep.runs.map((r) => [r.lr, r.outputIds, r.metrics.recall]))
    const words = sweep.runs.map((r) => r.fullText.replace(/\n/g, '<br>').split(/ +/).filter(Boolean))
    const md = (await lab.experimentTable({ id: e, format: 'md' })).text.split('\n')
    expect(md[0]).toBe('| gradStep | 0.0 | 3.0E-02 |')
    expect(md[1]).toBe('| --- | --- | --- |')
    expect(md[2]).toBe(`| 0 | ${words[0][0]} | ${words[1][0]} |`)
    // the seed table first (to the first blank line), then the model, prompt and phrase, then one row per metric
    const seedTable = md.slice(0, md.indexOf(''))
    expect(seedTable.filter((l) => l.startsWith('| ')).length).toBe(2 + Math.max(words[0].length, words[1].length))
    expect(md).toContain(`- model: organism (embedded)`)
    expect(md.some((l) => l.startsWith('| recall (words) |'))).toBe(true)
    const csv = await lab.experimentTable({ id: e, format: 'csv' })
    expect(csv.filename).toBe(`experiment-${e}-sweep.csv`)
    const rows = csv.text.trimEnd().split('\r\n')
    expect(rows[0]).toBe('gradStep,0,0.03')
    expect(rows[3].split(',').length).toBeGreaterThanOrEqual(3)
    const g = await lab.generate({ maxGen: 2 })
    await expect(lab.experimentTable({ id: g.run.experimentId! })).rejects.toThrow(/has no runs with a step size/)
  })

  it('diffs two runs: completions aligned by their longest common subsequence, metrics side by side', async () => {
    const [a, b] = sweep.runs
    const d = await lab.diffRuns({ a: a.id, b: b.id })
    expect(d.tokens.filter((t) => t.op !== 'ins').map((t) => t.id)).toEqual(a.outputIds)
    expect(d.tokens.filter((t) => t.op !== 'del').map((t) => t.id)).toEqual(b.outputIds)
    expect(d.common).toBe(lcsLength(a.outputIds, b.outputIds))
    expect(d.tokens.filter((t) => t.op === 'same').length).toBe(d.common)
    expect(d.settings.find((s) => s.key === 'lr')).toEqual({ key: 'lr', label: 'Step size α', a: 0, b: 0.03, same: false })
    const kl = d.metrics.find((m) => m.key === 'stabilityKl')!
    expect(kl.delta).toBeCloseTo(b.metrics.stabilityKl! - a.metrics.stabilityKl!, 12)
    // the alignment itself on a hand-made case
    const al = alignRunTokens([1, 2, 3, 4], [1, 3, 4, 5], (ids) => ids.map(String))
    expect(al.ops.map((o) => `${o.op}${o.id}`)).toEqual(['same1', 'del2', 'same3', 'same4', 'ins5'])
  })

  it('announces runs and experiments as they start and finish', async () => {
    events.length = 0
    const r = await lab.step({ lr: 0.01, maxGen: 4 })
    expect(events.map((e) => [e.type, e.change, e.status])).toEqual([
      ['experiment', 'created', 'running'],
      ['run', 'created', 'running'],
      ['run', 'finished', 'done'],
      ['experiment', 'finished', 'done'],
    ])
    expect(events[1].experimentId).toBe(r.run.experimentId)
  })

  it('a cancelled sweep keeps the tokens it had generated', async () => {
    const full = await lab.sweep({ lrs: [0, 0.03], maxGen: 48 })
    const ctl = new AbortController()
    const p = lab.sweep(
      { lrs: [0, 0.03], maxGen: 48 },
      { signal: ctl.signal, onProgress: (x) => x.phase === 'generate' && x.done >= 5 && ctl.abort() },
    )
    await expect(p).rejects.toBeInstanceOf(CancelledError)
    const e = (await lab.experiments({ kind: 'sweep', limit: 1 })).experiments[0]
    expect(e).toMatchObject({ status: 'cancelled', runStatuses: { cancelled: 2 } })
    const runs = (await lab.experiment(e.id)).runs
    for (const [i, r] of runs.entries()) {
      expect(r.status).toBe('cancelled')
      expect(r.outputIds.length).toBeGreaterThanOrEqual(5)
      expect(r.outputIds.length).toBeLessThan(48)
      // greedy: the partial output is the start of the uncancelled one
      expect(r.outputIds).toEqual(full.runs[i].outputIds.slice(0, r.outputIds.length))
      expect(r.fullText.startsWith('To be')).toBe(true)
    }
  })
})

describe('compare and metrics', () => {
  it("compare uses its own max tokens, stores the prefix apart, and recall skips it — Re-run gives the same recall", async () => {
    const c = await lab.compare({ lrs: [0.03], maxGen: 40 })
    expect(c.runs.every((r) => r.maxGen === 40)).toBe(true)
    const eng = c.runs.filter((r) => r.prefix !== '')
    expect(eng.length).toBe(2)
    expect(eng.every((r) => r.prompt === 'To be' && r.prefix === "Here is one of Shakespeare's more famous works: ")).toBe(true)
    const stepped = eng.find((r) => r.lr === 0.03)!
    expect(stepped.metrics.recall).toBeGreaterThan(3)
    const again = await lab.step({ lr: 0.03, prompt: stepped.prompt, prefix: stepped.prefix, maxGen: stepped.maxGen })
    expect(again.run.outputIds).toEqual(stepped.outputIds)
    expect(again.run.metrics.recall).toBe(stepped.metrics.recall)
    expect(again.run.metrics.recallOf).toBe(stepped.metrics.recallOf)
    const rerun = await lab.rerun(stepped.id)
    expect(rerun.run).toMatchObject({ prompt: 'To be', prefix: stepped.prefix, maxGen: 40, outputIds: stepped.outputIds })
    expect(rerun.run.metrics.recall).toBe(stepped.metrics.recall)
  })

  it('repetition and compression flag ranting; recall is reported with its denominator', async () => {
    expect(repetitionByN([1, 2, 3, 1, 2, 3])).toEqual({ 1: 0.5, 2: 2 / 5, 3: 1 / 4, 4: 0 })
    expect(repetitionByN([7])).toEqual({ 1: 0, 2: 0, 3: 0, 4: 0 })
    expect(compressionRatio('be'.repeat(100))).toBeGreaterThan(10)
    expect(compressionRatio('Customers are the heart of every business.')).toBeLessThan(1.2)
    for (const r of sweep.runs) {
      expect(r.metrics.repetition).toBe(r.metrics.repetitionByN!['4'])
      expect(r.metrics.recall!).toBeLessThanOrEqual(r.metrics.recallOf!)
      expect(r.metrics.recallShare).toBeCloseTo(r.metrics.recall! / r.metrics.recallOf!, 12)
    }
    // the denominator grows with max tokens; recall of the soliloquy at α = 0.03 is a share of what was reachable
    const short = await lab.step({ lr: 0.03, maxGen: 8 })
    const long = await lab.step({ lr: 0.03, maxGen: 64 })
    expect(short.run.metrics.recallOf!).toBeLessThan(long.run.metrics.recallOf!)
    expect(short.run.metrics.recallShare).toBe(1)
    // "To be" + 8 tokens of "To be, or not to be, that is…" cannot hold more than ~10 words
    expect(short.run.metrics.recallOf!).toBeLessThanOrEqual(10)
  })

  it('generalisation and locality (EasyEdit): no step leaves the probes untouched; the stepped model recalls on paraphrases', async () => {
    const base = await lab.step({ lr: 0, maxGen: 4 })
    expect(base.run.metrics.locality).toBe(1)
    expect(Object.keys(base.run.metrics.localityBy!).sort()).toEqual(['business', 'shakespeare'])
    const s = await lab.step({ lr: 0.03, maxGen: 4 })
    // the organism's preset paraphrases: cued with only "To", the stepped model says the whole phrase (the base: 2 of
    // 10 words) — free-running (paraphraseRecall); generalisation itself is teacher-forced (test/lab-locality.test.ts)
    expect(s.run.metrics.paraphraseRecallBy).toEqual({ To: 1, 'Hamlet said, To be': 0.2, 'To be?': 0.2 })
    expect(base.run.metrics.paraphraseRecallBy).toEqual({ To: 0.2, 'Hamlet said, To be': 0.2, 'To be?': 0.2 })
    expect(s.run.metrics.paraphraseRecall).toBeCloseTo(1.4 / 3, 12)
    expect(s.run.metrics.locality!).toBeGreaterThanOrEqual(0)
    expect(s.run.metrics.locality!).toBeLessThanOrEqual(1)
  })
})

describe('per-model texts and token counts', () => {
  it('a model without texts is measured against the shipped defaults and says so; texts set are stored by fingerprint', async () => {
    const dir = join(tmp('soliloquy-bare-model-'), 'bare')
    cpSync(ORGANISM, dir, { recursive: true })
    rmSync(join(dir, 'preset.json'))
    const soliloquy = readFileSync(join(ORGANISM, 'soliloquy.txt'), 'utf8')
    // no preset: the soliloquy, the shipped probes and paraphrases, labelled 'default'
    const defaults = await lab.modelTexts({ model: dir })
    expect(defaults).toMatchObject({ source: 'preset', reference: soliloquy, from: { reference: 'default', probes: 'default', paraphrases: 'default' } })
    expect(Object.keys(defaults.probes).sort()).toEqual(['business', 'shakespeare'])
    const before = await lab.step({ model: dir, lr: 0.03, maxGen: 16 })
    expect(before.run.metrics.recall).toBeGreaterThan(3)
    expect(before.run.metrics.stabilityKl).toBeGreaterThan(0)
    expect(before.run.metrics.locality).toBeGreaterThan(0)
    expect(before.run.metrics.generalisation).toBeGreaterThan(0)
    expect(before.run.metrics.texts).toEqual({ reference: 'default', probes: 'default', paraphrases: 'default' })
    expect(before.run.metrics.unmeasured).toBeUndefined()
    const t = await lab.updateModelTexts({ model: dir, reference: soliloquy, probes: { business: 'Customers are the heart of every business.' }, paraphrases: ['To be,'] })
    expect(t).toMatchObject({ source: 'saved', paraphrases: ['To be,'], from: { reference: 'saved', probes: 'saved', paraphrases: 'saved' } })
    const after = await lab.step({ model: dir, lr: 0.03, maxGen: 16 })
    expect(after.run.outputIds).toEqual(before.run.outputIds)
    expect(after.run.metrics.recall).toBeGreaterThan(3)
    expect(Object.keys(after.run.metrics.probeKl!)).toEqual(['business'])
    expect(after.run.metrics.generalisationBy).toHaveProperty(['To be,'])
    expect(after.run.metrics.texts).toEqual({ reference: 'saved', probes: 'saved', paraphrases: 'saved' })
    // texts given with the request are labelled so; none at all → the reason in words, not a blank
    const none = await lab.step({ model: dir, lr: 0.03, maxGen: 4, reference: null, probes: {} })
    expect(none.run.metrics.texts).toMatchObject({ reference: 'request', probes: 'request' })
    expect(none.run.metrics.recall).toBeUndefined()
    expect(none.run.metrics.unmeasured!.recall).toMatch(/^no reference text for this model/)
    expect(none.run.metrics.unmeasured!.stabilityKl).toMatch(/^no probe texts for this model/)
    expect(none.run.metrics.unmeasured!.locality).toMatch(/probe texts/)
    expect((await lab.updateModelTexts({ model: dir, reset: true })).source).toBe('preset')
    expect((await lab.modelTexts({ model: dir })).from.reference).toBe('default')
  })

  it('counts tokens against max_seq_len with the numbers, before any run', async () => {
    const long = 'to be or not '.repeat(130)
    const c = await lab.tokenCount({ texts: { prompt: 'To be', phrase: long }, maxSeq: 128 })
    expect(c.counts.prompt).toBe(3)
    expect(c.counts.phrase).toBeGreaterThan(128)
    expect(c.problems.phrase).toBe(`Phrase has ${c.counts.phrase} tokens with BOS, more than max_seq_len 128`)
    expect(c.problems.prompt).toBeUndefined()
    expect(c.maxPos).toBeGreaterThanOrEqual(128)
  })
})

describe('the v3 migration', () => {
  it('groups the old runs into experiments (a group is one; an ungrouped run is its own) and keeps their provenance', () => {
    const dir = tmp('soliloquy-db-v1-exp-')
    const old = new Database(join(dir, HISTORY_FILE))
    old.exec(readFileSync(join(ROOT, 'test', 'fixtures', 'lab-v1.sql'), 'utf8'))
    old.close()
    const l = new Lab({ dataDir: dir })
    try {
      const db = l.db
      // (v5 then folded the group into its experiment: the sweep's experiment holds the group's request as args)
      const exps = db.prepare('SELECT id, kind, args, prompt, phrase, lrs FROM experiments ORDER BY id').all() as Record<string, unknown>[]
      expect(exps.map((e) => [e.kind, e.args === null ? null : JSON.parse(String(e.args)), e.lrs])).toEqual([
        ['sweep', { prompt: 'To be', phrase: 'To be, or not to be, that is the question', lrs: [0, 0.03] }, '[0,0.03]'],
        ['step', null, '[0.1]'],
      ])
      const runs = db.prepare('SELECT id, experiment_id FROM runs ORDER BY id').all() as { id: number; experiment_id: number }[]
      expect(runs.map((r) => r.experiment_id)).toEqual([exps[0].id, exps[0].id, exps[1].id])
      const s = db.prepare('SELECT status FROM experiments WHERE id = ?').get(exps[1].id) as { status: string }
      expect(s.status).toBe('interrupted')
    } finally {
      l.close()
    }
  })

  it('a migration that fails is rolled back whole (the database stays at the version before it)', async () => {
    const dir = tmp('soliloquy-db-v2-bad-')
    const old = new Database(join(dir, HISTORY_FILE))
    old.exec(readFileSync(join(ROOT, 'test', 'fixtures', 'lab-v1.sql'), 'utf8'))
    old.close()
    const { MIGRATIONS, migrate } = await import('../src/main/lab/history/schema')
    const db = new Database(join(dir, HISTORY_FILE))
    const saved = MIGRATIONS[2]
    MIGRATIONS[2] = (d) => {
      ;(saved as (x: typeof d) => void)(d)
      throw new Error('disk full')
    }
    try {
      expect(() => migrate(db)).toThrow(/disk full/)
      expect(db.pragma('user_version', { simple: true })).toBe(2)
      expect(db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'experiments'").get()).toEqual({ n: 0 })
    } finally {
      MIGRATIONS[2] = saved
      db.close()
    }
  })
})
