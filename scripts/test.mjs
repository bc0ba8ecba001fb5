#!/usr/bin/env node
// The project's one test command (`npm test`): vitest over test/**, then a plain "N passed, N failed" last line
// (the form CI reads; vitest's own summary is not).
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const report = join(root, 'vitest.json')
rmSync(report, { force: true })
const args = ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile=${report}`, ...process.argv.slice(2)]
const r = spawnSync('npx', args, { cwd: root, stdio: 'inherit', env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } })
let passed = 0
let failed = 0
if (existsSync(report)) {
  const j = JSON.parse(readFileSync(report, 'utf8'))
  passed = j.numPassedTests
  failed = j.numFailedTests + (j.numRuntimeErrorTestSuites ?? 0)
  // a test file that failed to load counts as a failure even when it declared no tests
  for (const f of j.testResults ?? []) if (f.status === 'failed' && (f.assertionResults ?? []).length === 0) failed++
} else {
  failed = 1
}
// .ci/run folds a failed `npm run fuzz` into this count, so the one summary line says whether CI passed
if (process.env.SOLILOQUY_FUZZ_FAILED === '1') {
  console.log('npm run fuzz found a problem (see its output above): counted as one failed test')
  failed++
}
console.log(`${passed} passed, ${failed} failed`)
process.exit(r.status === 0 && failed === 0 ? 0 : 1)
