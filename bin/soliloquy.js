#!/usr/bin/env node
// Entry point of the `soliloquy` command: runs the built CLI (out/main/cli.js, built by `npm install`).
const { existsSync } = require('node:fs')
const { join } = require('node:path')
const cli = join(__dirname, '..', 'out', 'main', 'cli.js')
if (!existsSync(cli)) {
  process.stderr.write('soliloquy: not built yet; run `npm install` (or `npm run build`) in ' + join(__dirname, '..') + '\n')
  process.exit(1)
}
const { main, exitWhenFlushed } = require(cli)
// a reader that stops early (`| head -c 100`) closes the pipe: that is not an error of ours
process.stdout.on('error', (e) => {
  if (e && e.code === 'EPIPE') process.exit(process.exitCode ?? 0)
})
// exit only once stdout has drained: a pipe takes 64 KiB at a time and process.exit() would drop the rest
main(process.argv.slice(2)).then(exitWhenFlushed, (e) => {
  process.stderr.write('soliloquy: ' + (e && e.message ? e.message : String(e)) + '\n')
  exitWhenFlushed(1)
})
