// Passes, and skips one test: the summary line must report both (test/test-summary.test.ts).
import { expect, it } from 'vitest'

it('passes', () => expect(1 + 1).toBe(2))
it.skip('is skipped', () => expect(true).toBe(false))
