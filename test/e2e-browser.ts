// Browser mode for end-to-end tests: a Chrome/Chromium to drive and `soliloquy serve` to drive it against.
// (The same lookup as test/e2e-ui.test.ts, which keeps its own copy; that file can import these instead.)
import { ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from './helpers'

/** Chrome/Chromium for browser mode: the environment's, the system's, else the one inside @sparticuz/chromium. */
export async function findChromium(): Promise<{ executablePath: string; args: string[]; source: string }> {
  const own = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
  const given = process.env.SOLILOQUY_CHROMIUM ?? process.env.CHROMIUM_PATH
  if (given) {
    if (!existsSync(given)) throw new Error(`SOLILOQUY_CHROMIUM=${given} does not exist`)
    return { executablePath: given, args: ['--headless', ...own], source: `SOLILOQUY_CHROMIUM (${given})` }
  }
  for (const p of ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'])
    if (existsSync(p)) return { executablePath: p, args: ['--headless', ...own], source: p }
  const packaged = (await import('@sparticuz/chromium')).default
  // its serverless flags, without the ones that would switch off the page's security (the tests check the real thing)
  const weakening = /^--(disable-web-security|allow-running-insecure-content|disable-site-isolation-trials)$/
  const args = packaged.args.filter((a) => !weakening.test(a))
  return { executablePath: await packaged.executablePath(), args: [...args, ...own], source: '@sparticuz/chromium' }
}

/** `soliloquy serve --port 0 --data dir`, resolved with its tokened URL once printed. */
export async function startServe(dir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'soliloquy.js'), 'serve', '--port', '0', '--data', dir], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  })
  let out = ''
  let err = ''
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
  const found = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`soliloquy serve printed no URL in 20 s: ${out} ${err}`)), 20_000)
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /(http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]+)/.exec(out)
      if (m) {
        clearTimeout(t)
        resolve(m[1])
      }
    })
    child.on('exit', (code) => reject(new Error(`soliloquy serve exited (${code}): ${err}`)))
  })
  return { child, url: found }
}

/** Stops the server: SIGTERM, then SIGKILL after 5 s. */
export async function stopServe(server: ChildProcess | null): Promise<void> {
  if (!server || server.exitCode !== null) return
  server.kill('SIGTERM')
  await new Promise((r) => {
    const t = setTimeout(() => {
      server.kill('SIGKILL')
      r(null)
    }, 5000)
    server.once('exit', () => {
      clearTimeout(t)
      r(null)
    })
  })
}
