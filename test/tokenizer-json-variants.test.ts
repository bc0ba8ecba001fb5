// The parts of tokenizer.json that the two shipped files do not use (Metaspace pre-tokenizer and its prepend
// schemes, Split behaviours, Digits, Punctuation, GPT-2 ByteLevel, normalizers, added-token flags), each checked
// against @huggingface/tokenizers on the real vocabularies with the pipeline swapped.
import { describe, it, expect } from 'vitest'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Tokenizer as Oracle } from '@huggingface/tokenizers'
import { TokenizerJson } from '../src/main/engine/tokenizers/tokenizerJson'
import { ROOT } from './helpers'
import { randomStrings, HANDPICKED } from './tokenizer-strings'

type Json = Record<string, unknown>
function lenml(name: 'llama2' | 'llama3'): Json {
  return JSON.parse(readFileSync(join(ROOT, 'node_modules', '@lenml', `tokenizer-${name}`, 'models', 'tokenizer.json'), 'utf8')) as Json
}
const llama2 = lenml('llama2')
const llama3 = lenml('llama3')
const strings = [...HANDPICKED, ...randomStrings(300, 99)]
const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false }
const split = (pattern: object, behavior: string, invert = false): object => ({ type: 'Split', pattern, behavior, invert })

// Variants on which the oracle follows HF tokenizers (Rust). Where it does not (see the next describe block) the
// expected pieces come from the Rust library's own documentation and unit tests instead.
const JS_WHITESPACE_DIFFERS = /[\u0085\ufeff]/ // oracle's hard-coded GPT-2 regex and trim() use JS \s
const NON_ASCII_NUMBER = /(?![0-9])\p{N}/u // oracle's Digits knows only ASCII digits; Rust's is_numeric is any N
const variants: [string, Json, (s: string) => boolean][] = [
  ['Metaspace first, no split (legacy=false Llama/Mistral)', { ...llama2, normalizer: null, decoder: null,
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false } }, () => true],
  ['Metaspace never, no split', { ...llama2, normalizer: null, decoder: null,
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'never', split: false } }, () => true],
  ['GPT-2 ByteLevel with regex and prefix space', { ...llama3, pre_tokenizer: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true } },
    (s) => !JS_WHITESPACE_DIFFERS.test(s)],
  ['Digits (individual) + ByteLevel', { ...llama3, pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, byteLevel] } }, (s) => !NON_ASCII_NUMBER.test(s)],
  ['Digits (contiguous) + ByteLevel', { ...llama3, pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: false }, byteLevel] } }, (s) => !NON_ASCII_NUMBER.test(s)],
  ['Split regex Isolated', { ...llama3, pre_tokenizer: { type: 'Sequence', pretokenizers: [split({ Regex: '\\p{N}+|[,.]' }, 'Isolated'), byteLevel] } }, () => true],
  ['Split " " Removed, inverted', { ...llama3, pre_tokenizer: { type: 'Sequence', pretokenizers: [split({ String: ' ' }, 'Removed', true), byteLevel] } }, () => true],
  ['normalizers NFKC, Lowercase, Strip, Replace regex', { ...llama3, normalizer: { type: 'Sequence', normalizers: [
    { type: 'NFKC' }, { type: 'Lowercase' }, { type: 'Strip', strip_left: true, strip_right: true },
    { type: 'Replace', pattern: { Regex: '\\s{2,}' }, content: ' ' }] } }, (s) => !JS_WHITESPACE_DIFFERS.test(s)],
  ['normalizers NFD + StripAccents', { ...llama3, normalizer: { type: 'Sequence', normalizers: [{ type: 'NFD' }, { type: 'StripAccents' }] } }, () => true],
  ['added tokens: lstrip, rstrip, normalized', { ...llama3,
    normalizer: { type: 'Lowercase' },
    added_tokens: [...(llama3.added_tokens as object[]),
      { id: 128256, content: '<|L|>', single_word: false, lstrip: true, rstrip: false, normalized: false, special: true },
      { id: 128257, content: '<|R|>', single_word: false, lstrip: false, rstrip: true, normalized: false, special: true },
      { id: 128258, content: 'be', single_word: false, lstrip: false, rstrip: false, normalized: false, special: false },
      { id: 128259, content: 'question', single_word: false, lstrip: false, rstrip: false, normalized: true, special: false },
    ] }, () => true],
]
const addedText = ['To be, or not <|L|>to be <|R|> that', '   <|L|>x', 'x<|R|>   y', 'maybe be bee be.', 'QUESTION question Questions', '<|L|><|R|>']

describe.each(variants)('tokenizer.json variant: %s', (_name, json, comparable) => {
  it('gives the oracle ids and decodes as the oracle does', () => {
    const config = { clean_up_tokenization_spaces: false }
    const oracle = new Oracle(json, config)
    const ours = new TokenizerJson(json, config)
    const mismatches: string[] = []
    for (const s of [...strings, ...addedText].filter(comparable)) {
      const expected = oracle.encode(s, { add_special_tokens: false }).ids
      const got = ours.encode(s)
      if (JSON.stringify(got) !== JSON.stringify(expected)) mismatches.push(`${JSON.stringify(s)}\n  oracle ${expected}\n  ours   ${got}`)
      else if (got.length > 0 && ours.decode(got) !== oracle.decode(got)) mismatches.push(`decode ${JSON.stringify(s)}: ${JSON.stringify(ours.decode(got))} vs ${JSON.stringify(oracle.decode(got))}`)
    }
    expect(mismatches.slice(0, 2)).toEqual([])
  })
})

