// A vitest reporter for `npm test`'s last line (scripts/test.mjs): counts what really happened, from vitest's own
// end-of-run state rather than its JSON file (which has no field for errors outside tests):
//   passed  = tests that passed
//   failed  = tests that failed + test files that failed without a failed test (a throwing beforeAll/afterAll, a
//             file that does not load) + errors outside any test (unhandled errors and rejections)
//   skipped = tests that did not run (skipped, todo, or left behind by a failed hook)
// Writes them as JSON to the file named by SOLILOQUY_TEST_SUMMARY.
import { writeFileSync } from 'node:fs'

export default class SummaryReporter {
  onTestRunEnd(testModules, unhandledErrors) {
    const out = process.env.SOLILOQUY_TEST_SUMMARY
    let passed = 0
    let failed = 0
    let skipped = 0
    let failedFiles = 0
    for (const m of testModules) {
      let failedHere = 0
      for (const t of m.children.allTests()) {
        const state = t.result().state
        if (state === 'passed') passed++
        else if (state === 'failed') failedHere++
        else skipped++
      }
      failed += failedHere
      const fileFailed = m.state() === 'failed' || m.errors().length > 0
      if (fileFailed && failedHere === 0) {
        failed++
        failedFiles++
      }
    }
    failed += unhandledErrors.length
    if (out) writeFileSync(out, JSON.stringify({ passed, failed, skipped, failedFiles, unhandledErrors: unhandledErrors.length }))
  }
}
