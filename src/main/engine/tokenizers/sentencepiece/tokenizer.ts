// A dependency-free SentencePiece tokenizer for Llama-style BPE models.
//
// It reads `tokenizer.model` (a serialized sentencepiece ModelProto) with a small protobuf reader and reproduces
// what sentencepiece's C++ SentencePieceProcessor does for BPE models: the normalizer's whitespace handling, BPE
// merges driven by piece scores, byte fallback, and the decoder's byte assembly and dummy-prefix removal. Token ids
// must match sentencepiece exactly, because the engine feeds them to a model trained on sentencepiece's output.
import { ModelFormatError } from '../../config'
import type { Tokenizer } from '../types'
import { READ_LIMITS, readModelBytes } from '../../modelFiles'

/** sentencepiece's visible stand-in for a space ("▁", U+2581). */
const SPACE_SYMBOL = '\u2581'
/** What sentencepiece decodes an unknown token to unless the model says otherwise (TrainerSpec.unk_surface). */
const DEFAULT_UNK_SURFACE = ' \u2047 '
const REPLACEMENT_CHARACTER = '\uFFFD'

/** ModelProto.SentencePiece.Type */
const PieceType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const
type PieceType = (typeof PieceType)[keyof typeof PieceType]
const MODEL_TYPE_NAMES: Record<number, string> = { 1: 'UNIGRAM', 2: 'BPE', 3: 'WORD', 4: 'CHAR' }
const MODEL_TYPE_BPE = 2

const WireType = { VARINT: 0, FIXED64: 1, LENGTH_DELIMITED: 2, FIXED32: 5 } as const

interface ModelPiece {
  text: string
  score: number
  type: PieceType
}

/** The fields of TrainerSpec and NormalizerSpec that change how text is encoded or decoded. */
interface ModelSettings {
  modelType: number
  byteFallback: boolean
  bosId: number
  eosId: number
  padId: number
  unkSurface: string
  addDummyPrefix: boolean
  removeExtraWhitespaces: boolean
  escapeWhitespaces: boolean
  normalizerName: string
  hasPrecompiledCharsmap: boolean
}

type Fail = (problem: string) => never

// ---------------------------------------------------------------------------------------------------------------
// Protobuf wire format

class ProtoReader {
  private pos: number
  private readonly view: DataView

  constructor(
    private readonly bytes: Uint8Array,
    start: number,
    private readonly end: number,
    private readonly fail: Fail,
  ) {
    this.pos = start
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  get atEnd(): boolean {
    return this.pos >= this.end
  }

  readTag(): { field: number; wireType: number } {
    const tag = this.readVarint()
    const field = Math.floor(tag.value / 8)
    const wireType = tag.value % 8
    if (field === 0 || field > 0x1fffffff) this.fail(`corrupt protobuf (field number ${field} at byte ${this.pos})`)
    return { field, wireType }
  }

  /**
   * `value` is exact below 2^53, which covers lengths and tags; `int32` is the low 32 bits as two's complement,
   * which is how protobuf stores negative int32 values such as pad_id = -1 (as a 10-byte varint).
   */
  readVarint(): { value: number; int32: number } {
    let value = 0
    let low35Bits = 0
    let multiplier = 1
    for (let i = 0; ; i++) {
      if (i === 10) this.fail(`corrupt protobuf (varint longer than 10 bytes at byte ${this.pos})`)
      if (this.pos >= this.end) this.fail('truncated (a number runs past the end of its message)')
      const byte = this.bytes[this.pos++]
      value += (byte & 0x7f) * multiplier
      if (i < 5) low35Bits = value
      multiplier *= 128
      if (byte < 0x80) break
    }
    return { value, int32: low35Bits % 0x1_0000_0000 | 0 }
  }

  readFloat32(): number {
    this.need(4)
    const value = this.view.getFloat32(this.pos, true)
    this.pos += 4
    return value
  }

  /** The bounds of a length-delimited payload, which the caller reads with readString or a sub-reader. */
  readLengthDelimited(): { start: number; end: number } {
    const length = this.readVarint().value
    this.need(length)
    const start = this.pos
    this.pos += length
    return { start, end: this.pos }
  }

  readString(what: string): string {
    const { start, end } = this.readLengthDelimited()
    try {
      return utf8Strict.decode(this.bytes.subarray(start, end))
    } catch {
      return this.fail(`${what} is not valid UTF-8`)
    }
  }

  readMessage(): ProtoReader {
    const { start, end } = this.readLengthDelimited()
    return new ProtoReader(this.bytes, start, end, this.fail)
  }

  /** Skips a field this tokenizer has no use for, so newer sentencepiece versions' extra fields are harmless. */
  skip(wireType: number): void {
    switch (wireType) {
      case WireType.VARINT:
        this.readVarint()
        return
      case WireType.FIXED64:
        this.need(8)
        this.pos += 8
        return
      case WireType.LENGTH_DELIMITED:
        this.readLengthDelimited()
        return
      case WireType.FIXED32:
        this.need(4)
        this.pos += 4
        return
      default:
        this.fail(`corrupt protobuf (unsupported wire type ${wireType} at byte ${this.pos})`)
    }
  }

  /** Checks that a known field was written with the wire type its .proto declaration implies. */
  checkWireType(wireType: number, expected: number, fieldName: string): void {
    if (wireType !== expected) this.fail(`corrupt protobuf (${fieldName} has wire type ${wireType}, expected ${expected})`)
  }

  private need(length: number): void {
    if (length > this.end - this.pos) this.fail('truncated (a field runs past the end of its message)')
  }
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true })
const utf8Encoder = new TextEncoder()

