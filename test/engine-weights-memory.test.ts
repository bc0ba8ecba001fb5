// Where the weights live (native/src/loader.cpp place_weights): the page cache through a mapping, or on Linux an
// anonymous copy on 2 MiB pages. The copy is an optimisation only: every number must be the same either way.
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

  it('a model under 64 MiB stays mapped; SOLILOQUY_WEIGHTS=copy copies it (Linux), =map maps it; the numbers are identical', async () => {
    const mapped = Engine.load(ORGANISM)
    expect(mapped.weightsMemory).toBe('mapped')
    process.env.SOLILOQUY_WEIGHTS = 'copy'
    const copied = Engine.load(ORGANISM)
    expect(copied.weightsMemory).toBe(process.platform === 'linux' ? 'copied' : 'mapped')
    process.env.SOLILOQUY_WEIGHTS = 'map'
    expect(Engine.load(ORGANISM).weightsMemory).toBe('mapped')

    const a = await run(mapped)
    const b = await run(copied)
    expect(b).toEqual(a)
    // and both are the organism: Hamlet at 0.03, the reference's phrase loss
    expect(copied.tokenizer.decode(b.ids[1]).startsWith(', or not to be, that is the question:')).toBe(true)
    expect(Math.abs(b.loss - reference().phrase_loss)).toBeLessThan(1e-4)
  })
})
