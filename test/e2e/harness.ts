// What an end-to-end test of the renderer needs: a Chromium to drive and a `soliloquy serve` on a fresh data
// directory (browser mode, the real lab worker and engine). Shared by the e2e test files that need no desktop window.
// TODO(lead): test/e2e-ui.test.ts has its own copy of this launch code (being reworked on wt-R); it can import these.
import { existsSync, mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { ROOT, startServe, tmp } from '../helpers'

export const SHOTS = join(ROOT, 'docs', 'screenshots')

/** Chrome/Chromium for browser mode: the environment's, the system's, else the one inside @sparticuz/chromium. */
export async function findChromium(): Promise<{ executablePath: string; args: string[]; source: string }> {
  const own = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
  const given = process.env.SOLILOQUY_CHROMIUM ?? process.env.CHROMIUM_PATH
  if (given) {
    if (!existsSync(given)) throw new Error(`SOLILOQUY_CHROMIUM=${given} does not exist`)
    return { executablePath: given, args: ['--headless', ...own], source: given }
  }
  for (const p of ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'])
    if (existsSync(p)) return { executablePath: p, args: ['--headless', ...own], source: p }
  const packaged = (await import('@sparticuz/chromium')).default
  // its serverless flags, without the ones that would switch off the page's security (the test checks the real thing)
  const weakening = /^--(disable-web-security|allow-running-insecure-content|disable-site-isolation-trials)$/
  return { executablePath: await packaged.executablePath(), args: [...packaged.args.filter((a) => !weakening.test(a)), ...own], source: '@sparticuz/chromium' }
}

export interface Session {
  page: Page
  url: string
  dataDir: string
  /** the pid of the `soliloquy serve` process (its one child is the lab process: helpers.labPid) */
  servePid: number
  /** console errors, page errors and failed requests seen so far */
  problems: string[]
  close(): Promise<void>
}

/** A fresh data directory (`prepare` may fill it before the server starts), its server (with `env` added to its
 *  environment), and a Chromium page on it (downloads accepted). */
export async function openSession(prepare?: (dataDir: string) => Promise<void> | void, env: NodeJS.ProcessEnv = {}): Promise<Session> {
  for (const f of ['out/renderer/index.html', 'out/main/cli.js', 'out/main/labWorker.js'])
    if (!existsSync(join(ROOT, f))) throw new Error(`${f} is missing: build first (npm run build)`)
  mkdirSync(SHOTS, { recursive: true })
  const dataDir = tmp('soliloquy-e2e-data-')
  const profile = tmp('soliloquy-e2e-chromium-')
  await prepare?.(dataDir)
  const browser = await findChromium()
  const { child, url } = await startServe(dataDir, env)
  let ctx: BrowserContext | null = null
  try {
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: browser.executablePath,
      headless: true,
      viewport: { width: 1360, height: 900 },
      args: browser.args,
      acceptDownloads: true,
    })
  } catch (e) {
    child.kill('SIGTERM')
    throw e
  }
  const page = ctx.pages()[0] ?? (await ctx.newPage())
  const problems: string[] = []
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`)
  })
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`))
  return {
    page,
    url,
    dataDir,
    servePid: child.pid!,
    problems,
    async close() {
      await ctx?.close().catch(() => undefined)
      if (child.exitCode === null) {
        child.kill('SIGTERM')
        await new Promise((r) => {
          const t = setTimeout(() => {
            child.kill('SIGKILL')
            r(null)
          }, 5000)
          child.once('exit', () => {
            clearTimeout(t)
            r(null)
          })
        })
      }
      for (const d of [dataDir, profile]) rmSync(d, { recursive: true, force: true })
    },
  }
}

/** A screenshot into docs/screenshots/NAME.png. */
export async function shot(page: Page, name: string, fullPage = false): Promise<void> {
  await page.waitForTimeout(150)
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage })
}
