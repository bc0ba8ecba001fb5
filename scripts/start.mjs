#!/usr/bin/env node
// `npm start`: launch the desktop app. Where Electron's binary is present: build the app if needed, rebuild
// better-sqlite3 for Electron's ABI (electron-builder install-app-deps; only a warning when Electron's headers cannot
// be downloaded) and run Electron. Where the binary is absent (e.g. offline installs, which deny Electron's download
// script), say so and point to browser mode.
import { spawn, spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
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

if (!electronPath && electronVersion) {
  // package.json denies electron's download script so that installs work offline; fetch the binary now instead
  say(`fetching Electron ${electronVersion}'s binary (node_modules/electron/install.js)…`)
  const r = spawnSync(process.execPath, [require.resolve('electron/install.js')], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'pipe'],
    encoding: 'utf8',
    timeout: 300_000,
  })
  if (r.status !== 0) {
    const why = (r.stderr ?? '').split('\n').find((l) => /Error|ENOTFOUND|EAI_AGAIN|ECONN/.test(l)) ?? 'download failed'
    warn(`could not download Electron's binary: ${why.trim()}`)
  }
  if (r.status === 0) {
    try {
      const p = require('electron')
      if (typeof p === 'string' && existsSync(p)) electronPath = p
    } catch {
      electronPath = null
    }
  }
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

// 2. better-sqlite3 for Electron's ABI, once per Electron version. It is built in a copy of the package
// (node_modules/.soliloquy-electron/better-sqlite3) and handed to the app through SOLILOQUY_SQLITE_BINDING, so the
// Node build that the CLI and the tests use is never replaced.
const copyDir = join(root, 'node_modules', '.soliloquy-electron', 'better-sqlite3')
const binding = join(copyDir, 'build', 'Release', 'better_sqlite3.node')
const marker = join(copyDir, '.built-for')
const want = `electron-${electronVersion}`
let sqliteBinding = null
if (existsSync(binding) && existsSync(marker) && readFileSync(marker, 'utf8').trim() === want) {
  sqliteBinding = binding
} else {
  say(`building better-sqlite3 for Electron ${electronVersion} (node-gyp against Electron's headers)…`)
  rmSync(copyDir, { recursive: true, force: true })
  mkdirSync(dirname(copyDir), { recursive: true })
  cpSync(dirname(require.resolve('better-sqlite3/package.json')), copyDir, {
    recursive: true,
    filter: (p) => !p.includes(`${join('better-sqlite3', 'build')}`),
  })
  // npm's nodedir (e.g. /usr) would silently build against Node's headers: Electron's headers are needed here
  const env = { ...process.env }
  for (const k of Object.keys(env)) if (/^npm_config_(nodedir|target|runtime|disturl)$/i.test(k)) delete env[k]
  const r = spawnSync(
    process.execPath,
    [
      require.resolve('node-gyp/bin/node-gyp.js'),
      'rebuild',
      '--release',
      `--directory=${copyDir}`,
      `--target=${electronVersion}`,
      '--runtime=electron',
      '--dist-url=https://electronjs.org/headers',
    ],
    { cwd: root, stdio: 'inherit', env },
  )
  if (r.status === 0 && existsSync(binding)) {
    writeFileSync(marker, want + '\n')
    sqliteBinding = binding
  } else {
    warn(
      "could not build better-sqlite3 for Electron (Electron's headers could not be downloaded?). " +
        'The app will start, but the history database cannot open inside it until this succeeds; ' +
        'browser mode (npx soliloquy serve) works meanwhile.',
    )
  }
}

// 3. launch
const child = spawn(electronPath, [root, ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  env: sqliteBinding ? { ...process.env, SOLILOQUY_SQLITE_BINDING: sqliteBinding } : process.env,
})
const forward = (sig) => () => child.kill(sig)
process.on('SIGINT', forward('SIGINT'))
process.on('SIGTERM', forward('SIGTERM'))
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 0)))
