// The `soliloquy` command as a user runs it (the built bin), on the embedded organism.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { comparableLength, reference, ROOT, tmp } from './helpers'

const BIN = join(ROOT, 'bin', 'soliloquy.js')
let dataDir: string

function run(...args: string[]): { code: number | null; stdout: string; stderr: string; signal: NodeJS.Signals | null } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, SOLILOQUY_DATA: dataDir },
    timeout: 120_000,
  })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal }
}

beforeAll(() => {
  expect(existsSync(join(ROOT, 'out', 'main', 'cli.js')), 'the CLI is built (npm run build)').toBe(true)
  dataDir = tmp()
})

describe('soliloquy CLI', () => {
  it('sweep --json on the embedded organism reproduces the reference completions', () => {
    const ref = reference()
    const r = run('sweep', '--json')
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout) as { phrase_ids: number[]; phrase_loss: number; rows: { lr: number; ids: number[]; text: string }[] }
    expect(out.phrase_ids).toEqual(ref.phrase_ids)
    expect(Math.abs(out.phrase_loss - ref.phrase_loss) / ref.phrase_loss).toBeLessThan(1e-4)
    // the organism's preset step sizes
    expect(out.rows.map((x) => x.lr)).toEqual([0, 0.001, 0.003, 0.01, 0.02, 0.03, 0.05, 0.1])
    for (const row of out.rows) {
      const want = ref.sweep.find((s) => s.lr === row.lr)
      if (!want) continue // 0.02 and 0.05 are not in the reference grid
      const n = comparableLength(want.plain.margins)
      expect(row.ids.slice(0, n), `α=${row.lr}`).toEqual(want.plain.ids.slice(0, n))
    }
    expect(out.rows[0].text.startsWith('a successful business owner, you need to be able to manage your time effectively.')).toBe(true)
    expect(out.rows[5].text.startsWith(", or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer")).toBe(true)
  })

  it("sweep prints the seed's Stepping Off table", () => {
    const r = run('sweep', '--lrs', '0,0.03', '--max-gen', '12')
    expect(r.code).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    const header = lines.find((l) => l.startsWith('gradStep'))!
    expect(header.split(/\s+/)).toEqual(['gradStep', '0.0', '3.0E-02'])
    const row = (i: number): string[] => lines.find((l) => l.startsWith(`${i} `))!.trim().split(/\s+/)
    expect(row(0)).toEqual(['0', 'To', 'To'])
    expect(row(1)).toEqual(['1', 'be', 'be,'])
    expect(row(2)).toEqual(['2', 'a', 'or'])
    expect(row(3)).toEqual(['3', 'successful', 'not'])
    expect(lines[lines.length - 1]).toMatch(/^-+$/)
  })

  it('grad --json gives the loss and every HF tensor norm', () => {
    const ref = reference()
    const r = run('grad', '--phrase', ref.phrase, '--json')
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout) as { phrase_ids: number[]; loss: number; grad_norms: Record<string, number> }
    expect(out.phrase_ids).toEqual(ref.phrase_ids)
    expect(Math.abs(out.loss - ref.phrase_loss) / ref.phrase_loss).toBeLessThan(1e-4)
    for (const [k, v] of Object.entries(ref.grad_norms)) expect(Math.abs(out.grad_norms[k] - v) / v, k).toBeLessThan(1e-3)
  })

  it('tokenize --json', () => {
    const ref = reference()
    for (const [text, ids] of Object.entries(ref.tokenization)) {
      const r = run('tokenize', '--text', text, '--json')
      expect(r.code).toBe(0)
      expect(JSON.parse(r.stdout)).toEqual({ ids })
    }
  })

  it('bad input exits non-zero with one line in words', () => {
    const cases: [string[], RegExp][] = [
      [['sweep', '--lrs', '0,abc'], /^soliloquy: --lrs: "abc" is not a finite number\n$/],
      [['sweep', '--model', '/no/such/model'], /^soliloquy: \/no\/such\/model: no such model directory\n$/],
      // validated by the API contract, as the app's routers do
      [['sweep', '--phrase', ''], /^soliloquy: sweep: Phrase: the phrase is empty\n$/],
      [['grad', '--phrase', 'to be or not '.repeat(40)], /^soliloquy: the phrase has \d+ tokens with BOS; max_seq_len is 128\n$/],
      [['sweep', '--bogus'], /^soliloquy: Unknown option '--bogus'.*\n$/],
      [['tokenize'], /^soliloquy: --text is required\n$/],
    ]
    for (const [args, msg] of cases) {
      const r = run(...args)
      expect(r.signal, args.join(' ')).toBeNull()
      expect(r.code, args.join(' ')).toBe(1)
      expect(r.stderr, args.join(' ')).toMatch(msg)
    }
    const u = run('frobnicate')
    expect(u.code).toBe(2)
    expect(u.stderr).toMatch(/^soliloquy: unknown command "frobnicate"/)
  })
})

