// Export targets a user can get wrong (issue 9, defects 3 and 7): unwritable paths fail at once in words and the lab
// keeps working; a relative target is refused; a killed export leaves nothing loadable under the target's name.
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Lab } from '../src/main/lab/lab'
import { validateCall } from '../src/shared/api'
import { ROOT, tmp } from './helpers'

let lab: Lab

beforeAll(async () => {
  lab = new Lab({ dataDir: tmp('soliloquy-export-paths-') })
  await lab.step({ lr: 0.01, maxGen: 1, save: 'k' })
}, 120_000)
afterAll(() => lab?.close())

describe('export to a path that cannot be written', () => {
  it('/proc/nope fails at once with the reason, and the next job runs', async () => {
    await expect(lab.exportCheckpoint({ id: 'k', outDir: '/proc/nope/model' })).rejects.toThrow(
      /^cannot create the export directory \/proc\/nope\/model: the file system does not allow creating it \(ENOENT at \/proc\/nope\)$/,
    )
    await expect(lab.exportCheckpoint({ id: 'k', outDir: '/proc/nope' })).rejects.toThrow(/^cannot create the export directory \/proc\/nope: /)
    const g = await lab.generate({ maxGen: 2 })
    expect(g.run.status).toBe("done")
  }, 60_000)

  it('a file used as a directory is named', async () => {
    const d = tmp('soliloquy-export-file-')
    writeFileSync(join(d, 'plain'), 'x')
    await expect(lab.exportCheckpoint({ id: 'k', outDir: join(d, 'plain', 'model') })).rejects.toThrow(
      `cannot create the export directory ${join(d, 'plain', 'model')}: ${join(d, 'plain')} is a file`,
    )
    await expect(lab.exportCheckpoint({ id: 'k', outDir: join(d, 'plain') })).rejects.toThrow(`export target ${join(d, 'plain')} is a file`)
  })

  it('a read-only directory says permission denied, at once', () => {
    const d = tmp('soliloquy-export-ro-')
    chmodSync(d, 0o555)
    // root may write anywhere: the child then drops to "nobody" once loaded (the path is refused before the engine is
    // used)
    const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'jiti', 'lib', 'jiti-cli.mjs'), join(ROOT, 'test', 'fixtures', 'export-path-child.ts'), join(d, 'model'), '--as-nobody'], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, HOME: tmpdir() },
    })
    expect(r.stdout).toBe(`cannot create the export directory ${join(d, 'model')}: permission denied (EACCES in ${d})\n`)
  })

  it('a relative target is refused by the contract and by the lab', async () => {
    const v = validateCall('exportCheckpoint', { id: 'k', outDir: 'models/out' })
    expect(v.ok).toBe(false)
    expect(!v.ok && v.message).toMatch(/the export target must be an absolute path \(got "models\/out"\)/)
    await expect(lab.exportCheckpoint({ id: 'k', outDir: 'models/out' })).rejects.toThrow('the export target must be an absolute path (got "models/out")')
  })

  it('an export writes beside the target and renames at the end (an empty existing target is fine)', async () => {
    const d = tmp('soliloquy-export-ok-')
    mkdirSync(join(d, 'model'))
    const r = await lab.exportCheckpoint({ id: 'k', outDir: join(d, 'model'), dtype: 'F16' })
    expect(r.dir).toBe(join(d, 'model'))
    expect(readdirSync(d)).toEqual(['model'])
    expect(readdirSync(join(d, 'model'))).toContain('config.json')
  }, 60_000)
})

describe('a killed export', () => {
  it('SIGKILL mid-export leaves no loadable model under the target name', async () => {
    const data = tmp('soliloquy-export-kill-')
    const parent = tmp('soliloquy-export-kill-out-')
    const target = join(parent, 'model')
    const child = spawn(process.execPath, [join(ROOT, 'node_modules', 'jiti', 'lib', 'jiti-cli.mjs'), join(ROOT, 'test', 'fixtures', 'lab-export-child.ts'), data, target], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    const exited = new Promise<void>((r) => child.on('exit', () => r()))
    // kill as soon as the staging folder holds a file (the engine is writing the weights)
    const deadline = Date.now() + 120_000
    let killedMidway = false
    while (Date.now() < deadline && !out.includes('finished') && child.exitCode === null) {
      const staging = readdirSync(parent).find((f) => f.startsWith('.model.partial-'))
      if (staging && readdirSync(join(parent, staging)).length > 0) {
        child.kill('SIGKILL')
        killedMidway = true
        break
      }
      await new Promise((r) => setTimeout(r, 1))
    }
    await exited
    expect(killedMidway, `the export was caught while writing (child said: ${out})`).toBe(true)
    expect(existsSync(target)).toBe(false)
    await expect(lab.generate({ model: target, maxGen: 1 })).rejects.toThrow(/no such model directory|does not exist/)
  }, 180_000)
})
