// The Lab's exports carry what the table was made with (src/shared/runExports.ts): model, prompt, phrase and
// each column's metrics under the seed table, and every run's metrics as their own CSV.
import { describe, expect, it } from 'vitest'
import type { RunRecord } from '../src/shared/api'
import { runMetricsCsv, seedTableCsvContext, seedTableMarkdownContext } from '../src/shared/runExports'

const run = (id: number, lr: number, metrics: Record<string, number>, modelRef: string | null = null): RunRecord =>
  ({ id, lr, modelRef, prompt: 'To be', phrase: 'To be, or not to be', status: 'done', metrics }) as unknown as RunRecord
const runs = [run(1, 0, { recall: 2, stabilityKl: 0, phraseLossAfter: 3.5 }), run(2, 0.03, { recall: 45, stabilityKl: 0.0123, phraseLossBefore: 3.5, phraseLossAfter: 0.25 })]

describe("the seed table's context", () => {
  it('CSV: model, prompt, phrase rows as wide as the table, then one row per metric with each column’s value', () => {
    const rows = seedTableCsvContext(runs).trim().split('\r\n')
    expect(rows.slice(0, 3)).toEqual(['model,organism (embedded),', 'prompt,To be,', 'phrase,"To be, or not to be",'])
    expect(rows).toContain('recall (words),2,45')
    expect(rows).toContain('stability KL (nats),0,0.0123')
    expect(rows).toContain('phrase loss after,3.5,0.25')
    expect(rows).toContain('phrase loss before,,3.5')
  })
  it('Markdown: the settings as a list, the metrics as a table headed by the step sizes', () => {
    const md = seedTableMarkdownContext(runs)
    expect(md).toContain('- model: organism (embedded)')
    expect(md).toContain('- phrase: To be, or not to be')
    expect(md).toContain('| metric | 0.0 | 3.0E-02 |')
    expect(md).toContain('| recall (words) | 2 | 45 |')
    expect(md).toContain('| phrase loss before | — | 3.5 |')
  })
})

describe('per-run metrics CSV', () => {
  it('one row a run: id, α, model, prompt, phrase, status and the metrics', () => {
    const rows = runMetricsCsv([...runs, run(3, 0.01, { recall: 1 }, 'ckpt:hamlet step')]).trim().split('\r\n')
    expect(rows[0]).toBe('run,α,model,prompt,phrase,status,recall (words),recall of (words reachable),phrase loss before,phrase loss after,stability KL (nats),locality,generalisation,token repetition,compression ratio')
    expect(rows[2]).toBe('r2,0.03,organism (embedded),To be,"To be, or not to be",done,45,,3.5,0.25,0.0123,,,,')
    expect(rows[3]).toMatch(/^r3,0\.01,checkpoint “hamlet step”,/)
  })
})

describe('labelled as the Lab table labels them (issue 23)', () => {
  const withTexts = (id: number, lr: number, metrics: Record<string, unknown>): RunRecord =>
    ({ id, lr, modelRef: '/m/q4.gguf', prompt: 'To be', phrase: 'To be, or not to be', status: 'done', metrics }) as unknown as RunRecord
  const measured = [
    withTexts(1, 0, { recall: 2, locality: 1, texts: { probes: 'default', reference: 'default' }, unmeasured: { generalisation: 'no paraphrases were given' } }),
    withTexts(2, 0.03, { recall: 45, locality: 0.75, texts: { probes: 'default', reference: 'default' }, unmeasured: { generalisation: 'no paraphrases were given' } }),
  ]
  it('a metric measured against the shipped texts says so in its row; one not measured says why, never a bare “—”', () => {
    const md = seedTableMarkdownContext(measured)
    expect(md).toContain('| locality · default probes | 1 | 0.75 |')
    expect(md).toContain('| recall (words) · default reference | 2 | 45 |')
    expect(md).toContain('| generalisation | not measured | not measured |')
    expect(md).toContain('- generalisation not measured: no paraphrases were given')
    const csv = seedTableCsvContext(measured).trim().split('\r\n')
    expect(csv).toContain('locality · default probes,1,0.75')
    expect(csv).toContain('generalisation,,')
    expect(csv).toContain('generalisation not measured,no paraphrases were given,')
  })
})
