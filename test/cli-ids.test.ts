// One id form on the command line (issue 23, item 5): every command of the CLI's table that takes an id accepts eN
// for an experiment and rN for a run — and the plain number where it did before — and prints ids in that form.
// The commands are found from the table itself (an EXPERIMENT or RUN in the usage, an id-taking flag): a new command
// that takes an id fails here until it is covered.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { commands, main } from '../src/main/cli/index'

let dir: string

/** Runs the CLI in this process on the test's data directory; its exit code and what it wrote. */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const out = process.stdout.write
  const err = process.stderr.write
  process.stdout.write = ((c: string | Uint8Array) => ((stdout += String(c)), true)) as typeof process.stdout.write
  process.stderr.write = ((c: string | Uint8Array) => ((stderr += String(c)), true)) as typeof process.stderr.write
  try {
    const code = await main([...args, '--data', dir])
    return { code, stdout, stderr }
  } finally {
    process.stdout.write = out
    process.stderr.write = err
  }
}

/**
 * Each command that takes an id, as argv with its ids written by `e` (an experiment) and `r` (a run). The history
 * below has e1 = a sweep (runs r1, r2 at α 0 and 0.03) and e2 = a step (run r3).
 */
type Form = { e: (n: number) => string; r: (n: number) => string }
const CASES: Record<string, (f: Form, n: number) => string[]> = {
  report: (f, n) => ['report', f.e(1), '--out', join(dir, `report-${n}.html`)],
  diff: (f) => ['diff', f.r(2), f.r(3)],
  show: (f) => ['show', f.r(2)],
  experiment: (f) => ['experiment', 'note', f.e(1), 'a note'],
  table: (f) => ['table', f.e(1)],
  checkpoints: (f, n) => ['checkpoints', 'save', f.r(n === 0 ? 2 : 3), `saved ${n}`],
  history: (f) => ['history', '--flat', '--experiment', f.e(1)],
}
const PREFIXED: Form = { e: (n) => `e${n}`, r: (n) => `r${n}` }
const PLAIN: Form = { e: String, r: String }

/** The commands whose usage takes an experiment or run id (positional, or history's --experiment). */
function idCommands(): string[] {
  return Object.entries(commands)
    .filter(([, c]) => /\b(EXPERIMENT|RUN)\b|--experiment\b/.test(c.usage))
    .map(([name]) => name)
    .sort()
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'soliloquy-ids-'))
  const sweep = await cli('sweep', '--lrs', '0,0.03', '--max-gen', '4')
  expect(sweep.code, sweep.stderr).toBe(0)
  // printed in the one form: the experiment e1 and its runs r1–r2 (never an internal group id)
  expect(sweep.stderr).toMatch(/^recorded as sweep e1 \(runs r1–r2\) in /m)
  const step = await cli('step', '--lr', '0.03', '--max-gen', '4')
  expect(step.code, step.stderr).toBe(0)
  expect(step.stdout).toMatch(/^run r3 \(step, done\)/m)
}, 300_000)

afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('ids on the command line', () => {
  it('every command of the table that takes an id is covered here', () => {
    expect(idCommands()).toEqual(Object.keys(CASES).sort())
  })

  for (const name of Object.keys(CASES))
    it(`${name} accepts eN/rN and the plain number`, async () => {
      for (const [n, form] of [PREFIXED, PLAIN].entries()) {
        const r = await cli(...CASES[name](form, n))
        expect(r.code, `${CASES[name](form, n).join(' ')}: ${r.stderr}`).toBe(0)
      }
    }, 120_000)

  it('an id of the other kind is refused in words, naming both forms', async () => {
    const diff = await cli('diff', 'e1', 'r2')
    expect(diff.code).toBe(1)
    expect(diff.stderr).toMatch(/e1 is an experiment; runs are rN/)
    const report = await cli('report', 'r1', '--out', join(dir, 'x.html'))
    expect(report.code).toBe(1)
    expect(report.stderr).toMatch(/r1 is a run; experiments are eN/)
    const save = await cli('checkpoints', 'save', 'e2', 'nope')
    expect(save.code).toBe(1)
    expect(save.stderr).toMatch(/e2 is an experiment/)
  })

  it('runs and experiments are printed as rN and eN', async () => {
    const flat = await cli('history', '--flat')
    expect(flat.code).toBe(0)
    const rows = flat.stdout.split('\n').slice(1).filter((l) => /^r\d/.test(l))
    expect(rows.map((l) => l.split(/\s+/)[0]).sort()).toEqual(['r1', 'r2', 'r3'])
    expect(rows.map((l) => l.split(/\s+/)[3]).sort()).toEqual(['e1', 'e1', 'e2'])
    const run = await cli('show', 'r2')
    expect(run.stdout).toMatch(/^experiment +sweep e1 \(2 runs\)$/m)
    const diff = await cli('diff', 'r2', 'r3')
    expect(diff.stdout).toMatch(/^run r2 \(α 0\.03\) vs run r3 \(α 0\.03\)/m)
    const list = await cli('checkpoints')
    expect(list.stdout).toMatch(/\br2\b/)
  })
})
