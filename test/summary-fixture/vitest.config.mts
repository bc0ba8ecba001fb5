// Only for test/test-summary.test.ts: runs the fixture suites in this folder (never part of `npm test` itself).
import { defineConfig } from 'vitest/config'
import { fileURLToPath } from 'node:url'

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  test: {
    include: ['*.fixture.ts'],
    fileParallelism: false,
  },
})
