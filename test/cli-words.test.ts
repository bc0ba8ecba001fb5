// Issue 20 through the `soliloquy` command (the built bin): the errors of item 20 in words (--temperature -1,
// --max-gen -1, a damaged metrics cell that used to fail `history --runs` and `show`), CSV cells neutralised by
// `table` (item 21), and control characters in titles refused, and printed escaped when an older history holds them
// (item 23).
import Database from 'better-sqlite3'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { HISTORY_FILE } from '../src/main/lab/lab'
import { ensureCurrentBuild, ROOT, tmp } from './helpers'

const BIN = join(ROOT, 'bin', 'soliloquy.js')
let dir: string
let sweepId: number

function run(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, SOLILOQUY_DATA: dir }, timeout: 120_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

beforeAll(() => {
  ensureCurrentBuild()
  dir = tmp('soliloquy-cli-words-')
  const s = run('sweep', '--lrs', '0,0.01', '--max-gen', '2', '--prompt', '=HYPERLINK("http://x") To be', '--json')
  expect(s.code, s.stderr).toBe(0)
  sweepId = (JSON.parse(run('history', '--json').stdout) as { experiments: { id: number }[] }).experiments[0].id
}, 300_000)

describe('errors in words (item 20)', () => {
  it('--temperature -1 says it must be ≥ 0; --max-gen -1 says it is negative', () => {
    expect(run('generate', '--temperature', '-1', '--max-gen', '1').stderr).toBe('soliloquy: generate: Temperature: must be ≥ 0 (got -1)\n')
    expect(run('generate', '--max-gen', '-1').stderr).toBe('soliloquy: --max-gen: -1 is negative (give a whole number, 0 or more)\n')
    expect(run('generate', '--max-gen', '1.5').stderr).toBe('soliloquy: --max-gen: "1.5" is not a whole number\n')
  })

  it('a damaged metrics cell: history --runs and show list everything else and mark the cell', () => {
    const db = new Database(join(dir, HISTORY_FILE))
    const runId = (db.prepare('SELECT id FROM runs WHERE experiment_id = ? ORDER BY id LIMIT 1').get(sweepId) as { id: number }).id
    db.prepare('UPDATE runs SET metrics = ? WHERE id = ?').run('{"recall": 3, "stabil', runId)
    db.close()
    const h = run('history', '--runs')
    expect(h.stderr).toBe('')
    expect(h.stdout).toMatch(new RegExp(`^ {2}r${runId} .*metrics \\(unreadable: damaged in the history database\\)`, 'm'))
    expect(h.stdout).toMatch(new RegExp(`^ {2}r${runId + 1} .*KL `, 'm'))
    const s = run('show', `e${sweepId}`)
    expect(s.stderr).toBe('')
    expect(s.stdout).toMatch(new RegExp(`^r${runId} +done .*\\? .*metrics \\(unreadable: damaged in the history database\\)`, 'm'))
    const one = run('show', `r${runId}`)
    expect(one.stdout).toMatch(/^unreadable +metrics \(unreadable: damaged in the history database\)$/m)
    const j = JSON.parse(run('show', `e${sweepId}`, '--json').stdout) as { runs: { id: number; unreadable?: string[] }[] }
    expect(j.runs.find((r) => r.id === runId)?.unreadable).toEqual(['metrics'])
  })
})

describe('CSV from `table` (item 21)', () => {
  it('a formula-like word is quote-prefixed and quoted', () => {
    const csv = run('table', String(sweepId), '--format', 'csv').stdout.split('\r\n')
    expect(csv[0]).toBe('gradStep,0,0.01')
    expect(csv[1]).toBe(`0,"'=HYPERLINK(""http://x"")","'=HYPERLINK(""http://x"")"`)
  })
})

describe('control characters in titles (item 23)', () => {
  it('`experiment title` refuses ESC; a title an older history holds is printed escaped by show and history', () => {
    const r = run('experiment', 'title', `e${sweepId}`, 'evil\u001b[2Jtitle\u0007')
    expect(r.code).toBe(1)
    expect(r.stderr).toBe(
      'soliloquy: updateExperiment: Title: an experiment title cannot contain control or bidirectional-override characters (\\u001b in "evil\\u001b[2Jtitle\\u0007")\n',
    )
    const db = new Database(join(dir, HISTORY_FILE))
    db.prepare('UPDATE experiments SET title = ?, notes = ? WHERE id = ?').run('old\u001b[31m\u202etitle', 'line\n\u0007bell', sweepId)
    db.close()
    const s = run('show', `e${sweepId}`).stdout
    expect(s).toMatch(/^title +old\\u001b\[31m\\u202etitle$/m)
    expect(s).toMatch(/^notes +line\n\\u0007bell$/m)
    expect(s).not.toMatch(/[\u0007\u001b\u202e]/)
    expect(run('history').stdout).not.toMatch(/[\u0007\u001b\u202e]/)
    expect(run('history', '--json').stdout).not.toMatch(/[\u0007\u001b\u202e]/)
  })
})
