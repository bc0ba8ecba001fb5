import { describe, it, expect } from 'vitest'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { SentencePieceTokenizer } from '../src/main/engine/tokenizers/sentencepiece/tokenizer'

const organismDir = fileURLToPath(new URL('../models/organism/', import.meta.url))
const modelPath = `${organismDir}tokenizer.model`

interface Reference {
  phrase: string
  phrase_ids: number[]
  prompts: { plain: number[]; engineered: number[] }
  tokenization: Record<string, number[]>
}
const reference = JSON.parse(readFileSync(`${organismDir}reference.json`, 'utf8')) as Reference
const tokenizer = SentencePieceTokenizer.fromFile(modelPath)

const trickyTexts = [
  '',
  ' ',
  '   ',
  ' leading space',
  '  two leading spaces',
  'trailing spaces  ',
  'many     spaces   inside',
  '\n',
  '\nstarts with a newline',
  'lines\n\nand\ttabs\r\n',
  'emoji 🙂🎭 and a flag 🇬🇧',
  '🙂 first',
  '日本語のテキスト、中文文本',
  'naïve café — “quotes” … ½ ∑',
  '<s> and </s> and <unk> are plain text here',
  'digits 0123456789 3.14159',
]

/** Little protobuf writer for hand-made models that exercise what the organism's model does not. */
function varint(value: number): number[] {
  const out: number[] = []
  let rest = value
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80)
    rest = Math.floor(rest / 0x80)
  }
  out.push(rest)
  return out
}
const varintField = (field: number, value: number): number[] => [...varint(field * 8), ...varint(value)]
const bytesField = (field: number, payload: number[] | Uint8Array): number[] => [...varint(field * 8 + 2), ...varint(payload.length), ...payload]
const stringField = (field: number, text: string): number[] => bytesField(field, new TextEncoder().encode(text))
function floatField(field: number, value: number): number[] {
  const bytes = new Uint8Array(4)
  new DataView(bytes.buffer).setFloat32(0, value, true)
  return [...varint(field * 8 + 5), ...bytes]
}

interface ToyPiece { text: string; score?: number; type?: number }
function toyModel(pieces: ToyPiece[], options: { modelType?: number; byteFallback?: boolean; normalizer?: number[] } = {}): Uint8Array {
  const out: number[] = []
  for (const piece of pieces) {
    out.push(...bytesField(1, [...stringField(1, piece.text), ...floatField(2, piece.score ?? 0), ...varintField(3, piece.type ?? 1)]))
  }
  const trainer = [...varintField(3, options.modelType ?? 2), ...varintField(35, options.byteFallback ? 1 : 0)]
  trainer.push(...varintField(43, 0xffffffff), ...stringField(99, 'an unknown field'), ...floatField(98, 1.5))
  out.push(...bytesField(2, trainer))
  out.push(...bytesField(3, options.normalizer ?? [...stringField(1, 'identity'), ...varintField(4, 0)]))
  return Uint8Array.from(out)
}
const basePieces: ToyPiece[] = [{ text: '<unk>', type: 2 }, { text: '<s>', type: 3 }, { text: '</s>', type: 3 }]

