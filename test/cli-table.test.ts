// `soliloquy table EXPERIMENT` (issue 23): under the seed's words, what the Lab's table export carries — the model,
// prompt and phrase, then one row per metric the Lab's table shows (recall, KL, locality, generalisation, repetition
// …) with each column's value as the history records it, written by the Lab's download's own writer
// (src/shared/seedTableExport.ts), byte for byte. Markdown heads the metric rows with α as the table does (3.0E-02),
// CSV with α as a number (0.03).
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { tableFormats, type RunRecord } from '../src/shared/api'
import { ensureCurrentBuild, ROOT, tmp } from './helpers'

const BIN = join(ROOT, 'bin', 'soliloquy.js')
let dir: string
let experiment: string
interface Rec {
  lr: number
  prompt: string
  phrase: string
  metrics: Record<string, unknown>
}
let runs: Rec[]

function run(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, SOLILOQUY_DATA: dir }, timeout: 120_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

beforeAll(() => {
  ensureCurrentBuild()
  dir = tmp('soliloquy-cli-table-')
  const s = run('sweep', '--lrs', '0,0.03', '--max-gen', '12', '--json')
  expect(s.code, s.stderr).toBe(0)
  experiment = `e${(JSON.parse(run('history', '--json').stdout) as { experiments: { id: number }[] }).experiments[0].id}`
  runs = (JSON.parse(run('show', experiment, '--json').stdout) as { runs: Rec[] }).runs
  expect(runs.map((r) => r.lr)).toEqual([0, 0.03])
}, 300_000)

/** the metric rows and the record's keys they show (the Lab table's strip and its export) */
const ROWS: [string, string][] = [
  ['recall (words)', 'recall'],
  ['stability KL (nats)', 'stabilityKl'],
  ['locality', 'locality'],
  ['generalisation', 'generalisation'],
  ['token repetition', 'repetition'],
  ['phrase loss after', 'phraseLossAfter'],
]
/** a value as the record holds it, written as the export writes a number */
const num = (v: unknown): string => {
  expect(typeof v, 'the organism measures every metric of the strip').toBe('number')
  return String(v)
}

describe('the table export carries the metrics', () => {
  it('Markdown: the words, then model, prompt, phrase and one row per metric, each column its run’s value', () => {
    const r = run('table', experiment)
    expect(r.code, r.stderr).toBe(0)
    const md = r.stdout.split('\n')
    expect(md.slice(0, 3)).toEqual(['| gradStep | 0.0 | 3.0E-02 |', '| --- | --- | --- |', '| 0 | To | To |'])
    expect(md).toContain('- model: organism (embedded)')
    expect(md).toContain(`- prompt: ${runs[0].prompt}`)
    expect(md).toContain(`- phrase: ${runs[0].phrase}`)
    const head = md.indexOf('| metric | 0.0 | 3.0E-02 |')
    expect(head).toBeGreaterThan(3)
    for (const [label, key] of ROWS) expect(md, label).toContain(`| ${label} | ${runs.map((x) => num(x.metrics[key])).join(' | ')} |`)
    // the α = 0 column is the unstepped model: nothing moved
    expect(md).toContain('| stability KL (nats) | 0 | ' + num(runs[1].metrics.stabilityKl) + ' |')
  })

  it('CSV: the same rows, headed by α as numbers; --json carries the same text', () => {
    const csv = run('table', experiment, '--format', 'csv').stdout.split('\r\n')
    expect(csv[0]).toBe('gradStep,0,0.03')
    expect(csv).toContain('model,organism (embedded),')
    for (const [label, key] of ROWS) expect(csv, label).toContain(`${label},${runs.map((x) => num(x.metrics[key])).join(',')}`)
    const j = JSON.parse(run('table', experiment, '--json').stdout) as { format: string; text: string }
    expect(j.format).toBe('md')
    expect(j.text).toBe(run('table', experiment).stdout)
  })

  it("prints, byte for byte, what the Lab's download writes for the runs `show --json` gives", async () => {
    // the page's module (it uses the DOM, outside the node type-check): imported by a path the checker does not follow
    const page = join(ROOT, 'src', 'renderer', 'src', 'lib', 'download.ts')
    const { seedTableFile } = (await import(page)) as { seedTableFile: (runs: RunRecord[], format: string, stamp: string) => { text: string } }
    const records = (JSON.parse(run('show', experiment, '--json').stdout) as { runs: RunRecord[] }).runs
    for (const format of tableFormats) expect(run('table', experiment, '--format', format).stdout, format).toBe(seedTableFile(records, format, 'now').text)
  })
})
