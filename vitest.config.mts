import { defineConfig } from 'vitest/config'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('.', import.meta.url))

export default defineConfig({
  resolve: { alias: { '@shared': resolve(root, 'src/shared') } },
  test: {
    include: ['test/**/*.test.ts'],
    // a temporary directory per run, removed at its end (test/global-tmp.ts); rebuild out/ when older than src/
    // (test/global-build.ts): CLI, worker and UI tests run the built code
    globalSetup: ['test/global-tmp.ts', 'test/global-build.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // engine tests share 2 cores: run files one after another so timings and memory stay sane
    fileParallelism: false,
  },
})
