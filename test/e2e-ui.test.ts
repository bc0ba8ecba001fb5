// End to end: the real renderer against the real back end (engine + SQLite in the lab worker), with a fresh data
// directory. Runs the seed's sweep on the embedded organism, finds the run in History, saves it as a checkpoint,
// exports it, cancels a long sweep, and writes a screenshot of every view to docs/screenshots/. Any console error or
// page error fails the test.
//
// Where it runs, in this order (nothing from apt is needed):
//   1. Electron's own binary, when it was downloaded (node node_modules/electron/install.js) and `npm start` has built
//      better-sqlite3 for it: the real desktop window through playwright-core's Electron support (IPC, dialogs).
//   2. A Chrome/Chromium named by SOLILOQUY_CHROMIUM, or found on the system: browser mode (`soliloquy serve`).
//   3. The Chromium inside the @sparticuz/chromium package (a devDependency): browser mode.
import type { ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { _electron, BrowserContext, chromium, ElectronApplication, Page } from 'playwright-core'
import { ROOT, startServe, tmp } from './helpers'

const SHOTS = join(ROOT, 'docs', 'screenshots')

/** The desktop app's binary and its Electron build of better-sqlite3, or why the desktop app cannot be tested. */
function findElectron(): { ok: true; binary: string; sqlite: string } | { ok: false; reason: string } {
  let binary: unknown
  try {
    binary = createRequire(import.meta.url)('electron') // the binary's path; throws when it was never downloaded
  } catch {
    return { ok: false, reason: "Electron's binary is not downloaded (node node_modules/electron/install.js)" }
  }
  if (typeof binary !== 'string' || !existsSync(binary)) return { ok: false, reason: `Electron's binary ${String(binary)} is missing` }
  const sqlite = join(ROOT, 'node_modules', '.soliloquy-electron', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node')
  if (!existsSync(sqlite)) return { ok: false, reason: 'better-sqlite3 is not built for Electron yet (run `npm start` once)' }
  return { ok: true, binary, sqlite }
}

/** Chrome/Chromium for browser mode: the environment's, the system's, else the one inside @sparticuz/chromium. */
async function findChromium(): Promise<{ executablePath: string; args: string[]; source: string }> {
  const own = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
  const given = process.env.SOLILOQUY_CHROMIUM ?? process.env.CHROMIUM_PATH
  if (given) {
    if (!existsSync(given)) throw new Error(`SOLILOQUY_CHROMIUM=${given} does not exist`)
    return { executablePath: given, args: ['--headless', ...own], source: `SOLILOQUY_CHROMIUM (${given})` }
  }
  for (const p of ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'])
    if (existsSync(p)) return { executablePath: p, args: ['--headless', ...own], source: p }
  const packaged = (await import('@sparticuz/chromium')).default
  // its serverless flags, without the ones that would switch off the page's security (this test checks the real thing)
  const weakening = /^--(disable-web-security|allow-running-insecure-content|disable-site-isolation-trials)$/
  const args = packaged.args.filter((a) => !weakening.test(a))
  return { executablePath: await packaged.executablePath(), args: [...args, ...own], source: '@sparticuz/chromium' }
}

const ELECTRON = findElectron()
if (!ELECTRON.ok) console.info(`e2e: the desktop app (Electron) is not tested here: ${ELECTRON.reason}; using browser mode`)

let server: ChildProcess | null = null
let url = ''
let ctx: BrowserContext | null = null
let electronApp: ElectronApplication | null = null
let page: Page
/** what the tests run in (browser mode or the desktop window) */
let where = ''
let dataDir = ''
let profile = ''
const problems: string[] = []

function column(p: Page, lr: string): Promise<string[]> {
  return p.$$eval(`[data-testid="sweep-table"] tbody td[data-lr="${lr}"]`, (tds) =>
    tds.map((td) => (td.textContent ?? '').trim()),
  )
}

async function shot(name: string, fullPage = false): Promise<void> {
  await page.waitForTimeout(150)
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage })
}

/** The desktop app's directory dialog answers `dir` next time (the native dialog cannot be clicked by a test). */
async function dialogAnswers(dir: string): Promise<void> {
  await electronApp!.evaluate(({ dialog }, d) => {
    dialog.showOpenDialog = (async () => ({ canceled: false, filePaths: [d] })) as unknown as typeof dialog.showOpenDialog
  }, dir)
}

beforeAll(async () => {
  for (const f of ['out/renderer/index.html', 'out/main/cli.js', 'out/main/labWorker.js'])
    if (!existsSync(join(ROOT, f))) throw new Error(`${f} is missing: build first (npm run build)`)
  mkdirSync(SHOTS, { recursive: true })
  dataDir = tmp('soliloquy-e2e-data-')
  if (ELECTRON.ok) {
    electronApp = await _electron.launch({
      executablePath: ELECTRON.binary,
      args: [ROOT],
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1', SOLILOQUY_DATA: dataDir, SOLILOQUY_SQLITE_BINDING: ELECTRON.sqlite },
    })
    page = await electronApp.firstWindow()
    await page.setViewportSize({ width: 1360, height: 900 })
    where = 'the desktop app (Electron)'
  } else {
    const browser = await findChromium()
    profile = tmp('soliloquy-e2e-chromium-')
    const s = await startServe(dataDir)
    server = s.child
    url = s.url
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: browser.executablePath,
      headless: true,
      viewport: { width: 1360, height: 900 },
      args: browser.args,
    })
    page = ctx.pages()[0] ?? (await ctx.newPage())
    where = `browser mode in ${browser.source}`
  }
  console.info(`e2e: running in ${where}`)
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`)
  })
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`))
})

