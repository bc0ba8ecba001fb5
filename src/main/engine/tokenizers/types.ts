// What the engine needs from a tokenizer, whatever file it came from (tokenizer.model as SentencePiece or tiktoken,
// tokenizer.json, or a GGUF file's embedded vocabulary).

export interface Tokenizer {
  /** Where the vocabulary came from, for the Models view and error messages ("tokenizer.json (BPE)", …). */
  readonly kind: string
  /** Number of ids the tokenizer can produce or decode (vocabulary plus added tokens). */
  readonly vocabSize: number
  /** -1 when the vocabulary has no unknown token (byte-level BPE never needs one). */
  readonly unkId: number
  /** -1 when unknown. */
  readonly bosId: number
  /** -1 when unknown. */
  readonly eosId: number
  /** Whether the reference implementation puts BOS in front of an encoded text (add_special_tokens / add_bos). */
  readonly addsBos: boolean
  /** Text → ids, without BOS or EOS. */
  encode(text: string): number[]
  /** Ids → text, as the reference implementation decodes them (special tokens kept). */
  decode(ids: ArrayLike<number>): string
  /**
   * The text each token adds, for tables that show one token per row; a token that ends in the middle of a UTF-8
   * character adds "" and the token that completes it adds the whole character.
   */
  decodeTokens(ids: ArrayLike<number>): string[]
  /** The raw vocabulary entry of a token ("▁To", "Ġworld", "<0x0A>", "<|begin_of_text|>"). */
  piece(id: number): string
}

/** Checks an id before it indexes a vocabulary, with the message the engine shows. */
export function checkTokenId(id: number, vocabSize: number): number {
  if (!Number.isInteger(id) || id < 0 || id >= vocabSize)
    throw new RangeError(`token id ${id} is out of range (the vocabulary has ${vocabSize} tokens)`)
  return id
}

/**
 * Per-token display text from a decode function: the part of decode(ids[0..i]) that token i adds. A trailing U+FFFD
 * (an incomplete UTF-8 character) is held back until the token that completes it, unless no token follows.
 */
export function decodeTokensByPrefix(ids: ArrayLike<number>, decode: (ids: number[]) => string): string[] {
  const all = Array.from(ids)
  const surfaces: string[] = []
  let committed = ''
  for (let i = 0; i < all.length; i++) {
    let text = decode(all.slice(0, i + 1))
    if (i + 1 < all.length) text = text.replace(/\uFFFD+$/, '')
    if (text.startsWith(committed)) {
      surfaces.push(text.slice(committed.length))
      committed = text
    } else {
      // A decoder changed earlier text (e.g. a stripped leading space): show this token's own decoding.
      surfaces.push(decode([all[i]]))
      committed = text
    }
  }
  return surfaces
}
