// `npm test`'s last line tells the truth: scripts/test.mjs over the fixture suites in test/summary-fixture/ (run
// with their own vitest config, never part of the main suite). A throwing beforeAll leaves its tests "skipped" in
// vitest's report; an unhandled rejection fails the run while every test passes: both must count as failed.
import { spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT, tmp } from './helpers'

function npmTest(filter: string, extraEnv: Record<string, string> = {}): { code: number | null; last: string } {
  // the child vitest must not think it runs inside this one, nor count a fuzz finding of the CI run around it
  const inherited = (k: string): boolean => !k.startsWith('VITEST') && k !== 'TEST' && k !== 'NODE_ENV' && k !== 'SOLILOQUY_FUZZ_FAILED'
  const env = {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => inherited(k))),
    ...extraEnv,
  }
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'test.mjs'), '--config', 'test/summary-fixture/vitest.config.mts', filter], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
  })
  const lines = r.stdout.trim().split('\n')
  return { code: r.status, last: lines[lines.length - 1] }
}

describe('the test summary line', () => {
  it('counts a file whose beforeAll throws as failed (its tests never ran)', () => {
    const r = npmTest('throwing-hook')
    expect(r.last).toMatch(/^0 passed, [1-9]\d* failed, 2 skipped$/)
    expect(r.code).toBe(1)
  })

  it('counts an error outside any test as failed even when every test passed', () => {
    const r = npmTest('unhandled')
    expect(r.last).toMatch(/^1 passed, [1-9]\d* failed, 0 skipped$/)
    expect(r.code).toBe(1)
  })

  it('says 0 failed only when the run passed, and reports skipped tests', () => {
    const r = npmTest('passing')
    expect(r.last).toBe('1 passed, 0 failed, 1 skipped')
    expect(r.code).toBe(0)
  })

  it('leaves nothing in the temporary directory, and removes what a killed run left', () => {
    const parent = tmp('soliloquy-tmp-parent-')
    // a run killed earlier: its process (pid 2^22 + 1 is above Linux's pid_max) is gone
    mkdirSync(join(parent, 'soliloquy-tests-killed', 'model'), { recursive: true })
    writeFileSync(join(parent, 'soliloquy-tests-killed', 'run.pid'), String(2 ** 22 + 1))
    // a run still going (this process) is left alone
    mkdirSync(join(parent, 'soliloquy-tests-running'))
    writeFileSync(join(parent, 'soliloquy-tests-running', 'run.pid'), String(process.pid))
    const r = npmTest('leaves-tmp', { TMPDIR: parent, SOLILOQUY_FIXTURE_PARENT_TMP: parent })
    expect(r.last).toBe('1 passed, 0 failed, 0 skipped')
    expect(readdirSync(parent)).toEqual(['soliloquy-tests-running'])
  })
})
