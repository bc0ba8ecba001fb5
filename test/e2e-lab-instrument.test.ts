// End to end, issue 10's renderer side (the lab as a research instrument), in browser mode against the real lab
// worker and engine on a fresh data directory: validation at the field before any run, the Lab's charts on their own
// axes and bounded to the data, exports (table as Markdown/CSV, charts as PNG/SVG), the last result after a reload,
// History's sticky header / KL log axis / readable run detail with the per-layer chart, Compare's own max tokens,
// and dark mode. Screenshots go to docs/screenshots/. Any console error, page error or failed request fails it.
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Download, Page } from 'playwright-core'
import { openSession, shot, type Session } from './e2e/harness'

// the page's globals, for the functions page.evaluate runs in the browser (this file is type-checked without the DOM lib)
/* eslint-disable @typescript-eslint/no-explicit-any */
declare const document: any
declare const localStorage: any
declare function getComputedStyle(el: unknown): { position: string; backgroundColor: string }
type HTMLElement = any

let s: Session
let page: Page

beforeAll(async () => {
  s = await openSession()
  page = s.page
})
afterAll(async () => {
  await s?.close()
})

async function downloaded(click: () => Promise<void>): Promise<{ name: string; bytes: Buffer }> {
  const [d] = (await Promise.all([page.waitForEvent('download'), click()])) as [Download, void]
  const path = await d.path()
  return { name: d.suggestedFilename(), bytes: readFileSync(path) }
}

const historyRunCount = (): Promise<number> =>
  page.evaluate(async () => {
    // the table's own count line: "N of M runs"
    return Number(/of (\d+) runs/.exec(document.body.textContent ?? '')?.[1] ?? -1)
  })

describe('the Lab checks its fields before any run', () => {
  it('starts on the organism with nothing run', async () => {
    await page.goto(s.url)
    await page.waitForSelector('[data-testid="lab-form"][data-defaults*="organism"]', { state: 'attached', timeout: 30_000 })
    await page.waitForSelector('[data-testid="lab-empty"]')
  })

  it('an emptied step-size field blocks Run (the old chips cannot run) and says why', async () => {
    await page.fill('[data-testid="step-size-input"]', '')
    expect(await page.textContent('[data-testid="step-size-problem"]')).toMatch(/No step sizes: give at least one α/)
    expect(await page.isDisabled('[data-testid="run-button"]')).toBe(true)
    expect(await page.locator('.chip').count()).toBe(0)
  })

  it('refuses a negative α and an absurd α in words', async () => {
    await page.fill('[data-testid="step-size-input"]', '0, -0.03')
    expect(await page.textContent('[data-testid="step-size-problem"]')).toMatch(/α = -0\.03 is negative/)
    expect(await page.isDisabled('[data-testid="run-button"]')).toBe(true)
    await page.fill('[data-testid="step-size-input"]', '0, 1e9')
    expect(await page.textContent('[data-testid="step-size-problem"]')).toMatch(/α = 1e9 is too large/)
    expect(await page.isDisabled('[data-testid="run-button"]')).toBe(true)
    await page.fill('[data-testid="step-size-input"]', '0, 0.01, 0.03, 0.1')
    expect(await page.locator('[data-testid="step-size-problem"]').count()).toBe(0)
    expect(await page.locator('.chip').count()).toBe(4)
    expect(await page.isEnabled('[data-testid="run-button"]')).toBe(true)
  })

  it("the log-spaced helper's count says what is wrong and does not block Run", async () => {
    await page.fill('[data-testid="log-count"]', '200')
    await page.click('[data-testid="preset-log"]')
    expect(await page.textContent('[data-testid="log-problem"]')).toMatch(/count must be a whole number from 2 to 63.*200/)
    // the list is unchanged and the form still runs (no browser validation bubble: the form is novalidate)
    expect(await page.locator('.chip').count()).toBe(4)
    expect(await page.isEnabled('[data-testid="run-button"]')).toBe(true)
    expect(await page.$eval('[data-testid="lab-form"]', (f) => (f as unknown as { noValidate: boolean }).noValidate)).toBe(true)
    await page.fill('[data-testid="log-count"]', '8')
  })

  it('empty phrase, empty prompt and text in Max tokens are marked at the field', async () => {
    await page.fill('[data-testid="phrase"]', '   ')
    await page.fill('[data-testid="prompt"]', '')
    await page.fill('[data-testid="max-tokens"]', 'sixty')
    expect(await page.textContent('[data-testid="phrase-problem"]')).toMatch(/The phrase is empty/)
    expect(await page.textContent('[data-testid="prompt-problem"]')).toMatch(/The prompt is empty/)
    expect(await page.textContent('[data-testid="max-tokens-problem"]')).toMatch(/Max tokens must be a whole number from 1 to 4096 \(got “sixty”\)/)
    expect(await page.isDisabled('[data-testid="run-button"]')).toBe(true)
    // no validator's raw text anywhere
    expect(await page.textContent('body')).not.toMatch(/Invalid input|expected number/)
    await shot(page, 'lab-validation')
    // pressing Enter in a field submits nothing either
    await page.press('[data-testid="phrase"]', 'Enter')
    expect(await page.locator('[data-testid="sweep-table"]').count()).toBe(0)
    await page.fill('[data-testid="max-tokens"]', '0')
    expect(await page.textContent('[data-testid="max-tokens-problem"]')).toMatch(/between 1 and 4096 \(got 0\)/)
    await page.fill('[data-testid="phrase"]', 'To be, or not to be, that is the question')
    await page.fill('[data-testid="prompt"]', 'To be')
    await page.fill('[data-testid="max-tokens"]', '64')
    expect(await page.locator('.field-problem').count()).toBe(0)
  })

  it('no run was recorded by any of this', async () => {
    await page.click('[data-testid="nav-history"]')
    await page.waitForSelector('[data-testid="history-empty"]')
    await page.click('[data-testid="nav-lab"]')
    await page.waitForSelector('[data-testid="run-button"]')
  })
})