describe('soliloquy history, show, experiment, table (issue 10)', () => {
  it('lists experiments, expands their runs, annotates them, prints the seed table as Markdown and CSV', () => {
    const dir = tmp('soliloquy-cli-experiments-')
    const at = (...args: string[]) => {
      const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, SOLILOQUY_DATA: dir }, timeout: 120_000 })
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(0)
      return r.stdout
    }
    at('sweep', '--lrs', '0,0.03', '--max-gen', '12')
    at('compare', '--lrs', '0.03', '--max-gen', '8')
    const page = JSON.parse(at('history', '--json')) as { total: number; experiments: { id: number; kind: string; maxGen: number; runCount: number }[] }
    expect(page.experiments.map((e) => [e.kind, e.maxGen, e.runCount])).toEqual([['compare', 8, 4], ['sweep', 12, 2]])
    const sweepId = page.experiments[1].id
    const expanded = JSON.parse(at('history', '--runs', '--json')) as { experiments: { runs: { lr: number; outputIds: number[] }[] }[] }
    expect(expanded.experiments[1].runs.map((r) => r.lr)).toEqual([0, 0.03])
    const text = at('history', '--runs')
    expect(text).toMatch(new RegExp(`^e${sweepId} +sweep +done`, 'm'))
    expect(text).toMatch(/^ {2}r\d+ +compare +done +0\.03 +\(prefixed\) To be/m)
    at('experiment', 'tag', `e${sweepId}`, 'hamlet,seed')
    at('experiment', 'star', String(sweepId))
    at('experiment', 'note', String(sweepId), 'the', 'seed')
    const starred = JSON.parse(at('history', '--starred', '--json')) as { experiments: { id: number; tags: string[]; notes: string }[] }
    expect(starred.experiments).toMatchObject([{ id: sweepId, tags: ['hamlet', 'seed'], notes: 'the seed' }])
    // show --json is the complete export: settings, every run's ids and metrics
    const x = JSON.parse(at('show', String(sweepId), '--json')) as { format: string; experiment: { settings: { maxGen: number } }; runs: { outputIds: number[]; metrics: { recall: number } }[] }
    expect(x.format).toBe('soliloquy-experiment')
    expect(x.experiment.settings.maxGen).toBe(12)
    expect(x.runs.map((r) => r.outputIds)).toEqual(expanded.experiments[1].runs.map((r) => r.outputIds))
    expect(at('show', String(sweepId))).toMatch(/^tags +hamlet, seed$/m)
    const md = at('table', String(sweepId), '--format', 'md').split('\n')
    expect(md.slice(0, 3)).toEqual(['| gradStep | 0.0 | 3.0E-02 |', '| --- | --- | --- |', '| 0 | To | To |'])
    const csv = at('table', String(sweepId), '--format', 'csv').split('\r\n')
    expect(csv.slice(0, 3)).toEqual(['gradStep,0,0.03', '0,To,To', '1,be,"be,"'])
    const bad = spawnSync(process.execPath, [BIN, 'table', 'r1'], { encoding: 'utf8', env: { ...process.env, SOLILOQUY_DATA: dir } })
    expect(bad.status).toBe(1)
    expect(bad.stderr).toBe('soliloquy: table: give an experiment (a sweep), not run 1\n')
  })
})
