// A SentencePiece-style tokenizer whose control tokens are also recognised in the text, as llama.cpp tokenizes a
// prompt (parse_special) and as HF tokenizers does with special added tokens: the text is cut at those tokens and
// each stretch between them is encoded on its own (so each gets the dummy-prefix space).
import { AddedToken, AddedTokenMatcher } from './addedTokens'
import { Tokenizer } from './types'

export class WithSpecialTokens implements Tokenizer {
  private readonly matcher: AddedTokenMatcher

  constructor(
    /** the tokenizer the text between special tokens goes to (a GGUF export writes its vocabulary) */
    readonly inner: Tokenizer,
    specials: { id: number; content: string }[],
    readonly addsBos: boolean = inner.addsBos,
  ) {
    const tokens: AddedToken[] = specials.map((s) => ({
      ...s, singleWord: false, lstrip: false, rstrip: false, normalized: false, special: true,
    }))
    this.matcher = new AddedTokenMatcher(tokens)
  }

  get kind(): string { return this.inner.kind }
  get vocabSize(): number { return this.inner.vocabSize }
  get unkId(): number { return this.inner.unkId }
  get bosId(): number { return this.inner.bosId }
  get eosId(): number { return this.inner.eosId }

  encode(text: string): number[] {
    const ids: number[] = []
    for (const segment of this.matcher.split(text)) {
      if ('id' in segment) ids.push(segment.id)
      else ids.push(...this.inner.encode(segment.text))
    }
    return ids
  }

  decode(ids: ArrayLike<number>): string {
    return this.inner.decode(ids)
  }

  decodeTokens(ids: ArrayLike<number>): string[] {
    return this.inner.decodeTokens(ids)
  }

  piece(id: number): string {
    return this.inner.piece(id)
  }
}
