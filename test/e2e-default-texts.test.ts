// End to end in browser mode (issue 23): on a GGUF copy of the organism and on an HF model with no preset texts, a
// sweep in the Lab measures recall, KL, locality and generalisation against the shipped default texts, and the table
// labels each "default …"; nothing shows a bare "—". Screenshot: docs/screenshots/lab-default-texts.png.
import { cpSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { Lab } from '../src/main/lab/lab'
import { ensureCurrentBuild, ORGANISM, tmp } from './helpers'
import { openSession, shot, type Session } from './e2e/harness'

let s: Session
let page: Page
let work = ''
let gguf = ''
let hf = ''

beforeAll(async () => {
  ensureCurrentBuild()
  work = tmp('soliloquy-e2e-default-texts-')
  hf = join(work, 'organism-no-texts')
  cpSync(ORGANISM, hf, { recursive: true })
  for (const f of ['preset.json', 'probes.json', 'soliloquy.txt']) rmSync(join(hf, f))
  s = await openSession(async (dataDir) => {
    // the two models, registered in the session's history (as opening them in Models does)
    const lab = new Lab({ dataDir })
    try {
      gguf = (await lab.exportCheckpoint({ model: hf, format: 'gguf', dtype: 'F32', outDir: join(work, 'organism-copy.gguf') })).dir
      await lab.modelTexts({ model: gguf })
    } finally {
      lab.close()
    }
  })
  page = s.page
}, 300_000)

afterAll(async () => {
  await s?.close()
  if (work) rmSync(work, { recursive: true, force: true })
})

async function sweepOn(model: string): Promise<void> {
  await page.click('[data-testid="nav-lab"]')
  await page.waitForSelector('[data-testid="run-button"]')
  await page.selectOption('[data-testid="model-picker"]', model)
  await page.fill('[data-testid="phrase"]', 'To be, or not to be, that is the question')
  await page.fill('[data-testid="step-size-input"]', '0, 0.03')
  await page.press('[data-testid="step-size-input"]', 'Enter')
  await page.click('[data-testid="run-button"]')
  await page.waitForSelector('[data-testid="sweep-table"] thead th.st-done[data-lr="0.03"]', { timeout: 120_000 })
}

async function strip(lr: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const k of ['recall', 'kl', 'locality', 'generalisation'])
    out[k] = (await page.textContent(`[data-testid="metrics-strip"] ~ tr td[data-metric="${k}"][data-lr="${lr}"], [data-testid="metrics-strip"] td[data-metric="${k}"][data-lr="${lr}"]`))!.trim()
  return out
}

describe('metrics on models without texts of their own (browser mode)', () => {
  it('a GGUF copy of the organism: recall, KL, locality and generalisation measured with the default texts and labelled so', async () => {
    await page.goto(s.url)
    await page.click('[data-testid="nav-models"]')
    await page.waitForSelector('[data-testid="model-row"]')
    await sweepOn(gguf)
    const m = await strip('0.03')
    expect(Number(m.recall)).toBeGreaterThan(3)
    for (const k of ['kl', 'locality', 'generalisation']) expect(Number(m[k]), k).toBeGreaterThan(0)
    expect(await page.textContent('[data-testid="default-recall"]')).toBe(' · default reference')
    expect(await page.textContent('[data-testid="default-kl"]')).toBe(' · default probes')
    expect(await page.textContent('[data-testid="default-locality"]')).toBe(' · default probes')
    expect(await page.textContent('[data-testid="default-generalisation"]')).toBe(' · default paraphrases')
    // α = 0 is the base itself: KL 0 and locality 1, measured (not a blank)
    const zero = await strip('0')
    expect(Number(zero.kl)).toBe(0)
    expect(Number(zero.locality)).toBe(1)
    expect(await page.locator('[data-testid="unmeasured"]').count()).toBe(0)
    await page.locator('[data-testid="sweep-table"]').scrollIntoViewIfNeeded()
    await shot(page, 'lab-default-texts')
    expect(s.problems).toEqual([])
  }, 180_000)

  it('an HF model with no preset, probes or reference: the same, labelled default', async () => {
    // open it by path in Models (browser mode), then sweep on it
    await page.click('[data-testid="nav-models"]')
    await page.fill('[data-testid="model-path"]', hf)
    await page.click('[data-testid="open-model"]')
    await page.locator('[data-testid="model-row"]', { hasText: 'organism-no-texts' }).first().waitFor({ timeout: 60_000 })
    await sweepOn(hf)
    const m = await strip('0.03')
    expect(Number(m.recall)).toBeGreaterThan(3)
    for (const k of ['kl', 'locality', 'generalisation']) expect(Number(m[k]), k).toBeGreaterThan(0)
    expect(await page.textContent('[data-testid="default-recall"]')).toBe(' · default reference')
    expect(await page.textContent('[data-testid="default-generalisation"]')).toBe(' · default paraphrases')
    expect(s.problems).toEqual([])
  }, 180_000)
})
