// The instruments from the command line (the built bin, on the embedded organism): --json complete on a pipe and
// with the documented keys, restricted sweeps, the HTML report written to a file, and the run diff.
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { ROOT, tmp } from './helpers'

const BIN = join(ROOT, 'bin', 'soliloquy.js')
let dataDir: string

function run(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, SOLILOQUY_DATA: dataDir }, timeout: 300_000, maxBuffer: 1 << 28 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

beforeAll(() => {
  expect(existsSync(join(ROOT, 'out', 'main', 'cli.js')), 'the CLI is built (npm run build)').toBe(true)
  dataDir = tmp('soliloquy-cli-instruments-')
})

describe('soliloquy instruments', () => {
  it('sweep --groups attn,mlp --layers 0-3 records the restriction and steps only those cells', () => {
    const r = run('sweep', '--groups', 'attn,mlp', '--layers', '0-3', '--lrs', '0.03', '--max-gen', '8', '--json')
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const show = JSON.parse(run('show', 'r1', '--json').stdout) as { run: { metrics: { restriction: unknown; updateGrid: { cells: number[][] } } } }
    expect(show.run.metrics.restriction).toEqual({ groups: ['attn', 'mlp'], layers: { from: 0, to: 3 } })
    const cells = show.run.metrics.updateGrid.cells
    expect(cells[0].slice(0, 7).every((x) => x > 0)).toBe(true)
    expect(cells[0].slice(7)).toEqual([0, 0]) // norms dropped
    expect(cells[4].every((x) => x === 0)).toBe(true) // layer 4 outside 0-3
    const bad = run('sweep', '--groups', 'attention', '--json')
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/--groups: "attention" is not a parameter group/)
  })

  it('layers --json is complete on a pipe (over 64 kB) and names the cells', () => {
    const r = run('layers', '--lr', '0.06', '--json')
    expect(r.code).toBe(0)
    expect(r.stdout.length).toBeGreaterThan(65536)
    const out = JSON.parse(r.stdout) as { cells: { label: string; recalls: boolean }[] }
    const recall = out.cells.filter((c) => c.recalls).map((c) => c.label)
    expect(recall).toContain('full')
    expect(recall).not.toContain('embed')
  })

  it('window --json has alpha_learn, alpha_break and width_decades', () => {
    const r = run('window', '--rounds', '1', '--json')
    expect(r.code).toBe(0)
    const w = JSON.parse(r.stdout) as { alpha_learn: number; alpha_break: number; width_decades: number; experiment: number }
    expect(w.alpha_learn).toBeGreaterThan(0)
    expect(w.alpha_break).toBeGreaterThan(w.alpha_learn)
    expect(w.width_decades).toBeCloseTo(Math.log10(w.alpha_break / w.alpha_learn), 10)
    const html = join(dataDir, 'window.html')
    const rep = run('report', String(w.experiment), '--out', html)
    expect(rep.code).toBe(0)
    const text = readFileSync(html, 'utf8')
    expect(text).toContain('The plasticity window')
    expect(text).not.toMatch(/https?:\/\/|<script|src=/i)
  })

  it('emerge --json gives the heatmap numbers; diff aligns two runs', () => {
    const r = run('emerge', '--lrs', '0,0.03', '--tokens', '16', '--topk', '3', '--json')
    expect(r.code).toBe(0)
    const e = JSON.parse(r.stdout) as { lrs: number[]; tokens: unknown[]; logprob: number[][]; top: unknown[][][] }
    expect(e.lrs).toEqual([0, 0.03])
    expect(e.tokens.length).toBe(16)
    expect(e.logprob.map((x) => x.length)).toEqual([15, 15])
    expect(e.top[1][3].length).toBe(3)
    // the instrument is an experiment of its kind: History lists it with its runs
    const hist = JSON.parse(run('history', '--kind', 'emerge', '--runs', '--json').stdout) as { experiments: { kind: string; runs: { id: number }[] }[] }
    expect(hist.experiments.map((x) => x.kind)).toEqual(['emerge'])
    const [a, b] = hist.experiments[0].runs.map((x) => x.id).sort((x, y) => x - y)
    const d = run('diff', String(a), String(b))
    expect(d.code).toBe(0)
    expect(d.stdout).toMatch(/% of tokens in common/)
    expect(d.stdout).toMatch(/Recall/)
    expect(run('diff', String(a)).stderr).toMatch(/give two run ids/)
  })
})
