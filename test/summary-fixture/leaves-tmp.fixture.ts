// Leaves a file and a folder in the temporary directory, as model-writing tests do: the run must remove them
// (test/global-tmp.ts; checked by test/test-summary.test.ts).
import { mkdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, it } from 'vitest'

it('writes into its temporary directory', () => {
  expect(tmpdir()).not.toBe(process.env.SOLILOQUY_FIXTURE_PARENT_TMP)
  writeFileSync(join(tmpdir(), 'model.safetensors'), Buffer.alloc(1 << 20))
  mkdirSync(join(tmpdir(), 'export', 'merged'), { recursive: true })
})
