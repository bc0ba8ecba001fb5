// Replays the TypeScript fuzz corpora (scripts/fuzz/corpus/<target>/, seeds and the reproducers of fixed findings)
// through the fuzz targets: every input is either accepted or refused with the parser's own error class.
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { TARGETS } from '../scripts/fuzz/targets'
import { ROOT } from './helpers'

function files(dir: string): string[] {
  const out: string[] = []
  for (const f of readdirSync(dir)) {
    const p = join(dir, f)
    if (statSync(p).isDirectory()) out.push(...files(p))
    else out.push(p)
  }
  return out.sort()
}

describe('fuzz corpora replay cleanly', () => {
  for (const t of TARGETS.filter((x) => !x.pending)) {
    it(t.name, () => {
      const corpus = join(ROOT, 'scripts', 'fuzz', 'corpus', t.name)
      const inputs = files(corpus)
      expect(inputs.length).toBeGreaterThan(0)
      const scratch = mkdtempSync(join(tmpdir(), 'soliloquy-fuzz-replay-'))
      for (const p of inputs) {
        try {
          t.run(readFileSync(p), scratch)
        } catch (e) {
          if (!t.expected.some((c) => e instanceof c)) throw new Error(`${p}: ${(e as Error).stack ?? String(e)}`)
        }
      }
    })
  }
})
