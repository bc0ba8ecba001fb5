// tokenizer.json "added_tokens": found in the input before anything else runs, as HF tokenizers' AddedVocabulary
// does by default: leftmost-longest matches, single_word requiring no word character on either side, lstrip/rstrip
// absorbing neighbouring whitespace. Tokens with normalized=false are matched in the raw text; those with
// normalized=true in each stretch after the normalizer has run.

export interface AddedToken {
  id: number
  content: string
  singleWord: boolean
  lstrip: boolean
  rstrip: boolean
  normalized: boolean
  special: boolean
}

/** A stretch of text, or an added token that was matched (with the whitespace it absorbed). */
export type Segment = { text: string; start: number } | { id: number }

const WORD_CHAR = /[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]/u // Rust regex's Unicode \w
const WHITE_SPACE = /\p{White_Space}/u

export class AddedTokenMatcher {
  /** Tokens by first UTF-16 unit, longest first, so the first that matches at a position is the longest. */
  private readonly byFirstUnit = new Map<string, AddedToken[]>()

  constructor(tokens: AddedToken[]) {
    for (const token of tokens) {
      if (token.content === '') continue
      const bucket = this.byFirstUnit.get(token.content[0])
      if (bucket) bucket.push(token)
      else this.byFirstUnit.set(token.content[0], [token])
    }
    for (const bucket of this.byFirstUnit.values()) bucket.sort((a, b) => b.content.length - a.content.length)
  }

  get isEmpty(): boolean {
    return this.byFirstUnit.size === 0
  }

  /** AddedVocabulary::find_matches on one stretch of text; `offset` is where the stretch starts in its parent. */
  split(text: string, offset = 0): Segment[] {
    if (this.isEmpty) return text === '' ? [] : [{ text, start: offset }]
    const segments: Segment[] = []
    let emittedTo = 0
    for (let pos = 0; pos < text.length; ) {
      const token = this.byFirstUnit.get(text[pos])?.find((t) => text.startsWith(t.content, pos))
      if (!token) {
        pos++
        continue
      }
      let start = pos
      let stop = pos + token.content.length
      if (token.singleWord) {
        const before = start === 0 ? '' : lastChar(text.slice(0, start))
        const after = stop === text.length ? '' : String.fromCodePoint(text.codePointAt(stop) as number)
        if (WORD_CHAR.test(before) || WORD_CHAR.test(after)) {
          // The automaton moves past this match; no other token may start inside it.
          pos = stop
          continue
        }
      }
      if (token.lstrip) {
        let s = start
        while (s > emittedTo && WHITE_SPACE.test(text[s - 1])) s--
        start = s
      }
      if (token.rstrip) while (stop < text.length && WHITE_SPACE.test(text[stop])) stop++
      if (emittedTo < start) segments.push({ text: text.slice(emittedTo, start), start: offset + emittedTo })
      segments.push({ id: token.id })
      emittedTo = stop
      pos = stop
    }
    if (emittedTo < text.length) segments.push({ text: text.slice(emittedTo), start: offset + emittedTo })
    return segments
  }
}

function lastChar(text: string): string {
  const chars = [...text.slice(-2)]
  return chars[chars.length - 1] ?? ''
}
