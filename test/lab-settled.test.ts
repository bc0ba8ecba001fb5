// Issue 20, items 14 and 15: what a process that ended leaves is settled at the next open. An experiment whose
// process ended (disk full, kill) is settled failed/interrupted with the reason; the staging output of a killed export
// (`.NAME.partial-PID`, and a GGUF's `.NAME.partial-PID.partial`) is removed at the next export and at the next open.
// Against the real engine and the organism; the kills are real SIGKILLs of a child lab.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createExperiment } from '../src/main/lab/history/tables/experiments'
import { OWNER } from '../src/main/lab/history/owner'
import { ENDED_BEFORE_RUNS } from '../src/main/lab/history/settle'
import { Lab } from '../src/main/lab/lab'
import { ROOT, tmp } from './helpers'

const labs: Lab[] = []
afterAll(() => labs.forEach((l) => l.close()))
function open(dataDir: string): Lab {
  const l = new Lab({ dataDir, threads: 1 })
  labs.push(l)
  return l
}

/** Runs the export child (test/fixtures/lab-export-child.ts) and SIGKILLs it once `staged(parent)` is true. */
async function killMidExport(data: string, target: string, format: 'hf' | 'gguf', staged: (names: string[]) => string | undefined): Promise<string> {
  const parent = join(target, '..')
  const child = spawn(process.execPath, [join(ROOT, 'node_modules', 'jiti', 'lib', 'jiti-cli.mjs'), join(ROOT, 'test', 'fixtures', 'lab-export-child.ts'), data, target, format], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (out += d.toString()))
  const exited = new Promise<void>((r) => child.on('exit', () => r()))
  const deadline = Date.now() + 120_000
  let caught: string | undefined
  while (Date.now() < deadline && child.exitCode === null) {
    caught = staged(readdirSync(parent))
    if (caught) {
      child.kill('SIGKILL')
      break
    }
    await new Promise((r) => setTimeout(r, 1))
  }
  await exited
  expect(caught, `the export was caught while writing (child said: ${out})`).toBeDefined()
  return caught!
}

describe('a killed export (item 15)', () => {
  it("a GGUF export killed mid-write leaves .NAME.partial-PID.partial; the next export to that name removes it and succeeds", async () => {
    const data = tmp('soliloquy-partial-next-')
    const parent = tmp('soliloquy-partial-next-out-')
    const target = join(parent, 'model.gguf')
    const left = await killMidExport(data, target, 'gguf', (names) =>
      names.find((n) => /^\.model\.gguf\.partial-\d+\.partial$/.test(n) && statSync(join(parent, n)).size > 0))
    expect(readdirSync(parent)).toContain(left)
    // another lab (another data directory: no journal of that export) exports to the same name
    const lab = open(tmp('soliloquy-partial-next-other-'))
    const r = await lab.exportCheckpoint({ outDir: target, format: 'gguf', dtype: 'F16' })
    expect(r.dir).toBe(target)
    expect(readdirSync(parent)).toEqual(['model.gguf'])
  }, 240_000)

  it('an HF export killed mid-write: the staging folder is removed when the lab opens its data directory again', async () => {
    const data = tmp('soliloquy-partial-open-')
    const parent = tmp('soliloquy-partial-open-out-')
    const target = join(parent, 'model')
    const left = await killMidExport(data, target, 'hf', (names) => {
      const s = names.find((n) => /^\.model\.partial-\d+$/.test(n))
      return s && readdirSync(join(parent, s)).length > 0 ? s : undefined
    })
    expect(existsSync(join(parent, left))).toBe(true)
    const lab = open(data)
    expect(lab.opened.exportLeftovers).toEqual([join(parent, left)])
    expect(readdirSync(parent)).toEqual([])
    expect(existsSync(join(data, 'exports-in-progress')) ? readdirSync(join(data, 'exports-in-progress')) : []).toEqual([])
  }, 240_000)
})

/** Runs test/fixtures/lab-disk-full-child.ts in `data` to its end; returns what it printed. */
function diskFullChild(data: string, mode: string): string {
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'jiti', 'lib', 'jiti-cli.mjs'), join(ROOT, 'test', 'fixtures', 'lab-disk-full-child.ts'), data, mode], {
    encoding: 'utf8',
    timeout: 120_000,
  })
  expect(r.stderr).toBe('')
  return r.stdout
}

describe('an experiment whose process ended (item 14)', () => {
  it('"database or disk is full" while its runs are written: failed, with the reason, not running forever', async () => {
    const data = tmp('soliloquy-disk-full-')
    // two pages beyond the history's size: the experiment's row fits, its 64 runs do not
    expect(diskFullChild(data, '2')).toBe('error: database or disk is full\n')
    const lab = open(data)
    const sweeps = (await lab.experiments({ kind: 'sweep' })).experiments
    expect(sweeps.map((e) => [e.status, e.runCount, e.error])).toEqual([['failed', 0, 'its runs could not be written: database or disk is full']])
  }, 120_000)

  it('a process that ended after writing the experiment and before its runs: interrupted at the next open, with the reason', async () => {
    const data = tmp('soliloquy-ended-')
    expect(diskFullChild(data, 'ended')).toBe('')
    const lab = open(data)
    const sweeps = (await lab.experiments({ kind: 'sweep' })).experiments
    expect(sweeps.map((e) => [e.status, e.runCount, e.error])).toEqual([['interrupted', 0, ENDED_BEFORE_RUNS]])
    expect(ENDED_BEFORE_RUNS).toBe('the process running it ended before its runs were written (disk full, or the process was killed)')
    // an experiment of a live process (this one) is left running
    const mine = createExperiment(lab.db, { kind: 'sweep', modelId: null, modelFingerprint: 'f', modelRef: null, base: null, prompt: 'p', phrase: null, maxGen: 1,
      maxSeq: 128, lrs: [], settings: {}, owner: OWNER })
    lab.close()
    const again = open(data)
    expect((await again.experiment(mine)).experiment.status).toBe('running')
  }, 120_000)
})
