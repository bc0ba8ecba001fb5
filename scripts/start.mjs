#!/usr/bin/env node
// `npm start`: launch the desktop app. Where Electron's binary is present: build the app if needed, rebuild
// better-sqlite3 for Electron's ABI (electron-builder install-app-deps; only a warning when Electron's headers cannot
// be downloaded) and run Electron. Where the binary is absent (e.g. offline installs, which deny Electron's download
// script), say so and point to browser mode.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(join(root, 'package.json'))
const warn = (m) => process.stderr.write(`npm start: warning: ${m}\n`)
const say = (m) => process.stderr.write(`npm start: ${m}\n`)

let electronPath = null
let electronVersion = null
try {
  electronVersion = JSON.parse(readFileSync(require.resolve('electron/package.json'), 'utf8')).version
  electronPath = require('electron') // the binary's path; throws when the binary was never downloaded
  if (typeof electronPath !== 'string' || !existsSync(electronPath)) electronPath = null
} catch {
  electronPath = null
}

if (!electronPath) {
  say(
    [
      `Electron's binary is not installed (electron ${electronVersion ?? '?'}: its download script is denied in package.json "allowScripts" so that \`npm ci\` works offline).`,
      '  To get it on a machine with network access:  node node_modules/electron/install.js   (then npm start again)',
      '  Or use the same app in your browser, no Electron needed:  npx soliloquy serve   (prints a URL with a token)',
    ].join('\n'),
  )
  process.exit(1)
}

// 1. the app must be built (postinstall normally did it)
if (!existsSync(join(root, 'out', 'main', 'index.js')) || !existsSync(join(root, 'out', 'renderer', 'index.html'))) {
  say('building the app (electron-vite build)…')
  const r = spawnSync('npx', ['electron-vite', 'build'], { cwd: root, stdio: 'inherit' })
  if (r.status !== 0) process.exit(r.status ?? 1)
}

// 2. better-sqlite3 for Electron's ABI, once per Electron version
const marker = join(root, 'node_modules', '.soliloquy-electron-abi')
const want = `electron-${electronVersion}`
if (!existsSync(marker) || readFileSync(marker, 'utf8').trim() !== want) {
  say(`rebuilding better-sqlite3 for Electron ${electronVersion} (electron-builder install-app-deps)…`)
  // npm's nodedir=/usr would silently build against Node's headers: Electron's headers are needed here
  const env = { ...process.env }
  for (const k of Object.keys(env)) if (/^npm_config_nodedir$/i.test(k)) delete env[k]
  const r = spawnSync('npx', ['electron-builder', 'install-app-deps'], { cwd: root, stdio: 'inherit', env })
  if (r.status === 0) {
    writeFileSync(marker, want + '\n')
    say('better-sqlite3 now targets Electron; `npm rebuild better-sqlite3` restores it for the CLI under Node.')
  } else {
    warn(
      "could not rebuild better-sqlite3 for Electron (Electron's headers could not be downloaded?). " +
        'The history database may fail to open inside the app; restoring the Node build.',
    )
    spawnSync('npm', ['rebuild', 'better-sqlite3'], { cwd: root, stdio: 'inherit' })
  }
}

// 3. launch
const child = spawn(electronPath, [root, ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' })
const forward = (sig) => () => child.kill(sig)
process.on('SIGINT', forward('SIGINT'))
process.on('SIGTERM', forward('SIGTERM'))
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 0)))
