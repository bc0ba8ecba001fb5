#!/usr/bin/env node
// Entry point of the `soliloquy` command: runs the built CLI (out/main/cli.js, built by `npm install`).
const { existsSync } = require('node:fs')
const { join } = require('node:path')
const cli = join(__dirname, '..', 'out', 'main', 'cli.js')
if (!existsSync(cli)) {
  process.stderr.write('soliloquy: not built yet; run `npm install` (or `npm run build`) in ' + join(__dirname, '..') + '\n')
  process.exit(1)
}
require(cli).main(process.argv.slice(2)).then(
  // exit once stdout has drained: process.exit right after a large write to a pipe would cut --json at 64 kB
  (code) => process.stdout.write('', () => process.exit(code)),
  (e) => {
    process.stderr.write('soliloquy: ' + (e && e.message ? e.message : String(e)) + '\n')
    process.exit(1)
  },
)
