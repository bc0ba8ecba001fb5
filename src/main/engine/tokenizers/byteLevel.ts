// GPT-2's byte-level alphabet: every byte is shown as a printable character so that byte strings can live in a
// JSON vocabulary. Bytes that are printable Latin-1 stand for themselves; the others are mapped, in order, to
// U+0100 and up (space → "Ġ", newline → "Ċ"). Same table as HF tokenizers' bytes_char and tiktoken's converters.

export const BYTE_TO_CHAR: string[] = (() => {
  const table = new Array<string>(256)
  let next = 256
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff)
    table[b] = String.fromCodePoint(printable ? b : next++)
  }
  return table
})()

export const CHAR_TO_BYTE: Map<string, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]))

const utf8 = new TextEncoder()

/** UTF-8 bytes of text, each shown as its byte-level character. */
export function toByteLevel(text: string): string {
  let out = ''
  for (const b of utf8.encode(text)) out += BYTE_TO_CHAR[b]
  return out
}

export function bytesToByteLevel(bytes: Uint8Array): string {
  let out = ''
  for (const b of bytes) out += BYTE_TO_CHAR[b]
  return out
}

/** GPT-2's pre-tokenizer pattern, used by ByteLevel with use_regex (in Oniguruma syntax). */
export const GPT2_SPLIT_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

/** Llama-3's pre-tokenizer pattern, from Meta's tokenizer.py and the tokenizer.json Meta published. */
export const LLAMA3_SPLIT_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
