// `soliloquy experts` on a tiny mixture of experts (the built bin): routing mass per MoE layer × expert before the step
// and at each α, ‖∇W‖ per expert, the step restricted to chosen experts, the text table and --json; a dense model and
// a bad --experts are refused in words.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { ROOT, tmp } from './helpers'
import { writeMoe } from './moeTiny'

const BIN = join(ROOT, 'bin', 'soliloquy.js')
let dataDir: string
let model: string

function run(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, SOLILOQUY_DATA: dataDir }, timeout: 300_000, maxBuffer: 1 << 28 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

beforeAll(() => {
  expect(existsSync(join(ROOT, 'out', 'main', 'cli.js')), 'the CLI is built (npm run build)').toBe(true)
  dataDir = tmp('soliloquy-cli-experts-')
  model = writeMoe({
    family: 'mixtral', vocab: 4096, dim: 32, ffn: 16, layers: 2, heads: 4, kvHeads: 2, headDim: 8, tied: false, experts: 4, topk: 2, expertFfn: 16, moeLayers: [true, true], seed: 81,
    configExtra: { model_type: 'mixtral', architectures: ['MixtralForCausalLM'], num_local_experts: 4, num_experts_per_tok: 2, intermediate_size: 16 },
  })
})

describe('soliloquy experts', () => {
  it('--json: routing mass per layer × expert at each α, ‖∇W‖ per expert, the restricted step', () => {
    const r = run('experts', '--model', model, '--phrase', 'To be, or not to be', '--lrs', '0.5,4', '--experts', '0:0+2', '--json')
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const j = JSON.parse(r.stdout) as {
      layers: number[]; experts: number; tokens: string[]; views: { lr: number; mass: number[][]; chosen: number[][][] }[]; gradNorm: number[][]; restricted: { experts: unknown; views: { lr: number; mass: number[][] }[] }
    }
    expect(j.layers).toEqual([0, 1])
    expect(j.experts).toBe(4)
    expect(j.views.map((v) => v.lr)).toEqual([0, 0.5, 4])
    for (const v of j.views) {
      expect(v.mass.length).toBe(2)
      // Mixtral renormalises: each token's two weights sum to 1, so each layer's mass does
      for (const row of v.mass) expect(Math.abs(row.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-5)
      expect(v.chosen[0].length).toBe(j.tokens.length)
    }
    expect(j.views[2].mass, 'the step moves the routing').not.toEqual(j.views[0].mass)
    expect(j.gradNorm.length).toBe(2)
    expect(j.gradNorm.flat().some((x) => x > 0)).toBe(true)
    expect(j.restricted.experts).toEqual([{ layer: 0, expert: 0 }, { layer: 0, expert: 2 }])
    // a step on layer 0's experts leaves layer 0's routing as the base has it (the router comes before them) and
    // moves layer 1's
    expect(j.restricted.views[2].mass[0]).toEqual(j.views[0].mass[0])
    expect(j.restricted.views[2].mass[1]).not.toEqual(j.views[0].mass[1])
  })

  it('the table, and refusals in words', () => {
    const r = run('experts', '--model', model, '--phrase', 'To be, or not to be', '--lrs', '0.5')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/routing mass per MoE layer × expert on \d+ tokens \(2 of 4 experts per token\)/)
    expect(r.stdout).toMatch(/\nthe base\n[\s\S]*\nα = \S+\n/)
    const bad = run('experts', '--model', model, '--phrase', 'To be', '--experts', '5:0', '--json')
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/--experts: layer 5 — the model has 2 layers/)
    const dense = run('experts', '--phrase', 'To be', '--json')
    expect(dense.code).toBe(1)
    expect(dense.stderr).toMatch(/not a mixture of experts/)
  })
})
