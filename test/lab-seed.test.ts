// The seed experiment ("Stepping Off") on the organism, through the lab: recorded in the history with every metric,
// and the metrics checked against the float64 reference (reference.json) where it has them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Lab } from '../src/main/lab/lab'
import { distinct2, layerUpdateNorms, longestRepeat, layerOf } from '../src/main/lab/metrics'
import type { SweepResult } from '../src/shared/api'
import { comparableLength, reference, tmp } from './helpers'

const ref = reference()
const LRS = [0, 0.01, 0.03, 0.1, 0.3, 1.0]
let lab: Lab
let dataDir: string
let sweep: SweepResult

const rel = (a: number, b: number): number => Math.abs(a - b) / Math.abs(b)
const at = (lr: number) => sweep.runs.find((r) => r.lr === lr)!
const refAt = (lr: number) => ref.sweep.find((s) => s.lr === lr)!

beforeAll(async () => {
  dataDir = tmp('soliloquy-lab-seed-')
  lab = new Lab({ dataDir })
  sweep = await lab.sweep({ lrs: LRS, maxGen: 64 })
})
afterAll(() => lab?.close())

describe('text metrics', () => {
  it('distinct-2 and the longest repeated n-gram run', () => {
    expect(distinct2('or or or or or')).toBeCloseTo(0.25)
    expect(distinct2('To be, or not to be, that is the question')).toBe(1)
    expect(longestRepeat('or or or or')).toBe(4)
    expect(longestRepeat('To be, or not to be, that is')).toBe(0)
    expect(longestRepeat('a b, or not, or not, or not, c')).toBe(6)
    expect(longestRepeat('')).toBe(0)
  })
  it('per-layer ‖α∇W‖ groups tensors by layer and scales by |α|', () => {
    expect(layerOf('model.embed_tokens.weight')).toBe('embed')
    expect(layerOf('model.layers.3.mlp.up_proj.weight')).toBe('layer.3')
    expect(layerOf('lm_head.weight')).toBe('head')
    const n = layerUpdateNorms({ 'model.layers.0.a': 3, 'model.layers.0.b': 4, 'lm_head.weight': 1 }, -0.5)
    expect(n['layer.0']).toBeCloseTo(2.5)
    expect(n.head).toBeCloseTo(0.5)
  })
})

