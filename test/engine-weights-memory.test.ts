// Where the weights live (native/src/loader.cpp): the page cache through a mapping, or on Linux a copy on 2 MiB pages
// made in the background and switched to between operations. The copy is an optimisation only: every number must be
// the same before, during and after the switch.
import { afterEach, describe, expect, it } from 'vitest'
import { Engine } from '../src/main/engine/engine'
import { ORGANISM, reference } from './helpers'

const PHRASE = 'To be, or not to be, that is the question'

async function run(engine: Engine): Promise<{ ids: number[][]; loss: number; norms: Record<string, number> }> {
  const g = await engine.gradient(PHRASE)
  const cols = await engine.generate({ prompt: 'To be', views: [[], [{ gradient: g, lr: 0.03 }]], maxNew: 24 })
  return { ids: cols.map((c) => c.ids), loss: g.loss, norms: g.gradNorms() }
}

describe('weights in memory', () => {
  afterEach(() => {
    delete process.env.SOLILOQUY_WEIGHTS
  })

  it('a model under 64 MiB stays mapped; =map maps; =copy copies in the background and switches at the next operation (Linux), with identical numbers', async () => {
    const mapped = Engine.load(ORGANISM)
    expect(mapped.weightsMemory).toBe('mapped')
    process.env.SOLILOQUY_WEIGHTS = 'map'
    expect(Engine.load(ORGANISM).weightsMemory).toBe('mapped')
    process.env.SOLILOQUY_WEIGHTS = 'copy'
    const copied = Engine.load(ORGANISM)
    const want = await run(mapped)
    // operations started while the copy is being made read the mapping, and agree
    expect(['copying', 'ready', 'copied', 'mapped']).toContain(copied.weightsMemory)
    expect(await run(copied)).toEqual(want)
    const settled = await copied.weightsSettled()
    if (process.platform !== 'linux') {
      expect(settled).toBe('mapped')
      return
    }
    expect(['ready', 'copied']).toContain(settled)
    const after = await run(copied)
    expect(copied.weightsMemory).toBe('copied')
    expect(after).toEqual(want)
    // and both are the organism: Hamlet at 0.03, the reference's phrase loss
    expect(copied.tokenizer.decode(after.ids[1]).startsWith(', or not to be, that is the question:')).toBe(true)
    expect(Math.abs(after.loss - reference().phrase_loss) / reference().phrase_loss).toBeLessThan(1e-4)
  })

  it('a model closed while its copy is being made is freed without waiting for it', async () => {
    process.env.SOLILOQUY_WEIGHTS = 'copy'
    for (let i = 0; i < 8; i++) Engine.load(ORGANISM)
    // nothing to assert beyond not crashing: the copier threads see `stop` or finish into a job nobody holds
    if (global.gc) global.gc()
    const e = Engine.load(ORGANISM)
    if (process.platform === 'linux') expect(['copying', 'ready']).toContain(e.weightsMemory)
    else expect(e.weightsMemory).toBe('mapped')
  })
})
