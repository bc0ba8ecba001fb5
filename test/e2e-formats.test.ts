// End to end in browser mode (the real renderer, `soliloquy serve`, the real engine): the Checkpoints view exports
// a saved step as a GGUF file (format and dtype chosen in the form) and as a PEFT adapter (its KL shown), and the
// Models view opens the .gguf file and shows its format, tokenizer, tensor types and memory estimate. Any console or page error fails the test.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { readGguf } from '../src/main/engine/formats/gguf/read'
import { ensureCurrentBuild, ROOT, tmp } from './helpers'
import { openSession, type Session } from './e2e/harness'

let s: Session
let page: Page
let work = ''
let q8File = ''

beforeAll(async () => {
  ensureCurrentBuild()
  s = await openSession()
  page = s.page
  work = tmp('soliloquy-e2e-formats-')
  // a saved step to export, made with the CLI on the session's data directory
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'soliloquy.js'), 'step', '--lr', '0.03', '--save', 'hamlet', '--json', '--data', s.dataDir], { encoding: 'utf8' })
  expect(r.status, r.stderr).toBe(0)
}, 300_000)

afterAll(async () => {
  await s?.close()
  if (work) rmSync(work, { recursive: true, force: true })
})

describe('export formats and .gguf models in the app (browser mode)', () => {
  it('the Checkpoints view exports a step as a GGUF file (Q8_0) and as a PEFT adapter, showing its KL and what it leaves out', async () => {
    await page.goto(s.url)
    await page.click('[data-testid="nav-checkpoints"]')
    const item = page.locator('[data-testid="checkpoint-item"][data-name="hamlet"]')
    await item.locator('[data-testid="export-open"]').click()
    await item.locator('[data-testid="export-format"]').selectOption('gguf')
    // the dtype choices follow the format: the GGUF block types (Q8_0, Q6_K, Q4_K, Q4_0) are offered for GGUF only
    const dtypes = await item.locator('[data-testid="export-dtype"] option').evaluateAll((os) => os.map((o) => (o as unknown as { value: string }).value))
    expect(dtypes).toEqual(['', 'F16', 'F32', 'BF16', 'Q8_0', 'Q6_K', 'Q5_K_M', 'Q5_K_S', 'Q4_K_M', 'Q4_K', 'Q4_0', 'Q3_K_L', 'Q3_K_M', 'Q3_K_S'])
    await item.locator('[data-testid="export-dtype"]').selectOption('Q8_0')
    const out = join(work, 'hamlet-q8.gguf')
    await item.locator('[data-testid="export-dir"]').fill(out)
    await item.locator('[data-testid="export-button"]').click()
    await expect.poll(() => page.locator('[data-testid="checkpoint-message"]').textContent(), { timeout: 60_000 }).toMatch(/^exported to .*hamlet-q8\.gguf as a GGUF file \(Q8_0\)/)
    expect(readdirSync(work)).toEqual(['hamlet-q8.gguf'])
    q8File = out
    const g = readGguf(out)
    expect(g.tensors.filter((t) => t.typeName === 'Q8_0').length).toBeGreaterThan(0)
    // the step as a PEFT adapter: the measured KL and the list of what LoRA cannot carry appear after export
    await item.locator('[data-testid="export-open"]').click()
    await item.locator('[data-testid="export-format"]').selectOption('peft')
    await item.locator('[data-testid="export-dir"]').fill(join(work, 'hamlet-adapter'))
    await item.locator('[data-testid="export-button"]').click()
    await expect.poll(() => item.locator('[data-testid="export-kl"]').textContent(), { timeout: 60_000 }).toMatch(/^mean \d\.\d\de[-+]\d+ nats, max \d\.\d\de[-+]\d+$/)
    expect(await item.locator('[data-testid="export-not-carried"] li').first().textContent()).toMatch(/^RMSNorm weights/)
    expect(readdirSync(join(work, 'hamlet-adapter')).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors'])
    // the HF form offers no Q8_0
    await item.locator('[data-testid="export-open"]').click()
    await item.locator('[data-testid="export-format"]').selectOption('hf')
    const hf = await item.locator('[data-testid="export-dtype"] option').evaluateAll((os) => os.map((o) => (o as unknown as { value: string }).value))
    expect(hf).toEqual(['', 'F32', 'F16', 'BF16'])
    expect(existsSync(out)).toBe(true)
    // a merged step in a size users keep: Q4_K, every matrix of the organism (rows of 256 and 768) in that type
    // (the form is still open: the HF choice above exported nothing)
    await item.locator('[data-testid="export-format"]').selectOption('gguf')
    await item.locator('[data-testid="export-dtype"]').selectOption('Q4_K')
    const q4k = join(work, 'hamlet-q4k.gguf')
    await item.locator('[data-testid="export-dir"]').fill(q4k)
    await item.locator('[data-testid="export-button"]').click()
    await expect.poll(() => page.locator('[data-testid="checkpoint-message"]').textContent(), { timeout: 60_000 }).toMatch(/^exported to .*hamlet-q4k\.gguf as a GGUF file \(Q4_K\)/)
    const k = readGguf(q4k)
    expect(new Set(k.tensors.filter((t) => t.dims.length === 2).map((t) => t.typeName))).toEqual(new Set(['Q4_K']))
    // nothing fell back: no notes shown
    expect(await item.locator('[data-testid="export-notes"]').count()).toBe(0)
  }, 120_000)

  it('the Models view opens that .gguf file and shows its format, tokenizer, tensor types and memory estimate', async () => {
    await page.click('[data-testid="nav-models"]')
    await page.fill('[data-testid="model-path"]', q8File)
    await page.click('[data-testid="open-model"]')
    const detail = page.locator('[data-testid="model-detail"]')
    await expect.poll(() => detail.locator('[data-testid="detail-format"]').textContent(), { timeout: 60_000 }).toMatch(/^gguf · GGUF file$/)
    const g = readGguf(q8File)
    const count = (type: string): number => g.tensors.filter((t) => t.typeName === type).length
    expect(count('Q8_0')).toBeGreaterThan(0)
    // most first: the stepped organism's weight matrices in Q8_0, its norm vectors in F32
    expect(await detail.locator('[data-testid="detail-quantisation"]').textContent()).toBe(
      [['Q8_0', count('Q8_0')], ['F32', count('F32')]].sort((a, b) => (b[1] as number) - (a[1] as number)).map(([t, n]) => `${t} × ${n}`).join(', '),
    )
    expect(await detail.locator('[data-testid="detail-tokenizer"]').textContent()).toBe('GGUF vocab (tokenizer.ggml.model llama)')
    expect(await detail.locator('[data-testid="detail-memory"]').textContent()).toMatch(/^\d+(\.\d+)? (MiB|GiB)$/)
    // the file's bits per weight: its bytes over the weights its tensors hold (Q8_0 is 8.5; F32 norms and the
    // header add a little)
    const weights = g.tensors.reduce((a, t) => a + t.dims.reduce((x, y) => x * y, 1), 0)
    expect(await detail.locator('[data-testid="detail-bpw"]').textContent()).toBe(((g.fileSize * 8) / weights).toFixed(2))
    const row = page.locator('[data-testid="model-row"]', { hasText: 'hamlet-q8.gguf' })
    expect(await row.locator('[data-testid="model-format"]').textContent()).toBe('gguf')
    expect(s.problems).toEqual([])
  }, 120_000)
})
