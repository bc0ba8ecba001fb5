// File-system errors in words: what the path is, or what the OS refused, instead of a bare errno code or a
// misleading "no such directory" (a symlink loop, a file given as a directory, a read-only disk…).
import { statSync } from 'node:fs'
import { ModelFormatError } from './config'

const MEANING: Record<string, string> = {
  ENOENT: 'does not exist',
  ENOTDIR: 'a part of the path is a file, not a directory',
  ELOOP: 'is a symbolic link loop (or has too many levels of links)',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'is on a read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EISDIR: 'is a directory',
  EEXIST: 'already exists',
  ENAMETOOLONG: 'the path is too long',
  EMFILE: 'too many open files',
  EIO: 'an input/output error (failing disk?)',
}

/** "permission denied (EACCES)" for an errno code; the bare code when it has no entry. */
export function fsProblem(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code
  if (!code) return String((e as Error | undefined)?.message ?? e)
  return MEANING[code] ? `${MEANING[code]} (${code})` : code
}

/** Throws a ModelFormatError saying what `path` is when it is not a directory that can be read. */
export function requireModelDirectory(path: string, label = path): void {
  let st
  try {
    st = statSync(path)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new ModelFormatError(`${label}: no such model directory`)
    throw new ModelFormatError(`${label}: cannot open the model directory: ${fsProblem(e)}`)
  }
  if (!st.isDirectory()) {
    const kind = st.isFile() ? 'a file' : st.isFIFO() ? 'a named pipe' : st.isSocket() ? 'a socket' : 'a device'
    throw new ModelFormatError(`${label}: is ${kind}, not a model directory (give the folder that holds config.json)`)
  }
}
