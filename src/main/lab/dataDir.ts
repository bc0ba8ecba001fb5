// Where the lab keeps its history database and checkpoints: the same per-user directory the desktop app uses
// (Electron's app.getPath('userData') for an app named "Soliloquy"), computed here without Electron so the CLI and
// the app agree. Overridable with `--data DIR` or the SOLILOQUY_DATA environment variable.
import { accessSync, constants, closeSync, existsSync, mkdirSync, openSync, statSync, unlinkSync, writeSync } from 'node:fs'
import { homedir } from 'node:os'
import { join, posix, resolve, win32 } from 'node:path'

export const APP_NAME = 'Soliloquy'

export class DataDirError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'DataDirError'
  }
}

/** Electron's userData for "Soliloquy" on this platform (appData + app name). */
export function defaultDataDir(
  platform: NodeJS.Platform = process.platform,
  env: NodeJS.ProcessEnv = process.env,
  home: string = homedir(),
): string {
  if (platform === 'win32') return win32.join(env.APPDATA ?? win32.join(home, 'AppData', 'Roaming'), APP_NAME)
  if (platform === 'darwin') return posix.join(home, 'Library', 'Application Support', APP_NAME)
  const xdg = env.XDG_CONFIG_HOME
  return posix.join(xdg && xdg.startsWith('/') ? xdg : posix.join(home, '.config'), APP_NAME)
}

/** The data directory to use: an explicit choice (--data), else $SOLILOQUY_DATA, else the per-user default. */
export function resolveDataDir(explicit?: string | null, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit) return resolve(explicit)
  if (env.SOLILOQUY_DATA) return resolve(env.SOLILOQUY_DATA)
  return defaultDataDir(process.platform, env)
}

function code(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? String(e)
}

/**
 * Creates the directory if needed and proves it is readable and writable (root ignores permission bits, so a real
 * probe file is written: a read-only file system or a full disk is caught here, not halfway through a run).
 */
export function ensureDataDir(dir: string): string {
  const abs = resolve(dir)
  if (existsSync(abs) && !statSync(abs).isDirectory())
    throw new DataDirError(`data directory ${abs} is a file, not a directory`)
  if (!existsSync(abs)) {
    try {
      mkdirSync(abs, { recursive: true })
    } catch (e) {
      throw new DataDirError(`cannot create data directory ${abs} (${code(e)})`)
    }
  }
  try {
    accessSync(abs, constants.R_OK | constants.W_OK | constants.X_OK)
  } catch (e) {
    throw new DataDirError(`data directory ${abs} is not readable and writable (${code(e)})`)
  }
  const probe = join(abs, `.probe-${process.pid}`)
  try {
    const fd = openSync(probe, 'w')
    try {
      writeSync(fd, 'ok')
    } finally {
      closeSync(fd)
    }
    unlinkSync(probe)
  } catch (e) {
    throw new DataDirError(`data directory ${abs} is not writable (${code(e)})`)
  }
  try {
    mkdirSync(join(abs, 'checkpoints'), { recursive: true })
  } catch (e) {
    throw new DataDirError(`cannot create ${join(abs, 'checkpoints')} (${code(e)})`)
  }
  return abs
}
