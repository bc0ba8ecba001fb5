import { defineConfig } from 'electron-vite'
import vue from '@vitejs/plugin-vue'
import { resolve } from 'node:path'

const shared = { '@shared': resolve(__dirname, 'src/shared') }

export default defineConfig({
  main: {
    resolve: { alias: shared },
    build: {
      outDir: 'out/main',
      rollupOptions: {
        input: {
          // the Electron main process (window + IPC router)
          index: resolve(__dirname, 'src/main/app/index.ts'),
          // the `soliloquy` command line
          cli: resolve(__dirname, 'src/main/cli/index.ts'),
          // the lab in a worker thread of the process that hosts it (engine, SQLite, checkpoints): tests and fallbacks
          labWorker: resolve(__dirname, 'src/main/host/worker.ts'),
          // the lab in a process of its own: `soliloquy serve` (fork) and the desktop app (utilityProcess)
          labProcess: resolve(__dirname, 'src/main/host/labProcess.ts'),
        },
        // bullmq loads ioredis at run time (require), and both are plain Node packages: not bundled
        external: ['better-sqlite3', 'electron', 'bullmq', 'ioredis'],
      },
    },
  },
  preload: {
    resolve: { alias: shared },
    build: {
      outDir: 'out/preload',
      rollupOptions: {
        input: { index: resolve(__dirname, 'src/preload/index.ts') },
        external: ['electron'],
      },
    },
  },
  renderer: {
    root: resolve(__dirname, 'src/renderer'),
    resolve: {
      alias: [
        { find: '@shared', replacement: shared['@shared'] },
        // Vue with every template interpolation shown through the one rule for control and bidi characters
        { find: /^vue$/, replacement: resolve(__dirname, 'src/renderer/display/vue.ts') },
      ],
    },
    plugins: [vue()],
    build: {
      outDir: 'out/renderer',
      chunkSizeWarningLimit: 2000,
      rollupOptions: { input: { index: resolve(__dirname, 'src/renderer/index.html') } },
    },
  },
})