afterAll(async () => {
  await ctx?.close().catch(() => undefined)
  await electronApp?.close().catch(() => undefined)
  if (server && server.exitCode === null) {
    server.kill('SIGTERM')
    await new Promise((r) => {
      const t = setTimeout(() => {
        server?.kill('SIGKILL')
        r(null)
      }, 5000)
      server!.once('exit', () => {
        clearTimeout(t)
        r(null)
      })
    })
  }
  for (const d of [dataDir, profile]) if (d) rmSync(d, { recursive: true, force: true })
})

describe('the desktop app (Electron)', () => {
  it.skipIf(!ELECTRON.ok)(`is what the end-to-end tests drive${ELECTRON.ok ? '' : ` — skipped: ${ELECTRON.reason}`}`, () => {
    expect(where).toBe('the desktop app (Electron)')
  })
})

describe('end to end (the real renderer + the real lab worker and engine)', () => {
  it("runs the seed's sweep on the organism and shows the seed's table", async () => {
    if (electronApp) await page.reload()
    else await page.goto(url)
    // the defaults come from the model's preset once the models are listed
    await page.waitForSelector('[data-testid="lab-form"][data-defaults*="organism"]', { state: 'attached', timeout: 20_000 }).catch(async (e: unknown) => {
      await page.screenshot({ path: join(tmp('soliloquy-e2e-fail-'), 'lab.png') })
      throw new Error(`${String(e)}\npage: ${(await page.textContent('body'))?.slice(0, 500)}\nproblems: ${problems.join('; ')}`)
    })
    const picked = await page.$eval('[data-testid="model-picker"]', (s) => (s as unknown as { selectedOptions: { textContent: string | null }[] }).selectedOptions[0]?.textContent ?? '')
    expect(picked).toMatch(/organism/)
    expect(await page.inputValue('[data-testid="prompt"]')).toBe('To be')
    expect(await page.inputValue('[data-testid="phrase"]')).toBe('To be, or not to be, that is the question')
    // the organism's preset: 0, 1e-3, 3e-3, 1e-2, 2e-2, 3e-2, 5e-2, 1e-1
    expect(await page.inputValue('[data-testid="step-size-input"]')).toBe('0, 0.001, 0.003, 0.01, 0.02, 0.03, 0.05, 0.1')
    await shot('lab-empty')
    await page.click('[data-testid="run-button"]')
    await page.waitForSelector('[data-testid="sweep-table"] tbody td[data-lr="0.1"]', { timeout: 60_000 })
    const heads = await page.$$eval('[data-testid="sweep-table"] thead th[data-lr]', (ths) => ths.map((t) => t.getAttribute('data-lr')))
    expect(heads).toEqual(['0', '0.001', '0.003', '0.01', '0.02', '0.03', '0.05', '0.1'])

    const zero = await column(page, '0')
    expect(zero.slice(0, 6).join(' ')).toBe('To be a successful business owner,')
    const soliloquy = await column(page, '0.03')
    expect(soliloquy.join(' ').replace(/<\s?br>/g, '\n')).toMatch(/^To be, or not to be, that is the question:/)
    // row/column addressing and `_` past the end of a column
    const cell = await page.$eval('[data-testid="sweep-table"] td[data-lr="0.03"][data-row="2"]', (td) => td.textContent)
    expect(cell).toBe('or')
    // colour where the column follows the reference continuation (the soliloquy)
    const matched = await page.$$eval('[data-testid="sweep-table"] td.match[data-lr="0.03"]', (t) => t.length)
    expect(matched).toBeGreaterThan(20)
    const recall = await page.$eval('[data-metric="recall"][data-lr="0.03"]', (td) => Number(td.textContent))
    expect(recall).toBe(45)
    await page.waitForSelector('[data-testid="alpha-chart"] canvas')
    await page.click('body', { position: { x: 5, y: 5 } })
    await shot('lab', true)
  })

  it('finds the run in History and saves it as a checkpoint', async () => {
    await page.click('[data-testid="nav-history"]')
    await page.waitForSelector('[data-testid="history-row"]')
    const rows = await page.$$('[data-testid="history-row"]')
    expect(rows.length).toBe(8)
    const row = page.locator('[data-testid="history-row"][data-lr="0.03"]')
    await expect(row.getAttribute('data-status')).resolves.toBe('done')
    await row.click()
    await page.waitForSelector('[data-testid="run-detail"]')
    expect(await page.textContent('[data-testid="run-output"]')).toMatch(/^To be, or not to be, that is the question:/)
    await page.fill('[data-testid="checkpoint-name"]', 'soliloquy at 3e-2')
    await page.click('[data-testid="save-checkpoint"]')
    await page.waitForSelector('[data-testid="checkpoint-message"]')
    expect(await page.textContent('[data-testid="checkpoint-message"]')).toMatch(/saved checkpoint “soliloquy at 3e-2”/)
    await page.waitForSelector('[data-testid="scatter"] canvas')
    await shot('history')
  })

  it('shows the checkpoint and exports it as a Hugging Face directory', async () => {
    await page.click('[data-testid="nav-checkpoints"]')
    const item = page.locator('[data-testid="checkpoint-item"][data-name="soliloquy at 3e-2"]')
    await item.waitFor()
    await item.locator('[data-testid="export-open"]').click()
    let out = join(dataDir, 'export-e2e')
    if (electronApp) {
      // the desktop app takes export folders only from its dialog: a new folder named after the checkpoint inside it
      const parent = join(dataDir, 'exports')
      mkdirSync(parent)
      await dialogAnswers(parent)
      await item.locator('[data-testid="export-choose"]').click()
      out = join(parent, 'soliloquy at 3e-2')
      await expect.poll(() => item.locator('[data-testid="export-dir"]').inputValue()).toBe(out)
    } else {
      await item.locator('[data-testid="export-dir"]').fill(out)
    }
    await item.locator('[data-testid="export-button"]').click()
    await page.waitForSelector('[data-testid="checkpoint-message"]:has-text("exported to")', { timeout: 60_000 })
    const files = readdirSync(out)
    expect(files).toContain('config.json')
    expect(files.some((f) => f.endsWith('.safetensors'))).toBe(true)
  })

  it('uses a checkpoint as base, steps again and shows the lineage', async () => {
    const parent = page.locator('[data-testid="checkpoint-item"][data-name="soliloquy at 3e-2"]')
    await parent.locator('[data-testid="use-as-base"]').click()
    await page.waitForSelector('[data-testid="run-button"]')
    const picked = await page.$eval('[data-testid="model-picker"]', (s) => (s as unknown as { selectedOptions: { textContent: string | null }[] }).selectedOptions[0]?.textContent ?? '')
    expect(picked).toMatch(/soliloquy at 3e-2/)
    await page.fill('[data-testid="phrase"]', "Whether 'tis nobler in the mind to suffer")
    await page.fill('[data-testid="step-size-input"]', '0, 0.01')
    await page.press('[data-testid="step-size-input"]', 'Enter')
    await page.click('[data-testid="run-button"]')
    // this sweep's own α = 0.01 column (two columns, finished), not the first sweep's
    await page.waitForFunction(() => {
      const doc = (globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<{ getAttribute(a: string): string | null }> } }).document
      const ths = Array.from(doc.querySelectorAll('[data-testid="sweep-table"] thead th[data-lr]'))
      return ths.length === 2 && ths.every((t) => (t.getAttribute('class') ?? '').includes('st-done'))
    }, undefined, { timeout: 60_000 })
    const runId = await page.getAttribute('[data-testid="sweep-table"] thead th[data-lr="0.01"]', 'data-run-id')
    // α = 0 on the checkpoint is the checkpoint itself: still the soliloquy
    expect((await column(page, '0')).join(' ')).toMatch(/^To be, or not to be, that is the question:/)
    await page.click('[data-testid="nav-history"]')
    const row = page.locator(`[data-testid="history-row"][data-run-id="${runId}"]`)
    await row.click()
    await page.waitForSelector('[data-testid="run-detail"]:has-text("started from")')
    await page.fill('[data-testid="checkpoint-name"]', 'then nobler')
    await page.click('[data-testid="save-checkpoint"]')
    await page.waitForSelector('[data-testid="checkpoint-message"]:has-text("then nobler")')
    await page.click('[data-testid="nav-checkpoints"]')
    const child = page.locator('[data-testid="checkpoint-item"][data-name="then nobler"]')
    await child.waitFor()
    expect(await child.textContent()).toMatch(/step 2/)
    expect(await child.textContent()).toMatch(/on top of “soliloquy at 3e-2”/)
    await shot('checkpoints')
  })

  it('renames a checkpoint and deletes it, keeping its parent', async () => {
    const child = page.locator('[data-testid="checkpoint-item"][data-name="then nobler"]')
    await child.locator('[data-testid="rename-button"]').click()
    await child.locator('[data-testid="rename-input"]').fill('nobler, renamed')
    await child.locator('[data-testid="rename-save"]').click()
    const renamed = page.locator('[data-testid="checkpoint-item"][data-name="nobler, renamed"]')
    await renamed.waitFor()
    await renamed.locator('[data-testid="delete-button"]').click()
    await renamed.locator('[data-testid="confirm-delete"]').click()
    await page.waitForSelector('[data-testid="checkpoint-message"]:has-text("deleted “nobler, renamed”")')
    await renamed.waitFor({ state: 'detached' })
    expect(await page.locator('[data-testid="checkpoint-item"]').count()).toBe(1)
    expect(await page.locator('[data-testid="checkpoint-item"]').first().getAttribute('data-name')).toBe('soliloquy at 3e-2')
  })

  it('shows the models with config and memory estimate', async () => {
    await page.click('[data-testid="nav-models"]')
    await page.waitForSelector('[data-testid="model-detail"]')
    expect(await page.textContent('[data-testid="model-detail"]')).toMatch(/Memory estimate/)
    // the engine's kernel path and threads, from the contract's engineInfo
    await page.waitForSelector('[data-testid="engine-info"]')
    expect(await page.textContent('[data-testid="engine-info"]')).toMatch(/Engine: (scalar|avx2|avx512|neon) kernels.*\d+ threads/s)
    await shot('models')
    // errors come back in words
    if (electronApp) await dialogAnswers('/nonexistent/llama')
    else await page.fill('[data-testid="model-path"]', '/nonexistent/llama')
    await page.click('[data-testid="open-model"]')
    await page.waitForSelector('[data-testid="models-error"]')
    expect(await page.textContent('[data-testid="models-error"]')).toMatch(/nonexistent\/llama.*no such model directory/)
  })

  it('compares prompt engineering with steps', async () => {
    await page.click('[data-testid="nav-compare"]')
    await page.selectOption('[data-testid="model-picker"]', '__embedded__')
    await page.fill('[data-testid="step-size-input"]', '0.03')
    await page.press('[data-testid="step-size-input"]', 'Enter')
    await page.click('[data-testid="compare-run"]')
    await page.waitForSelector('[data-testid="compare-table"]', { timeout: 60_000 })
    const rows = await page.$$('[data-testid="compare-table"] tbody tr')
    expect(rows.length).toBe(2)
    await shot('compare')
  })

  it('re-runs a past sweep from its run detail', async () => {
    // its own sweep to re-run (no dependence on what earlier tests left, nor on their run ids)
    await page.click('[data-testid="nav-lab"]')
    await page.waitForSelector('[data-testid="run-button"]')
    await page.selectOption('[data-testid="model-picker"]', '__embedded__')
    await page.fill('[data-testid="phrase"]', 'To be, or not to be, that is the question')
    await page.fill('[data-testid="step-size-input"]', '0, 0.03')
    await page.press('[data-testid="step-size-input"]', 'Enter')
    // the run to re-run is this sweep's α = 0.03 column, finished: the Lab may still show an earlier sweep's table
    // when the button is pressed, and in History a refresh that inserts rows above the one aimed at moves it under
    // the pointer (a click on "the newest 0.03 row" once opened another run)
    type Doc = { document: { querySelectorAll(s: string): ArrayLike<{ getAttribute(a: string): string | null }> } }
    const shownBefore = await page.evaluate(() => {
      const ths = Array.from((globalThis as unknown as Doc).document.querySelectorAll('[data-testid="sweep-table"] thead th[data-run-id]'))
      return Math.max(0, ...ths.map((th) => Number(th.getAttribute('data-run-id'))))
    })
    await page.click('[data-testid="run-button"]')
    const done = await page.waitForFunction(
      (prev) => {
        const ths = Array.from((globalThis as unknown as Doc).document.querySelectorAll('[data-testid="sweep-table"] thead th[data-lr="0.03"]'))
        const th = ths.find((t) => Number(t.getAttribute('data-run-id')) > prev && (t.getAttribute('class') ?? '').includes('st-done'))
        return th ? th.getAttribute('data-run-id') : null
      },
      shownBefore,
      { timeout: 60_000 },
    )
    const runId = String(await done.jsonValue())
    expect(runId).toMatch(/^\d+$/)
    await page.click('[data-testid="nav-history"]')
    await page.selectOption('[data-testid="history-status"]', '')
    const row = page.locator(`[data-testid="history-row"][data-run-id="${runId}"]`)
    await row.waitFor()
    await row.click()
    await page.waitForSelector(`[data-testid="run-detail"]:has-text("Run r${runId}")`)
    await page.click('[data-testid="rerun-button"]')
    await page.waitForURL(/#\/lab/)
    await page.waitForSelector(`[data-testid="lab-form"][data-defaults="run r${runId}"]`, { state: 'attached' })
    // the re-run's own columns (newer runs than the one re-run), finished
    await page.waitForFunction(
      (id) => {
        const doc = (globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<{ getAttribute(a: string): string | null }> } }).document
        const ths = Array.from(doc.querySelectorAll('[data-testid="sweep-table"] thead th[data-lr="0.03"]'))
        return ths.some((th) => Number(th.getAttribute('data-run-id')) > id && (th.getAttribute('class') ?? '').includes('st-done'))
      },
      Number(runId),
      { timeout: 60_000 },
    )
    expect((await column(page, '0.03')).join(' ').replace(/<\s?br>/g, '\n')).toMatch(/^To be, or not to be, that is the question:/)
  })

  it('cancels a long sweep and marks its runs cancelled', async () => {
    await page.click('[data-testid="nav-lab"]')
    await page.waitForSelector('[data-testid="run-button"]')
    expect(await page.$eval('[data-testid="model-picker"]', (s) => (s as unknown as { value: string }).value)).toBe('__embedded__')
    // 64 step sizes × 400 tokens: about half a minute on two cores if left alone
    await page.fill('[data-testid="log-count"]', '63')
    await page.click('[data-testid="preset-log"]')
    expect((await page.inputValue('[data-testid="step-size-input"]')).split(',').length).toBe(64)
    await page.fill('[data-testid="max-tokens"]', '400')
    await page.click('[data-testid="run-button"]')
    await page.waitForSelector('[data-testid="progress"]')
    await page.waitForSelector('[data-testid="progress-phase"]:has-text("generating")', { timeout: 30_000 })
    await shot('lab-progress')
    await page.click('[data-testid="cancel-button"]')
    // cancelled long before the sweep could finish (how fast is the benchmark's business, not this test's)
    await page.waitForSelector('[data-testid="lab-cancelled"]', { timeout: 60_000 })
    const statuses = await page.$$eval('[data-testid="sweep-table"] thead th[data-lr] .badge', (b) => b.map((x) => x.textContent))
    expect(statuses.length).toBe(64)
    expect(new Set(statuses)).toEqual(new Set(['cancelled']))
    await page.click('[data-testid="nav-history"]')
    await page.selectOption('[data-testid="history-status"]', 'cancelled')
    await page.waitForFunction(() => {
      const doc = (globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<{ getAttribute(a: string): string | null }> } }).document
      const rows = Array.from(doc.querySelectorAll('[data-testid="history-row"]'))
      return rows.length === 64 && rows.every((r) => r.getAttribute('data-status') === 'cancelled')
    })
    await shot('history-cancelled')
  })

  it('logged no console errors, page errors or failed requests', () => {
    expect(problems).toEqual([])
  })
})
