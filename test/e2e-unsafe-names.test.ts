// End to end, issue 20 item 23 in the renderer (browser mode, real lab worker and engine): a model folder whose name
// holds a bidi override (U+202E) and a terminal escape (ESC) is shown escaped — `\u202e`, `\u001b` — in every view that
// shows it, by the same rule the CLI prints with (src/shared/textSafety.ts), while the value the page sends back to the
// lab stays the folder's real name (the Lab opens that very model).
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { openSession, type Session } from './e2e/harness'
import { tmp, writeTinyModel } from './helpers'
import { UNSAFE_TEXT_CHARS } from '../src/shared/textSafety'

let s: Session
let page: Page
let work: string
const NAME = 'tiny\u202egpj.exe\u001b[31m'
const SHOWN = 'tiny\\u202egpj.exe\\u001b[31m'

beforeAll(async () => {
  work = tmp('soliloquy-e2e-unsafe-')
  writeTinyModel(join(work, NAME), { dim: 16, ffn: 32, layers: 1, heads: 2, kvHeads: 1, tied: true })
  s = await openSession()
  page = s.page
})
afterAll(async () => {
  await s?.close()
})

/** The page's whole visible text (what a person reads). */
const pageText = (): Promise<string> => page.evaluate(() => (globalThis as unknown as { document: { body: { innerText: string } } }).document.body.innerText)

describe('control and bidi characters in names (item 23)', () => {
  it('a model folder named with U+202E and ESC is shown escaped in Models and in the Lab, and opened by its real name', async () => {
    await page.goto(s.url)
    await page.click('[data-testid="nav-models"]')
    await page.fill('[data-testid="model-path"]', join(work, NAME))
    await page.click('[data-testid="open-model"]')
    const row = page.locator('[data-testid="model-row"]', { hasText: SHOWN })
    await row.waitFor({ timeout: 60_000 })
    await row.click()
    const models = await pageText()
    expect(models).toContain(SHOWN) // the name in the list and in the detail heading
    expect(models).toContain(join(work, SHOWN)) // its path under the name
    expect(models.match(UNSAFE_TEXT_CHARS)?.filter((c) => c !== '\n' && c !== '\t') ?? []).toEqual([])
    // "Use in the Lab" hands the lab the real path: the Lab's defaults come from that model, by its real name
    await page.click('[data-testid="model-detail"] button:has-text("Use in the Lab")')
    await page.waitForSelector('[data-testid="lab-form"]', { state: 'attached' })
    await expect.poll(() => page.getAttribute('[data-testid="lab-form"]', 'data-defaults'), { timeout: 60_000 }).toBe(NAME)
    const lab = await pageText()
    expect(lab).toContain(SHOWN)
    expect(lab.match(UNSAFE_TEXT_CHARS)?.filter((c) => c !== '\n' && c !== '\t') ?? []).toEqual([])
    expect(s.problems).toEqual([])
  }, 120_000)
})
