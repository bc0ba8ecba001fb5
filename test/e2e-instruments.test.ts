// End to end, issue 10 items 3–5 in the renderer (browser mode, real lab worker and engine, fresh data directory):
// a restricted sweep from the Lab (parameter groups + layer range) and its layer × module grid in run detail; the
// layer study with the full step's grid; the plasticity window with its chart and the chart of every window found;
// the emergence heatmap beside the greedy table, with top-k alternatives on hover. Screenshots to docs/screenshots/.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { openSession, shot, type Session } from './e2e/harness'

let s: Session
let page: Page

beforeAll(async () => {
  s = await openSession()
  page = s.page
})
afterAll(async () => {
  await s?.close()
})

describe('restricted steps from the Lab', () => {
  it('refuses a layer range outside the model, in words', async () => {
    await page.goto(s.url)
    await page.waitForSelector('[data-testid="lab-form"][data-defaults*="organism"]', { state: 'attached', timeout: 30_000 })
    await page.fill('[data-testid="layer-from"]', '0')
    await page.fill('[data-testid="layer-to"]', '9')
    expect(await page.textContent('[data-testid="restrict-problem"]')).toMatch(/“to” must be a layer from 0 to 5 \(got “9”\)/)
    expect(await page.isDisabled('[data-testid="run-button"]')).toBe(true)
    await page.fill('[data-testid="layer-to"]', '3')
    expect(await page.locator('[data-testid="restrict-problem"]').count()).toBe(0)
  })

  it('sweeps with the step restricted to attention and MLP of layers 0–3, and shows where it landed', async () => {
    await page.check('[data-testid="group-attn"]')
    await page.check('[data-testid="group-mlp"]')
    await page.fill('[data-testid="step-size-input"]', '0, 0.03')
    await page.click('[data-testid="run-button"]')
    await page.waitForSelector('[data-testid="sweep-table"] thead th[data-lr="0.03"].st-done', { timeout: 120_000 })
    const runId = await page.getAttribute('[data-testid="sweep-table"] thead th[data-lr="0.03"]', 'data-run-id')
    await page.click('[data-testid="nav-history"]')
    await page.click(`[data-testid="history-row"][data-run-id="${runId}"]`)
    await page.waitForSelector('[data-testid="run-metrics"] [data-metric="restriction"]')
    expect(await page.textContent('[data-testid="run-metrics"] [data-metric="restriction"]')).toMatch(/attn, mlp · layers 0–3/)
    await page.waitForSelector('[data-testid="run-grid"] canvas')
    await page.click('body', { position: { x: 5, y: 5 } })
    await shot(page, 'run-detail-grid', true)
    // back to the full step for the instruments
    await page.click('[data-testid="nav-lab"]')
    await page.uncheck('[data-testid="group-attn"]')
    await page.uncheck('[data-testid="group-mlp"]')
    await page.fill('[data-testid="layer-from"]', '')
    await page.fill('[data-testid="layer-to"]', '')
  })
})

describe('the instruments', () => {
  it('runs the layer study and shows which groups alone recall the phrase, with the layer × module grid', async () => {
    await page.click('[data-testid="nav-instruments"]')
    await page.waitForSelector('[data-testid="layer-run"]')
    await page.click('[data-testid="layer-run"]')
    await page.waitForSelector('[data-testid="layer-summary"]', { timeout: 300_000 })
    const cells = await page.$$eval('[data-testid="layer-cell"]', (trs) => trs.map((t) => [t.getAttribute('data-label'), t.getAttribute('data-recalls')]))
    expect(cells[0]).toEqual(['full', 'true'])
    expect(cells.length).toBeGreaterThan(5)
    console.info(`layer study at 0.03: ${cells.map(([l, r]) => `${l}=${r}`).join(', ')}`)
    await page.waitForSelector('[data-testid="layer-grid"] canvas')
    await page.locator('[data-testid="layer-study"]').screenshot({ path: 'docs/screenshots/layer-study.png' })
  })

  it('finds the plasticity window and charts every window found', async () => {
    await page.click('[data-testid="window-run"]')
    await page.waitForSelector('[data-testid="window-summary"]', { timeout: 300_000 })
    const summary = (await page.textContent('[data-testid="window-summary"]')) ?? ''
    console.info(`window (default thresholds): ${summary.replace(/\s+/g, ' ')}`)
    expect(summary).toMatch(/window \[\d\.\dE-\d\d, /)
    // a stricter threshold: a second window on the same chart
    await page.fill('[data-testid="win-kl"]', '0.2')
    await page.click('[data-testid="window-run"]')
    await page.waitForFunction(() => (globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<unknown> } }).document.querySelectorAll('[data-testid="window-run"]:not([disabled])').length === 1, undefined, { timeout: 300_000 })
    console.info(`window (KL ≥ 0.2): ${((await page.textContent('[data-testid="window-summary"]')) ?? '').replace(/\s+/g, ' ')}`)
    await page.waitForSelector('[data-testid="window-chart"] canvas')
    await page.waitForSelector('[data-testid="windows-chart"] canvas')
    await page.locator('[data-testid="window-panel"]').screenshot({ path: 'docs/screenshots/window.png' })
  })

  it('keeps every window found: after a reload they are read back from History', async () => {
    await page.reload()
    await page.click('[data-testid="nav-instruments"]')
    await page.waitForSelector('[data-testid="windows"][data-count="2"] canvas')
  })

  it('draws the emergence heatmap beside the greedy table, with top-k alternatives on hover', async () => {
    await page.click('[data-testid="emerge-run"]')
    await page.waitForSelector('[data-testid="emerge-heatmap"] canvas', { timeout: 300_000 })
    expect(await page.textContent('[data-testid="emerge-table"]')).toMatch(/gradStep/)
    await page.locator('[data-testid="emerge-heatmap"]').scrollIntoViewIfNeeded()
    const box = (await page.locator('[data-testid="emerge-heatmap"] canvas').first().boundingBox())!
    // a cell in the middle of the grid: the tooltip names α, the token, log p and the top alternatives
    // (the plot area: grid left 76, right 90, top 10, bottom 70)
    const x = box.x + 76 + (box.width - 166) * 0.3
    const y = box.y + 10 + (box.height - 80) * 0.5
    await page.mouse.move(x - 10, y - 5)
    await page.mouse.move(x, y, { steps: 4 })
    await page.waitForSelector('text=/top-\\d+:/', { timeout: 10_000 })
    await page.locator('[data-testid="emerge-panel"]').screenshot({ path: 'docs/screenshots/emerge.png' })
  })

  it('runs three lessons and draws the forgetting curve of every earlier lesson', async () => {
    expect(await page.locator('[data-testid="lesson-step"]').count()).toBe(3)
    await page.fill('[data-testid="lesson-lr-1"]', '-1')
    expect(await page.isDisabled('[data-testid="lesson-run"]')).toBe(true)
    await page.fill('[data-testid="lesson-lr-1"]', '0.03')
    await page.click('[data-testid="lesson-run"]')
    await page.waitForSelector('[data-testid="forgetting-chart"] canvas', { timeout: 300_000 })
    await page.locator('[data-testid="lessons-panel"]').screenshot({ path: 'docs/screenshots/lessons.png' })
  })

  it('logged no console errors, page errors or failed requests', () => {
    expect(s.problems).toEqual([])
  })
})