// Field numbers below are from sentencepiece_model.proto.
function parseModelProto(bytes: Uint8Array, fail: Fail): { pieces: ModelPiece[]; settings: ModelSettings } {
  const pieces: ModelPiece[] = []
  const settings: ModelSettings = {
    modelType: 1, // TrainerSpec.model_type defaults to UNIGRAM
    byteFallback: false,
    bosId: 1,
    eosId: 2,
    padId: -1,
    unkSurface: DEFAULT_UNK_SURFACE,
    addDummyPrefix: true,
    removeExtraWhitespaces: true,
    escapeWhitespaces: true,
    normalizerName: '',
    hasPrecompiledCharsmap: false,
  }
  const model = new ProtoReader(bytes, 0, bytes.length, fail)
  while (!model.atEnd) {
    const { field, wireType } = model.readTag()
    if (field === 1) {
      model.checkWireType(wireType, WireType.LENGTH_DELIMITED, 'ModelProto.pieces')
      pieces.push(parsePiece(model.readMessage(), fail, pieces.length))
    } else if (field === 2) {
      model.checkWireType(wireType, WireType.LENGTH_DELIMITED, 'ModelProto.trainer_spec')
      parseTrainerSpec(model.readMessage(), settings)
    } else if (field === 3) {
      model.checkWireType(wireType, WireType.LENGTH_DELIMITED, 'ModelProto.normalizer_spec')
      parseNormalizerSpec(model.readMessage(), settings)
    } else {
      model.skip(wireType)
    }
  }
  return { pieces, settings }
}

function parsePiece(message: ProtoReader, fail: Fail, index: number): ModelPiece {
  const piece: ModelPiece = { text: '', score: 0, type: PieceType.NORMAL }
  while (!message.atEnd) {
    const { field, wireType } = message.readTag()
    if (field === 1) {
      message.checkWireType(wireType, WireType.LENGTH_DELIMITED, 'SentencePiece.piece')
      piece.text = message.readString(`piece ${index}`)
    } else if (field === 2) {
      message.checkWireType(wireType, WireType.FIXED32, 'SentencePiece.score')
      piece.score = message.readFloat32()
    } else if (field === 3) {
      message.checkWireType(wireType, WireType.VARINT, 'SentencePiece.type')
      const type = message.readVarint().int32
      if (type < PieceType.NORMAL || type > PieceType.BYTE) fail(`piece ${index} has unknown type ${type}`)
      piece.type = type as PieceType
    } else {
      message.skip(wireType)
    }
  }
  return piece
}