describe('SentencePieceTokenizer on the organism model', () => {
  it('reads the vocabulary and special ids', () => {
    expect(tokenizer.vocabSize).toBe(4096)
    expect([tokenizer.unkId, tokenizer.bosId, tokenizer.eosId, tokenizer.padId]).toEqual([0, 1, 2, -1])
    expect(tokenizer.piece(1)).toBe('<s>')
    expect(tokenizer.piece(13)).toBe('<0x0A>')
    expect(tokenizer.piece(343)).toBe('▁To')
    expect(tokenizer.pieceText(343)).toBe(' To')
    expect(() => tokenizer.piece(4096)).toThrow(/out of range/)
  })

  it('encodes every reference string to the reference ids', () => {
    const strings = Object.keys(reference.tokenization)
    expect(strings.length).toBeGreaterThan(0)
    for (const text of strings) expect(tokenizer.encode(text), JSON.stringify(text)).toEqual(reference.tokenization[text])
  })

  it('reproduces the prompt and phrase ids (BOS + encode)', () => {
    expect(reference.prompts.plain).toEqual([tokenizer.bosId, ...tokenizer.encode('To be')])
    expect(reference.prompts.engineered).toEqual([
      tokenizer.bosId,
      ...tokenizer.encode("Here is one of Shakespeare's more famous works: To be"),
    ])
    expect(reference.phrase_ids).toEqual([tokenizer.bosId, ...tokenizer.encode(reference.phrase)])
  })

  it('round-trips reference and tricky strings', () => {
    for (const text of [...Object.keys(reference.tokenization), ...trickyTexts]) {
      expect(tokenizer.decode(tokenizer.encode(text)), JSON.stringify(text)).toBe(text)
      expect(tokenizer.decode([tokenizer.bosId, ...tokenizer.encode(text), tokenizer.eosId])).toBe(text)
    }
    expect(tokenizer.encode('')).toEqual([])
    expect(tokenizer.decode([])).toBe('')
    // A literal "▁" in the text is indistinguishable from an escaped space, in sentencepiece too.
    expect(tokenizer.decode(tokenizer.encode('a▁b'))).toBe('a b')
  })

  it('never produces control or unknown pieces from text', () => {
    const ids = trickyTexts.flatMap((text) => tokenizer.encode(text))
    expect(ids).not.toContain(tokenizer.bosId)
    expect(ids).not.toContain(tokenizer.eosId)
    expect(ids).not.toContain(tokenizer.unkId)
  })

  it('decodes as sentencepiece does: control tokens vanish, unk shows " ⁇ ", the first dummy space is dropped', () => {
    const to = 343
    const be = 285
    expect(tokenizer.decode([1, to, be, 2])).toBe('To be')
    expect(tokenizer.decode([be, to])).toBe('be To')
    expect(tokenizer.decode([tokenizer.unkId, to])).toBe(' ⁇  To')
    // Each structurally invalid byte becomes its own U+FFFD (TextDecoder would merge E2 82 into one).
    const byteId = (byte: number): number => tokenizer.encode(String.fromCharCode(byte))[1]
    expect(byteId(0x0a)).toBe(13)
    const byte = (value: number): number => 3 + value // <0x00> is id 3 in this vocabulary
    expect(tokenizer.piece(byte(0xe2))).toBe('<0xE2>')
    expect(tokenizer.decode([byte(0xe2), byte(0x82), byte(0x41)])).toBe('\uFFFD\uFFFDA')
    expect(tokenizer.decode([byte(0xe2), byte(0x82), byte(0xac)])).toBe('€')
    expect(tokenizer.decode([byte(0xed), byte(0xa0), byte(0x80)])).toBe('\uFFFD\uFFFD\uFFFD') // a UTF-8 surrogate
    expect(() => tokenizer.decode([5000])).toThrow(/out of range/)
  })

  it('decodeTokens gives the text each token adds, bytes attached to the token that completes a character', () => {
    for (const text of [...Object.keys(reference.tokenization), ...trickyTexts]) {
      const ids = tokenizer.encode(text)
      const parts = tokenizer.decodeTokens(ids)
      expect(parts.length).toBe(ids.length)
      const joined = parts.join('')
      const decoded = tokenizer.decode(ids)
      expect(joined === decoded || joined === ` ${decoded}`, JSON.stringify(text)).toBe(true)
    }
    expect(tokenizer.decodeTokens(tokenizer.encode('To be'))).toEqual([' To', ' be'])
    const smile = tokenizer.decodeTokens(tokenizer.encode('🙂'))
    expect(smile.slice(-4)).toEqual(['', '', '', '🙂'])
    expect(tokenizer.decodeTokens([1, 343, 2])).toEqual(['', ' To', ''])
  })

  // Speed is measured by the benchmark (npm run bench), not here: a timing limit fails on a loaded machine.
  it('round-trips ~10k characters (text, emoji, accents, CJK) losslessly', () => {
    const text = readFileSync(`${organismDir}soliloquy.txt`, 'utf8').repeat(8) + ' 🙂 naïve 日本語'.repeat(40)
    expect(text.length).toBeGreaterThan(10_000)
    expect(tokenizer.decode(tokenizer.encode(text))).toBe(text)
  })
})

