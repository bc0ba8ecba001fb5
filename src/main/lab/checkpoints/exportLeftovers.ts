// What a killed export leaves behind, and its removal (issue 20, item 15). An export writes into `.NAME.partial-PID`
// beside its target (a folder, or a GGUF file whose engine writes `.NAME.partial-PID.partial` first) and renames it at
// the end; kill -9 leaves that hidden staging output — 25 MB for the organism, gigabytes for a 7B model — where nobody
// looks. Such leftovers of processes that are gone are removed
//  - at the next export into the same folder (whatever its name), and
//  - when the lab opens: every export writes a journal entry in the data directory (`exports-in-progress/PID-N.json`,
//    the staging path) before it starts and removes it when it ends, so the lab knows where a killed one was writing.
// Staging output of a live process (another lab sharing the folder) is never touched.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'

/** `.NAME.partial-PID` (the staging folder or file) and `.NAME.partial-PID.partial` (the engine's own temporary). */
export const STALE_PARTIAL = /^\..+\.partial-(\d+)(?:\.partial)?$/

function alive(pid: number): boolean {
  if (pid === process.pid) return true // an export of this process may be running: never ours to sweep
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Removes the staging leftovers of dead processes in `dir`; returns the names removed. Errors leave a file in place. */
export function removeStalePartials(dir: string): string[] {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  const removed: string[] = []
  for (const n of names) {
    const m = STALE_PARTIAL.exec(n)
    if (!m || alive(Number(m[1]))) continue
    try {
      rmSync(join(dir, n), { recursive: true, force: true })
      removed.push(n)
    } catch {
      /* the next export or open tries again */
    }
  }
  return removed
}

/** The data directory's record of exports in progress: where each one stages its output. */
export class ExportJournal {
  private readonly dir: string
  private seq = 0

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'exports-in-progress')
  }

  /** Notes that this process stages an export at `partial`; the returned function forgets it (call when done). */
  begin(partial: string): () => void {
    const file = join(this.dir, `${process.pid}-${++this.seq}.json`)
    try {
      mkdirSync(this.dir, { recursive: true })
      writeFileSync(file, JSON.stringify({ partial }))
    } catch {
      /* a journal that cannot be written only loses the clean-up at the next open, not the export */
    }
    return () => rmSync(file, { force: true })
  }

  /** At open: the staging leftovers of every journalled export whose process is gone; returns what was removed. */
  sweep(): string[] {
    let entries: string[]
    try {
      entries = readdirSync(this.dir)
    } catch {
      return []
    }
    const removed: string[] = []
    for (const e of entries) {
      const m = /^(\d+)-\d+\.json$/.exec(e)
      if (!m || alive(Number(m[1]))) continue
      const file = join(this.dir, e)
      try {
        const { partial } = JSON.parse(readFileSync(file, 'utf8')) as { partial?: unknown }
        if (typeof partial === 'string' && STALE_PARTIAL.test(basename(partial)) && existsSync(dirname(partial)))
          removed.push(...removeStalePartials(dirname(partial)).map((n) => join(dirname(partial), n)))
      } catch {
        /* an unreadable entry: dropped below */
      }
      rmSync(file, { force: true })
    }
    return removed
  }
}
