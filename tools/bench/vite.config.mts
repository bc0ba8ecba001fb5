// `npm run bench` builds the benchmark on its own (out/bench/bench.js), apart from the app's bundle (out/main, which
// electron-builder packages): a Node program that loads the engine from src/main like the CLI does.
import { builtinModules } from 'node:module'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, '..', '..')

export default defineConfig({
  root,
  resolve: { alias: { '@shared': resolve(root, 'src/shared') } },
  build: {
    outDir: resolve(root, 'out', 'bench'),
    emptyOutDir: true,
    ssr: true,
    target: 'node20',
    minify: false,
    rollupOptions: {
      input: { bench: resolve(here, 'bench.ts') },
      output: { format: 'cjs', entryFileNames: '[name].js' },
      external: ['better-sqlite3', 'electron', 'bullmq', 'ioredis', /^node:/, ...builtinModules],
    },
  },
})