// Expected values below were checked against sentencepiece 0.2.2 (Python) on the same hand-made models.
describe('SentencePieceTokenizer on hand-made models', () => {
  it('matches user-defined pieces greedily, longest first, and never merges into them', () => {
    const pieces: ToyPiece[] = [
      ...basePieces,
      { text: '<tag>', type: 4 },
      { text: '<tag>x', type: 4 },
      { text: 'a', score: -1 }, { text: 'b', score: -2 }, { text: 'ab', score: -3 }, { text: '▁', score: -4 },
      { text: '▁ab', score: -5 }, { text: '<', score: -6 }, { text: 't', score: -7 },
    ]
    const toy = SentencePieceTokenizer.fromBuffer(toyModel(pieces))
    expect(toy.encode('ab<tag>xab<tag>ab')).toEqual([9, 4, 7, 3, 7])
    expect(toy.decode(toy.encode('ab<tag>xab<tag>ab'))).toBe('ab<tag>xab<tag>ab')
  })

  it('merges the best-scoring pair first, leftmost on ties', () => {
    const pieces: ToyPiece[] = [
      ...basePieces, { text: '▁', score: 0 }, { text: 'a', score: 0 }, { text: 'b', score: 0 },
      { text: 'ab', score: -1 }, { text: 'ba', score: -1 }, { text: 'bab', score: -2 },
    ]
    const toy = SentencePieceTokenizer.fromBuffer(toyModel(pieces))
    // "▁abab": ab and ba tie, the leftmost ab wins, then ab again.
    expect(toy.encode('abab').map((id) => toy.piece(id))).toEqual(['▁', 'ab', 'ab'])
    // "▁bab": ba and ab tie, the leftmost ba wins, and ba + b then forms "bab".
    expect(toy.encode('bab').map((id) => toy.piece(id))).toEqual(['▁', 'bab'])
  })

  it('splits merges that form UNUSED pieces, and folds runs of unknown characters without byte fallback', () => {
    const pieces: ToyPiece[] = [
      ...basePieces, { text: '▁', score: 0 }, { text: 'a', score: 0 }, { text: 'b', score: 0 },
      { text: 'ab', score: -1, type: 5 },
    ]
    const toy = SentencePieceTokenizer.fromBuffer(toyModel(pieces))
    expect(toy.encode('ab').map((id) => toy.piece(id))).toEqual(['▁', 'a', 'b'])
    expect(toy.encode('a🙂xyb')).toEqual([3, 4, 0, 5])
    expect(toy.decode(toy.encode('a🙂xyb'))).toBe('a ⁇ b')
  })

  it('honours remove_extra_whitespaces and add_dummy_prefix', () => {
    const pieces: ToyPiece[] = [...basePieces, { text: '▁', score: 0 }, { text: 'a', score: 0 }, { text: 'b', score: 0 }]
    const collapsing = SentencePieceTokenizer.fromBuffer(toyModel(pieces, { normalizer: [] })) // all defaults: true
    expect(collapsing.encode('  a   b  ').map((id) => collapsing.piece(id))).toEqual(['▁', 'a', '▁', 'b'])
    expect(collapsing.encode('   ')).toEqual([])
    expect(collapsing.decode(collapsing.encode('  a   b  '))).toBe('a b')
    expect(collapsing.decode([3, 3, 4])).toBe('a') // with remove_extra_whitespaces every leading space goes
    const noPrefix = SentencePieceTokenizer.fromBuffer(toyModel(pieces, { normalizer: [...varintField(3, 0), ...varintField(4, 0)] }))
    expect(noPrefix.encode('a b').map((id) => noPrefix.piece(id))).toEqual(['a', '▁', 'b'])
    expect(noPrefix.decode(noPrefix.encode(' a b'))).toBe(' a b')
  })
})

describe('SentencePieceTokenizer rejects bad files', () => {
  const good = readFileSync(modelPath)
  const expectModelError = (make: () => unknown, detail?: RegExp): void => {
    let error: unknown
    try {
      make()
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(Error)
    const message = (error as Error).message
    expect(message.startsWith('tokenizer.model:'), message).toBe(true)
    if (detail) expect(message).toMatch(detail)
  }

  it('random bytes', () => {
    let seed = 12345
    for (let trial = 0; trial < 50; trial++) {
      const noise = new Uint8Array(4096).map(() => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31
        return seed >> 16
      })
      expectModelError(() => SentencePieceTokenizer.fromBuffer(noise))
    }
  })

  it('truncated and empty files', () => {
    for (const length of [0, 1, 7, 100, 1000, good.length >> 1, good.length - 1]) {
      expectModelError(() => SentencePieceTokenizer.fromBuffer(good.subarray(0, length)))
    }
  })

  it('a missing file', () => {
    expectModelError(() => SentencePieceTokenizer.fromFile(`${organismDir}no-such-tokenizer.model`), /cannot be read/)
  })

  it('non-BPE models', () => {
    expectModelError(
      () => SentencePieceTokenizer.fromBuffer(toyModel([...basePieces, { text: 'a' }], { modelType: 1 })),
      /^tokenizer\.model: only BPE SentencePiece models are supported \(model_type UNIGRAM\)$/,
    )
  })

  it('models without an unknown piece, or with duplicate pieces', () => {
    expectModelError(() => SentencePieceTokenizer.fromBuffer(toyModel([{ text: 'a' }])), /unknown piece/)
    expectModelError(() => SentencePieceTokenizer.fromBuffer(toyModel([...basePieces, { text: 'a' }, { text: 'a' }])), /twice/)
  })
})
