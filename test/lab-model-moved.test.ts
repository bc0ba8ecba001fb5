// Issue 20, item 13: models found again. A checkpoint names its model by fingerprint and last path; a model that moved
// is looked for in the user's model folders (and its row follows it), the embedded organism is the embedded model
// wherever it is kept, and a model found nowhere is refused saying which folder to pass. Real engine, a tiny model
// written by the test, moved with rename.
import { mkdirSync, renameSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { getModel } from '../src/main/lab/history/tables/models'
import { Lab } from '../src/main/lab/lab'
import { tmp, writeTinyModel } from './helpers'

const labs: Lab[] = []
afterAll(() => labs.forEach((l) => l.close()))
function open(dataDir: string, modelDirs?: string[]): Lab {
  const l = new Lab({ dataDir, threads: 1, modelDirs })
  labs.push(l)
  return l
}

describe('a model that moved (item 13)', () => {
  const data = tmp('soliloquy-moved-')
  const home = tmp('soliloquy-moved-home-')
  let modelId: number
  let want: number[]
  let at = join(home, 'tiny')

  beforeAll(async () => {
    writeTinyModel(at, { dim: 16, ffn: 32, layers: 1, heads: 2, kvHeads: 2, tied: true })
    const lab = open(data)
    const s = await lab.step({ model: at, lr: 0.5, maxGen: 4, save: 'hamlet' })
    modelId = s.run.modelId
    want = (await lab.generate({ model: 'hamlet', maxGen: 6 })).run.outputIds
    lab.close()
  }, 120_000)

  /** moves the model folder to `to` (its parent created) */
  function move(to: string): void {
    mkdirSync(join(to, '..'), { recursive: true })
    renameSync(at, to)
    at = to
  }

  it('renamed within its folder: its checkpoint still opens, the same model (same id, path updated)', async () => {
    move(join(home, 'tiny-renamed'))
    const lab = open(data)
    const g = await lab.generate({ model: 'hamlet', maxGen: 6 })
    expect(g.run.outputIds).toEqual(want)
    expect(g.run.modelId).toBe(modelId)
    expect(getModel(lab.db, modelId)?.path).toBe(at)
  })

  it('moved elsewhere: refused saying which folder to pass; found with --models (modelDirs) or SOLILOQUY_MODEL_DIRS', async () => {
    const old = at
    const far = tmp('soliloquy-moved-far-')
    move(join(far, 'models', 'tiny'))
    const lab = open(data)
    await expect(lab.generate({ model: 'hamlet', maxGen: 6 })).rejects.toThrow(
      new RegExp(`^checkpoint "hamlet": its model "tiny-renamed" \\(fingerprint [0-9a-f]{12}\\) is no longer at ${old} and is not in ${home}; ` +
        `pass the folder that holds it now with --models DIR \\(CLI\\), or open the model's folder again in Models \\(the app\\) — its checkpoints follow it$`),
    )
    const given = open(data, [join(far, 'models')])
    expect((await given.generate({ model: 'hamlet', maxGen: 6 })).run.outputIds).toEqual(want)
    expect(getModel(given.db, modelId)?.path).toBe(at)
    // and through the environment
    move(join(far, 'elsewhere', 'tiny'))
    process.env.SOLILOQUY_MODEL_DIRS = join(far, 'elsewhere')
    try {
      expect((await open(data).generate({ model: 'hamlet', maxGen: 6 })).run.outputIds).toEqual(want)
    } finally {
      delete process.env.SOLILOQUY_MODEL_DIRS
    }
  })

  it('opening the moved folder again (the app asks for it) re-points the model: its checkpoints follow', async () => {
    move(join(tmp('soliloquy-moved-again-'), 'tiny'))
    const lab = open(data)
    await expect(lab.generate({ model: 'hamlet', maxGen: 1 })).rejects.toThrow(/is no longer at/)
    const opened = await lab.generate({ model: at, maxGen: 1 })
    expect(opened.run.modelId).toBe(modelId)
    expect((await lab.generate({ model: 'hamlet', maxGen: 6 })).run.outputIds).toEqual(want)
  })
})

describe('the embedded organism (item 13)', () => {
  it('a history whose organism path is another machine\'s (or an old install\'s): its checkpoints open on this one', async () => {
    const data = tmp('soliloquy-moved-organism-')
    const lab = open(data)
    const s = await lab.step({ lr: 0.03, maxGen: 4, save: 'seed' })
    const want = (await lab.generate({ model: 'seed', maxGen: 8 })).run.outputIds
    lab.db.prepare('UPDATE models SET path = ? WHERE id = ?').run('/Applications/Old Soliloquy.app/Contents/Resources/models/organism', s.run.modelId)
    lab.close()
    const again = open(data)
    const g = await again.generate({ model: 'seed', maxGen: 8 })
    expect(g.run.outputIds).toEqual(want)
    expect(g.run.modelId).toBe(s.run.modelId)
  })
})
