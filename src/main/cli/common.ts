// Shared CLI plumbing: argument parsing, the embedded default model, progress on stderr, cancellation on Ctrl-C,
// and one-line errors (never a stack trace).
import { join } from 'node:path'
import { parseArgs, ParseArgsConfig } from 'node:util'
import { CallOptions, Engine, InputError } from '../engine/engine'
import { appRoot } from '../engine/native'
import { Preset, readPreset } from '../engine/preset'

export type Flags = Record<string, string | boolean | string[] | undefined>

export function embeddedModelDir(): string {
  return join(appRoot(), 'models', 'organism')
}

export function parse(argv: string[], options: ParseArgsConfig['options']): { flags: Flags; positionals: string[] } {
  try {
    const r = parseArgs({ args: argv, options, allowPositionals: true, strict: true })
    return { flags: r.values as Flags, positionals: r.positionals }
  } catch (e) {
    throw new InputError((e as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''))
  }
}

export function str(flags: Flags, key: string): string | undefined {
  const v = flags[key]
  return typeof v === 'string' ? v : undefined
}

export function int(flags: Flags, key: string, def: number): number {
  const v = str(flags, key)
  if (v === undefined) return def
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0) throw new InputError(`--${key}: "${v}" is not a whole number`)
  return n
}

export function num(flags: Flags, key: string): number | undefined {
  const v = str(flags, key)
  if (v === undefined) return undefined
  const n = Number(v)
  if (v.trim() === '' || !Number.isFinite(n)) throw new InputError(`--${key}: "${v}" is not a finite number`)
  return n
}

export function numList(flags: Flags, key: string): number[] | undefined {
  const v = str(flags, key)
  if (v === undefined) return undefined
  const parts = v.split(/[,\s]+/).filter(Boolean)
  if (parts.length === 0) throw new InputError(`--${key}: no numbers given`)
  return parts.map((p) => {
    const n = Number(p)
    if (!Number.isFinite(n)) throw new InputError(`--${key}: "${p}" is not a finite number`)
    return n
  })
}

export function openModel(flags: Flags): { engine: Engine; preset: Preset } {
  const dir = str(flags, 'model') ?? embeddedModelDir()
  const engine = Engine.load(dir, { threads: int(flags, 'threads', 0) })
  return { engine, preset: readPreset(engine.dir) }
}

/** Progress bar on stderr (only when it is a terminal) and Ctrl-C → cancel. */
export function cliCallOptions(): CallOptions & { dispose: () => void } {
  const ctl = new AbortController()
  const onSigint = (): void => ctl.abort()
  process.on('SIGINT', onSigint)
  const tty = process.stderr.isTTY
  let last = ''
  return {
    signal: ctl.signal,
    onProgress: tty
      ? (p) => {
          const width = 30
          const frac = p.total > 0 ? Math.min(1, p.done / p.total) : 0
          const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.')
          const line = `\r${p.phase.padEnd(9)} [${bar}] ${p.done}/${p.total}`
          if (line !== last) process.stderr.write(line)
          last = line
        }
      : undefined,
    dispose: () => {
      process.off('SIGINT', onSigint)
      if (tty && last) process.stderr.write('\r' + ' '.repeat(last.length) + '\r')
    },
  }
}

export function printJson(v: unknown): void {
  process.stdout.write(JSON.stringify(v) + '\n')
}