function parseTrainerSpec(message: ProtoReader, settings: ModelSettings): void {
  while (!message.atEnd) {
    const { field, wireType } = message.readTag()
    if (wireType === WireType.VARINT && [3, 35, 41, 42, 43].includes(field)) {
      const number = message.readVarint()
      if (field === 3) settings.modelType = number.int32
      else if (field === 35) settings.byteFallback = number.value !== 0
      else if (field === 41) settings.bosId = number.int32
      else if (field === 42) settings.eosId = number.int32
      else settings.padId = number.int32
    } else if (field === 44 && wireType === WireType.LENGTH_DELIMITED) {
      settings.unkSurface = message.readString('TrainerSpec.unk_surface')
    } else {
      // unk_id (40) is deliberately not read: like sentencepiece, the unknown token is the piece of type UNKNOWN.
      message.skip(wireType)
    }
  }
}

function parseNormalizerSpec(message: ProtoReader, settings: ModelSettings): void {
  while (!message.atEnd) {
    const { field, wireType } = message.readTag()
    if (field === 1 && wireType === WireType.LENGTH_DELIMITED) {
      settings.normalizerName = message.readString('NormalizerSpec.name')
    } else if (field === 2 && wireType === WireType.LENGTH_DELIMITED) {
      const { start, end } = message.readLengthDelimited()
      settings.hasPrecompiledCharsmap = end > start
    } else if (field >= 3 && field <= 5 && wireType === WireType.VARINT) {
      const enabled = message.readVarint().value !== 0
      if (field === 3) settings.addDummyPrefix = enabled
      else if (field === 4) settings.removeExtraWhitespaces = enabled
      else settings.escapeWhitespaces = enabled
    } else {
      message.skip(wireType)
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// BPE merge queue

/** A candidate merge of two adjacent symbols; it goes stale when either side changes before it is popped. */
interface MergeCandidate {
  left: number
  right: number
  score: number
  length: number // length of the merged text, used to detect that a side has changed since it was queued
}

/** Binary max-heap: highest score first, ties to the leftmost pair (sentencepiece's SymbolPairComparator). */
class MergeQueue {
  private readonly heap: MergeCandidate[] = []

  get size(): number {
    return this.heap.length
  }

  push(candidate: MergeCandidate): void {
    const heap = this.heap
    let i = heap.length
    heap.push(candidate)
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!comesFirst(heap[i], heap[parent])) break
      ;[heap[i], heap[parent]] = [heap[parent], heap[i]]
      i = parent
    }
  }

  pop(): MergeCandidate {
    const heap = this.heap
    const top = heap[0]
    const last = heap.pop() as MergeCandidate
    if (heap.length > 0) {
      heap[0] = last
      let i = 0
      for (;;) {
        const left = 2 * i + 1
        const right = left + 1
        let best = i
        if (left < heap.length && comesFirst(heap[left], heap[best])) best = left
        if (right < heap.length && comesFirst(heap[right], heap[best])) best = right
        if (best === i) break
        ;[heap[i], heap[best]] = [heap[best], heap[i]]
        i = best
      }
    }
    return top
  }
}

function comesFirst(a: MergeCandidate, b: MergeCandidate): boolean {
  return a.score > b.score || (a.score === b.score && a.left < b.left)
}

// ---------------------------------------------------------------------------------------------------------------

export class SentencePieceTokenizer implements Tokenizer {
  kind = 'tokenizer.model (SentencePiece BPE)'
  /** Llama's tokenizers put BOS first (LlamaTokenizer's add_bos_token defaults to true; tokenizer_config may say). */
  addsBos = true
  readonly vocabSize: number
  readonly bosId: number
  readonly eosId: number
  readonly unkId: number
  /** -1 when the model has no padding token (Llama's case). */
  readonly padId: number

  private readonly pieces: ModelPiece[]
  private readonly settings: ModelSettings
  /** Pieces BPE may produce (NORMAL, USER_DEFINED, UNUSED), as sentencepiece's `pieces_` map. */
  private readonly mergeableIds = new Map<string, number>()
  /** User-defined pieces by first code point, longest first, for greedy matching. */
  private readonly userDefinedByFirstChar = new Map<string, string[]>()
  private readonly byteToId = new Int32Array(256).fill(-1)
  /** The byte value of each BYTE piece, -1 for other pieces. */
  private readonly idToByte: Int16Array

  static fromFile(path: string): SentencePieceTokenizer {
    return SentencePieceTokenizer.fromBuffer(readModelBytes(path, 'tokenizer.model', READ_LIMITS['tokenizer.model'], 'cannot be read', ` (${path})`), 'tokenizer.model')
  }

  /** `label` prefixes every error message, so the user learns which file is broken. */
  static fromBuffer(bytes: Uint8Array, label = 'tokenizer.model'): SentencePieceTokenizer {
    const fail: Fail = (problem) => {
      throw new ModelFormatError(`${label}: ${problem}`)
    }
    const { pieces, settings } = parseModelProto(bytes, fail)
    return new SentencePieceTokenizer(pieces, settings, fail)
  }

  /**
   * A tokenizer from pieces that did not come from a ModelProto (a GGUF file's tokenizer.ggml.* arrays), run as
   * llama.cpp runs them: no whitespace collapsing, byte fallback when byte pieces exist.
   */
  static fromPieces(
    pieces: { text: string; score: number; type: number }[],
    options: { bosId: number; eosId: number; addDummyPrefix: boolean; label: string },
  ): SentencePieceTokenizer {
    const fail: Fail = (problem) => {
      throw new ModelFormatError(`${options.label}: ${problem}`)
    }
    const typed = pieces.map((p, id) => {
      if (!Number.isInteger(p.type) || p.type < PieceType.NORMAL || p.type > PieceType.BYTE) fail(`token ${id} has unknown type ${p.type}`)
      return { text: p.text, score: p.score, type: p.type as PieceType }
    })
    const settings: ModelSettings = {
      modelType: MODEL_TYPE_BPE,
      byteFallback: typed.some((p) => p.type === PieceType.BYTE),
      bosId: options.bosId,
      eosId: options.eosId,
      padId: -1,
      unkSurface: DEFAULT_UNK_SURFACE,
      addDummyPrefix: options.addDummyPrefix,
      removeExtraWhitespaces: false,
      escapeWhitespaces: true,
      normalizerName: 'identity',
      hasPrecompiledCharsmap: false,
    }
    const tokenizer = new SentencePieceTokenizer(typed, settings, fail)
    tokenizer.kind = options.label
    return tokenizer
  }

  private constructor(pieces: ModelPiece[], settings: ModelSettings, fail: Fail) {
    if (pieces.length === 0) fail('contains no vocabulary pieces (is it a SentencePiece model?)')
    if (settings.modelType !== MODEL_TYPE_BPE) {
      const typeName = MODEL_TYPE_NAMES[settings.modelType] ?? `type ${settings.modelType}`
      fail(`only BPE SentencePiece models are supported (model_type ${typeName})`)
    }
    // Normalization rules (NFKC and the like) are compiled into a charsmap we do not interpret; Llama uses none.
    if (settings.hasPrecompiledCharsmap)
      fail(`normalizer "${settings.normalizerName}" is not supported (only models without a precompiled charsmap, e.g. "identity")`)

    this.pieces = pieces
    this.settings = settings
    this.vocabSize = pieces.length
    this.idToByte = new Int16Array(pieces.length).fill(-1)
    let unkId = -1
    const userDefined: string[] = []
    pieces.forEach((piece, id) => {
      if (piece.text === '') fail(`piece ${id} is empty`)
      switch (piece.type) {
        case PieceType.NORMAL:
        case PieceType.USER_DEFINED:
        case PieceType.UNUSED:
          if (this.mergeableIds.has(piece.text)) fail(`piece "${piece.text}" is defined twice (ids ${this.mergeableIds.get(piece.text)} and ${id})`)
          this.mergeableIds.set(piece.text, id)
          if (piece.type === PieceType.USER_DEFINED) userDefined.push(piece.text)
          break
        case PieceType.UNKNOWN:
          if (unkId >= 0) fail(`two unknown pieces (ids ${unkId} and ${id})`)
          unkId = id
          break
        case PieceType.BYTE: {
          const match = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece.text)
          if (!match) fail(`byte piece ${id} is "${piece.text}", expected <0xXX>`)
          const byte = parseInt(match[1], 16)
          this.idToByte[id] = byte
          if (this.byteToId[byte] < 0) this.byteToId[byte] = id
          break
        }
        case PieceType.CONTROL:
          break
      }
    })
    if (unkId < 0) fail('has no unknown piece (<unk>)')
    this.unkId = unkId
    const idOrNone = (id: number): number => (id >= 0 && id < pieces.length ? id : -1)
    this.bosId = idOrNone(settings.bosId)
    this.eosId = idOrNone(settings.eosId)
    this.padId = idOrNone(settings.padId)

    userDefined.sort((a, b) => b.length - a.length)
    for (const text of userDefined) {
      const first = String.fromCodePoint(text.codePointAt(0) as number)
      const bucket = this.userDefinedByFirstChar.get(first)
      if (bucket) bucket.push(text)
      else this.userDefinedByFirstChar.set(first, [text])
    }
  }

  /** The raw piece of a token, e.g. "▁To", "<0x0A>", "<s>". */
  piece(id: number): string {
    return this.pieces[this.checkId(id)].text
  }

  /** The piece's text, score and SentencePiece type (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte). */
  pieceInfo(id: number): { text: string; score: number; type: number } {
    const p = this.pieces[this.checkId(id)]
    return { text: p.text, score: p.score, type: p.type }
  }

  /**
   * This tokenizer as a SentencePiece ModelProto (tokenizer.model), e.g. for the HF directory of a model whose
   * vocabulary came from a GGUF file: pieces (text, score, type), TrainerSpec (model_type, byte_fallback, unk/bos/eos/
   * pad ids, unk_surface) and NormalizerSpec (name, add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces),
   * every encoding setting written explicitly so sentencepiece's defaults never fill one in. A model whose normaliser
   * needs a precompiled charsmap (nmt_nfkc) is refused: the map is not kept after parsing.
   */
  toModelProto(): Uint8Array {
    const st = this.settings
    if (st.hasPrecompiledCharsmap) throw new ModelFormatError(`${this.kind}: its normaliser's charsmap was not kept, so no tokenizer.model can be written`)
    const bytes: number[] = []
    const varint = (v: number | bigint, out: number[]): void => {
      let x = BigInt.asUintN(64, BigInt(v)) // negative int32s as 10-byte two's complement, as protobuf does
      do {
        let b = Number(x & 0x7fn)
        x >>= 7n
        if (x !== 0n) b |= 0x80
        out.push(b)
      } while (x !== 0n)
    }
    const tag = (field: number, wire: number, out: number[]): void => varint((field << 3) | wire, out)
    const str = (field: number, text: string, out: number[]): void => {
      const b = Buffer.from(text, 'utf8')
      tag(field, 2, out)
      varint(b.length, out)
      for (const x of b) out.push(x)
    }
    const int = (field: number, v: number | boolean, out: number[]): void => {
      tag(field, 0, out)
      varint(typeof v === 'boolean' ? (v ? 1 : 0) : v, out)
    }
    const message = (field: number, body: number[]): void => {
      tag(field, 2, bytes)
      varint(body.length, bytes)
      for (const x of body) bytes.push(x)
    }
    const f32 = Buffer.alloc(4)
    for (const p of this.pieces) {
      const m: number[] = []
      str(1, p.text, m)
      f32.writeFloatLE(p.score)
      tag(2, 5, m)
      for (const x of f32) m.push(x)
      int(3, p.type, m)
      message(1, m)
    }
    const trainer: number[] = []
    int(3, st.modelType, trainer)
    int(35, st.byteFallback, trainer)
    int(40, Math.max(0, this.unkId), trainer)
    int(41, st.bosId, trainer)
    int(42, st.eosId, trainer)
    int(43, st.padId, trainer)
    str(44, st.unkSurface, trainer)
    message(2, trainer)
    const normalizer: number[] = []
    str(1, st.normalizerName, normalizer)
    int(3, st.addDummyPrefix, normalizer)
    int(4, st.removeExtraWhitespaces, normalizer)
    int(5, st.escapeWhitespaces, normalizer)
    message(3, normalizer)
    return Uint8Array.from(bytes)
  }

  /** One token's text for display: "▁" shown as a space; byte, control and unknown pieces shown as they are. */
  pieceText(id: number): string {
    return this.piece(id).replaceAll(SPACE_SYMBOL, ' ')
  }

  /** Text → token ids, without BOS. */
  encode(text: string): number[] {
    const normalized = this.normalize(text)
    if (normalized === '') return []
    const { symbols, next, frozen } = this.splitIntoSymbols(normalized)
    const unusedSplits = this.mergePairs(symbols, next, frozen)

    const ids: number[] = []
    let previousWasUnknown = false
    const emit = (symbol: string): void => {
      const id = this.mergeableIds.get(symbol)
      if (id === undefined) {
        if (this.settings.byteFallback) {
          for (const byte of utf8Encoder.encode(symbol)) ids.push(this.byteToId[byte] >= 0 ? this.byteToId[byte] : this.unkId)
        } else if (!previousWasUnknown) {
          ids.push(this.unkId) // sentencepiece folds a run of unknown symbols into one <unk>
        }
        previousWasUnknown = !this.settings.byteFallback
        return
      }
      // An UNUSED piece may still be formed by a merge; sentencepiece then undoes that merge recursively.
      const split = this.pieces[id].type === PieceType.UNUSED ? unusedSplits.get(symbol) : undefined
      if (split) {
        emit(split[0])
        emit(split[1])
        return
      }
      ids.push(id)
      previousWasUnknown = false
    }
    for (let i = 0; i !== -1; i = next[i]) emit(symbols[i])
    return ids
  }

  /** Token ids → text, as sentencepiece's DecodeIds (the dummy-prefix space of the first word is dropped). */
  decode(ids: ArrayLike<number>): string {
    return this.surfaces(ids, true).join('')
  }

  /**
   * The text each token adds, for showing a stream of tokens: a byte piece that does not complete a UTF-8 character
   * adds "", the one that completes it adds the whole character. Unlike decode, the first token keeps its leading
   * space, so tokens generated after a prompt read correctly; the concatenation is decode(ids), possibly preceded by
   * that one space.
   */
  decodeTokens(ids: ArrayLike<number>): string[] {
    return this.surfaces(ids, false)
  }

  // ----- encoding -----

  /** sentencepiece's Normalizer::Normalize for a model without a charsmap (Llama's "identity" normalizer). */
  private normalize(text: string): string {
    const { addDummyPrefix, removeExtraWhitespaces, escapeWhitespaces } = this.settings
    const input = replaceLoneSurrogates(text)
    const space = escapeWhitespaces ? SPACE_SYMBOL : ' '
    let pos = 0
    if (removeExtraWhitespaces) while (input.startsWith(' ', pos)) pos++
    if (pos === input.length) return ''

    let normalized = addDummyPrefix ? space : ''
    let previousEndsWithSpace = removeExtraWhitespaces
    while (pos < input.length) {
      const unitLength = this.userDefinedMatch(input, pos)?.length ?? codePointLength(input, pos)
      let unit = input.slice(pos, pos + unitLength)
      pos += unitLength
      if (previousEndsWithSpace) unit = unit.replace(/^ +/, '')
      if (unit !== '') {
        normalized += escapeWhitespaces ? unit.replaceAll(' ', SPACE_SYMBOL) : unit
        previousEndsWithSpace = unit.endsWith(' ')
      }
      if (!removeExtraWhitespaces) previousEndsWithSpace = false
    }
    if (removeExtraWhitespaces) while (normalized.endsWith(space)) normalized = normalized.slice(0, -space.length)
    return normalized
  }

  private userDefinedMatch(text: string, pos: number): string | undefined {
    if (this.userDefinedByFirstChar.size === 0) return undefined
    const candidates = this.userDefinedByFirstChar.get(String.fromCodePoint(text.codePointAt(pos) as number))
    return candidates?.find((candidate) => text.startsWith(candidate, pos))
  }

  /** Initial BPE symbols: user-defined pieces (never merged further) and single code points, as a linked list. */
  private splitIntoSymbols(normalized: string): { symbols: string[]; next: Int32Array; frozen: Uint8Array } {
    const symbols: string[] = []
    const frozenFlags: number[] = []
    for (let pos = 0; pos < normalized.length; ) {
      const userDefined = this.userDefinedMatch(normalized, pos)
      const length = userDefined?.length ?? codePointLength(normalized, pos)
      symbols.push(normalized.slice(pos, pos + length))
      frozenFlags.push(userDefined === undefined ? 0 : 1)
      pos += length
    }
    const next = new Int32Array(symbols.length)
    for (let i = 0; i < symbols.length; i++) next[i] = i + 1 < symbols.length ? i + 1 : -1
    return { symbols, next, frozen: Uint8Array.from(frozenFlags) }
  }

  /**
   * sentencepiece's bpe_model.cc Encode: repeatedly merge the adjacent pair whose concatenation is the best-scoring
   * piece, using a heap with stale entries skipped, so long texts stay O(n log n). Merged-away symbols become "".
   * Returns how each UNUSED piece that was formed by a merge was built, so it can be split again.
   */
  private mergePairs(symbols: string[], next: Int32Array, frozen: Uint8Array): Map<string, [string, string]> {
    const previous = new Int32Array(symbols.length)
    for (let i = 0; i < symbols.length; i++) previous[i] = i - 1
    const queue = new MergeQueue()
    const unusedSplits = new Map<string, [string, string]>()
    const considerPair = (left: number, right: number): void => {
      if (left < 0 || right < 0 || frozen[left] || frozen[right]) return
      const merged = symbols[left] + symbols[right]
      const id = this.mergeableIds.get(merged)
      if (id === undefined) return
      queue.push({ left, right, score: this.pieces[id].score, length: merged.length })
      if (this.pieces[id].type === PieceType.UNUSED) unusedSplits.set(merged, [symbols[left], symbols[right]])
    }
    for (let i = 1; i < symbols.length; i++) considerPair(i - 1, i)

    while (queue.size > 0) {
      const { left, right, length } = queue.pop()
      const stale = symbols[left] === '' || symbols[right] === '' || next[left] !== right ||
        symbols[left].length + symbols[right].length !== length
      if (stale) continue
      symbols[left] += symbols[right]
      symbols[right] = ''
      next[left] = next[right]
      if (next[right] >= 0) previous[next[right]] = left
      considerPair(previous[left], left)
      considerPair(left, next[left])
    }
    return unusedSplits
  }

  // ----- decoding -----

  /**
   * sentencepiece's Decode, token by token. `dropFirstSpace` removes the dummy-prefix space from the first piece
   * that starts with "▁" when nothing visible precedes it (only control tokens may), as sentencepiece does.
   */
  private surfaces(ids: ArrayLike<number>, dropFirstSpace: boolean): string[] {
    const { addDummyPrefix, removeExtraWhitespaces } = this.settings
    const surfaces = new Array<string>(ids.length).fill('')
    let textSoFarIsEmpty = true
    let mayDropSpace = dropFirstSpace && (addDummyPrefix || removeExtraWhitespaces)
    let droppedSpace = false
    let byteRunStart = 0

    // Consecutive byte pieces are assembled into UTF-8; each character's text goes to its last byte's token.
    const flushBytes = (end: number): void => {
      const bytes: number[] = []
      for (let i = byteRunStart; i < end; i++) bytes.push(this.idToByte[ids[i]])
      let offset = 0
      while (offset < bytes.length) {
        const { codePoint, length } = decodeUtf8Char(bytes, offset)
        const surface = codePoint < 0 ? REPLACEMENT_CHARACTER : String.fromCodePoint(codePoint)
        surfaces[byteRunStart + offset + length - 1] = surface
        offset += length
        textSoFarIsEmpty = false
      }
    }

    for (let i = 0; i < ids.length; i++) {
      const id = this.checkId(ids[i])
      const piece = this.pieces[id]
      if (piece.type === PieceType.BYTE) continue
      flushBytes(i)
      byteRunStart = i + 1
      if (droppedSpace || !textSoFarIsEmpty) mayDropSpace = false
      droppedSpace = false
      let surface: string
      if (piece.type === PieceType.CONTROL) {
        surface = ''
      } else if (piece.type === PieceType.UNKNOWN) {
        surface = this.settings.unkSurface
      } else {
        let text = piece.text
        if (mayDropSpace && text.startsWith(SPACE_SYMBOL)) {
          text = text.slice(SPACE_SYMBOL.length)
          // With remove_extra_whitespaces every leading space is dropped, so the next piece may drop one too.
          droppedSpace = !removeExtraWhitespaces
        }
        surface = text.replaceAll(SPACE_SYMBOL, ' ')
      }
      surfaces[i] = surface
      if (surface !== '') textSoFarIsEmpty = false
    }
    flushBytes(ids.length)
    return surfaces
  }

  private checkId(id: number): number {
    if (!Number.isInteger(id) || id < 0 || id >= this.pieces.length)
      throw new RangeError(`token id ${id} is out of range (the vocabulary has ${this.pieces.length} pieces)`)
    return id
  }
}