/** A tokenizer.json on Llama-3's vocabulary with the given pre-tokenizer; returns the pre-token strings of a text. */
function pieces(preTokenizer: object, text: string, vocab: Json = llama3): string[] {
  const t = new TokenizerJson({ ...vocab, normalizer: null, pre_tokenizer: preTokenizer, added_tokens: [] }, {})
  // Decoding each pre-token's ids separately gives back the pre-tokens.
  const out: string[] = []
  const pre = (t as unknown as { preTokenizer: (p: { text: string; atOrigin: boolean }[]) => { text: string }[] }).preTokenizer
  for (const p of pre([{ text, atOrigin: true }])) out.push(p.text)
  return out
}

describe('pre-tokenizers where @huggingface/tokenizers (JS) departs from HF tokenizers (Rust)', () => {
  it("Split behaviours as NormalizedString::split documents them on 'the-final--countdown'", () => {
    const on = (behavior: string, invert = false): string[] => pieces(split({ String: '-' }, behavior, invert), 'the-final--countdown')
    expect(on('Removed')).toEqual(['the', 'final', 'countdown'])
    expect(on('Isolated')).toEqual(['the', '-', 'final', '-', '-', 'countdown'])
    expect(on('MergedWithPrevious')).toEqual(['the-', 'final-', '-', 'countdown'])
    expect(on('MergedWithNext')).toEqual(['the', '-final', '-', '-countdown'])
    expect(on('Contiguous')).toEqual(['the', '-', 'final', '--', 'countdown'])
    expect(on('Removed', true)).toEqual(['-', '-', '-'])
    expect(pieces({ type: 'Digits', individual_digits: false }, 'a٣٤x12')).toEqual(['a', '٣٤', 'x', '12'])
  })

  it("Metaspace with split puts each extra space in its own piece (Rust's multiple_spaces test)", () => {
    const metaspace = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true }
    expect(pieces(metaspace, 'Hey   friend!', llama2)).toEqual(['▁Hey', '▁', '▁', '▁friend!'])
    const t = new TokenizerJson({ ...llama2, normalizer: null, pre_tokenizer: metaspace }, {})
    expect(t.encode('  ')).toEqual([28705, 28705])
  })

  it('Metaspace decoding drops every ▁ of the first token (decode_chain), keeps later ones as spaces', () => {
    const metaspace = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true }
    const t = new TokenizerJson({ ...llama2, normalizer: null, pre_tokenizer: metaspace, decoder: metaspace }, {})
    expect(t.decode([t.encode('▁▁')[0]])).toBe('')
    expect(t.decode(t.encode('Hello world'))).toBe('Hello world')
  })

  it("Metaspace's settings are read once for both halves: the decoder refuses what the pre-tokenizer refuses", () => {
    const cases: [string, Json, RegExp][] = [
      ['pre_tokenizer', { prepend_scheme: 'sometimes' }, /pre_tokenizer\.prepend_scheme "sometimes" is not first, always or never/],
      ['decoder', { prepend_scheme: 'sometimes' }, /decoder\.prepend_scheme "sometimes" is not first, always or never/],
      ['decoder', { replacement: '▁▁' }, /decoder\.replacement must be one character/],
    ]
    for (const [half, bad, problem] of cases) {
      const metaspace = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true, ...bad }
      expect(() => new TokenizerJson({ ...llama2, normalizer: null, [half]: metaspace }, {}), `${half} ${JSON.stringify(bad)}`).toThrow(problem)
    }
  })

  it('Punctuation isolates each punctuation character; Whitespace splits on Unicode White_Space (U+0085 yes, U+FEFF no)', () => {
    expect(pieces({ type: 'Punctuation', behavior: 'Isolated' }, '</s>!?')).toEqual(['<', '/', 's', '>', '!', '?'])
    expect(pieces({ type: 'WhitespaceSplit' }, 'a\u0085b\ufeffc d')).toEqual(['a', 'b\ufeffc', 'd'])
    expect(pieces({ type: 'Whitespace' }, 'a\u0085b, c\ufeff')).toEqual(['a', 'b', ',', 'c', '\ufeff'])
    // GPT-2's \s+(?!\S) sees U+0085 as a space, so the run splits as spaces do (JS's \s would give 3 pieces).
    expect(pieces({ type: 'ByteLevel', add_prefix_space: false, use_regex: true }, 'a\u0085\u0085b').length).toBe(4)
  })

  it("single_word matches only between non-word characters (Rust regex \\w, Unicode), e.g. not inside 'über'", () => {
    const json = { ...llama3, added_tokens: [...(llama3.added_tokens as object[]),
      { id: 128256, content: 'be', single_word: true, lstrip: false, rstrip: false, normalized: false, special: false }] }
    const t = new TokenizerJson(json, {})
    expect(t.encode('be')).toEqual([128256])
    expect(t.encode('to be, or')).toContain(128256)
    expect(t.encode('über')).not.toContain(128256)
    expect(t.encode('begin')).not.toContain(128256)
    expect(t.encode('_be')).not.toContain(128256)
  })
})
