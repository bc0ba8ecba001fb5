// A sweep is one batched generation; it must give exactly what generating each step size alone gives.
import { describe, expect, it } from 'vitest'
import { Engine } from '../src/main/engine/engine'
import { steppingOff } from '../src/main/lab/experiment/common'
import { SEED_DEFAULTS } from '../src/shared/api'
import { ORGANISM, reference, TinyConfig, tinyTensors, tmp, writeTinyModel } from './helpers'

describe('batched sweep', () => {
  it('equals one-α-at-a-time generation, token for token', async () => {
    const engine = Engine.load(ORGANISM)
    const ref = reference()
    const lrs = [0, 1e-3, 3e-3, 1e-2, 2e-2, 3e-2, 5e-2, 1e-1, 0.3]
    // the lab's own sweep core (the app's sweep and the bench run exactly this)
    const batched = await steppingOff(engine, [], engine.withBos('To be', 'prompt'), ref.phrase, lrs, { ...SEED_DEFAULTS, temperature: 0, topP: 1 })
    const rows = batched.generations
    for (let i = 0; i < lrs.length; i++) {
      const [alone] = await engine.generate({ prompt: 'To be', views: [[{ gradient: batched.gradient, lr: lrs[i] }]], maxNew: 64 })
      expect(rows[i].ids, `α=${lrs[i]}`).toEqual(alone.ids)
      expect(rows[i].text).toBe(alone.text)
    }
    // the columns really differ: business at 0, Hamlet at 0.03
    expect(rows[0].text.startsWith('a successful business owner')).toBe(true)
    expect(rows[5].text.startsWith(', or not to be, that is the question:')).toBe(true)
  })

  it('sequences that stop early (EOS) leave the batch without disturbing the others', async () => {
    // a tiny random model whose EOS row of the head is scaled up, so that some step sizes end early
    const c: TinyConfig = { dim: 16, ffn: 32, layers: 2, heads: 4, kvHeads: 2, tied: false, seed: 11 }
    const tensors = tinyTensors(c)
    const head = tensors['lm_head.weight'].data
    for (let j = 0; j < c.dim; j++) head[2 * c.dim + j] *= 3.5
    const engine = Engine.load(writeTinyModel(tmp(), c, tensors))
    const g = await engine.gradient('To be, or not to be, that is the question')
    const lrs = [0, 0.5, 1, 2, 4, 8, 16, 32]
    const batched = await engine.generate({ prompt: 'To be', views: lrs.map((lr) => [{ gradient: g, lr }]), maxNew: 40 })
    const stopped = batched.filter((b) => b.stopped)
    expect(stopped.length, 'some columns end with EOS').toBeGreaterThan(0)
    expect(stopped.length, 'some columns run to the limit').toBeLessThan(lrs.length)
    for (const b of stopped) expect(b.ids[b.ids.length - 1]).toBe(engine.config.eos)
    for (let i = 0; i < lrs.length; i++) {
      const [alone] = await engine.generate({ prompt: 'To be', views: [[{ gradient: g, lr: lrs[i] }]], maxNew: 40 })
      expect(batched[i].ids, `α=${lrs[i]}`).toEqual(alone.ids)
    }
  })

  it('equals single generations (ids, and logit margins to fp32 rounding) when hidden rows are 4 KiB long', async () => {
    // dim = ffn = 1024: the products copy their input rows with a pad (kernels.cpp, matmul_wt_fused) — the organism's
    // 256-wide rows never take that path. One column runs the one-row dot products, whose summation order differs
    // from the multi-row tiles', so margins agree to rounding, not bit for bit.
    const c: TinyConfig = { dim: 1024, ffn: 1024, layers: 1, heads: 8, kvHeads: 4, tied: false, seed: 31, dtype: 'F16' }
    const engine = Engine.load(writeTinyModel(tmp(), c))
    const g = await engine.gradient('To be, or not to be, that is the question')
    const lrs = [0, 0.01, 0.03, 0.1, 0.3, 1, 3, 10]
    const batched = await engine.generate({ prompt: 'To be', views: lrs.map((lr) => (lr ? [{ gradient: g, lr }] : [])), maxNew: 12 })
    for (let i = 0; i < lrs.length; i++) {
      const [alone] = await engine.generate({ prompt: 'To be', views: lrs[i] ? [[{ gradient: g, lr: lrs[i] }]] : [[]], maxNew: 12 })
      expect(batched[i].ids, `α=${lrs[i]}`).toEqual(alone.ids)
      batched[i].margins.forEach((m, t) => expect(Math.abs(m - alone.margins[t]), `α=${lrs[i]} position ${t}`).toBeLessThan(1e-4))
    }
    expect(new Set(batched.map((b) => b.ids.join())).size, 'the step sizes lead to different texts').toBeGreaterThan(1)
  }, 60_000)

  it('a chain of two steps equals the sum of views, and sampling is reproducible by seed', async () => {
    const engine = Engine.load(ORGANISM)
    const g1 = await engine.gradient('To be, or not to be, that is the question')
    const a = await engine.generate({ prompt: 'To be', views: [[{ gradient: g1, lr: 0.01 }, { gradient: g1, lr: 0.02 }]] })
    const b = await engine.generate({ prompt: 'To be', views: [[{ gradient: g1, lr: 0.03 }]] })
    expect(a[0].ids).toEqual(b[0].ids)
    const s1 = await engine.generate({ prompt: 'To be', views: [[]], temperature: 0.8, topP: 0.9, seed: 42 })
    const s2 = await engine.generate({ prompt: 'To be', views: [[]], temperature: 0.8, topP: 0.9, seed: 42 })
    const s3 = await engine.generate({ prompt: 'To be', views: [[]], temperature: 0.8, topP: 0.9, seed: 43 })
    expect(s1[0].ids).toEqual(s2[0].ids)
    expect(s3[0].ids).not.toEqual(s1[0].ids)
  })
})
