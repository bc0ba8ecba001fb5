// The one way the engine reads a file of a model folder. Only regular files are read: a FIFO in place of config.json
// blocks a reader forever, /dev/zero or /dev/urandom behind a symlink never ends; both are refused by name, after
// symlinks are resolved and before the file is opened. Every whole-file read is bounded by what its kind of file can
// justify (READ_LIMITS), and a JSON file is checked for nesting depth before it is parsed, so no file can make a
// reader allocate gigabytes or recurse off the stack.
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, realpathSync, Stats, statSync } from 'node:fs'
import { basename, isAbsolute, resolve, sep } from 'node:path'
import { ModelFormatError } from './modelFormatError'
import { fsProblem } from './fserrors'

const MiB = 1 << 20

/**
 * The most bytes read whole from each kind of file, each far above the largest real one: config.json and
 * params.json are a few kB; tokenizer_config.json ≤ 10 MB (chat templates, added_tokens_decoder of 200k tokens);
 * tokenizer.json ≤ 35 MB (Gemma-3's 262k-token vocabulary); tokenizer.model ≤ 5 MB (SentencePiece or tiktoken);
 * model.safetensors.index.json ≤ 10 MB (DeepSeek-V3's 90k tensors); preset.json and the texts it names are
 * experiment defaults (kB).
 */
export const READ_LIMITS = {
  'config.json': 16 * MiB,
  'params.json': 16 * MiB,
  'tokenizer_config.json': 64 * MiB,
  'tokenizer.json': 256 * MiB,
  'tokenizer.model': 64 * MiB,
  'model.safetensors.index.json': 64 * MiB,
  'preset.json': 16 * MiB,
  text: 16 * MiB,
} as const

/**
 * The most members one JSON object or array of each kind of file may have (V8 took ~18 s to parse an object of a
 * million keys): tokenizer.json's vocabulary and merges run to ~300k (2^21 allowed), everything else to a few
 * thousand (an index of DeepSeek-V3's 91k tensors; 2^18 allowed).
 */
export function maxJsonMembers(label: string): number {
  return basename(label) === 'tokenizer.json' ? 1 << 21 : 1 << 18
}

/** The deepest JSON nesting read: every model file nests < 10 levels; a deeper one would only exhaust the stack. */
export const MAX_JSON_DEPTH = 128

/**
 * `rel` (a name a model file gives: a shard, a preset's reference text) names a path inside `dir`: relative, and not
 * climbing out with "..". Symlinks inside are followed as usual (the Hugging Face cache links shards to its blobs).
 */
export function staysInside(dir: string, rel: string): boolean {
  const root = resolve(dir)
  return !isAbsolute(rel) && resolve(root, rel).startsWith(root.endsWith(sep) ? root : root + sep)
}

/** The limit for a file read under `label` (a known name, else a text file's). */
export function readLimit(label: string): number {
  return (READ_LIMITS as Record<string, number>)[basename(label)] ?? READ_LIMITS.text
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory'
  if (st.isFIFO()) return 'a named pipe (FIFO)'
  if (st.isCharacterDevice()) return 'a character device'
  if (st.isBlockDevice()) return 'a block device'
  if (st.isSocket()) return 'a socket'
  return 'a special file'
}

/**
 * Throws a ModelFormatError naming `label` when `path` (its symlinks resolved) is not a regular file: a FIFO, a
 * device, a socket. stat never blocks and never opens the file, so a FIFO or a device is refused without being
 * touched; errors of stat itself (missing, a loop, no permission) are left to the open that follows.
 */
export function refuseSpecialFile(path: string, label: string): void {
  let st: Stats
  try {
    st = statSync(path)
  } catch {
    return
  }
  if (st.isFile()) return
  if (st.isDirectory()) return // opening says EISDIR, in the words the rows of docs/bad-inputs.md already use
  let target = ''
  try {
    if (lstatSync(path).isSymbolicLink()) target = ` (a link to ${realpathSync(path)})`
  } catch {
    /* the kind alone then */
  }
  throw new ModelFormatError(`${label}: is ${kindOf(st)}${target}, not a regular file; only regular files are read from a model folder`)
}

/**
 * A model file opened for reading (its descriptor), or a ModelFormatError saying in words why not. O_NONBLOCK closes
 * the window between stat and open (a FIFO swapped in then opens at once instead of blocking; fstat refuses it).
 */
export function openRegularFile(path: string, label: string): number {
  refuseSpecialFile(path, label)
  let fd: number
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0))
  } catch (e) {
    throw new ModelFormatError(`${label}: cannot be opened: ${fsProblem(e)}`)
  }
  let st: Stats
  try {
    st = fstatSync(fd)
  } catch (e) {
    closeSync(fd)
    throw new ModelFormatError(`${label}: cannot be opened: ${fsProblem(e)}`)
  }
  if (!st.isFile() && !st.isDirectory()) {
    closeSync(fd)
    throw new ModelFormatError(`${label}: is ${kindOf(st)}, not a regular file; only regular files are read from a model folder`)
  }
  return fd
}

