// `npm test`'s last line tells the truth: scripts/test.mjs over the fixture suites in test/summary-fixture/ (run
// with their own vitest config, never part of the main suite). A throwing beforeAll leaves its tests "skipped" in
// vitest's report; an unhandled rejection fails the run while every test passes: both must count as failed.
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT } from './helpers'

function npmTest(filter: string): { code: number | null; last: string } {
  // the child vitest must not think it runs inside this one
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'TEST' && k !== 'NODE_ENV'))
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
})
