// Locality and generalisation as EasyEdit defines them (teacher-forced), beside the free-running measures they
// replace (issue 23). The organism's base continuation of the "business" probe's opening has a near-tie (a top-1 −
// top-2 margin of ~0.01): the smallest step flips that token, and the free-running continuation then differs at
// every later position; fed the base's own continuation, the stepped model still predicts what the base predicts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Lab } from '../src/main/lab/lab'
import { paraphraseTarget } from '../src/main/lab/metrics'
import type { RunRecord } from '../src/shared/api'
import { tmp } from './helpers'

let lab: Lab
let tiny: RunRecord
let zero: RunRecord
let large: RunRecord
let mid: RunRecord

beforeAll(async () => {
  lab = new Lab({ dataDir: tmp('soliloquy-locality-') })
  zero = (await lab.step({ lr: 0, maxGen: 4 })).run
  tiny = (await lab.step({ lr: 1e-3, maxGen: 4 })).run
  mid = (await lab.step({ lr: 0.03, maxGen: 4 })).run
  large = (await lab.step({ lr: 0.1, maxGen: 4 })).run
})
afterAll(() => lab?.close())

describe('locality (EasyEdit, teacher-forced)', () => {
  it('a near-tie flipped by a tiny step: teacher-forced locality ≈ 1, the free-running measure shows the flip and its margin', () => {
    const m = tiny.metrics
    // the base's continuation of the business probe has a near-tie…
    expect(m.baseMarginBy!.business).toBeLessThan(0.05)
    expect(m.baseMinMargin).toBe(Math.min(...Object.values(m.baseMarginBy!)))
    // …which α = 1e-3 flips: the free-running continuation differs from the first token on
    expect(m.continuationUnchangedBy!.business).toBeLessThan(0.5)
    // teacher-forced, at most the near-tie's position can differ (of 16)
    expect(m.localityBy!.business).toBeGreaterThanOrEqual(15 / 16)
    expect(m.locality!).toBeGreaterThanOrEqual(15 / 16)
    expect(m.locality!).toBeGreaterThan(m.continuationUnchanged!)
    // and its KL over the same positions is tiny
    expect(m.localityKl!).toBeGreaterThan(0)
    expect(m.localityKl!).toBeLessThan(1e-3)
  })

  it('no step: every measure says untouched; a large step moves teacher-forced locality too', () => {
    expect(zero.metrics.locality).toBe(1)
    expect(zero.metrics.continuationUnchanged).toBe(1)
    expect(zero.metrics.localityKl).toBe(0)
    expect(large.metrics.locality!).toBeLessThan(1)
    expect(large.metrics.localityKl!).toBeGreaterThan(tiny.metrics.localityKl!)
  })
})

describe('generalisation (EasyEdit rephrase accuracy, teacher-forced)', () => {
  it("the phrase's continuation after each paraphrase", () => {
    const phrase = 'To be, or not to be, that is the question'
    expect(paraphraseTarget('To', phrase)).toBe(' be, or not to be, that is the question')
    expect(paraphraseTarget('Hamlet said, To be', phrase)).toBe(', or not to be, that is the question')
    expect(paraphraseTarget('To be?', phrase)).toBe(', or not to be, that is the question')
    expect(paraphraseTarget('Once upon a time', phrase)).toBe(' To be, or not to be, that is the question')
  })

  it('the stepped model predicts more of the phrase after the paraphrases than the base; the free-running share is kept apart', () => {
    const by0 = zero.metrics.generalisationBy!
    const by1 = mid.metrics.generalisationBy!
    expect(Object.keys(by0).sort()).toEqual(['Hamlet said, To be', 'To', 'To be?'])
    for (const p of Object.keys(by0)) expect(by1[p]).toBeGreaterThanOrEqual(by0[p])
    expect(mid.metrics.generalisation!).toBeGreaterThan(zero.metrics.generalisation!)
    // teacher-forced, the organism already predicts most of the phrase after a paraphrase; free-running it says 2 of 10 words
    expect(zero.metrics.generalisation!).toBeGreaterThan(0.5)
    expect(zero.metrics.paraphraseRecallBy).toEqual({ To: 0.2, 'Hamlet said, To be': 0.2, 'To be?': 0.2 })
    expect(mid.metrics.paraphraseRecallBy).toEqual({ To: 1, 'Hamlet said, To be': 0.2, 'To be?': 0.2 })
  })
})
