// End to end, issue 21 item 8 in the renderer (browser mode, real lab worker and engine, fresh data directory): the
// Experts view says in words that the organism is not a mixture of experts; on a tiny Mixtral it runs the experts
// experiment with a restriction, draws the layers × experts heatmap of routing mass (phrase and prompt, base and each
// α, full and restricted step), ‖α∇W‖ per expert and whether each step recalls the phrase; a restriction outside the
// model comes back in words; after a reload the last experiment is read back from History. Screenshot to
// docs/screenshots/experts.png.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { openSession, type Session } from './e2e/harness'
import { writeMoe } from './moeTiny'

let s: Session
let page: Page
let model: string

beforeAll(async () => {
  model = writeMoe({
    family: 'mixtral', vocab: 4096, dim: 32, ffn: 16, layers: 2, heads: 4, kvHeads: 2, headDim: 8, tied: false, experts: 4, topk: 2, expertFfn: 16, moeLayers: [true, true], seed: 81,
    configExtra: { model_type: 'mixtral', architectures: ['MixtralForCausalLM'], num_local_experts: 4, num_experts_per_tok: 2, intermediate_size: 16 },
  })
  s = await openSession()
  page = s.page
})
afterAll(async () => {
  await s?.close()
})

describe('the Experts view', () => {
  it('says in words that the organism is not a mixture of experts, and will not run', async () => {
    await page.goto(s.url)
    await page.click('[data-testid="nav-experts"]')
    await page.waitForSelector('[data-testid="ex-not-moe"]', { timeout: 30_000 })
    expect(await page.textContent('[data-testid="ex-not-moe"]')).toMatch(/is not a mixture of experts \(model_type llama\): it has no experts to show/)
    expect(await page.isDisabled('[data-testid="ex-run"]')).toBe(true)
  })

  it('on a tiny Mixtral: the routing heatmap before and after the step, ‖α∇W‖ per expert, the restricted step', async () => {
    await page.click('[data-testid="nav-models"]')
    await page.fill('[data-testid="model-path"]', model)
    await page.click('[data-testid="open-model"]')
    await page.waitForSelector(`[data-testid="model-row"]:has-text("${model.split('/').pop()}")`, { timeout: 60_000 })
    await page.click('[data-testid="nav-experts"]')
    await page.selectOption('[data-testid="model-picker"]', model)
    await page.waitForSelector('[data-testid="ex-not-moe"]', { state: 'detached' })
    await page.fill('[data-testid="ex-phrase"]', 'To be, or not to be')
    await page.fill('[data-testid="step-size-input"]', '0.5, 4')
    // a restriction outside the model: the lab's words
    await page.fill('[data-testid="ex-restrict"]', '0:x')
    expect(await page.textContent('[data-testid="ex-restrict-problem"]')).toMatch(/“0:x” is not layer:expert/)
    await page.fill('[data-testid="ex-restrict"]', '5:0')
    await page.click('[data-testid="ex-run"]')
    await page.waitForSelector('[data-testid="ex-error"]', { timeout: 60_000 })
    expect(await page.textContent('[data-testid="ex-error"]')).toMatch(/layer 5 — the model has 2 layers/)
    await page.fill('[data-testid="ex-restrict"]', '0:0+2')
    await page.click('[data-testid="ex-run"]')
    await page.waitForSelector('[data-testid="ex-heatmap"] canvas', { timeout: 300_000 })
    await page.waitForSelector('[data-testid="ex-norms"] canvas')
    await page.waitForSelector('[data-testid="ex-heatmap-base"] canvas')
    // full and restricted step at each α, each with its recall of the phrase
    const steps = await page.$$eval('[data-testid="ex-step"]', (trs) => trs.map((t) => [t.getAttribute('data-restricted'), t.querySelector('td')?.textContent]))
    expect(steps.map(([r]) => r)).toEqual(['false', 'true', 'false', 'true'])
    expect(steps[1][1]).toMatch(/^experts 0:0\+2 /)
    // choose α and what is shown: the heatmap's title says it
    await page.selectOption('[data-testid="ex-alpha"]', '2')
    await page.check('[data-testid="ex-under-restricted"]')
    expect(await page.textContent('[data-testid="ex-heatmap-title"]')).toMatch(/routing mass of the phrase, α = \S+ \(restricted step\)/)
    await page.check('[data-testid="ex-which-prompt"]')
    expect(await page.textContent('[data-testid="ex-heatmap-title"]')).toMatch(/routing mass of the prompt/)
    await page.check('[data-testid="ex-which-phrase"]')
    await page.selectOption('[data-testid="ex-alpha"]', '0')
    expect(await page.textContent('[data-testid="ex-heatmap-title"]')).toMatch(/the base \(before the step\)/)
    await page.selectOption('[data-testid="ex-alpha"]', '2')
    await page.check('input[value="full"]')
    await page.click('body', { position: { x: 5, y: 5 } })
    await page.locator('[data-testid="ex-panel"]').screenshot({ path: 'docs/screenshots/experts.png' })
  })

  it('reads the last experiment back from History after a reload', async () => {
    const id = await page.getAttribute('[data-testid="ex-result"]', 'data-experiment-id')
    await page.reload()
    await page.waitForSelector(`[data-testid="ex-result"][data-experiment-id="${id}"] [data-testid="ex-heatmap"] canvas`, { timeout: 30_000 })
    expect(await page.locator('[data-testid="ex-step"]').count()).toBe(4)
  })

  it('lists it in History as an experiment of kind experts', async () => {
    const id = await page.getAttribute('[data-testid="ex-result"]', 'data-experiment-id')
    await page.click('[data-testid="nav-history"]')
    await page.waitForSelector(`[data-testid="experiment-row"][data-id="${id}"][data-kind="experts"][data-status="done"]`, { timeout: 30_000 })
  })

  it('logged no console errors, page errors or failed requests', () => {
    expect(s.problems).toEqual([])
  })
})
