// The seed's table is written once (src/shared/seedTableExport.ts): the Lab's download (src/renderer/src/lib/
// download.ts, what the page hands the browser) and `soliloquy table` (the lab's experimentTable, src/main/lab/report/
// tables.ts) give the same bytes for the same runs, in every format they offer. The α of each column is the one the
// run recorded, exactly; a run without a step size is a "no step" column; every cell is escaped for its format.
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tableFormats, type ExperimentSummary, type RunRecord, type TableFormat } from '../src/shared/api'
import { markdownCell } from '../src/shared/markdownCell'
import { exactStepSize, formatStepSize } from '../src/shared/seedTable'
import { seedTableText } from '../src/shared/seedTableExport'
import { experimentTable } from '../src/main/lab/report/tables'
import { Lab } from '../src/main/lab/lab'
import { ROOT, tmp } from './helpers'

type PageFile = (runs: RunRecord[], format: TableFormat, stamp: string) => { name: string; text: string; type: string }
/** the page's module (it uses the DOM, outside the node type-check): imported by a path the checker does not follow */
async function pageSeedTableFile(): Promise<PageFile> {
  const page = join(ROOT, 'src', 'renderer', 'src', 'lib', 'download.ts')
  return ((await import(page)) as { seedTableFile: PageFile }).seedTableFile
}

const run = (id: number, lr: number | null, fullText: string, metrics: Record<string, unknown> = {}): RunRecord =>
  ({ id, lr, fullText, modelRef: null, prompt: 'To be', phrase: 'To be, or <not> to be', status: 'done', metrics }) as unknown as RunRecord
/** columns no sweep of the organism gives: a run without α, α that two significant digits cannot hold, markup */
const RUNS = [
  run(1, null, 'To be a successful business'),
  run(2, 0, 'To be\nor not'),
  run(3, 0.00125, 'To <img src=x> &lt; __init__ *not* a|b x\\y `code` [link](u) $x$ ~~s~~', { recall: 1, stabilityKl: 0.5 }),
  run(4, 1e-7, '=HYPERLINK("http://x") @SUM(A1) -2+3 "quoted", _'),
  run(5, 0.1 + 0.2, 'To'),
]
const EXPERIMENT = { id: 7, kind: 'sweep' } as ExperimentSummary

describe('one writer for the page and the CLI', () => {
  it('the download and `soliloquy table` give the same bytes for the same runs, in every format', async () => {
    const page = await pageSeedTableFile()
    expect([...tableFormats].sort()).toEqual(['csv', 'md'])
    for (const format of tableFormats) {
      const cli = experimentTable(EXPERIMENT, RUNS, format).text
      expect(page(RUNS, format, 'now').text, format).toBe(cli)
      expect(cli, format).toBe(seedTableText(RUNS, format))
    }
    expect(page(RUNS, 'md', 'now')).toMatchObject({ name: 'stepping-off-now.md', type: 'text/markdown' })
    expect(page(RUNS, 'csv', 'now')).toMatchObject({ name: 'stepping-off-now.csv', type: 'text/csv' })
  })

  it('CSV: each column headed by its exact α as a number; a run without α kept, headed "no step"', () => {
    const rows = seedTableText(RUNS, 'csv').split('\r\n')
    expect(rows[0]).toBe('gradStep,no step,0,0.00125,1e-7,0.30000000000000004')
    expect(rows[0].split(',').slice(2).map(Number)).toEqual(RUNS.slice(1).map((r) => r.lr))
    expect(rows[1]).toBe(`0,To,To,To,"'=HYPERLINK(""http://x"")",To`)
    expect(rows[2]).toBe(`1,be,be<br>or,<img,"'@SUM(A1)",_`)
  })

  it('Markdown: exact α in the seed’s style; `<`, `&`, `|`, `\\` and inline markup escaped; the `_` past a column’s end as it is', () => {
    const md = seedTableText(RUNS, 'md').split('\n')
    expect(md[0]).toBe('| gradStep | no step | 0.0 | 1.25E-03 | 1.0E-07 | 3.0000000000000004E-01 |')
    expect(md[2]).toBe('| 0 | To | To | To | =HYPERLINK("http://x") | To |')
    expect(md[3]).toBe('| 1 | be | be&lt;br>or | &lt;img | @SUM(A1) | _ |')
    const col3 = md.slice(2, 13).map((l) => l.split(' | ')[3])
    expect(col3).toEqual(['To', '&lt;img', 'src=x>', '&amp;lt;', '\\_\\_init\\_\\_', '\\*not\\*', 'a\\|b', 'x\\\\y', '\\`code\\`', '\\[link\\](u)', '\\$x\\$'])
    // the α heading the metric rows is the same as the words'
    expect(md).toContain('| metric | no step | 0.0 | 1.25E-03 | 1.0E-07 | 3.0000000000000004E-01 |')
    expect(md).toContain('- phrase: To be, or &lt;not> to be')
  })
})

describe('the pieces', () => {
  it('exactStepSize gives back the α it was given, in the seed’s style where two digits hold it', () => {
    expect([0, 1e-4, 1e-3, 2e-3, 3e-3, 5e-3, 1e-2, 1e-1, 1].map(exactStepSize)).toEqual(['0.0', '1.0E-04', '1.0E-03', '2.0E-03', '3.0E-03', '5.0E-03', '1.0E-02', '1.0E-01', '1.0E+00'])
    for (const x of [0.00125, 1e-7, 0.1 + 0.2, 123.456, -0.03, Number.MIN_VALUE, 5e-324, 1 / 3, 9.95e-3]) expect(Number(exactStepSize(x)), String(x)).toBe(x)
    // formatStepSize (axes, labels) rounds to two digits: two different α would share a heading
    expect(formatStepSize(0.00125)).toBe(formatStepSize(0.0013))
    expect(exactStepSize(0.00125)).not.toBe(exactStepSize(0.0013))
  })

  it('markdownCell renders as the text it holds', () => {
    expect(markdownCell('question:<br>')).toBe('question:&lt;br>')
    expect(markdownCell('&amp;')).toBe('&amp;amp;')
    expect(markdownCell('a|b\\c')).toBe('a\\|b\\\\c')
    expect(['_', '**', '~~', '*_*'].map(markdownCell)).toEqual(['_', '**', '~~', '*_*'])
    expect(markdownCell('__init__ ~~x~~ [a](b) `c` $d$')).toBe('\\_\\_init\\_\\_ \\~\\~x\\~\\~ \\[a\\](b) \\`c\\` \\$d\\$')
  })
})

describe('through the lab', () => {
  let lab: Lab
  beforeAll(() => {
    lab = new Lab({ dataDir: tmp('soliloquy-seed-table-'), threads: 1 })
  })
  afterAll(() => lab?.close())
  it("a sweep's table from the lab (what `soliloquy table` prints) is the page's download of the sweep's runs", async () => {
    const page = await pageSeedTableFile()
    const s = await lab.sweep({ lrs: [0, 0.00125, 0.03], maxGen: 12 })
    for (const format of tableFormats) {
      const cli = await lab.experimentTable({ id: s.runs[0].experimentId!, format })
      expect(page(s.runs, format, 'now').text, format).toBe(cli.text)
    }
    expect((await lab.experimentTable({ id: s.runs[0].experimentId!, format: 'csv' })).text.split('\r\n')[0]).toBe('gradStep,0,0.00125,0.03')
  })
})
