// `soliloquy experts` on a tiny mixture of experts (the built bin): routing mass per MoE layer × expert before the step
// and at each α, ‖∇W‖ per expert, the step restricted to chosen experts, the text table and --json; recorded as an
// experiment (history, show, export, report read it back); a dense model and a bad --experts are refused in words,
// with nothing recorded.
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
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

  it('is recorded: an experiment of kind experts with one run per step, shown, exported and reported from History', () => {
    const r = run('experts', '--model', model, '--phrase', 'To be, or not to be', '--lrs', '0.5', '--experts', '1:3', '--json')
    expect(r.code).toBe(0)
    const j = JSON.parse(r.stdout) as {
      experimentId: number; views: { mass: number[][] }[]; prompt: { tokens: string[]; views: { mass: number[][] }[] }
      steps: { runId: number; label: string; restricted: boolean; recalls: boolean; phraseRecall: number }[]; phraseWords: number
    }
    expect(j).not.toHaveProperty('group')
    expect(j.steps.map((x) => [x.label, x.restricted])).toEqual([['full 0.5', false], ['experts 1:3 0.5', true]])
    expect(j.phraseWords).toBe(6)
    for (const st of j.steps) expect(st.recalls).toBe(st.phraseRecall === 6)
    // the prompt is routed too (BOS + "To be")
    expect(j.prompt.views.length).toBe(2)
    expect(j.prompt.views[0].mass.length).toBe(2)
    const list = JSON.parse(run('history', '--kind', 'experts', '--json').stdout) as { experiments: { id: number; kind: string }[] }
    expect(list.experiments.map((e) => [e.id, e.kind])).toContainEqual([j.experimentId, 'experts'])
    const shown = JSON.parse(run('show', `e${j.experimentId}`, '--json').stdout) as { experiment: { kind: string; result: { views: unknown[]; steps: { runId: number }[] } }; runs: { id: number }[] }
    expect(shown.experiment.kind).toBe('experts')
    // the result is kept whole: the heatmaps are redrawn from History
    expect(shown.experiment.result.views).toEqual(j.views)
    expect(shown.runs.map((x) => x.id)).toEqual(j.steps.map((x) => x.runId))
    // a restricted run saved as a checkpoint in a later process (no step remembered: recomputed) keeps its restriction:
    // the checkpoint completes the prompt as the restricted run did, not as the full step did
    const runs = (shown as unknown as { runs: { id: number; fullText: string }[] }).runs
    expect(runs[0].fullText, 'the full and the restricted step differ on this model').not.toBe(runs[1].fullText)
    const saved = run('checkpoints', 'save', `r${runs[1].id}`, 'only-expert-3', '--json')
    expect(saved.stderr).toBe('')
    const gen = JSON.parse(run('generate', '--model', 'only-expert-3', '--json').stdout) as { run: { fullText: string } }
    expect(gen.run.fullText).toBe(runs[1].fullText)
    const out = join(dataDir, 'experts.html')
    expect(run('report', `e${j.experimentId}`, '--out', out).code).toBe(0)
    const html = readFileSync(out, 'utf8')
    expect(html).toMatch(/Routing mass of the phrase, the base/)
    expect(html).toMatch(/Routing mass of the prompt, α \S+: rows MoE layers/)
    expect(html).toMatch(/The step restricted to experts 1:3/)
    expect(html).toMatch(/experts 1:3 0\.5/)
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
    // refused before anything was written
    const all = JSON.parse(run('history', '--json').stdout) as { experiments: { kind: string; status: string }[] }
    expect(all.experiments.filter((e) => e.kind === 'experts' && e.status !== 'done')).toEqual([])
  })
})
