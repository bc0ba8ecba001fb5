// Lesson sequences (chains of steps, each gradient at the model the previous step left) against the float64
// reference models/organism/chains.json, and the forgetting curve recorded in the history.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Lab } from '../src/main/lab/lab'
import type { LessonResult } from '../src/shared/api'
import { comparableLength, ORGANISM, tmp } from './helpers'

interface ChainRef {
  phrase: string
  phrase_ids: number[]
  lr: number
  loss_before: number
  loss_after: number
  grad_norms: Record<string, number>
  plain: { ids: number[]; text: string; margins: number[] }
  engineered: { ids: number[]; text: string; margins: number[] }
}
const chains = (JSON.parse(readFileSync(join(ORGANISM, 'chains.json'), 'utf8')) as { chains: ChainRef[][] }).chains

const rel = (a: number, b: number): number => Math.abs(a - b) / Math.abs(b)
let lab: Lab
const results: LessonResult[] = []

beforeAll(async () => {
  lab = new Lab({ dataDir: tmp('soliloquy-lab-lesson-') })
  for (const chain of chains) results.push(await lab.lesson({ steps: chain.map((s) => ({ phrase: s.phrase, lr: s.lr })), maxGen: 64 }))
})
afterAll(() => lab?.close())

describe('lesson sequences reproduce chains.json (HF float64)', () => {
  chains.forEach((chain, c) => {
    it(`chain ${c + 1}: ${chain.map((s) => `"${s.phrase.slice(0, 24)}…" α ${s.lr}`).join(' → ')}`, () => {
      const r = results[c]
      expect(r.runs.length).toBe(chain.length)
      chain.forEach((want, k) => {
        const run = r.runs[k]
        expect(run.status).toBe('done')
        expect(run.lr).toBe(want.lr)
        expect(run.chain).toEqual(chain.slice(0, k).map((s) => ({ phrase: s.phrase, lr: s.lr })))
        expect(rel(run.metrics.phraseLossBefore!, want.loss_before), `step ${k + 1} loss before`).toBeLessThan(1e-4)
        expect(rel(run.metrics.phraseLossAfter!, want.loss_after), `step ${k + 1} loss after`).toBeLessThan(1e-4)
        const n = comparableLength(want.plain.margins)
        expect(run.outputIds.slice(0, n), `step ${k + 1} greedy ids (${n} comparable)`).toEqual(want.plain.ids.slice(0, n))
      })
      // the second step's gradient is taken at the stepped model: its norms differ from the first's
      const second = r.runs[1].metrics.gradNorms!
      for (const [name, v] of Object.entries(chain[1].grad_norms)) expect(rel(second[name], v), name).toBeLessThan(1e-3)
    })
  })

  it('engineered prompts after the whole chain (saved as a checkpoint, compared with the prefix) match too', async () => {
    for (let c = 0; c < chains.length; c++) {
      const last = results[c].runs[chains[c].length - 1]
      const ck = await lab.saveCheckpoint({ runId: last.id, name: `chain-${c + 1}` })
      expect(ck.depth).toBe(chains[c].length)
      const cmp = await lab.compare({ model: `chain-${c + 1}`, maxGen: 64 })
      const cell = cmp.cells.find((x) => x.prefixed && x.lr === 0)!
      const run = cmp.runs.find((x) => x.id === cell.runId)!
      const want = chains[c][chains[c].length - 1].engineered
      const n = comparableLength(want.margins)
      expect(run.outputIds.slice(0, n), `chain ${c + 1} engineered (${n} comparable)`).toEqual(want.ids.slice(0, n))
      const plain = cmp.runs.find((x) => x.id === cmp.cells.find((y) => !y.prefixed)!.runId)!
      expect(plain.outputIds).toEqual(last.outputIds)
    }
  })
})

describe('the forgetting curve', () => {
  it('is stored with every lesson run and on the experiment, and shows the soliloquy forgotten after the business step', async () => {
    const r = results[0]
    const page = await lab.history({ experimentId: r.experiment.id, sort: 'id', order: 'asc' })
    expect(page.runs.map((x) => x.kind)).toEqual(['lesson', 'lesson'])
    const f1 = page.runs[0].metrics.forgetting!
    const f2 = page.runs[1].metrics.forgetting!
    expect(f1.length).toBe(1)
    expect(f2.length).toBe(2)
    expect(page.runs[1].parentRunId).toBe(page.runs[0].id)
    // after step 1 the soliloquy phrase is known: all 9 words from the cue "To be"
    expect(f1[0].cue).toBe('To be')
    expect(f1[0].recall).toBe(9)
    expect(Math.abs(f1[0].loss - chains[0][0].loss_after)).toBeLessThan(1e-4)
    // after the business step it is forgotten by the greedy completion, and its loss rose
    expect(f2[0].recall).toBeLessThanOrEqual(1)
    expect(f2[0].loss).toBeGreaterThan(f1[0].loss)
    expect(f2[1].recall).toBe(chains[0][1].phrase.split(/\s+/).length)
    expect(Math.abs(f2[1].loss - chains[0][1].loss_after)).toBeLessThan(1e-4)
    const experiment = (await lab.run(page.runs[1].id)).experiment!
    expect(experiment.kind).toBe('lesson')
    expect(experiment.status).toBe('done')
    expect((experiment.result as { forgetting: unknown }).forgetting).toEqual(r.forgetting)
    // accumulation (chain 2): two steps of 0.02 reach the soliloquy one step does not
    const acc = results[1].forgetting
    expect(acc[0][0].recall).toBeLessThan(acc[1][0].recall)
  })
})
