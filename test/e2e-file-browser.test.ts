// Browser mode's file browser, end to end (issue 23): `soliloquy serve` with SOLILOQUY_MODEL_DIRS, the real renderer
// in Chromium. Compare's model picker opens a model by browsing the allowed folder — no server path typed — and a
// symlink in it that leads out of the allowed folders is not listed; a path outside them is refused in words.
// Screenshot: docs/screenshots/file-browser.png.
import { cpSync, mkdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { ensureCurrentBuild, ORGANISM, tmp } from './helpers'
import { openSession, shot, type Session } from './e2e/harness'

let s: Session
let page: Page
let work = ''
let allowed = ''
let outside = ''

beforeAll(async () => {
  ensureCurrentBuild()
  work = realpathSync(tmp('soliloquy-e2e-browse-'))
  allowed = join(work, 'models')
  outside = join(work, 'elsewhere')
  mkdirSync(join(allowed, 'shakespeare'), { recursive: true })
  mkdirSync(outside)
  cpSync(ORGANISM, join(allowed, 'shakespeare', 'organism-copy'), { recursive: true })
  writeFileSync(join(outside, 'private.gguf'), 'GGUF')
  symlinkSync(outside, join(allowed, 'escape'))
  s = await openSession(undefined, { SOLILOQUY_MODEL_DIRS: allowed })
  page = s.page
}, 300_000)

afterAll(async () => {
  await s?.close()
  if (work) rmSync(work, { recursive: true, force: true })
})

const entries = (p: Page): Promise<string[]> => p.$$eval('[data-testid="browser-entry"]', (li) => li.map((l) => `${l.getAttribute('data-kind')}:${l.getAttribute('data-name')}`))

describe('a model picked from the allowed folders (browser mode)', () => {
  it("Compare's picker: browse the allowed folder, open a model in it, run on it", async () => {
    await page.goto(s.url)
    await page.click('[data-testid="nav-compare"]')
    await page.waitForSelector('[data-testid="compare-run"]:not([disabled])', { timeout: 30_000 })
    await page.click('[data-testid="browse-models"]')
    await page.waitForSelector('[data-testid="file-browser"] [data-testid="browser-entry"]')
    // the allowed folders themselves, and nothing else
    expect(await entries(page)).toEqual([`dir:${allowed}`])
    await page.click(`[data-testid="browser-entry"][data-name="${allowed}"] button`)
    await page.waitForSelector(`[data-testid="file-browser"][data-dir="${allowed}"]`)
    // the link that leads out of the allowed folder is not listed
    expect(await entries(page)).toEqual(['dir:shakespeare'])
    await page.click('[data-testid="browser-entry"][data-name="shakespeare"] button')
    await page.waitForSelector(`[data-testid="file-browser"][data-dir="${join(allowed, 'shakespeare')}"]`)
    expect(await entries(page)).toEqual(['model:organism-copy'])
    await shot(page, 'file-browser')
    await page.click('[data-testid="browser-entry"][data-name="organism-copy"] [data-testid="browser-pick"]')
    // opened and chosen: the picker holds it, the browser closed
    await page.waitForSelector('[data-testid="file-browser"]', { state: 'detached', timeout: 60_000 })
    expect(await page.inputValue('[data-testid="model-picker"]')).toBe(join(allowed, 'shakespeare', 'organism-copy'))
    // and Compare runs on it
    await page.fill('[data-testid="compare-max-tokens"]', '8')
    await page.click('[data-testid="compare-run"]')
    await page.waitForSelector('[data-testid="compare-table"]', { timeout: 120_000 })
    const runs = await page.evaluate(async () => {
      const w = globalThis as unknown as { location: { search: string; host: string }; WebSocket: typeof WebSocket }
      const token = new URLSearchParams(w.location.search).get('token') ?? ''
      const ws = new w.WebSocket(`ws://${w.location.host}/api?token=${encodeURIComponent(token)}`)
      await new Promise((r) => (ws.onopen = r))
      const reply = new Promise<string>((r) => (ws.onmessage = (ev) => (JSON.parse(String(ev.data)).id === 1 ? r(String(ev.data)) : undefined)))
      ws.send(JSON.stringify({ id: 1, method: 'history', args: { kind: 'compare', limit: 50 } }))
      const m = JSON.parse(await reply) as { result: { runs: { modelRef: string | null }[] } }
      ws.close()
      return m.result.runs.map((r) => r.modelRef)
    })
    expect(runs.length).toBeGreaterThan(0)
    expect(new Set(runs)).toEqual(new Set([join(allowed, 'shakespeare', 'organism-copy')]))
    expect(s.problems).toEqual([])
  }, 300_000)

  it('a folder outside the allowed ones, or through the link that leads out, is refused in words', async () => {
    const refusals = await page.evaluate(async (dirs) => {
      const w = globalThis as unknown as { location: { search: string; host: string }; WebSocket: typeof WebSocket }
      const token = new URLSearchParams(w.location.search).get('token') ?? ''
      const ws = new w.WebSocket(`ws://${w.location.host}/api?token=${encodeURIComponent(token)}`)
      await new Promise((r) => (ws.onopen = r))
      const out: string[] = []
      for (const [i, dir] of dirs.entries()) {
        const reply = new Promise<string>((r) => (ws.onmessage = (ev) => (JSON.parse(String(ev.data)).id === i + 1 ? r(String(ev.data)) : undefined)))
        ws.send(JSON.stringify({ id: i + 1, method: 'browseFiles', args: { dir } }))
        const m = JSON.parse(await reply) as { ok: boolean; error?: { message: string; kind: string } }
        out.push(m.ok ? 'listed' : `${m.error?.kind}: ${m.error?.message}`)
      }
      ws.close()
      return out
    }, [outside, join(allowed, 'escape'), `${allowed}/shakespeare/..`])
    expect(refusals[0]).toBe(`input: dir: ${outside} is outside the folders this server allows (${allowed})`)
    expect(refusals[1]).toBe(`input: dir: ${join(allowed, 'escape')} leads to ${outside} (a symlink), outside the folders this server allows (${allowed})`)
    expect(refusals[2]).toMatch(/^input: dir: “\.\.” is not allowed in a path to browse/)
  })
})
