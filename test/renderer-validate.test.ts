// The Lab form's field checks (src/renderer/src/lib/validate.ts) hold the contract's own limits: what the form lets
// through the contract accepts, and what the form refuses the contract refuses too.
import { describe, expect, it } from 'vitest'
import { LIMITS, validateCall } from '../src/shared/api'
import { maxTokensProblem, parseStepSizes } from '../src/renderer/src/lib/validate'

describe("the form's limits are the contract's", () => {
  it('step sizes: up to LIMITS.lr.max and LIMITS.stepSizes.max of them', () => {
    const top = parseStepSizes(String(LIMITS.lr.max))
    expect(top.ok).toBe(true)
    expect(validateCall('sweep', { lrs: [LIMITS.lr.max] }).ok).toBe(true)
    const over = LIMITS.lr.max * 1.5
    expect(parseStepSizes(String(over)).ok).toBe(false)
    expect(validateCall('sweep', { lrs: [over] }).ok).toBe(false)
    const many = Array.from({ length: LIMITS.stepSizes.max + 1 }, (_, i) => i / 1000)
    expect(parseStepSizes(many.join(',')).ok).toBe(false)
    expect(validateCall('sweep', { lrs: many }).ok).toBe(false)
    expect(parseStepSizes(many.slice(1).join(',')).ok).toBe(true)
  })

  it('max tokens: 1 … LIMITS.maxGen.max', () => {
    expect(maxTokensProblem(String(LIMITS.maxGen.max))).toBeNull()
    expect(validateCall('generate', { maxGen: LIMITS.maxGen.max }).ok).toBe(true)
    expect(maxTokensProblem(String(LIMITS.maxGen.max + 1))).not.toBeNull()
    expect(validateCall('generate', { maxGen: LIMITS.maxGen.max + 1 }).ok).toBe(false)
  })
})
