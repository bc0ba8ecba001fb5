// tokenizer.json in TypeScript against @huggingface/tokenizers (the oracle) on Llama-3's and a Llama-2-style
// (SentencePiece-BPE, byte fallback) vocabulary.
import { describe, it, expect } from 'vitest'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Tokenizer as Oracle } from '@huggingface/tokenizers'
import { TokenizerJson } from '../src/main/engine/tokenizers/tokenizerJson'
import { translateOnigurumaRegex } from '../src/main/engine/tokenizers/regex'
import { ROOT } from './helpers'
import { paritySet } from './tokenizer-strings'

function lenml(name: 'llama2' | 'llama3'): { json: unknown; config: unknown } {
  const dir = join(ROOT, 'node_modules', '@lenml', `tokenizer-${name}`, 'models')
  return {
    json: JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')),
    config: JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')),
  }
}

const strings = paritySet()
const SPECIAL_TEXT = /<\|[a-z_0-9]+\|>|<\/?s>|<unk>/

describe.each(['llama3', 'llama2'] as const)('tokenizer.json of %s equals HF tokenizers', (name) => {
  const { json, config } = lenml(name)
  const oracle = new Oracle(json as object, config as object)
  const ours = new TokenizerJson(json, config)

  it(`gives the oracle's ids on ${strings.length} strings`, () => {
    expect(strings.length).toBeGreaterThanOrEqual(1000)
    const started = performance.now()
    const mismatches: string[] = []
    let tokens = 0
    for (const s of strings) {
      const expected = oracle.encode(s, { add_special_tokens: false }).ids
      const got = ours.encode(s)
      tokens += got.length
      if (JSON.stringify(got) !== JSON.stringify(expected)) mismatches.push(`${JSON.stringify(s)}\n  oracle ${expected}\n  ours   ${got}`)
    }
    console.log(`${name}: ${strings.length} strings, ${tokens} tokens, ${(performance.now() - started).toFixed(0)} ms (oracle and ours)`)
    expect(mismatches.slice(0, 5)).toEqual([])
  })

  it('decodes as the oracle does, and decoding round-trips the text', () => {
    const mismatches: string[] = []
    for (const s of strings) {
      const ids = ours.encode(s)
      if (ids.length === 0) {
        expect(s.length === 0 || name === 'llama2').toBe(true)
        continue
      }
      const expected = oracle.decode(ids)
      if (ours.decode(ids) !== expected) mismatches.push(`${JSON.stringify(s)}: ${JSON.stringify(ours.decode(ids))} vs ${JSON.stringify(expected)}`)
      // Without special-token text, decoding gives the text back (Llama-3: before transformers' space clean-up).
      if (!SPECIAL_TEXT.test(s)) {
        const back = name === 'llama3' ? ours.decodeTokens(ids).join('') : ours.decode(ids)
        if (back !== s) mismatches.push(`round trip ${JSON.stringify(s)} → ${JSON.stringify(back)}`)
      }
    }
    expect(mismatches.slice(0, 5)).toEqual([])
  })

  it('reads the special tokens and the vocabulary size', () => {
    if (name === 'llama3') {
      expect([ours.vocabSize, ours.bosId, ours.eosId, ours.unkId]).toEqual([128256, 128000, 128001, -1])
      expect(ours.piece(128009)).toBe('<|eot_id|>')
      expect(ours.encode('<|begin_of_text|>')).toEqual([128000])
    } else {
      expect([ours.vocabSize, ours.bosId, ours.eosId, ours.unkId, ours.addsBos]).toEqual([32000, 1, 2, 0, true])
      expect(ours.encode('<s>')).toEqual([1])
    }
  })
})

describe('tokenizer.json details', () => {
  it('per-token text concatenates to the text, holding partial UTF-8 until complete', () => {
    const { json, config } = lenml('llama3')
    const t = new TokenizerJson(json, config)
    const ids = t.encode('a 🙂 日本')
    const surfaces = t.decodeTokens(ids)
    expect(surfaces.join('')).toBe('a 🙂 日本')
    expect(surfaces.every((s) => !s.includes('\uFFFD'))).toBe(true)
  })

  it('translates (?i:...) by Unicode case folding, as Oniguruma does', () => {
    const source = translateOnigurumaRegex("(?i:'s|'ll)|\\s+(?!\\S)|\\p{L}+")
    const re = new RegExp(source, 'u')
    expect(re.exec("'S")?.[0]).toBe("'S")
    expect(re.exec("'\u017F")?.[0]).toBe("'\u017F") // long s folds to s
    expect(re.exec("'Ll")?.[0]).toBe("'Ll")
    expect(new RegExp(translateOnigurumaRegex('\\s'), 'u').test('\u0085')).toBe(true) // onig \s includes NEL
    expect(new RegExp(translateOnigurumaRegex('\\s'), 'u').test('\ufeff')).toBe(false) // and excludes BOM
  })

  it('refuses what it does not support, naming the field', () => {
    const { json } = lenml('llama2')
    const base = json as Record<string, unknown>
    const withModel = (model: object): unknown => ({ ...base, model: { ...(base.model as object), ...model } })
    expect(() => new TokenizerJson(withModel({ type: 'WordPiece' }), undefined)).toThrow(/tokenizer.json: model type WordPiece is not supported/)
    expect(() => new TokenizerJson(withModel({ type: 'Unigram' }), undefined)).toThrow(/model type Unigram is not supported/)
    expect(() => new TokenizerJson({ ...base, normalizer: { type: 'Precompiled' } }, undefined)).toThrow(/tokenizer.json: normalizer type Precompiled is not supported/)
    expect(() => new TokenizerJson({ ...base, pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'BertPreTokenizer' }] } }, undefined))
      .toThrow(/pre_tokenizer.pretokenizers\[0\] type BertPreTokenizer is not supported/)
    expect(() => new TokenizerJson({ ...base, decoder: { type: 'WordPiece' } }, undefined)).toThrow(/decoder type WordPiece is not supported/)
    expect(() => new TokenizerJson({ ...base, pre_tokenizer: { type: 'Split', pattern: { Regex: '(?>a)' }, behavior: 'Isolated' } }, undefined))
      .toThrow(/pre_tokenizer.pattern.Regex: atomic group/)
    expect(() => new TokenizerJson(withModel({ merges: ['▁ nonexistent-token'] }), undefined)).toThrow(/model.merges\[0\]: token "nonexistent-token" is not in the vocabulary/)
  })
})
