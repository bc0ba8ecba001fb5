// A suite whose beforeAll throws: its tests never run. The test summary (scripts/test.mjs) must count it as failed;
// test/test-summary.test.ts runs it through its own config (test/summary-fixture/vitest.config.mts).
import { beforeAll, describe, expect, it } from 'vitest'

beforeAll(() => {
  throw new Error('the setup of this fixture fails on purpose')
})

describe('a suite that never gets to run', () => {
  it('would pass', () => expect(1).toBe(1))
  it('would pass too', () => expect(2).toBe(2))
})
