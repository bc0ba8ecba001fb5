// Structural edits for the tokenizer-chain fuzz target (targets.ts): its input is { normalizer, pre_tokenizer, text }
// and the edits that find blow-ups are structural — a step repeated, a step from the palette inserted, a Sequence
// wrapped around a step, the text lengthened — which value-level JSON edits never make.
import type { Rand } from './mutate'

const NORMALIZERS: unknown[] = [
  { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
  { type: 'Replace', pattern: { String: 'o' }, content: 'oooo' },
  { type: 'Replace', pattern: { Regex: '' }, content: 'xx' },
  { type: 'Replace', pattern: { Regex: '(a+)+$' }, content: 'b' },
  { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' },
  { type: 'Replace', pattern: { Regex: '(?i:a)|\\p{L}' }, content: 'ﷺ' },
  { type: 'Prepend', prepend: '▁' },
  { type: 'Append', append: '</w>' },
  { type: 'NFKC' },
  { type: 'NFD' },
  { type: 'Lowercase' },
  { type: 'StripAccents' },
  { type: 'Strip', strip_left: true, strip_right: true },
]

const LLAMA3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
const PRE_TOKENIZERS: unknown[] = [
  { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
  { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
  { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
  { type: 'Split', pattern: { Regex: LLAMA3 }, behavior: 'Isolated', invert: false },
  { type: 'Split', pattern: { Regex: '(a+)+$' }, behavior: 'Isolated', invert: false },
  { type: 'Split', pattern: { Regex: '(x|x)*y' }, behavior: 'MergedWithNext', invert: true },
  { type: 'Split', pattern: { String: ' ' }, behavior: 'Removed', invert: false },
  { type: 'Digits', individual_digits: true },
  { type: 'Punctuation', behavior: 'Contiguous' },
  { type: 'Whitespace' },
  { type: 'WhitespaceSplit' },
]

const TEXTS = ['a'.repeat(30), 'x'.repeat(25), 'ﷺ', 'Ġ', ' ', '  \n ', 'hello', 'o', '123456', 'ſK', 'é', '🎭', '!?', '<s>']

const pick = <T>(r: Rand, a: readonly T[]): T => a[Math.floor(r() * a.length)]

type Json = Record<string, unknown>

/** The Sequence array of a chain (wrapping a single step, or starting one), so that steps can be added. */
function stepsOf(doc: Json, key: 'normalizer' | 'pre_tokenizer'): unknown[] {
  const list = key === 'normalizer' ? 'normalizers' : 'pretokenizers'
  let chain = doc[key] as Json | null | undefined
  if (!chain || typeof chain !== 'object' || Array.isArray(chain)) chain = { type: 'Sequence', [list]: [] }
  else if (chain.type !== 'Sequence' || !Array.isArray(chain[list])) chain = { type: 'Sequence', [list]: [chain] }
  doc[key] = chain
  return chain[list] as unknown[]
}

export function mutateChain(r: Rand, input: Buffer): Buffer | undefined {
  let doc: Json
  try {
    const v = JSON.parse(input.toString('utf8')) as unknown
    if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined
    doc = v as Json
  } catch {
    return undefined
  }
  const key = r() < 0.5 ? 'normalizer' : 'pre_tokenizer'
  const steps = stepsOf(doc, key)
  const palette = key === 'normalizer' ? NORMALIZERS : PRE_TOKENIZERS
  const list = key === 'normalizer' ? 'normalizers' : 'pretokenizers'
  const op = Math.floor(r() * 6)
  const at = Math.floor(r() * (steps.length + 1))
  if (op === 0 && steps.length) steps.push(structuredClone(pick(r, steps))) // a step repeated
  else if (op === 1) steps.splice(at, 0, structuredClone(pick(r, palette)))
  else if (op === 2 && steps.length) steps.splice(Math.min(at, steps.length - 1), 1)
  else if (op === 3 && steps.length) {
    const i = Math.min(at, steps.length - 1)
    steps[i] = { type: 'Sequence', [list]: [steps[i]] } // one level deeper
  } else if (op === 4) {
    const n = 1 + Math.floor(r() * 8)
    for (let k = 0; k < n; k++) steps.push(structuredClone(steps.length ? pick(r, steps) : pick(r, palette)))
  } else {
    const text = typeof doc.text === 'string' ? doc.text : ''
    doc.text = (r() < 0.3 ? text + text : text + pick(r, TEXTS)).slice(0, 4096)
  }
  return Buffer.from(JSON.stringify(doc))
}
