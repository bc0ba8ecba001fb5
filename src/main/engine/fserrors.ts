// File-system errors in words: what the path is, or what the OS refused, instead of a bare errno code or a
// misleading "no such directory" (a symlink loop, a file given as a directory, a read-only disk…).
import { lstatSync } from 'node:fs'

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

/** The name is in its directory, even as a broken link or a link loop (opening it then says what is wrong). */
export function present(path: string): boolean {
  try {
    lstatSync(path)
    return true
  } catch {
    return false
  }
}
