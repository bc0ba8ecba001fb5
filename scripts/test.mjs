#!/usr/bin/env node
// The project's one test command (`npm test`): vitest over test/**, then a plain last line
//   N passed, N failed, N skipped
// (the form CI reads; vitest's own summary is not). A failed file, a throwing hook or an error outside any test counts
// as failed (scripts/summary-reporter.mjs), and when vitest exits non-zero the line never says 0 failed.
// Extra arguments go to vitest (e.g. a file, or --config for test/test-summary.test.ts's fixture suites).
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dir = mkdtempSync(join(tmpdir(), 'soliloquy-test-summary-'))
const summary = join(dir, 'summary.json')
const args = ['vitest', 'run', '--reporter=default', `--reporter=${join(root, 'scripts', 'summary-reporter.mjs')}`, ...process.argv.slice(2)]
const r = spawnSync('npx', args, {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', SOLILOQUY_TEST_SUMMARY: summary },
})
let passed = 0
let failed = 0
let skipped = 0
if (existsSync(summary)) ({ passed, failed, skipped } = JSON.parse(readFileSync(summary, 'utf8')))
rmSync(dir, { recursive: true, force: true })
const exitOk = r.status === 0
// .ci/run folds a failed `npm run fuzz` into this count, so the one summary line says whether CI passed
if (process.env.SOLILOQUY_FUZZ_FAILED === '1') {
  console.log('npm run fuzz found a problem (see its output above): counted as one failed test')
  failed++
}
// vitest failed for a reason not counted above (a crash, a config error, a signal): still at least one failure
if (!exitOk && failed === 0) failed = 1
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`)
process.exit(exitOk && failed === 0 ? 0 : 1)
