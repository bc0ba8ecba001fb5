// Browser mode's file browser (issue 23): in the browser a model is picked from the folders the user allowed
// (SOLILOQUY_MODEL_DIRS, separated like PATH, in the environment of `soliloquy serve`; the Lab's modelDirs), never by
// listing the server's disk. Nothing outside those folders is listed: a relative path, a path with a “..” segment, a
// path outside every allowed folder, and a symlink whose target leaves them are refused in words (a symlink inside a
// listed folder that points out is not shown). Paths are compared after resolving symlinks (realpath), so a link
// cannot smuggle a folder in.
import { existsSync, readdirSync, realpathSync, statSync, type Dirent } from 'node:fs'
import { dirname, isAbsolute, join, relative, resolve } from 'node:path'
import { InputError } from '../engine/engine'
import type { BrowseEntry, BrowseResult } from '../../shared/api'

/** where each allowed folder really is (symlinks followed); the ones that do not exist are left out */
function realRoots(roots: string[]): string[] {
  const out: string[] = []
  for (const r of roots) {
    try {
      if (statSync(r).isDirectory()) out.push(realpathSync(r))
    } catch {
      // a folder that does not exist (yet) lists nothing
    }
  }
  return [...new Set(out)]
}

/** `p` is one of the roots or inside one (both resolved) */
function inside(p: string, roots: string[]): boolean {
  return roots.some((r) => {
    const rel = relative(r, p)
    return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))
  })
}

/**
 * Whether a model path may be opened under browser mode's confinement: inside one of the allowed folders once symlinks
 * are followed (a path that does not exist is judged by where it would be). With no allowed folder, nothing is confined.
 */
export function modelPathAllowed(path: string, allowed: string[]): boolean {
  const roots = realRoots(allowed)
  if (allowed.length === 0) return true
  let real: string
  try {
    real = realpathSync(path)
  } catch {
    real = resolve(path)
  }
  return inside(real, roots)
}

/** What a folder entry is to the browser: a model to open, a folder to browse, or nothing shown (null). */
function kindOf(path: string, d: Dirent): BrowseEntry['kind'] | null {
  if (d.name.startsWith('.')) return null
  let st
  try {
    st = statSync(path)
  } catch {
    return null // a dangling link
  }
  if (st.isDirectory()) return existsSync(join(path, 'config.json')) || existsSync(join(path, 'params.json')) ? 'model' : 'dir'
  if (st.isFile() && d.name.toLowerCase().endsWith('.gguf')) return 'model'
  return null
}

/**
 * Lists `dir` (absent: the allowed folders themselves) for the file browser: its folders and the models in it, by
 * name. `allowed`: the folders the server allows.
 */
export function browseFiles(allowed: string[], dir?: string): BrowseResult {
  const roots = realRoots(allowed)
  if (roots.length === 0)
    return {
      roots,
      dir: null,
      parent: null,
      entries: [],
      note:
        allowed.length === 0
          ? 'No folder is allowed for browsing: start `soliloquy serve` with SOLILOQUY_MODEL_DIRS set to the folders that hold your models (separated like PATH).'
          : `None of the allowed folders exists: ${allowed.join(', ')}.`,
    }
  if (dir === undefined)
    return { roots, dir: null, parent: null, entries: roots.map((r) => ({ name: r, path: r, kind: 'dir' as const })) }
  if (!isAbsolute(dir)) throw new InputError(`dir: “${dir}” is not an absolute path; pick a folder inside ${roots.join(', ')}`)
  if (dir.split(/[\\/]+/).includes('..')) throw new InputError(`dir: “..” is not allowed in a path to browse (${dir}); pick a folder inside ${roots.join(', ')}`)
  let real: string
  try {
    real = realpathSync(dir)
  } catch {
    throw new InputError(`dir: ${dir} does not exist`)
  }
  if (!inside(real, roots))
    throw new InputError(
      real === dir
        ? `dir: ${dir} is outside the folders this server allows (${roots.join(', ')})`
        : `dir: ${dir} leads to ${real} (a symlink), outside the folders this server allows (${roots.join(', ')})`,
    )
  if (!statSync(real).isDirectory()) throw new InputError(`dir: ${dir} is not a folder`)
  const entries: BrowseEntry[] = []
  for (const d of readdirSync(real, { withFileTypes: true })) {
    const path = join(real, d.name)
    // a symlink that points out of the allowed folders is not shown
    let target: string
    try {
      target = realpathSync(path)
    } catch {
      continue
    }
    if (!inside(target, roots)) continue
    const kind = kindOf(path, d)
    if (kind) entries.push({ name: d.name, path, kind })
  }
  entries.sort((a, b) => (a.kind === b.kind ? a.name.localeCompare(b.name) : a.kind === 'dir' ? -1 : 1))
  const parent = roots.includes(real) ? null : dirname(real)
  return { roots, dir: real, parent, entries }
}

