// Shared CLI plumbing (flags are read in args.ts): the embedded default model, progress on stderr, cancellation on Ctrl-C,
// and one-line errors (never a stack trace).
import { delimiter } from 'node:path'
import { CallOptions, Engine } from '../engine/engine'
import { int, str, type Flags } from './args'
import { embeddedModelDir } from '../engine/native'
import { Preset, readPreset } from '../engine/preset'
import { Lab } from '../lab/lab'
import { labClient, type LabClient } from '../lab/methods'
import { escapeUnsafe, escapeUnsafeProse } from '../../shared/textSafety'

export { embeddedModelDir }

// flag reading and the flags → request fields map live in args.ts; re-exported for the commands
export { int, num, numList, parse, str, joinNegativeValues, type Flags } from './args'

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

// ---- the lab (history, checkpoints) -------------------------------------------------------------------------

/** Options every lab command accepts. */
export const labFlags = {
  data: { type: 'string' },
  /** folders holding your models, where a model that moved since a checkpoint was saved is looked for */
  models: { type: 'string' },
  model: { type: 'string' },
  threads: { type: 'string' },
  json: { type: 'boolean' },
} as const

/** The lab on --data DIR (else $SOLILOQUY_DATA, else the per-user directory the desktop app uses). */
export function openLab(flags: Flags): Lab {
  const models = str(flags, 'models')
  return new Lab({ dataDir: str(flags, 'data') ?? null, threads: int(flags, 'threads', 0), modelDirs: models ? models.split(delimiter).filter(Boolean) : [] })
}

/** --model: a directory or a saved checkpoint name; absent → the embedded organism. */
export function modelRef(flags: Flags): string | null {
  return str(flags, 'model') ?? null
}

/** Runs `f` with a lab that is closed afterwards and CLI call options (progress, Ctrl-C). */
export async function withLab<T>(flags: Flags, f: (lab: LabClient) => Promise<T>): Promise<T> {
  const lab = openLab(flags)
  if (lab.opened.interrupted.length && !flags.json)
    process.stderr.write(`note: ${lab.opened.interrupted.length} run(s) left running by an ended process are now marked interrupted\n`)
  const opts = cliCallOptions()
  try {
    // through the contract, like the app's routers: the same validation and the same messages
    return await f(labClient(lab, opts))
  } finally {
    opts.dispose()
    lab.close()
  }
}

/** A plain-text table: columns padded to their widest cell, numbers right-aligned. */
export function formatTable(header: string[], rows: (string | number | null | undefined)[][]): string {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined ? '' : String(c))))
  const numeric = header.map((_, j) => cells.length > 0 && cells.every((r) => r[j] === '' || /^[-+]?[\d.]+(e[-+]?\d+)?%?$/i.test(r[j])))
  const widths = header.map((h, j) => Math.max(h.length, ...cells.map((r) => r[j].length)))
  const line = (r: string[]): string =>
    r.map((c, j) => (numeric[j] ? c.padStart(widths[j]) : c.padEnd(widths[j]))).join('  ').trimEnd()
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n')
}

/** Compact number for tables: 4 significant digits, exponent when tiny or huge. */
export function fmt(x: number | null | undefined, digits = 4): string {
  if (x === null || x === undefined || Number.isNaN(x)) return ''
  if (x === 0) return '0'
  const a = Math.abs(x)
  if (a >= 1e5 || a < 1e-3) return x.toExponential(2)
  return String(Number(x.toPrecision(digits)))
}

/** Human size: 1.8 MB, 412 kB. */
export function fmtBytes(n: number): string {
  if (n < 1000) return `${n} B`
  const units = ['kB', 'MB', 'GB', 'TB']
  let v = n
  let i = -1
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000
    i++
  }
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`
}

/** One line of text for a table cell: newlines shown as ⏎, cut to `n` characters. */
/** A name or text as it may go to a terminal: control characters (ESC …) and bidi overrides shown as \uXXXX. */
export function printable(s: string): string {
  return escapeUnsafe(s)
}

/**
 * Everything the CLI writes to stdout passes the one rule (src/shared/textSafety.ts): line breaks and tabs kept, any
 * other control or bidi-override character — in an experiment title from an older history, a model folder's name, a
 * model's completion — shown as \uXXXX. In --json output that is still valid JSON (the same escape, inside a string).
 */
let guarded = false
export function guardStdout(): void {
  if (guarded) return
  guarded = true
  const write = process.stdout.write.bind(process.stdout) as (chunk: unknown, ...rest: unknown[]) => boolean
  process.stdout.write = ((chunk: unknown, ...rest: unknown[]) =>
    write(typeof chunk === 'string' ? escapeUnsafeProse(chunk) : chunk, ...rest)) as typeof process.stdout.write
}

export function oneLine(s: string, n = 60): string {
  const t = printable(s.replace(/\r?\n/g, '⏎ '))
  return t.length > n ? t.slice(0, n - 1) + '…' : t
}