/**
 * The whole of a model folder's file, at most `limit` bytes (default: its kind's READ_LIMITS). `verb` words the
 * error of a file that cannot be opened ("cannot be read", as the JSON readers have always said), `suffix` follows it.
 */
export function readModelBytes(path: string, label: string, limit = readLimit(label), verb = 'cannot be read', suffix = ''): Buffer {
  refuseSpecialFile(path, label)
  let fd: number
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0))
  } catch (e) {
    throw new ModelFormatError(`${label}: ${verb}: ${fsProblem(e)}${suffix}`)
  }
  try {
    let st: Stats
    try {
      st = fstatSync(fd)
    } catch (e) {
      throw new ModelFormatError(`${label}: ${verb}: ${fsProblem(e)}${suffix}`)
    }
    if (st.isDirectory()) throw new ModelFormatError(`${label}: ${verb}: is a directory (EISDIR)`)
    if (!st.isFile())
      throw new ModelFormatError(`${label}: is ${kindOf(st)}, not a regular file; only regular files are read from a model folder`)
    if (st.size > limit)
      throw new ModelFormatError(`${label}: is ${st.size} bytes, more than a ${basename(label)} can justify (at most ${limit} are read)`)
    const b = Buffer.alloc(st.size)
    let got = 0
    while (got < b.length) {
      let n: number
      try {
        n = readSync(fd, b, got, b.length - got, got)
      } catch (e) {
        throw new ModelFormatError(`${label}: ${verb}: ${fsProblem(e)}${suffix}`)
      }
      if (n === 0) break // shrank while being read: what is there
      got += n
    }
    return got === b.length ? b : b.subarray(0, got)
  } finally {
    closeSync(fd)
  }
}

/**
 * What JSON text would build, found without parsing it: the byte at which it nests deeper than `max` arrays and
 * objects (-1 if never) and how many members its outer object or array has (V8 takes ~18 s to parse an object of a
 * million keys, so a count is checked first). Scans bytes (UTF-8 continuation bytes are ≥ 0x80, so never a bracket,
 * a comma or a quote) and skips strings.
 */
export function jsonScan(b: Uint8Array, max = MAX_JSON_DEPTH, widestAllowed = Infinity): { tooDeepAt: number; members: number; tooWideAt: number } {
  let depth = 0
  let inString = false
  let content = false // the outer value has a member
  const commas = new Float64Array(max + 2) // commas so far in the open container at each depth
  for (let i = 0; i < b.length; i++) {
    const c = b[i]
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped byte
      else if (c === 0x22) inString = false
      continue
    }
    const closes = c === 0x5d || c === 0x7d
    if (depth >= 1 && !content && !(closes && depth === 1) && c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) content = true
    if (c === 0x22) inString = true
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return { tooDeepAt: i, members: commas[1] + 1, tooWideAt: -1 }
      commas[depth] = 0
    } else if (closes) depth--
    else if (c === 0x2c && depth >= 1) {
      if (++commas[depth] + 1 > widestAllowed) return { tooDeepAt: -1, members: commas[1] + 1, tooWideAt: i }
    }
  }
  return { tooDeepAt: -1, members: content ? commas[1] + 1 : 0, tooWideAt: -1 }
}

export function tooDeep(label: string, at: number): string {
  return `${label}: nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep (at byte ${at}); no model file needs that many`
}

/** A model folder's JSON file, parsed; bounded in size and nesting; errors name the file. */
export function readModelJson(path: string, label: string, limit = readLimit(label)): unknown {
  const b = readModelBytes(path, label, limit)
  const widest = maxJsonMembers(label)
  const scan = jsonScan(b, MAX_JSON_DEPTH, widest)
  if (scan.tooDeepAt >= 0) throw new ModelFormatError(tooDeep(label, scan.tooDeepAt))
  if (scan.tooWideAt >= 0)
    throw new ModelFormatError(`${label}: an object or array has more than ${widest} members (at byte ${scan.tooWideAt}); no ${basename(label)} needs that many`)
  try {
    return JSON.parse(b.toString('utf8')) as unknown
  } catch (e) {
    throw new ModelFormatError(`${label}: is not valid JSON (${(e as Error).message})`)
  }
}

/** A model folder's text file (a preset's reference text), bounded in size. */
export function readModelText(path: string, label: string, limit = readLimit(label)): string {
  return readModelBytes(path, label, limit).toString('utf8')
}
