// vitest globalSetup: every test run gets a temporary directory of its own (TMPDIR: os.tmpdir() in the tests, in the
// CLI and worker processes they start, in Chromium), removed when the run ends. Tests make models, data directories
// and exports there (~0.6 GB a run); they used to leave them in /tmp, and a few dozen runs filled a CI machine's disk.
// A run that was killed cannot remove its directory: the next run removes those whose process is gone.
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const PREFIX = 'soliloquy-tests-'

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Removes the directories of earlier runs whose process has ended (killed runs); running ones are left alone. */
function removeAbandoned(parent: string): void {
  for (const name of readdirSync(parent)) {
    if (!name.startsWith(PREFIX)) continue
    const pidFile = join(parent, name, 'run.pid')
    if (!existsSync(pidFile)) continue
    const pid = Number(readFileSync(pidFile, 'utf8'))
    if (Number.isInteger(pid) && pid > 0 && !alive(pid)) rmSync(join(parent, name), { recursive: true, force: true })
  }
}

export default function setup(): () => void {
  const parent = tmpdir()
  removeAbandoned(parent)
  const dir = mkdtempSync(join(parent, PREFIX))
  // as /tmp: tests that drop to another user ("nobody") must still reach their directories inside
  chmodSync(dir, 0o1777)
  writeFileSync(join(dir, 'run.pid'), String(process.pid))
  const before = process.env.TMPDIR
  process.env.TMPDIR = dir
  return () => {
    if (before === undefined) delete process.env.TMPDIR
    else process.env.TMPDIR = before
    rmSync(dir, { recursive: true, force: true })
  }
}
