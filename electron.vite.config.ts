import { defineConfig } from 'electron-vite'
import { resolve } from 'node:path'

const shared = { '@shared': resolve(__dirname, 'src/shared') }

export default defineConfig({
  main: {
    resolve: { alias: shared },
    build: {
      outDir: 'out/main',
      rollupOptions: {
        input: {
          cli: resolve(__dirname, 'src/main/cli/index.ts'),
        },
        external: ['better-sqlite3', 'electron'],
      },
    },
  },
})
