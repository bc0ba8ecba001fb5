// The CLI's flags → the contract's request fields, in one place: how each flag's text is read (a whole number, a
// number, a list of numbers, a choice among the contract's names, a date, a text), which request field it fills
// (checked against the method's request schema: a flag cannot fill a field the method does not take), and the one
// reader of JSON files given on the command line (--steps, --probes) with a size limit and errors in words. The lab
// then validates the request with the same schema as every transport (lab/methods.ts labClient), so the CLI accepts
// exactly what the app accepts and says what is wrong in the contract's words.
import { readFileSync, statSync } from 'node:fs'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { InputError } from '../engine/engine'
import { MAX_MESSAGE_BYTES, methods, type MethodName } from '../../shared/api'

export type Flags = Record<string, string | boolean | string[] | undefined>

// ---- reading one flag -----------------------------------------------------------------------------------------

/** `--lr -0.03`: a negative number after an option that takes a value is that value (node's parser would call it
 * ambiguous); it becomes `--lr=-0.03` so the command can say what is wrong with it (or use it). */
export function joinNegativeValues(argv: string[], options: ParseArgsConfig['options']): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const next = argv[i + 1]
    const name = a.startsWith('--') && !a.includes('=') ? a.slice(2) : undefined
    if (name && options?.[name]?.type === 'string' && next !== undefined && /^-(\d|\.\d|Infinity\b)/.test(next)) {
      out.push(`${a}=${next}`)
      i++
    } else out.push(a)
  }
  return out
}

export function parse(argv: string[], options: ParseArgsConfig['options']): { flags: Flags; positionals: string[] } {
  try {
    const r = parseArgs({ args: joinNegativeValues(argv, options), options, allowPositionals: true, strict: true })
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
  if (Number.isInteger(n) && n < 0) throw new InputError(`--${key}: ${v} is negative (give a whole number, 0 or more)`)
  if (v.trim() === '' || !Number.isInteger(n)) throw new InputError(`--${key}: "${v}" is not a whole number`)
  return n
}

/** A whole number when the flag is given, else undefined. */
export function whole(flags: Flags, key: string): number | undefined {
  return str(flags, key) === undefined ? undefined : int(flags, key, 0)
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

/** "a,b": each one of the contract's names for it (kinds, statuses …). */
export function choices<T extends string>(flags: Flags, key: string, allowed: readonly T[]): T[] | undefined {
  const v = str(flags, key)
  if (v === undefined) return undefined
  const items = v.split(',').map((s) => s.trim()).filter(Boolean)
  for (const i of items) if (!(allowed as readonly string[]).includes(i)) throw new InputError(`--${key}: "${i}" is not one of ${allowed.join(', ')}`)
  return items as T[]
}

/** A date (2026-11-26) kept as given, or a time made ISO. */
export function date(flags: Flags, key: string): string | undefined {
  const v = str(flags, key)
  if (v === undefined) return undefined
  if (Number.isNaN(Date.parse(v))) throw new InputError(`--${key}: "${v}" is not a date (use 2026-11-26 or an ISO time)`)
  return /^\d{4}-\d{2}-\d{2}$/.test(v) ? v : new Date(v).toISOString()
}

// ---- flags → request fields -----------------------------------------------------------------------------------

type Reader = (flags: Flags, key: string) => unknown

/** Every flag that fills a request field: the field it fills and how its text is read. */
export const FLAG_FIELDS = {
  prompt: { field: 'prompt', read: str },
  'max-gen': { field: 'maxGen', read: whole },
  'max-seq': { field: 'maxSeq', read: whole },
  temperature: { field: 'temperature', read: num },
  seed: { field: 'seed', read: whole },
  phrase: { field: 'phrase', read: str },
  lrs: { field: 'lrs', read: numList },
  lr: { field: 'lr', read: num },
  band: { field: 'band', read: whole },
  lo: { field: 'lo', read: num },
  hi: { field: 'hi', read: num },
  'per-round': { field: 'perRound', read: whole },
  rounds: { field: 'rounds', read: whole },
  'repetition-max': { field: 'repetitionMax', read: num },
  'kl-max': { field: 'klMax', read: num },
  topk: { field: 'topk', read: whole },
  tokens: { field: 'tokens', read: whole },
} as const satisfies Record<string, { field: string; read: Reader }>
export type FieldFlag = keyof typeof FLAG_FIELDS

/**
 * The request fields of `method` these flags fill, in the order given. A flag not given leaves its field undefined
 * (the key kept, in its place: the lab records requests with their defaults filled in that key order), or with
 * `omitUnset` leaves the key out.
 */
export function requestFields(method: MethodName, flags: Flags, names: readonly FieldFlag[], omitUnset = false): Record<string, unknown> {
  const shape = (methods[method].req as unknown as { shape?: Record<string, unknown> }).shape ?? {}
  const out: Record<string, unknown> = {}
  for (const name of names) {
    const { field, read } = FLAG_FIELDS[name]
    // a programming error, not the user's: the command offers a flag its method does not take
    if (!(field in shape)) throw new Error(`--${name} fills ${field}, which ${method} does not take`)
    const v = (read as Reader)(flags, name)
    if (v !== undefined || !omitUnset) out[field] = v
  }
  return out
}

// ---- files named by flags -------------------------------------------------------------------------------------

/** The largest file a flag may name: what one call to the lab may carry (the contract's message limit). */
export const MAX_ARG_FILE_BYTES = MAX_MESSAGE_BYTES

function readArgFile(path: string, what: string, maxBytes: number): string {
  let size: number
  try {
    const st = statSync(path)
    if (st.isDirectory()) throw new InputError(`${what} ${path} cannot be read (EISDIR)`)
    // a FIFO or a device would never end (or never start): only plain files are read
    if (!st.isFile()) throw new InputError(`${what} ${path} is not a plain file`)
    size = st.size
  } catch (e) {
    if (e instanceof InputError) throw e
    throw new InputError(`${what} ${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`)
  }
  if (size > maxBytes) throw new InputError(`${what} ${path} is ${size.toLocaleString('en')} bytes: at most ${maxBytes.toLocaleString('en')} are read`)
  try {
    return readFileSync(path, 'utf8')
  } catch (e) {
    throw new InputError(`${what} ${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`)
  }
}

/** A text file named by a flag (--reference FILE). */
export function readTextArg(path: string, what: string, maxBytes = MAX_ARG_FILE_BYTES): string {
  return readArgFile(path, what, maxBytes)
}

/** The one reader of JSON files named by flags (--steps FILE, --probes FILE): size-limited, errors in words. */
export function readJsonArg(path: string, what: string, maxBytes = MAX_ARG_FILE_BYTES): unknown {
  const t = readArgFile(path, what, maxBytes)
  try {
    return JSON.parse(t)
  } catch (e) {
    throw new InputError(`${what} ${path} is not valid JSON (${(e as Error).message})`)
  }
}