describe('the seed experiment, recorded', () => {
  it('is one experiment with one finished run per α, every setting and metric stored', async () => {
    expect(sweep.experiment.kind).toBe('sweep')
    expect(sweep.experiment.status).toBe('done')
    expect(sweep.runs.map((r) => r.lr)).toEqual(LRS)
    expect(sweep.runs.map((r) => r.position)).toEqual(LRS.map((_, i) => i))
    expect(sweep.phraseIds).toEqual(ref.phrase_ids)
    expect(rel(sweep.phraseLoss, ref.phrase_loss)).toBeLessThan(1e-4)
    for (const r of sweep.runs) {
      expect(r.status).toBe('done')
      expect(r.kind).toBe('sweep')
      expect(r.experimentId).toBe(sweep.experiment.id)
      expect(r.prompt).toBe('To be')
      expect(r.phrase).toBe(ref.phrase)
      expect(r.maxGen).toBe(64)
      expect(r.temperature).toBe(0)
      expect(r.seed).toBe(0)
      expect(r.outputIds.length).toBe(64)
      expect(r.fullText.startsWith('To be')).toBe(true)
      expect(r.ms).toBeGreaterThan(0)
      expect(r.finishedAt).not.toBeNull()
      for (const k of ['phraseLossBefore', 'phraseLossAfter', 'recall', 'referenceLogprob', 'stabilityKl', 'probePerplexityDelta',
        'repetition', 'compressionRatio', 'recallOf', 'longestRepeat', 'generalisation', 'locality'] as const)
        expect(typeof r.metrics[k], `${k} at α=${r.lr}`).toBe('number')
      expect(Object.keys(r.metrics.layerUpdateNorms!)).toEqual(['embed', 'layer.0', 'layer.1', 'layer.2', 'layer.3', 'layer.4', 'layer.5', 'head'])
    }
    // what was stored is what a fresh process reads back
    lab.close()
    lab = new Lab({ dataDir })
    const page = await lab.history({ experimentId: sweep.experiment.id, sort: 'lr', order: 'asc' })
    expect(page.total).toBe(LRS.length)
    expect(page.runs.map((r) => r.outputIds)).toEqual(sweep.runs.map((r) => r.outputIds))
    expect(page.runs.map((r) => r.metrics)).toEqual(JSON.parse(JSON.stringify(sweep.runs.map((r) => r.metrics))))
    expect(sweep.table.split('\n')[1].split(/\s+/)).toEqual(['gradStep', '0.0', '1.0E-02', '3.0E-02', '1.0E-01', '3.0E-01', '1.0E+00'])
  })

  it('greedy completions match the float64 reference up to its first near-tie', () => {
    for (const lr of LRS) {
      const want = refAt(lr).plain
      const n = comparableLength(want.margins)
      expect(at(lr).outputIds.slice(0, n), `α=${lr}`).toEqual(want.ids.slice(0, n))
    }
  })

  it('plasticity: recall ≤ 1 word at α = 0, ≥ 40 at α = 0.03; phrase loss and reference log-prob as the reference', () => {
    expect(at(0).metrics.recall).toBeLessThanOrEqual(1)
    expect(at(0.03).metrics.recall).toBeGreaterThanOrEqual(40)
    for (const lr of LRS) {
      const r = at(lr).metrics
      expect(rel(r.phraseLossAfter!, refAt(lr).phrase_loss_after), `phrase loss α=${lr}`).toBeLessThan(1e-3)
      expect(rel(r.referenceLoss!, refAt(lr).soliloquy_loss), `soliloquy loss α=${lr}`).toBeLessThan(1e-3)
      expect(r.referenceLogprob!).toBeCloseTo(-r.referenceLoss! * 95, 6)
    }
  })

  it('stability: KL(base ‖ stepped) per probe within 1e-2 of reference.json; perplexity change from the probe losses', () => {
    const want = refAt(0.03)
    const got = at(0.03).metrics
    for (const [probe, kl] of Object.entries(want.probe_kl_from_base)) {
      expect(rel(got.probeKl![probe], kl), probe).toBeLessThan(1e-2)
      const base = Math.exp(ref.sweep[0].probe_loss[probe])
      const stepped = Math.exp(want.probe_loss[probe])
      expect(rel(got.probePerplexity![probe].base, base)).toBeLessThan(1e-3)
      expect(rel(got.probePerplexity![probe].stepped, stepped)).toBeLessThan(1e-3)
    }
    const mean = Object.values(want.probe_kl_from_base).reduce((a, b) => a + b, 0) / 2
    expect(rel(got.stabilityKl!, mean)).toBeLessThan(1e-2)
    expect(at(0).metrics.stabilityKl).toBe(0)
    // KL grows with the step
    const kls = LRS.map((lr) => at(lr).metrics.stabilityKl!)
    for (let i = 1; i < kls.length; i++) expect(kls[i]).toBeGreaterThan(kls[i - 1])
  })

  it('fluency collapses at α ≥ 0.3 ("or or or …")', () => {
    // token-level repetition (share of 4-grams seen before) and compression ratio flag the rant; prose stays low
    for (const lr of [0, 0.03]) {
      expect(at(lr).metrics.repetition!).toBeLessThan(0.2)
      expect(at(lr).metrics.compressionRatio!).toBeLessThan(2.5)
      expect(at(lr).metrics.longestRepeat!).toBeLessThan(8)
    }
    for (const lr of [0.3, 1.0]) {
      expect(at(lr).metrics.repetition!, `α=${lr}`).toBeGreaterThan(0.9)
      expect(at(lr).metrics.compressionRatio!, `α=${lr}`).toBeGreaterThan(10)
      expect(at(lr).metrics.longestRepeat!, `α=${lr}`).toBeGreaterThanOrEqual(48)
    }
  })

  it('per-layer update norms are |α| × the gradient norms grouped by layer', () => {
    const r = at(0.03).metrics
    const total2 = Object.values(r.gradNorms!).reduce((a, n) => a + n * n, 0)
    const layers2 = Object.values(r.layerUpdateNorms!).reduce((a, n) => a + n * n, 0)
    expect(rel(Math.sqrt(layers2), 0.03 * Math.sqrt(total2))).toBeLessThan(1e-9)
    for (const [k, v] of Object.entries(ref.grad_norms)) expect(rel(r.gradNorms![k], v), k).toBeLessThan(1e-3)
  })

  it('history filters, sorts and pages; the scatter has one point per finished run', async () => {
    await lab.step({ lr: 0.02, maxGen: 8 })
    const all = await lab.history({})
    expect(all.total).toBe(LRS.length + 1)
    expect((await lab.history({ kind: 'step' })).runs.map((r) => r.lr)).toEqual([0.02])
    expect((await lab.history({ lrMin: 0.01, lrMax: 0.1, kind: 'sweep' })).total).toBe(3)
    expect((await lab.history({ phrase: 'not to be' })).total).toBe(LRS.length + 1)
    expect((await lab.history({ phrase: 'business owner' })).total).toBe(0)
    expect((await lab.history({ model: 'organism' })).total).toBe(LRS.length + 1)
    expect((await lab.history({ model: 'no-such-model' })).total).toBe(0)
    const today = new Date().toISOString().slice(0, 10)
    expect((await lab.history({ from: today, to: today })).total).toBe(LRS.length + 1)
    expect((await lab.history({ to: '2000-01-01' })).total).toBe(0)
    const byRecall = await lab.history({ sort: 'recall', order: 'desc', limit: 2 })
    expect(byRecall.runs[0].lr).toBe(0.03)
    expect(byRecall.runs.length).toBe(2)
    const page2 = await lab.history({ sort: 'lr', order: 'asc', limit: 3, offset: 3 })
    expect(page2.runs.map((r) => r.lr)).toEqual([0.03, 0.1, 0.3])
    const pts = await lab.scatter({ kind: 'sweep' })
    expect(pts.length).toBe(LRS.length)
    const p = pts.find((x) => x.lr === 0.03)!
    expect(p.recall).toBe(at(0.03).metrics.recall)
    expect(p.stabilityKl).toBeCloseTo(at(0.03).metrics.stabilityKl!, 12)
    const detail = await lab.run(at(0.03).id)
    expect(detail.experiment?.runCount).toBe(LRS.length)
    expect(detail.model.path).toMatch(/models[/\\]organism$/)
  })
})
