// Only for test/test-summary.test.ts: runs the fixture suites in this folder (never part of `npm test` itself).
import { defineConfig } from 'vitest/config'
import { fileURLToPath } from 'node:url'

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  test: {
    include: ['*.fixture.ts'],
    // as the main suite: a temporary directory per run, removed at its end
    globalSetup: ['../global-tmp.ts'],
    fileParallelism: false,
  },
})
