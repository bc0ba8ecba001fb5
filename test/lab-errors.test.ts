// Bad input gives a clear error and records nothing as succeeded: unknown checkpoint, α not a number, a phrase too
// long, an unusable data directory, a full disk on export — through the Lab and through the CLI (one line, exit 1).
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Lab } from '../src/main/lab/lab'
import { labClient } from '../src/main/lab/methods'
import { ROOT, tmp } from './helpers'

let lab: Lab
let dataDir: string

beforeAll(async () => {
  dataDir = tmp('soliloquy-lab-errors-')
  lab = new Lab({ dataDir })
})
afterAll(() => lab?.close())

async function succeeded(): Promise<number> {
  return (await lab.history({ status: 'done' })).total
}

describe('bad input through the Lab', () => {
  it('an unknown checkpoint', async () => {
    await expect(lab.generate({ model: 'no-such-checkpoint' })).rejects.toThrow(
      /^"no-such-checkpoint" is neither a model directory nor a saved checkpoint$/,
    )
    await expect(lab.generate({ model: 'ckpt:nope' })).rejects.toThrow(/^no checkpoint "nope" \(none saved yet\)$/)
    await expect(lab.exportCheckpoint({ id: 'nope', outDir: join(dataDir, 'x') })).rejects.toThrow(/no checkpoint "nope"/)
    await expect(lab.deleteCheckpoint({ id: 'nope' })).rejects.toThrow(/no checkpoint "nope"/)
    await expect(lab.saveCheckpoint({ runId: 12345, name: 'x' })).rejects.toThrow(/^no run 12345$/)
    expect((await lab.history({})).total).toBe(0)
  })

  // requests are checked by the contract (src/shared/api.ts) on the way in, as every caller reaches the lab
  it('α not a number', async () => {
    const client = labClient(lab, {})
    for (const lr of ['abc', NaN, Infinity, null, undefined] as unknown[])
      await expect(client.call('step', { lr: lr as number }), String(lr)).rejects.toThrow(/^step: Step size α: (must be (a number|a finite number|from 0 to 10) \(got |is missing$)/)
    await expect(client.call('sweep', { lrs: [0, 'x' as unknown as number] })).rejects.toThrow(/Step sizes \(no\. 2\): must be a number \(got "x"\)/)
    await expect(client.call('lesson', { steps: [{ phrase: 'To be', lr: 'big' as unknown as number }] })).rejects.toThrow(
      /Lessons \(no\. 1\): Step size α: must be a number \(got "big"\)/,
    )
    expect((await lab.history({})).total).toBe(0)
  })

  it('a phrase too long, an empty phrase, a prompt too long', async () => {
    const long = 'to be or not '.repeat(40)
    await expect(lab.step({ lr: 0.03, phrase: long })).rejects.toThrow(/^the phrase is too long: \d+ tokens with BOS, max_seq_len is 128$/)
    await expect(labClient(lab, {}).call('sweep', { phrase: '  ' })).rejects.toThrow(/^sweep: Phrase: the phrase is empty$/)
    await expect(lab.lesson({ steps: [{ phrase: 'To be', lr: 0.01 }, { phrase: long, lr: 0.01 }] })).rejects.toThrow(/phrase is too long/)
    await expect(lab.generate({ prompt: long })).rejects.toThrow(/^the prompt has \d+ tokens with BOS; max_seq_len is 128$/)
    await expect(labClient(lab, {}).call('generate', { maxGen: -1 })).rejects.toThrow(/^generate: Max tokens: must be a whole number from 1 to 4096 \(got -1\)$/)
    await expect(labClient(lab, {}).call('generate', { maxGen: 0 })).rejects.toThrow(/^generate: Max tokens: must be a whole number from 1 to 4096 \(got 0\)$/)
    await expect(lab.generate({ maxSeq: 100_000 })).rejects.toThrow(/max_seq_len must be a whole number from 2 to \d+ \(got 100000\)/)
    expect((await lab.history({})).total).toBe(0)
  })

  it('a cancelled run is recorded as cancelled, not as succeeded', async () => {
    const ctl = new AbortController()
    const p = lab.sweep({ lrs: [0, 0.01, 0.03], maxGen: 400, maxSeq: 512 }, {
      signal: ctl.signal,
      onProgress: (pr) => {
        if (pr.phase !== 'gradient' && pr.done > 5) ctl.abort()
      },
    })
    await expect(p).rejects.toThrow(/cancelled/)
    const page = await lab.history({})
    expect(page.total).toBe(3)
    expect(page.runs.every((r) => r.status === 'cancelled')).toBe(true)
    expect(await succeeded()).toBe(0)
  })

  it('an unusable data directory', () => {
    const file = join(tmp('soliloquy-datafile-'), 'not-a-dir')
    writeFileSync(file, 'x')
    expect(() => new Lab({ dataDir: file })).toThrow(/^data directory .*not-a-dir is a file, not a directory$/)
    expect(() => new Lab({ dataDir: join(file, 'below') })).toThrow(/^cannot create data directory .*below \(ENOTDIR\)$/)
    // read-only: root ignores permission bits, so use a read-only mount when we may mount
    const ro = tmp('soliloquy-ro-')
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,ro', 'tmpfs', ro], { encoding: 'utf8' })
    if (m.status !== 0) {
      console.warn(`skipping the read-only data directory case: cannot mount a tmpfs (${(m.stderr || m.error?.message || '').trim()})`)
      return
    }
    try {
      expect(() => new Lab({ dataDir: ro })).toThrow(/(cannot create data directory|is not (readable and )?writable).*\((EROFS|EACCES)\)/)
    } finally {
      spawnSync('umount', [ro])
    }
  })

  it('disk full on export: a clear error, nothing kept, nothing recorded as succeeded', async () => {
    const before = await succeeded()
    const s = await lab.step({ lr: 0.03, maxGen: 4, save: 'to-export' })
    expect(s.checkpoint).toBeDefined()
    const small = tmp('soliloquy-full-')
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', small], { encoding: 'utf8' })
    if (m.status !== 0) {
      console.warn(`skipping the disk-full case: cannot mount a 64 kB tmpfs (${(m.stderr || m.error?.message || '').trim()})`)
      return
    }
    try {
      const out = join(small, 'merged')
      await expect(lab.exportCheckpoint({ id: 'to-export', outDir: out })).rejects.toThrow(/^export failed: the disk is full \(.*merged\); nothing was kept$/)
      expect(existsSync(out)).toBe(false)
      // an existing empty directory is emptied again, not removed
      mkdirSync(join(small, 'empty'))
      await expect(lab.exportCheckpoint({ id: 'to-export', outDir: join(small, 'empty') })).rejects.toThrow(/disk is full/)
      expect(readdirSync(join(small, 'empty'))).toEqual([])
    } finally {
      spawnSync('umount', [small])
    }
    expect(await succeeded()).toBe(before + 1) // only the step itself
    await expect(lab.exportCheckpoint({ id: 'to-export', outDir: dataDir })).rejects.toThrow(/is not empty/)
  })
})

describe('bad input through the CLI: one line, non-zero exit', () => {
  const cliData = tmp('soliloquy-cli-errors-')
  function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'jiti', 'lib', 'jiti-cli.mjs'), join(ROOT, 'test', 'fixtures', 'lab-cli.ts'), ...args], {
      encoding: 'utf8',
      env: { ...process.env, SOLILOQUY_DATA: cliData },
      timeout: 120_000,
    })
    return { code: r.status, stdout: r.stdout, stderr: r.stderr }
  }

  it('errors', () => {
    const file = join(cliData, 'a-file')
    writeFileSync(file, '')
    const cases: [string[], RegExp][] = [
      [['step', '--lr', 'abc'], /^soliloquy: --lr: "abc" is not a finite number\n$/],
      [['step'], /^soliloquy: --lr α is required/],
      [['step', '--lr', '0.03', '--phrase', 'to be or not '.repeat(40)], /^soliloquy: the phrase is too long: \d+ tokens with BOS, max_seq_len is 128\n$/],
      [['generate', '--model', 'ghost'], /^soliloquy: "ghost" is neither a model directory nor a saved checkpoint\n$/],
      [['export', 'ghost', '--out', join(cliData, 'o')], /^soliloquy: no checkpoint "ghost" \(none saved yet\)\n$/],
      [['show', 'r999'], /^soliloquy: no run 999\n$/],
      [['show', '999'], /^soliloquy: no experiment 999\n$/],
      [['history', '--kind', 'bogus'], /^soliloquy: --kind: "bogus" is not one of generate, step, sweep, compare, lesson, layers, window, emerge\n$/],
      [['lesson', '--steps', join(cliData, 'missing.json')], /^soliloquy: --steps .*missing\.json cannot be read \(ENOENT\)\n$/],
      [['history', '--data', file], /^soliloquy: data directory .*a-file is a file, not a directory\n$/],
    ]
    for (const [args, msg] of cases) {
      const r = cli(...args)
      expect(r.code, args.join(' ')).toBe(1)
      expect(r.stderr, args.join(' ')).toMatch(msg)
    }
    const h = cli('history', '--json')
    expect(h.code).toBe(0)
    expect(JSON.parse(h.stdout)).toEqual({ total: 0, experiments: [] })
    expect(JSON.parse(cli('history', '--flat', '--json').stdout)).toEqual({ total: 0, runs: [] })
  })
})
