#!/usr/bin/env node
// Starting corpus of the tokenizer-chain fuzz target (issue 20; checked in, run again only to regenerate): the
// normalizer and pre-tokenizer chains of published tokenizers (Llama 2's, Llama 3's, a Metaspace one, a BERT-like
// one), and the reproducers of the three chains that took the lab's memory or time, as regression-… files.
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const dir = join(root, 'scripts', 'fuzz', 'corpus', 'tokenizer-chain')
mkdirSync(dir, { recursive: true })
const write = (name, doc) => writeFileSync(join(dir, name), JSON.stringify(doc))

const LLAMA3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
const byteLevel = (prefix) => ({ type: 'ByteLevel', add_prefix_space: prefix, trim_offsets: true, use_regex: false })
const replaces = (n, pattern, content) => ({ type: 'Sequence', normalizers: Array.from({ length: n }, () => ({ type: 'Replace', pattern, content })) })

write('llama2.json', {
  normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
  pre_tokenizer: null,
  text: 'To be, or not to be',
})
write('llama3.json', {
  normalizer: null,
  pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: LLAMA3 }, behavior: 'Isolated', invert: false }, byteLevel(false)] },
  text: "that is the question: whether 'tis nobler 123456",
})
write('metaspace.json', {
  normalizer: { type: 'NFKC' },
  pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: true }, { type: 'Digits', individual_digits: true }] },
  text: 'ﬁne ﷺ  two  spaces 2024',
})
write('bert-like.json', {
  normalizer: { type: 'Sequence', normalizers: [{ type: 'NFD' }, { type: 'Lowercase' }, { type: 'StripAccents' }, { type: 'Strip', strip_left: true, strip_right: true }] },
  pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Whitespace' }, { type: 'Punctuation', behavior: 'Isolated' }] },
  text: '  Déjà vu, naïve café!  ',
})
// issue 20, item 3: 25 Replace steps of an empty regex with "xx" (fatal "invalid size" at 1.6 GB before)
write('regression-empty-regex-replace.json', { normalizer: replaces(25, { Regex: '' }, 'xx'), pre_tokenizer: null, text: 'hello' })
// item 4: a Split with (a+)+$ (> 40 s on 51 characters before)
write('regression-catastrophic-split.json', {
  normalizer: null,
  pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: '(a+)+$' }, behavior: 'Isolated', invert: false }, byteLevel(false)] },
  text: 'a'.repeat(50) + 'b',
})
// item 5: 30 Replace "o" → "oooo" (40 s and 3.7 GB before)
write('regression-replace-growth.json', { normalizer: replaces(30, { String: 'o' }, 'oooo'), pre_tokenizer: null, text: 'hello' })
// ByteLevel 30 times (each doubles a non-ASCII text)
write('regression-bytelevel-growth.json', { normalizer: null, pre_tokenizer: { type: 'Sequence', pretokenizers: Array(30).fill(byteLevel(false)) }, text: 'Ġ'.repeat(10) })
// Sequences nested 2,000 deep
let nested = { type: 'Lowercase' }
for (let i = 0; i < 2000; i++) nested = { type: 'Sequence', normalizers: [nested] }
write('regression-nested-sequences.json', { normalizer: nested, pre_tokenizer: null, text: 'x' })