function codePointLength(text: string, pos: number): number {
  return (text.codePointAt(pos) as number) > 0xffff ? 2 : 1
}

/** sentencepiece works on UTF-8, where an unpaired surrogate cannot exist; it would see U+FFFD instead. */
function replaceLoneSurrogates(text: string): string {
  return text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, REPLACEMENT_CHARACTER)
}

/**
 * One character of UTF-8 by sentencepiece's rules (string_util::DecodeUTF8): a malformed, overlong, surrogate or
 * truncated sequence consumes a single byte and yields codePoint -1, so every bad byte becomes its own U+FFFD.
 * (TextDecoder would merge some of them, which would change the decoded text.)
 */
function decodeUtf8Char(bytes: number[], offset: number): { codePoint: number; length: number } {
  const lead = bytes[offset]
  const available = bytes.length - offset
  const isTrail = (k: number): boolean => (bytes[offset + k] & 0xc0) === 0x80
  const isValid = (cp: number): boolean => cp < 0xd800 || (cp >= 0xe000 && cp <= 0x10ffff)
  if (lead < 0x80) return { codePoint: lead, length: 1 }
  if (available >= 2 && (lead & 0xe0) === 0xc0 && isTrail(1)) {
    const cp = ((lead & 0x1f) << 6) | (bytes[offset + 1] & 0x3f)
    if (cp >= 0x80) return { codePoint: cp, length: 2 }
  } else if (available >= 3 && (lead & 0xf0) === 0xe0 && isTrail(1) && isTrail(2)) {
    const cp = ((lead & 0x0f) << 12) | ((bytes[offset + 1] & 0x3f) << 6) | (bytes[offset + 2] & 0x3f)
    if (cp >= 0x800 && isValid(cp)) return { codePoint: cp, length: 3 }
  } else if (available >= 4 && (lead & 0xf8) === 0xf0 && isTrail(1) && isTrail(2) && isTrail(3)) {
    const cp = ((lead & 0x07) << 18) | ((bytes[offset + 1] & 0x3f) << 12) | ((bytes[offset + 2] & 0x3f) << 6) |
      (bytes[offset + 3] & 0x3f)
    if (cp >= 0x10000 && isValid(cp)) return { codePoint: cp, length: 4 }
  }
  return { codePoint: -1, length: 1 }
}
