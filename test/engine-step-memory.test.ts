// The step's memory (native/src/step_memory.h): the factors of layers with one input share it (q/k/v one X, gate/up
// one X) and must come through export, import and use in a view unchanged; a released step's memory is reused by the
// next step instead of being mapped afresh; a released gradient is refused by name.
import { describe, expect, test } from 'vitest'
import { Engine, Gradient } from '../src/main/engine/engine'
import { loadAddon, StepFactors } from '../src/main/engine/native'
import { ORGANISM, reference } from './helpers'

const PHRASE = reference().phrase
// slots of layer 0 (native/src/model.h LinearKind)
const Q = 0, K = 1, V = 2, GATE = 4, UP = 5

const same = (a: StepFactors, b: StepFactors): void => {
  expect(b.loss).toBe(a.loss)
  expect(b.linears.length).toBe(a.linears.length)
  a.linears.forEach((f, i) => {
    expect(b.linears[i].T, `slot ${i}`).toBe(f.T)
    expect(Buffer.from(b.linears[i].X.buffer).equals(Buffer.from(f.X.buffer)), `slot ${i} X`).toBe(true)
    expect(Buffer.from(b.linears[i].G.buffer).equals(Buffer.from(f.G.buffer)), `slot ${i} G`).toBe(true)
  })
  expect(Array.from(b.embGrad)).toEqual(Array.from(a.embGrad))
  a.normGrads.forEach((n, i) => expect(Array.from(b.normGrads[i])).toEqual(Array.from(n)))
}

describe('the step memory', () => {
  const engine = Engine.load(ORGANISM)

  test('q/k/v and gate/up share their input: export, import and a view see it unchanged', async () => {
    const g = await engine.gradient(PHRASE)
    const f = g.factors()
    expect(Array.from(f.linears[K].X)).toEqual(Array.from(f.linears[Q].X))
    expect(Array.from(f.linears[V].X)).toEqual(Array.from(f.linears[Q].X))
    expect(Array.from(f.linears[UP].X)).toEqual(Array.from(f.linears[GATE].X))
    // an export is a copy: writing into it leaves the step as it was
    const scribbled = g.factors()
    scribbled.linears[Q].X.fill(7)
    scribbled.linears[GATE].X.fill(7)
    same(f, g.factors())
    // the checkpoint path: import (its X are copies of their own), export again, and a step taken at each as a view
    const imported = engine.importGradient(f, PHRASE)
    same(f, imported.factors())
    const lr = reference().lrs[0]
    const atOriginal = await engine.gradient('The cat sat on the mat', [{ gradient: g, lr }])
    const atImported = await engine.gradient('The cat sat on the mat', [{ gradient: imported, lr }])
    same(atOriginal.factors(), atImported.factors())
    // the shared input is counted once in what the step holds; the import holds its copies
    const values = f.linears.reduce((n, l) => n + l.X.length + l.G.length, 0) + f.embGrad.length
    expect(g.bytes).toBeLessThan(values * 4)
    expect(imported.bytes).toBeGreaterThan(g.bytes)
    atOriginal.release()
    atImported.release()
  })

  test('a released step gives its memory to the next step', async () => {
    const addon = loadAddon()
    const g1 = await engine.gradient(PHRASE)
    const held = addon.stepMemory()
    g1.release()
    const freed = addon.stepMemory()
    expect(freed.liveBytes).toBeLessThan(held.liveBytes)
    expect(freed.cachedBytes).toBeGreaterThan(held.cachedBytes)
    const g2 = await engine.gradient(PHRASE)
    const after = addon.stepMemory()
    // the second step (and its temporaries) found every slab it needed in the cache: none was mapped afresh
    expect(after.slabsMapped).toBe(freed.slabsMapped)
    expect(after.slabsReused).toBeGreaterThan(freed.slabsReused)
    g2.release()
  })

  test('a released gradient is refused by name', async () => {
    const g: Gradient = await engine.gradient(PHRASE)
    g.release()
    expect(g.bytes).toBe(0)
    expect(() => g.factors()).toThrow(/released/)
    expect(() => g.loss).toThrow(/released/)
    await expect(async () => engine.generate({ prompt: 'Once', views: [[{ gradient: g, lr: 0.1 }]], maxNew: 2 })).rejects.toThrow(/released/)
  })
})
