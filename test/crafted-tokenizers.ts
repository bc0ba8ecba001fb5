// tokenizer.json files crafted by the tests of issue 20 (test/tokenizer-limits.test.ts, test/lab-budget.test.ts).
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { BYTE_TO_CHAR } from '../src/main/engine/tokenizers/byteLevel'
import { tmp, TinyConfig, writeTinyModel } from './helpers'

/** A GPT-2-style byte-level BPE over the 256 byte characters (ids 0–255), no merges, no <unk>; extra fields merged. */
export function byteLevelTokenizer(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: '1.0',
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', vocab: Object.fromEntries(BYTE_TO_CHAR.map((c, i) => [c, i])), merges: [] },
    ...extra,
  }
}

/** A normalizer Sequence of n Replace steps. */
export const replaces = (n: number, pattern: Record<string, string>, content: string): Record<string, unknown> => ({
  type: 'Sequence',
  normalizers: Array.from({ length: n }, () => ({ type: 'Replace', pattern, content })),
})

/** A byte-level tokenizer whose pre-tokenizer first splits at the catastrophic pattern (a+)+$. */
export function catastrophicSplit(): Record<string, unknown> {
  const split = { type: 'Split', pattern: { Regex: '(a+)+$' }, behavior: 'Isolated', invert: false }
  return byteLevelTokenizer({ pre_tokenizer: { type: 'Sequence', pretokenizers: [split, byteLevelTokenizer().pre_tokenizer] } })
}

export const TINY: TinyConfig = { dim: 16, ffn: 32, layers: 1, heads: 2, kvHeads: 1, tied: true, vocab: 320 }

/** A tiny model folder whose tokenizer is the given tokenizer.json. */
export function modelWith(tokenizer: Record<string, unknown>): string {
  const dir = writeTinyModel(tmp('soliloquy-crafted-'), TINY)
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer))
  return dir
}
