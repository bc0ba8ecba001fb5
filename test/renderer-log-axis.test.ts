// Log axes bounded to their data (src/renderer/src/lib/logAxis.ts): the KL axes of the window chart and of the
// plasticity scatter span the data's own decades, not echarts' 1e-10…1e10.
import { describe, expect, it } from 'vitest'
import { logAxisBounds } from '../src/renderer/src/lib/logAxis'

describe('logAxisBounds', () => {
  it('spans the whole decades around the smallest and largest positive value', () => {
    const b = logAxisBounds([3.2e-6, 4e-3, 0.12])!
    expect(b.min).toBeCloseTo(1e-6, 18)
    expect(b.max).toBeCloseTo(1, 12)
  })
  it('leaves out 0, negatives, NaN and non-numbers (a log axis cannot show them)', () => {
    const b = logAxisBounds([0, -1, Number.NaN, null, 'x', 2.5e-4, 7e-4])!
    expect(b.min).toBeCloseTo(1e-4, 16)
    expect(b.max).toBeCloseTo(1e-3, 15)
  })
  it('a value on a power of ten, or all values in one decade, still get one decade', () => {
    const b = logAxisBounds([1e-3])!
    expect(b.min).toBeCloseTo(1e-3, 15)
    expect(b.max).toBeCloseTo(1e-2, 14)
  })
  it('no positive value: no bounds (the axis is left to echarts)', () => {
    expect(logAxisBounds([])).toBeUndefined()
    expect(logAxisBounds([0, 0])).toBeUndefined()
  })
})
