// The lesson report (src/main/lab/report/experiment.ts): lessons are numbered from 1 and each column names its own
// lesson — the steps of a lesson often share one α, so a column labelled by α alone ("3.0E-02" three times) says nothing.
import { describe, expect, it } from 'vitest'
import type { RunRecord } from '../src/shared/api'
import { experimentReport, type ReportSubject } from '../src/main/lab/report/experiment'

function run(id: number, k: number, phrase: string, lr: number, fullText: string): RunRecord {
  return {
    id, kind: 'lesson', experimentId: 1, position: k, modelId: 1, checkpointId: null, modelRef: null,
    parentRunId: k ? id - 1 : null, chain: Array.from({ length: k }, () => ({ phrase: 'x', lr })), base: null,
    prompt: 'Once', prefix: '', phrase, lr, maxGen: 8, maxSeq: 64, temperature: 0, topP: 1, seed: 0, outputIds: [],
    outputText: fullText, fullText, metrics: {}, status: 'done', error: null, startedAt: '2026-01-01T00:00:00Z',
    finishedAt: '2026-01-01T00:00:01Z', ms: 1,
  } as unknown as RunRecord
}

describe('the lesson report', () => {
  const steps = [{ phrase: 'Once upon a time', lr: 0.03 }, { phrase: 'Once there was', lr: 0.03 }, { phrase: 'Once more', lr: 0.01 }]
  const runs = steps.map((s, k) => run(10 + k, k, s.phrase, s.lr, `Once words of lesson ${k}`))
  const forgetting = steps.map((_, k) => steps.slice(0, k + 1).map((s, j) => ({ lesson: j, phrase: s.phrase, loss: 1 + j + k, recall: j, cue: 'Once' })))
  const g: ReportSubject = { id: 1, kind: 'lesson', status: 'done', checkpointId: null, args: { steps }, result: { forgetting }, createdAt: 'c', finishedAt: 'f' }
  const { html } = experimentReport(g, runs, { model: 'organism' })

  it("the seed's table names each column's lesson, from 1, with its α", () => {
    const seed = /<pre class="seed-table">([\s\S]*?)<\/pre>/.exec(html)![1]
    const header = seed.split('\n')[1]
    expect(header).toContain('lesson 1 · 3.0E-02')
    expect(header).toContain('lesson 2 · 3.0E-02')
    expect(header).toContain('lesson 3 · 1.0E-02')
    expect(header).not.toContain('lesson 0')
  })

  it('the forgetting table numbers lessons and rows from 1, each column with its α', () => {
    const t = /<table class="forgetting">([\s\S]*?)<\/table>/.exec(html)![1]
    const heads = [...t.matchAll(/<th>(.*?)<\/th>/g)].map((m) => m[1])
    expect(heads).toEqual(['after lesson', 'lesson 1 (α 3.0E-02)', 'lesson 2 (α 3.0E-02)', 'lesson 3 (α 1.0E-02)'])
    const firstCells = [...t.matchAll(/<tr><td>(\d+)<\/td>/g)].map((m) => m[1])
    expect(firstCells).toEqual(['1', '2', '3'])
  })

  it('the metrics table labels each run with its lesson', () => {
    const t = /<table class="metrics">([\s\S]*?)<\/table>/.exec(html)![1]
    expect(t).toContain('lesson 1 · 3.0E-02')
    expect(t).toContain('lesson 3 · 1.0E-02')
  })
})
