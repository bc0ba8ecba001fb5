// Who runs a row: each `running` row names its process ("host:pid/start"); on open, rows whose owning process is gone
// become `interrupted` (rows owned by a live process — the desktop app and the CLI may share a data directory — are
// left alone), and the host marks the rows of a lab process that died as `failed`.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import type { DB } from './db'
import { failRunsOfDeadProcess, interruptRuns } from './lifecycle'

/**
 * When process `pid` started, as the OS says (null: unknown). Linux: field 22 of /proc/PID/stat (clock ticks since
 * boot; the fields after the command name, which may itself hold spaces and parentheses); macOS/BSD: `ps -o lstart`.
 * A pid alone is reused by the OS; pid + start time names one process.
 */
export function processStartTime(pid: number): string | null {
  try {
    if (process.platform === 'linux') {
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      return fields[19] ?? null // field 22 overall; fields[0] is field 3 (state)
    }
    if (process.platform === 'darwin' || process.platform.endsWith('bsd')) {
      const r = spawnSync('ps', ['-o', 'lstart=', '-p', String(pid)], { encoding: 'utf8', timeout: 2000 })
      const t = r.status === 0 ? r.stdout.trim() : ''
      return t || null
    }
  } catch {
    return null
  }
  return null
}

/** "host:pid/start" of this process, stored on running rows so another process can tell whether they are orphaned. */
export const OWNER = `${hostname()}:${process.pid}/${processStartTime(process.pid) ?? ''}`

export function ownerAlive(owner: string | null): boolean {
  if (!owner) return false
  const i = owner.lastIndexOf(':')
  const host = owner.slice(0, i)
  const [pidText, started] = owner.slice(i + 1).split('/') // rows of earlier builds: "host:pid", no start time
  const pid = Number(pidText)
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0) return false
  // another Lab in this very process (e.g. a second worker thread) may be running it: leave it alone
  if (pid === process.pid) return owner === OWNER || started === undefined
  try {
    process.kill(pid, 0)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  // the pid is in use: by the same process only if it started at the same moment
  if (started) {
    const now = processStartTime(pid)
    if (now !== null && now !== started) return false
  }
  return true
}

/** Leftover `running` rows of dead processes → `interrupted` (runs and experiments). */
export function markInterrupted(db: DB): number[] {
  const rows = db.prepare(`SELECT id, owner FROM runs WHERE status = 'running'`).all() as { id: number; owner: string | null }[]
  const dead = rows.filter((r) => !ownerAlive(r.owner)).map((r) => r.id)
  interruptRuns(db, dead)
  return dead
}

/**
 * The lab process `pid` died (SIGKILL, a native abort): its rows — still `running`, or already `interrupted` by the
 * open that followed — become `failed` with the host's reason ("the engine process stopped (signal SIGKILL) — …").
 */
export function markOwnerFailed(db: DB, pid: number, reason: string): number[] {
  const mine = `${hostname()}:${pid}`
  const rows = db
    .prepare(`SELECT id FROM runs WHERE status IN ('running', 'interrupted') AND (owner = ? OR owner LIKE ? || '/%')`)
    .all(mine, mine) as { id: number }[]
  const ids = rows.map((r) => r.id)
  failRunsOfDeadProcess(db, ids, reason)
  return ids
}
