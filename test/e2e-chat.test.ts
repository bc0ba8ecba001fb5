// End to end, browser mode (`soliloquy serve` + the Chromium inside @sparticuz/chromium): the Lab's "apply the
// model's chat template" checkbox reaches the lab with the sweep, and the embedded organism (a base model without a
// template) refuses it in the error banner, in the lab's words.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { it, expect } from 'vitest'
import { chromium } from 'playwright-core'
import { startServe, tmp } from './helpers'

it("the Lab's chat template checkbox is sent with the sweep; a model without a template refuses it in the banner", async () => {
  const s = await startServe(tmp('soliloquy-ui-'))
  const packaged = (await import('@sparticuz/chromium')).default
  const system = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => existsSync(p))
  const browser = await chromium.launch(system ? { executablePath: system, args: ['--headless', '--no-sandbox'] } : { executablePath: await packaged.executablePath(), args: [...packaged.args, '--no-sandbox'] })
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    await page.goto(s.url)
    await page.waitForSelector('[data-testid="run-button"]')
    await page.check('[data-testid="chat-template"]')
    await page.click('[data-testid="run-button"]')
    await page.waitForSelector('text=this model has no chat template', { timeout: 60_000 })
    await page.screenshot({ path: join(tmp('soliloquy-ui-shot-'), 'lab-chat.png'), fullPage: true })
    expect(await page.isChecked('[data-testid="chat-template"]')).toBe(true)
  } finally {
    await browser.close()
    s.child.kill()
  }
}, 180_000)
