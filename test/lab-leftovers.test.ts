// What kill -9 during `checkpoints save` leaves behind (issue 9, defect 7) is swept when the lab opens: temporary
// files of a dead process and step files no checkpoint refers to; the saved checkpoints stay and still load.
import { spawnSync } from 'node:child_process'
import { readdirSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Lab } from '../src/main/lab/lab'
import { tmp } from './helpers'

describe('leftovers of a killed save', () => {
  it('are removed on open; live checkpoints and fresh files of a running process are kept', async () => {
    const dataDir = tmp('soliloquy-leftovers-')
    let lab = new Lab({ dataDir })
    await lab.step({ lr: 0.01, maxGen: 1, save: 'kept' })
    lab.close()
    const dir = join(dataDir, 'checkpoints')
    const saved = readdirSync(dir)
    expect(saved).toHaveLength(1)

    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' })
    const deadPid = Number(dead.stdout)
    const old = Date.now() / 1000 - 3600
    const leftovers = [`.new-${deadPid}-1764190000000.safetensors`, `.new-${deadPid}-1764190000000.safetensors.tmp-${deadPid}`, '0123456789abcdef-mhx1.safetensors']
    for (const f of leftovers) {
      writeFileSync(join(dir, f), 'half a step')
      utimesSync(join(dir, f), old, old)
    }
    // a save in progress in another live process (this one's parent: alive) and a fresh orphan are left alone
    const live = [`.new-${process.ppid}-1764190000001.safetensors`, 'fedcba9876543210-mhx2.safetensors']
    for (const f of live) writeFileSync(join(dir, f), 'in progress')

    lab = new Lab({ dataDir })
    try {
      expect(readdirSync(dir).sort()).toEqual([...saved, ...live].sort())
      const g = await lab.generate({ model: 'kept', maxGen: 1 })
      expect(g.run.status).toBe('done')
    } finally {
      lab.close()
    }
  }, 120_000)
})
