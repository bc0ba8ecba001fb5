// Studies without a queue (issue 24): cells run in the lab's process one after another; a study stopped in the middle
// (cancelled, or the process gone) resumes where it stopped — recorded cells are not run again. And the job payload's
// contract: a worker accepts a model only by fingerprint, never a path.
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Lab } from '../src/main/lab/lab'
import { labClient } from '../src/main/lab/methods'
import { cellJobSchema, validateCall } from '../src/shared/api'
import { expandGrid } from '../src/main/lab/study/grid'
import { parseQueueUrl } from '../src/main/lab/study/queueUrl'
import { tmp } from './helpers'

const PHRASES = ['To be, or not to be, that is the question', 'To be, or not to be: I am', 'To be a king of infinite space']

describe('embedded studies', () => {
  it('resume after a stop: cells already recorded are not run again', async () => {
    const dir = tmp('soliloquy-study-embedded-')
    const first = new Lab({ dataDir: dir, threads: 1 })
    const ctl = new AbortController()
    let cells = 0
    const api = labClient(first, {
      signal: ctl.signal,
      onProgress: (p) => {
        cells = p.done
        if (p.done === 1) ctl.abort()
      },
    })
    await expect(api.call('study', { phrases: PHRASES, lrs: [0.01, 0.03] })).rejects.toThrow(/cancel/i)
    expect(cells).toBe(1)
    const stopped = (await api.call('experiments', { kind: 'study' })).experiments[0]
    expect(stopped.status).toBe('cancelled')
    const kept = (await api.call('experiment', { id: stopped.id })).runs
    expect(kept.filter((r) => r.status === 'done')).toHaveLength(2)
    first.close()

    const again = new Lab({ dataDir: dir, threads: 1 })
    const api2 = labClient(again, {})
    const s = await api2.call('study', { phrases: PHRASES, lrs: [0.01, 0.03] })
    expect(s.id).toBe(stopped.id)
    expect(s.status).toBe('done')
    const runs = (await api2.call('experiment', { id: s.id })).runs
    expect(runs).toHaveLength(PHRASES.length * 2)
    // the first cell's runs are the ones recorded before the stop (same ids), not run again
    expect(runs.filter((r) => kept.some((k) => k.id === r.id)).map((r) => r.id)).toEqual(kept.map((r) => r.id))
    expect(new Set(runs.map((r) => r.metrics.study!.cell)).size).toBe(PHRASES.length)
    // in the HTML report: a heatmap per metric, every phrase a row, α_learn / α_break per phrase
    const report = await api2.call('report', { id: s.id })
    expect(report.title).toMatch(/study — 3 phrases × 2 α × 1 model/)
    expect(report.html.match(/<h3>/g)).toHaveLength(3)
    expect(report.html).toContain('α_learn')
    for (const p of PHRASES) expect(report.html).toContain(p)
    again.close()
  })

  it('a job names its model by fingerprint only; a path, an unknown field or a bad fingerprint is refused', () => {
    const [cell] = expandGrid(
      [{
        model: { ref: null, name: 'organism', fingerprint: 'a'.repeat(64), modelId: 1, checkpoint: null },
        settings: { prompts: ['To be'], maxGen: 8, maxSeq: 128, temperature: 0, topP: 1, seed: 0, reference: null, probes: {}, paraphrases: [] },
      }],
      ['To be, or not'], [0.01], undefined,
    )
    expect(cellJobSchema.safeParse(cell.job).success).toBe(true)
    expect(cellJobSchema.safeParse({ ...cell.job, model: { ...cell.job.model, path: '/etc' } }).success).toBe(false)
    expect(cellJobSchema.safeParse({ ...cell.job, modelDir: join('/', 'tmp') }).success).toBe(false)
    expect(cellJobSchema.safeParse({ ...cell.job, model: { fingerprint: '../../x', name: 'x' } }).success).toBe(false)
    // the same settings: the same id; another α: another
    const [twin] = expandGrid([{ model: { ref: null, name: 'other name', fingerprint: 'a'.repeat(64), modelId: 9, checkpoint: null }, settings: { prompts: ['To be'], maxGen: 8, maxSeq: 128, temperature: 0, topP: 1, seed: 0, reference: null, probes: {}, paraphrases: [] } }], ['To be, or not'], [0.01], undefined)
    expect(twin.id).toBe(cell.id)
    const [other] = expandGrid([{ model: { ref: null, name: 'organism', fingerprint: 'a'.repeat(64), modelId: 1, checkpoint: null }, settings: { prompts: ['To be'], maxGen: 8, maxSeq: 128, temperature: 0, topP: 1, seed: 0, reference: null, probes: {}, paraphrases: [] } }], ['To be, or not'], [0.02], undefined)
    expect(other.id).not.toBe(cell.id)
  })

  it('queue addresses: credentials kept out of the stored form; a bad address refused by the contract', () => {
    const a = parseQueueUrl('redis://user:pw@example.org:6380/2')
    expect(a.redacted).toBe('redis://example.org:6380/2')
    expect(a.password).toBe('pw')
    const bad = validateCall('study', { phrases: ['a b'], lrs: [0.01], queue: 'http://example.org' })
    expect(bad.ok).toBe(false)
    expect(validateCall('study', { phrases: ['a b'], lrs: [0.01], queue: 'rediss://h:1/3' }).ok).toBe(true)
  })
})
