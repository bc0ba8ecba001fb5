// End to end, issue 24 in the renderer (browser mode, real lab and engine): a study created in the Studies view on a
// queue of its own redis-server (test/redis.ts), run by two `soliloquy worker` processes; its progress per worker and the
// heatmap of phrases × α. Screenshot to docs/screenshots/study.png.
import { ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { openSession, shot, type Session } from './e2e/harness'
import { ROOT } from './helpers'
import { haveRedis, startRedis, type TestRedis } from './redis'

let s: Session
let page: Page
let redis: TestRedis
const workers: ChildProcess[] = []
const PHRASES = [
  'To be, or not to be, that is the question',
  'To be, or not to be: I am',
  'To be a king of infinite space',
  'To sleep, perchance to dream',
  'To be honest, as this world goes',
  'To be direct and honest is not safe',
]
const LRS = [0.001, 0.01, 0.03, 0.05]

describe.skipIf(!haveRedis())('a study in the Studies view, on two workers', () => {
  beforeAll(async () => {
    redis = await startRedis()
    for (let i = 0; i < 2; i++)
      workers.push(spawn(process.execPath, [join(ROOT, 'bin', 'soliloquy.js'), 'worker', '--queue', redis.url, '--threads', '1'], { stdio: 'ignore' }))
    s = await openSession()
    page = s.page
  })
  afterAll(async () => {
    await s?.close()
    for (const w of workers) if (w.exitCode === null) w.kill('SIGTERM')
    await redis?.stop()
  })

  it('creates a study on the queue, shows each worker progressing, and the heatmap of phrases × α', async () => {
    await page.goto(s.url)
    await page.click('[data-testid="nav-studies"]')
    await page.waitForSelector('[data-testid="study-form"]')
    await page.fill('[data-testid="study-phrases"]', PHRASES.join('\n'))
    await page.fill('[data-testid="study-lrs"]', LRS.join(', '))
    await page.fill('[data-testid="study-queue"]', redis.url)
    await page.click('[data-testid="study-create"]')
    // progress while the workers run: the cells come home one by one
    await page.waitForSelector('[data-testid="study-progress"][data-status="running"]', { timeout: 60_000 })
    await page.waitForSelector('[data-testid="study-worker"]', { timeout: 60_000 })
    await page.waitForSelector('[data-testid="study-progress"][data-status="done"]', { timeout: 180_000 })
    const hosts = await page.$$eval('[data-testid="study-worker"]', (trs) => trs.map((t) => [t.getAttribute('data-host'), Number(t.getAttribute('data-done'))] as const))
    console.info(`cells per worker: ${hosts.map(([h, n]) => `${h}=${n}`).join(', ')}`)
    expect(hosts).toHaveLength(2)
    expect(hosts.reduce((a, [, n]) => a + n, 0)).toBe(PHRASES.length)
    for (const [h] of hosts) expect(workers.map((w) => String(w.pid))).toContain(h!.split(':').pop())
    // the heatmap: every phrase × α filled with its recall
    await page.waitForFunction(
      (n) => (globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<{ getAttribute(a: string): string | null }> } }).document
        ? Array.from((globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<{ getAttribute(a: string): string | null }> } }).document.querySelectorAll('[data-testid="study-heat-cell"]')).filter((c) => c.getAttribute('data-value') !== '').length === n
        : false,
      PHRASES.length * LRS.length,
      { timeout: 30_000 },
    )
    expect(await page.locator('[data-testid="study-heatmap"]').count()).toBe(1)
    expect(await page.locator('[data-testid="study-row"]').count()).toBe(PHRASES.length * LRS.length)
    // the table sorts by recall, highest first on the second click
    await page.click('[data-testid="study-table"] th[data-sort="recall"]')
    await page.click('[data-testid="study-table"] th[data-sort="recall"]')
    expect(await page.getAttribute('[data-testid="study-table"] th[data-sort="recall"]', 'aria-sort')).toBe('descending')
    await page.evaluate(() => (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 0))
    await shot(page, 'study', true)
    expect(s.problems).toEqual([])
  })
})
