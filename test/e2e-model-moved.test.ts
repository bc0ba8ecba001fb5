// End to end, issue 20 item 13's "else asks (UI)" (browser mode, real lab worker and engine): a checkpoint saved on a
// tiny model whose folder then moved where the lab does not look. Exporting it from the Checkpoints view fails with the
// lab's words and the error kind modelMissing; the page offers "Locate model folder…", the user gives the folder where
// the model is now (the Models view's open-by-path, in browser mode), the lab re-points the model by its fingerprint
// and the export is tried again and succeeds. Moved again: History's re-run of its step, and the Lab's sweep on the
// checkpoint as base, ask the same way. Screenshot of the prompt into the test's temporary folder.
import { existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { Lab } from '../src/main/lab/lab'
import { openSession, type Session } from './e2e/harness'
import { tmp, writeTinyModel } from './helpers'

let s: Session
let page: Page
const work = tmp('soliloquy-e2e-moved-')
const first = join(work, 'home', 'tiny')
const now = join(work, 'far', 'away', 'tiny')

beforeAll(async () => {
  writeTinyModel(first, { dim: 16, ffn: 32, layers: 1, heads: 2, kvHeads: 2, tied: true })
  s = await openSession(async (dataDir) => {
    const lab = new Lab({ dataDir, threads: 1 })
    try {
      await lab.step({ model: first, lr: 0.5, maxGen: 2, save: 'hamlet' })
    } finally {
      lab.close()
    }
    mkdirSync(join(now, '..'), { recursive: true })
    renameSync(first, now)
  })
  page = s.page
}, 120_000)
afterAll(async () => {
  await s?.close()
})

describe('a checkpoint whose model moved where the lab does not look (item 13)', () => {
  it('the page asks for the model folder, the lab re-points the model, and the export is tried again', async () => {
    await page.goto(s.url)
    await page.click('[data-testid="nav-checkpoints"]')
    const item = page.locator('[data-testid="checkpoint-item"]', { hasText: 'hamlet' })
    await item.waitFor({ timeout: 30_000 })
    await item.locator('[data-testid="export-open"]').click()
    const out = join(work, 'hamlet-hf')
    await item.locator('[data-testid="export-dir"]').fill(out)
    await item.locator('[data-testid="export-button"]').click()
    await page.waitForSelector('[data-testid="locate-model"]', { timeout: 60_000 })
    expect(await page.textContent('[data-testid="checkpoint-error"]')).toMatch(
      /checkpoint "hamlet": its model "tiny" \(fingerprint [0-9a-f]{12}\) is no longer at .*home\/tiny and is not in /,
    )
    expect(existsSync(out)).toBe(false)
    await page.click('[data-testid="locate-model-button"]')
    await page.fill('[data-testid="locate-model-path"]', now)
    await page.screenshot({ path: join(work, 'locate-model.png'), fullPage: true })
    await page.click('[data-testid="locate-model-open"]')
    await expect.poll(() => page.locator('[data-testid="checkpoint-message"]').textContent(), { timeout: 60_000 }).toMatch(/^exported to .*hamlet-hf as a HF directory/)
    expect(await page.locator('[data-testid="locate-model"]').count()).toBe(0)
    expect(await page.locator('[data-testid="checkpoint-error"]').count()).toBe(0)
    expect(readdirSync(out)).toContain('config.json')
    // the model row follows the folder: the checkpoint names the model where it is now
    await page.click('[data-testid="nav-models"]')
    await page.locator('[data-testid="model-row"]', { hasText: now }).waitFor({ timeout: 30_000 })
    expect(await page.locator('[data-testid="model-row"]', { hasText: join(work, 'home') }).count()).toBe(0)
    expect(s.problems).toEqual([])
  }, 180_000)

  it('moved again: re-running its step from History asks the same way, and re-runs on the model where it is now', async () => {
    const again = join(work, 'further', 'tiny')
    mkdirSync(join(again, '..'), { recursive: true })
    renameSync(now, again)
    await page.click('[data-testid="nav-history"]')
    const row = page.locator('[data-testid="history-row"]').first()
    await row.waitFor({ timeout: 30_000 })
    const before = await page.locator('[data-testid="history-row"]').count()
    await row.click()
    await page.click('[data-testid="rerun-button"]')
    await page.waitForSelector('[data-testid="locate-model"]', { timeout: 60_000 })
    expect(await page.locator('[role=alert]').allTextContents()).toContainEqual(
      expect.stringMatching(/^run \d+: its model "tiny" \(fingerprint [0-9a-f]{12}\) is no longer at .*far\/away\/tiny and is not in /),
    )
    await page.click('[data-testid="locate-model-button"]')
    await page.fill('[data-testid="locate-model-path"]', again)
    await page.click('[data-testid="locate-model-open"]')
    await expect.poll(() => page.locator('[data-testid="history-row"]').count(), { timeout: 60_000 }).toBe(before + 1)
    expect(await page.locator('[data-testid="locate-model"]').count()).toBe(0)
    expect(s.problems).toEqual([])
  }, 180_000)

  it('moved once more: a sweep on the checkpoint as base in the Lab asks the same way, and runs', async () => {
    const once = join(work, 'once-more', 'tiny')
    mkdirSync(join(once, '..'), { recursive: true })
    renameSync(join(work, 'further', 'tiny'), once)
    await page.click('[data-testid="nav-checkpoints"]')
    await page.locator('[data-testid="checkpoint-item"]', { hasText: 'hamlet' }).locator('[data-testid="use-as-base"]').click()
    await page.waitForSelector('[data-testid="run-button"]')
    await page.fill('[data-testid="step-size-input"]', '0, 0.03')
    await page.click('[data-testid="run-button"]')
    await page.waitForSelector('[data-testid="locate-model"]', { timeout: 60_000 })
    expect(await page.textContent('[data-testid="lab-error"]')).toMatch(/^checkpoint "hamlet": its model "tiny" \(fingerprint [0-9a-f]{12}\) is no longer at .*further\/tiny /)
    await page.click('[data-testid="locate-model-button"]')
    await page.fill('[data-testid="locate-model-path"]', once)
    await page.click('[data-testid="locate-model-open"]')
    await page.waitForFunction(
      () => {
        const doc = (globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<{ getAttribute(a: string): string | null }> } }).document
        const ths = Array.from(doc.querySelectorAll('[data-testid="sweep-table"] thead th[data-lr]'))
        return ths.length === 2 && ths.every((t) => (t.getAttribute('class') ?? '').includes('st-done'))
      },
      undefined,
      { timeout: 120_000 },
    )
    expect(await page.locator('[data-testid="locate-model"]').count()).toBe(0)
    expect(await page.locator('[data-testid="lab-error"]').count()).toBe(0)
    expect(s.problems).toEqual([])
  }, 180_000)
})