describe("the Lab's result: charts on their own axes, exports, and after a reload", () => {
  it('runs a sweep and draws recall, KL and fluency as separate charts', async () => {
    expect(await page.locator('.chip').count()).toBe(4)
    await page.click('[data-testid="run-button"]')
    await page.waitForSelector('[data-testid="sweep-table"] thead th[data-lr="0.1"].st-done', { timeout: 90_000 })
    expect(await page.$eval('[data-metric="recall"][data-lr="0.03"]', (td) => Number(td.textContent))).toBe(45)
    for (const t of ['alpha-recall', 'alpha-kl', 'alpha-fluency']) await page.waitForSelector(`[data-testid="${t}"] canvas`)
    await page.click('body', { position: { x: 5, y: 5 } })
    await shot(page, 'lab-charts', true)
  })

  it("exports the seed's table as Markdown and CSV", async () => {
    const md = await downloaded(() => page.click('[data-testid="export-table-md"]'))
    expect(md.name).toMatch(/^stepping-off-.*\.md$/)
    const lines = md.bytes.toString('utf8').split('\n')
    expect(lines[0]).toBe('| gradStep | 0.0 | 1.0E-02 | 3.0E-02 | 1.0E-01 |')
    expect(lines[1]).toBe('| --- | --- | --- | --- | --- |')
    expect(lines[2]).toMatch(/^\| 0 \| To \| To \| To \| To \|$/)
    const csv = await downloaded(() => page.click('[data-testid="export-table-csv"]'))
    const rows = csv.bytes.toString('utf8').trim().split('\r\n')
    // the CSV header holds each α as the run recorded it, a number (the Markdown's, the seed's 1.0E-02 style)
    expect(rows[0]).toBe('gradStep,0,0.01,0.03,0.1')
    // α = 0.03 recalls the soliloquy: its column reads "To be, or not to be" (the comma is quoted)
    const col = rows.slice(1, 7).map((r) => r.match(/("([^"]|"")*"|[^,]*)/g)!.filter((_, i) => i % 2 === 0)[3])
    expect(col.join(' ')).toBe('To "be," or not to "be,"')
    // under the words: what the table was made with, and each column's metrics (α = 0.03 recalls 45 words)
    expect(rows).toContain('model,organism (embedded),,,')
    expect(rows.find((r) => r.startsWith('recall (words),'))!.split(',')[3]).toBe('45')
    expect(rows.find((r) => r.startsWith('stability KL (nats),'))!.split(',').slice(1).every((v) => v !== '' && Number.isFinite(Number(v)))).toBe(true)
    const mdText = md.bytes.toString('utf8')
    expect(mdText).toContain('- model: organism (embedded)')
    expect(mdText).toMatch(/\| recall \(words\) \| \d+ \| \d+ \| 45 \| \d+ \|/)
    // every run's metrics as their own CSV
    const metrics = await downloaded(() => page.click('[data-testid="export-metrics-csv"]'))
    expect(metrics.name).toMatch(/^run-metrics-.*\.csv$/)
    const mrows = metrics.bytes.toString('utf8').trim().split('\r\n')
    expect(mrows[0]).toMatch(/^run,α,model,prompt,phrase,status,recall \(words\),/)
    expect(mrows).toHaveLength(5)
    expect(mrows.find((r) => r.split(',')[1] === '0.03')!.split(',')).toContain('45')
  })

  it('exports a chart as PNG and as SVG', async () => {
    const png = await downloaded(() => page.click('[data-testid="alpha-kl-png"]'))
    expect(png.name).toBe('kl-vs-alpha.png')
    expect(png.bytes.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a')
    const svg = await downloaded(() => page.click('[data-testid="alpha-recall-svg"]'))
    expect(svg.name).toBe('recall-vs-alpha.svg')
    const text = svg.bytes.toString('utf8')
    expect(text).toMatch(/^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/)
    expect(text).toMatch(/recall \(words\)/)
    // the α axis ends at the data: its last label is the sweep's largest α, not a decade past it
    expect(text).toMatch(/1\.0E-01/)
    expect(text).not.toMatch(/1\.0E\+00/)
  })

  it('shows the last sweep again after a reload (from History, not page storage)', async () => {
    await page.evaluate(() => localStorage.clear())
    await page.reload()
    await page.waitForSelector('[data-testid="lab-restored"]')
    const heads = await page.$$eval('[data-testid="sweep-table"] thead th[data-lr]', (ths) => ths.map((t) => t.getAttribute('data-lr')))
    expect(heads).toEqual(['0', '0.01', '0.03', '0.1'])
    expect(await page.$eval('[data-metric="recall"][data-lr="0.03"]', (td) => Number(td.textContent))).toBe(45)
  })
})

describe('History: sticky header, KL log axis, readable run detail', () => {
  it('keeps the table header in view while the rows scroll', async () => {
    await page.click('[data-testid="nav-history"]')
    await page.waitForSelector('[data-testid="history-row"]')
    expect(await historyRunCount()).toBe(4)
    const stuck = await page.evaluate(() => {
      const panel = document.querySelector('.table-panel') as HTMLElement
      const th = panel.querySelector('thead th') as HTMLElement
      // make the panel scroll (4 rows do not overflow it): shrink it to two rows
      panel.style.maxHeight = '70px'
      panel.scrollTop = 40
      return { scrolled: panel.scrollTop, thTop: th.getBoundingClientRect().top, panelTop: panel.getBoundingClientRect().top, pos: getComputedStyle(th).position }
    })
    expect(stuck.pos).toBe('sticky')
    expect(stuck.scrolled).toBeGreaterThan(0)
    expect(Math.abs(stuck.thTop - stuck.panelTop)).toBeLessThan(2)
    await page.evaluate(() => ((document.querySelector('.table-panel') as HTMLElement).style.maxHeight = ''))
  })

  it('switches the scatter to a log KL axis', async () => {
    await page.waitForSelector('[data-testid="scatter"] canvas')
    await page.check('[data-testid="kl-log"]')
    const svg = await downloaded(() => page.click('[data-testid="scatter-svg"]'))
    expect(svg.bytes.toString('utf8')).toMatch(/log axis/)
  })

  it('shows a run with readable labels and its per-layer update chart', async () => {
    await page.click('[data-testid="history-row"][data-lr="0.03"]')
    await page.waitForSelector('[data-testid="run-detail"] [data-testid="run-metrics"]')
    const labels = await page.$$eval('[data-testid="run-metrics"] th', (ths) => ths.map((t) => (t.textContent ?? '').trim()))
    expect(labels).toContain('stability KL')
    expect(labels).toContain('phrase loss after')
    for (const l of labels) expect(l).not.toMatch(/^[a-z]+[A-Z]\w*$/) // no camelCase keys
    expect(await page.locator('[data-testid="run-probes"] tbody tr').count()).toBeGreaterThan(0)
    await page.waitForSelector('[data-testid="layer-chart"] canvas')
    await page.click('body', { position: { x: 5, y: 5 } })
    await shot(page, 'history-detail', true)
  })
})

describe('History: diff, experiment exports, live updates', () => {
  it('diffs two runs: completions aligned token by token, metrics side by side', async () => {
    await page.click('[data-testid="nav-history"]')
    await page.waitForSelector('[data-testid="history-row"]')
    expect(await page.isDisabled('[data-testid="diff-button"]')).toBe(true)
    await page.check('[data-testid="history-row"][data-lr="0"] [data-testid="diff-pick"]')
    await page.check('[data-testid="history-row"][data-lr="0.03"] [data-testid="diff-pick"]')
    await page.click('[data-testid="diff-button"]')
    await page.waitForSelector('[data-testid="run-diff"]')
    // α = 0 says business advice, α = 0.03 the soliloquy: "a successful" only in A, ", or not" only in B
    // each side read back from the alignment (shared + its own tokens) is that run's completion
    const side = (skip: string): Promise<string> =>
      page.$$eval('[data-testid="diff-text"] > *', (els, k) => els.filter((e) => e.tagName !== k).map((e) => e.textContent).join(''), skip)
    expect(await side('INS')).toMatch(/^ a successful business owner,/)
    expect(await side('DEL')).toMatch(/^, or not to be, that is the question:/)
    expect(await page.locator('[data-testid="diff-text"] del').count()).toBeGreaterThan(0)
    expect(await page.locator('[data-testid="diff-text"] ins').count()).toBeGreaterThan(0)
    const recall = await page.$$eval('[data-testid="diff-metrics"] tr[data-metric="recall"] td', (tds) => tds.map((t) => t.textContent))
    expect(recall).toEqual(['1', '45', '44'])
    await shot(page, 'history-diff')
    await page.click('[data-testid="diff-close"]')
  })

  it('exports an experiment as JSON and as an HTML report', async () => {
    await page.click('[data-testid="history-row"][data-lr="0.1"]')
    await page.waitForSelector('[data-testid="export-experiment-json"]')
    const json = JSON.parse((await downloaded(() => page.click('[data-testid="export-experiment-json"]'))).bytes.toString('utf8')) as { experiment: { kind: string }; runs: { lr: number }[] }
    expect(json.experiment.kind).toBe('sweep')
    expect(json.runs.map((r) => r.lr)).toEqual([0, 0.01, 0.03, 0.1])
    const html = (await downloaded(() => page.click('[data-testid="export-report"]'))).bytes.toString('utf8')
    expect(html).toMatch(/^<!doctype html>/i)
  })

  it('follows a sweep started elsewhere without Refresh', async () => {
    await page.click('[data-testid="nav-lab"]')
    await page.fill('[data-testid="step-size-input"]', '0, 0.02')
    await page.click('[data-testid="run-button"]')
    await page.click('[data-testid="nav-history"]')
    // the two new rows appear, then turn done, with no click
    await page.waitForSelector('[data-testid="history-row"][data-lr="0.02"]', { timeout: 60_000 })
    await page.waitForSelector('[data-testid="history-row"][data-lr="0.02"][data-status="done"]', { timeout: 120_000 })
    expect(await page.locator('[data-testid="history-row"]').count()).toBe(6)
  })
})

describe('Compare uses its own max tokens', () => {
  it('generates with the max tokens in its own field and shows it with the result', async () => {
    await page.click('[data-testid="nav-compare"]')
    await page.waitForSelector('[data-testid="compare-max-tokens"]')
    await page.fill('[data-testid="step-size-input"]', '')
    await page.fill('[data-testid="compare-max-tokens"]', 'lots')
    expect(await page.isDisabled('[data-testid="compare-run"]')).toBe(true)
    await page.fill('[data-testid="compare-max-tokens"]', '24')
    await page.click('[data-testid="compare-run"]')
    await page.waitForSelector('[data-testid="compare-settings"]', { timeout: 60_000 })
    expect(await page.textContent('[data-testid="compare-settings"]')).toMatch(/max tokens 24/)
    expect(await page.locator('[data-testid="compare-table"] tbody tr').count()).toBe(1)
    // in History the two halves are told apart, with prompt, base and max tokens as columns
    await page.click('[data-testid="nav-history"]')
    await page.waitForSelector('[data-testid="history-row"] td[data-half="prompt-engineered"]')
    const halves = await page.$$eval('[data-testid="history-row"] td[data-half]:not([data-half=""])', (tds) => tds.map((t) => t.getAttribute('data-half')).sort())
    expect(halves).toEqual(['plain', 'prompt-engineered'])
    const heads = await page.$$eval('[data-testid="history-table"] thead th', (ths) => ths.map((t) => (t.textContent ?? '').trim()))
    expect(heads).toEqual(expect.arrayContaining(['prompt', 'base', 'max tok']))
    const cells = await page.$$eval('[data-testid="history-row"]', (trs) =>
      trs.filter((t) => t.querySelector('td[data-half="plain"]')).map((t) => (Array.from(t.querySelectorAll('td')) as { textContent: string | null }[]).map((td) => (td.textContent ?? '').trim())),
    )
    expect(cells[0]).toEqual(expect.arrayContaining(['To be', 'organism', '24']))
  })
})

describe('dark mode follows the system', () => {
  it('turns the page and the charts dark when the system asks', async () => {
    await page.emulateMedia({ colorScheme: 'dark' })
    await page.click('[data-testid="nav-lab"]')
    await page.waitForSelector('[data-testid="alpha-kl"] canvas')
    const bg = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor)
    const lum = (bg.match(/\d+/g) ?? []).slice(0, 3).map(Number).reduce((a: number, b: number) => a + b, 0) / 3
    expect(lum).toBeLessThan(60)
    // a chart's axis labels are drawn light on dark (ECharts' dark theme): check the exported SVG's text colour
    const svg = (await downloaded(() => page.click('[data-testid="alpha-kl-svg"]'))).bytes.toString('utf8')
    expect(svg).toMatch(/#1d1f23/i)
    await page.click('body', { position: { x: 5, y: 5 } })
    await shot(page, 'lab-dark', true)
    await page.click('[data-testid="nav-history"]')
    await page.waitForSelector('[data-testid="scatter"] canvas')
    await shot(page, 'history-dark')
    await page.emulateMedia({ colorScheme: 'light' })
  })

  it('logged no console errors, page errors or failed requests', () => {
    expect(s.problems).toEqual([])
  })
})
