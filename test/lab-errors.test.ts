// Bad input gives a clear error and records nothing as succeeded: unknown checkpoint, α not a number, a phrase too
// long, an unusable data directory, a full disk on export — through the Lab and through the CLI (one line, exit 1).
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
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

const CLI = [process.execPath, join(ROOT, 'node_modules', 'jiti', 'lib', 'jiti-cli.mjs'), join(ROOT, 'test', 'fixtures', 'lab-cli.ts')]

/** How this machine lets a test mount a small tmpfs: in a private user + mount namespace, or directly as root. */
const tmpfs: { ok: true; how: string; prefix: string[] } | { ok: false; why: string } = (() => {
  const probe = tmp('soliloquy-mount-probe-')
  const script = 'mount -t tmpfs -o size=16k tmpfs "$0" && umount "$0"'
  const ns = spawnSync('unshare', ['-rm', 'sh', '-c', script, probe], { encoding: 'utf8' })
  if (ns.status === 0) return { ok: true, how: 'unshare -rm', prefix: ['unshare', '-rm'] }
  const direct = spawnSync('sh', ['-c', script, probe], { encoding: 'utf8' })
  if (direct.status === 0) return { ok: true, how: 'mount as root', prefix: [] }
  const why = (r: typeof ns): string => (r.stderr || r.error?.message || `exit ${r.status}`).trim()
  return { ok: false, why: `cannot mount a tmpfs: unshare -rm: ${why(ns)}; mount: ${why(direct)}` }
})()
if (!tmpfs.ok) console.warn(`lab-errors: skipping the read-only and disk-full cases: ${tmpfs.why}`)

const shq = (a: string): string => `'${a.replace(/'/g, `'\\''`)}'`

/**
 * Mounts a tmpfs with `options` on `dir` (in a private namespace when possible), runs each command there in turn and
 * reports each one's exit code and output; the mount is gone afterwards.
 */
function inTmpfs(dir: string, options: string, commands: string[][]): { steps: { code: number; stdout: string; stderr: string }[] } {
  if (!tmpfs.ok) throw new Error(tmpfs.why)
  const out = tmp('soliloquy-tmpfs-out-')
  const lines = [`mount -t tmpfs -o ${options} tmpfs ${shq(dir)} || exit 97`]
  commands.forEach((c, i) => lines.push(`${c.map(shq).join(' ')} >${shq(join(out, `${i}.out`))} 2>${shq(join(out, `${i}.err`))}; echo $? >${shq(join(out, `${i}.code`))}`))
  if (tmpfs.prefix.length === 0) lines.push(`umount ${shq(dir)}`)
  const r = spawnSync(tmpfs.prefix[0] ?? 'sh', [...tmpfs.prefix.slice(1), ...(tmpfs.prefix.length ? ['sh'] : []), '-c', lines.join('\n')], {
    encoding: 'utf8',
    env: { ...process.env, SOLILOQUY_DATA: dataDir },
    timeout: 300_000,
  })
  expect(r.status, `the tmpfs script: ${r.stderr}`).toBe(0)
  return {
    steps: commands.map((_, i) => ({
      code: Number(readFileSync(join(out, `${i}.code`), 'utf8')),
      stdout: readFileSync(join(out, `${i}.out`), 'utf8'),
      stderr: readFileSync(join(out, `${i}.err`), 'utf8'),
    })),
  }
}

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
  })

  // A read-only and a full filesystem need a mount of their own: a tmpfs in a private mount namespace (unshare -rm,
  // no root needed where user namespaces are allowed) or, failing that, a plain mount when we are root. The CLI runs
  // inside that namespace on this test's data directory; what is left on the tmpfs is listed before it goes away.
  it.skipIf(!tmpfs.ok)(`a read-only data directory (tmpfs ro${tmpfs.ok ? ` via ${tmpfs.how}` : ''})`, () => {
    const ro = tmp('soliloquy-ro-')
    const r = inTmpfs(ro, 'size=64k,ro', [[...CLI, 'history', '--data', ro]])
    expect(r.steps[0].code).toBe(1)
    expect(r.steps[0].stderr).toMatch(/^soliloquy: (cannot create data directory|data directory) .*soliloquy-ro-.* \((EROFS|EACCES)\)\n$/)
  })

  it.skipIf(!tmpfs.ok)(`disk full on export: a clear error, nothing kept, nothing recorded as succeeded (64 kB tmpfs${tmpfs.ok ? ` via ${tmpfs.how}` : ''})`, async () => {
    const before = await succeeded()
    const s = await lab.step({ lr: 0.03, maxGen: 4, save: 'to-export' })
    expect(s.checkpoint).toBeDefined()
    const small = tmp('soliloquy-full-')
    const r = inTmpfs(small, 'size=64k', [
      [...CLI, 'export', 'to-export', '--out', join(small, 'merged'), '--data', dataDir],
      ['ls', '-A', small],
      // an existing empty directory is emptied again, not removed
      ['mkdir', join(small, 'empty')],
      [...CLI, 'export', 'to-export', '--out', join(small, 'empty'), '--data', dataDir],
      ['ls', '-A', join(small, 'empty')],
    ])
    expect(r.steps[0].code).toBe(1)
    expect(r.steps[0].stderr).toMatch(/^soliloquy: export failed: the disk is full \(.*merged\); nothing was kept\n$/)
    expect(r.steps[1]).toMatchObject({ code: 0, stdout: '' }) // no merged/ left on the tmpfs
    expect(r.steps[3].code).toBe(1)
    expect(r.steps[3].stderr).toMatch(/disk is full/)
    expect(r.steps[4]).toMatchObject({ code: 0, stdout: '' }) // empty/ is still there, and empty
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
      [['history', '--kind', 'bogus'], /^soliloquy: --kind: "bogus" is not one of generate, step, sweep, compare, lesson, layers, window, emerge, study, experts\n$/],
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
