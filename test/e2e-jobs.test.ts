// Jobs belong to the lab, not to a page (issue 23), end to end in browser mode (the real renderer, `soliloquy serve`
// with its lab process, the real engine): a sweep started, the page reloaded mid-sweep — the reloaded Lab shows that
// sweep running (its own settings in the form, its progress) and then its table, all done; a second tab starts a
// sweep and is closed mid-sweep — nothing is cancelled, and the first tab attaches to it and shows its table.
// Sweeps are long (many α × 500 tokens) so that a reload lands inside one. Screenshot: docs/screenshots/lab-reattached.png.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { ensureCurrentBuild } from './helpers'
import { openSession, shot, type Session } from './e2e/harness'

let s: Session
let page: Page

beforeAll(async () => {
  ensureCurrentBuild()
  s = await openSession()
  page = s.page
}, 300_000)
afterAll(async () => {
  await s?.close()
})

/** α = 0, 0.001 … : n step sizes, as typed */
const alphas = (n: number, step: number): string[] => Array.from({ length: n }, (_, i) => String(Number((i * step).toFixed(4))))

async function startSweep(p: Page, lrs: string[], maxTokens: string): Promise<void> {
  await p.click('[data-testid="nav-lab"]')
  await p.waitForSelector('[data-testid="lab-form"][data-defaults*="organism"]', { state: 'attached', timeout: 30_000 })
  await p.fill('[data-testid="max-tokens"]', maxTokens)
  await p.fill('[data-testid="step-size-input"]', lrs.join(', '))
  await p.press('[data-testid="step-size-input"]', 'Enter')
  await p.click('[data-testid="run-button"]')
  // generating: the gradient is taken, the sweep's experiment is open
  await p.waitForSelector('[data-testid="progress-phase"]:has-text("generating")', { timeout: 60_000 })
}

const heads = (p: Page): Promise<(string | null)[]> => p.$$eval('[data-testid="sweep-table"] thead th[data-lr]', (ths) => ths.map((t) => t.getAttribute('data-lr')))
const statuses = (p: Page): Promise<string[]> => p.$$eval('[data-testid="sweep-table"] thead th[data-lr]', (ths) => ths.map((t) => t.className))

describe('a sweep outlives the page that started it', () => {
  it('reload mid-sweep: the reloaded Lab shows the sweep running with its own settings, then its table', async () => {
    await page.goto(s.url)
    const lrs = alphas(24, 0.001)
    await startSweep(page, lrs, '500')
    await page.reload()
    // the reloaded page found the lab's running sweep and attached to it
    await page.waitForSelector('[data-testid="lab-attached"]', { timeout: 30_000 })
    await page.waitForSelector('[data-testid="progress"]')
    // the form holds the job's settings (not the model's preset: 8 α, 64 tokens)
    expect(await page.inputValue('[data-testid="max-tokens"]')).toBe('500')
    expect(await page.locator('.chip').count()).toBe(24)
    expect(await page.getAttribute('[data-testid="lab-form"]', 'data-defaults')).toMatch(/^the running sweep e\d+ \(.*organism.*\)$/i)
    await page.waitForSelector('[data-testid="progress-phase"]:has-text("generating")', { timeout: 60_000 })
    await shot(page, 'lab-reattached')
    // … and then its table: every column done (the reload cancelled nothing)
    await page.waitForSelector('[data-testid="sweep-table"]', { timeout: 300_000 })
    expect(await heads(page)).toEqual(lrs)
    expect(new Set(await statuses(page))).toEqual(new Set(['st-done']))
    expect(await page.locator('[data-testid="lab-attached"]').count()).toBe(0)
    expect(await page.locator('[data-testid="lab-cancelled"]').count()).toBe(0)
  }, 400_000)

  it('closing a tab mid-sweep cancels nothing: another tab attaches and shows the finished table', async () => {
    const other = await page.context().newPage()
    await other.goto(s.url)
    const lrs = alphas(16, 0.002)
    await startSweep(other, lrs, '500')
    await other.close()
    await page.reload()
    await page.waitForSelector('[data-testid="lab-attached"]', { timeout: 30_000 })
    expect(await page.locator('.chip').count()).toBe(16)
    await page.waitForFunction(
      (n) => (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document.querySelectorAll('[data-testid="sweep-table"] thead th.st-done').length === n,
      16,
      { timeout: 300_000 },
    )
    expect(await heads(page)).toEqual(lrs)
    // History agrees: both sweeps' runs are done, none cancelled
    const runs = await page.evaluate(async () => {
      const w = globalThis as unknown as { location: { search: string; host: string }; WebSocket: typeof WebSocket }
      const token = new URLSearchParams(w.location.search).get('token') ?? ''
      const ws = new w.WebSocket(`ws://${w.location.host}/api?token=${encodeURIComponent(token)}`)
      await new Promise((r) => (ws.onopen = r))
      const reply = new Promise<string>((r) => (ws.onmessage = (ev) => (JSON.parse(String(ev.data)).id === 1 ? r(String(ev.data)) : undefined)))
      ws.send(JSON.stringify({ id: 1, method: 'history', args: { kind: 'sweep', limit: 100 } }))
      const m = JSON.parse(await reply) as { result: { runs: { status: string }[] } }
      ws.close()
      return m.result.runs.map((r) => r.status)
    })
    expect(runs.length).toBe(40)
    expect(new Set(runs)).toEqual(new Set(['done']))
    expect(s.problems).toEqual([])
  }, 400_000)
})
