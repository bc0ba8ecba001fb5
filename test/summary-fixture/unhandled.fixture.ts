// Every test passes, but an error escapes outside any test (an unhandled rejection): vitest exits non-zero and the
// summary must not say "0 failed" (test/test-summary.test.ts).
import { expect, it } from 'vitest'

it('passes while something else fails', async () => {
  void Promise.reject(new Error('an unhandled rejection on purpose'))
  await new Promise((r) => setTimeout(r, 50))
  expect(true).toBe(true)
})
