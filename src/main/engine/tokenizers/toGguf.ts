// A tokenizer as GGUF metadata (tokenizer.ggml.*), the way llama.cpp's converter writes it, so an exported GGUF
// file tokenizes as the model's own tokenizer does: SentencePiece-style vocabularies as model "llama" (tokens,
// scores, token types), byte-level BPE as model "gpt2" (tokens, merges, and the pre-tokenizer's name).
// tokenizerFromGguf reads this back; the tests check that round trip against the oracle.
import { ModelFormatError } from '../config'
import { SentencePieceTokenizer } from './sentencepiece/tokenizer'
import { GgufTokenType } from './gguf'
import { ggufPreName } from './ggufPre'
import { TokenizerJson } from './tokenizerJson'
import { Tokenizer } from './types'
import { WithSpecialTokens } from './withSpecialTokens'

export type GgufTokenizerEntry =
  | [string, 'str', string]
  | [string, 'u32', number]
  | [string, 'bool', boolean]
  | [string, 'strs', string[]]
  | [string, 'f32s' | 'i32s', number[]]

type Json = Record<string, unknown>

/** `vocabSize` is the model's (config vocab_size); ids past the tokenizer's are written as unused [PADn] tokens. */
export function tokenizerGgufMetadata(tok: Tokenizer, vocabSize: number): GgufTokenizerEntry[] {
  const refuse = (why: string): never => {
    throw new ModelFormatError(`GGUF export: ${tok.kind} cannot be written as a GGUF vocabulary (${why})`)
  }
  if (vocabSize < tok.vocabSize) refuse(`it has ${tok.vocabSize} tokens, the model only ${vocabSize}`)
  const pad = (i: number): string => `[PAD${i}]`
  const common = (model: string): GgufTokenizerEntry[] => {
    const entries: GgufTokenizerEntry[] = [['tokenizer.ggml.model', 'str', model]]
    if (tok.bosId >= 0) entries.push(['tokenizer.ggml.bos_token_id', 'u32', tok.bosId])
    if (tok.eosId >= 0) entries.push(['tokenizer.ggml.eos_token_id', 'u32', tok.eosId])
    if (tok.unkId >= 0) entries.push(['tokenizer.ggml.unknown_token_id', 'u32', tok.unkId])
    entries.push(['tokenizer.ggml.add_bos_token', 'bool', tok.addsBos], ['tokenizer.ggml.add_eos_token', 'bool', false])
    return entries
  }

  // a GGUF "llama" vocabulary read back (control tokens matched in text around a SentencePiece tokenizer)
  const spm = tok instanceof WithSpecialTokens ? tok.inner : tok
  if (spm instanceof SentencePieceTokenizer) {
    const info = (i: number): { text: string; score: number; type: number } =>
      i < spm.vocabSize ? spm.pieceInfo(i) : { text: pad(i), score: -1e9, type: GgufTokenType.UNUSED }
    const all = Array.from({ length: vocabSize }, (_, i) => info(i))
    return [
      ...common('llama'),
      ['tokenizer.ggml.tokens', 'strs', all.map((p) => p.text)],
      ['tokenizer.ggml.scores', 'f32s', all.map((p) => p.score)],
      ['tokenizer.ggml.token_type', 'i32s', all.map((p) => p.type)],
    ]
  }
  if (!(tok instanceof TokenizerJson)) return refuse('unknown tokenizer kind')
  if (tok.hasExternalRanks) refuse('a tiktoken file has no merge list; llama.cpp needs one')
  const json = tok.source
  const model = json.model as Json
  const added = new Map(((json.added_tokens ?? []) as Json[]).map((t) => [t.id as number, t]))
  const tokens = Array.from({ length: vocabSize }, (_, i) => (i < tok.vocabSize ? tok.piece(i) : pad(i)))
  const typeOf = (i: number, isByte: (t: string) => boolean): number => {
    if (i >= tok.vocabSize) return GgufTokenType.UNUSED
    if (i === tok.unkId) return GgufTokenType.UNKNOWN
    const a = added.get(i)
    if (a) return a.special === true ? GgufTokenType.CONTROL : GgufTokenType.USER_DEFINED
    return isByte(tokens[i]) ? GgufTokenType.BYTE : GgufTokenType.NORMAL
  }
  const merges = ((model.merges ?? []) as (string | [string, string])[]).map((m) => (typeof m === 'string' ? m : m.join(' ')))

  const spaces = model.byte_fallback === true ? sentencePieceSpaces(json) : undefined
  if (spaces !== undefined) {
    // SentencePiece scores order merges; HF's converter wrote merges in that order, so ranks give them back.
    const firstRank = new Map<string, number>()
    merges.forEach((m, rank) => {
      const merged = m.replace(' ', '')
      if (!firstRank.has(merged)) firstRank.set(merged, rank)
    })
    const scores = tokens.map((t, i) => (i >= tok.vocabSize ? -1e9 : [...t].length === 1 ? 0 : -(firstRank.get(t) ?? 1e9)))
    return [
      ...common('llama'),
      ['tokenizer.ggml.tokens', 'strs', tokens],
      ['tokenizer.ggml.scores', 'f32s', scores],
      ['tokenizer.ggml.token_type', 'i32s', tokens.map((_, i) => typeOf(i, (t) => /^<0x[0-9A-F]{2}>$/.test(t)))],
      ['tokenizer.ggml.add_space_prefix', 'bool', spaces === 'prefixed'],
    ]
  }
  const pre = ggufPreName(json.pre_tokenizer, model.ignore_merges === true)
  if (pre === undefined) return refuse('its normalizer/pre-tokenizer has no llama.cpp equivalent')
  return [
    ...common('gpt2'),
    ['tokenizer.ggml.pre', 'str', pre],
    ['tokenizer.ggml.tokens', 'strs', tokens],
    ['tokenizer.ggml.token_type', 'i32s', tokens.map((_, i) => typeOf(i, () => false))],
    ['tokenizer.ggml.merges', 'strs', merges],
  ]
}

/**
 * How a SentencePiece-style tokenizer.json (byte fallback, "▁" for spaces) treats spaces, if it is one llama.cpp's
 * "llama" vocabulary reproduces: "prefixed" for Llama-2/Mistral (a Prepend "▁" + Replace " " → "▁" normalizer, or an
 * unsplit Metaspace that always prepends), "as-is" for Gemma (a Replace " " → "▁" normalizer alone, the pre-tokenizer
 * absent or a Split on " ", which finds nothing once spaces are "▁"; llama.cpp's add_space_prefix false).
 */
function sentencePieceSpaces(json: Json): 'prefixed' | 'as-is' | undefined {
  const steps = (value: unknown, key: string): Json[] => {
    const o = value as Json | null
    if (!o) return []
    return o.type === 'Sequence' ? ((o[key] as Json[]) ?? []) : [o]
  }
  const normalizers = steps(json.normalizer, 'normalizers')
  const pres = steps(json.pre_tokenizer, 'pretokenizers')
  const prepends = normalizers.some((n) => n.type === 'Prepend' && n.prepend === '▁')
  const replace = (n: Json): boolean => n.type === 'Replace' && (n.pattern as Json)?.String === ' ' && n.content === '▁'
  if (prepends && normalizers.some(replace) && pres.length === 0) return 'prefixed'
  const splitOnSpace = (p: Json): boolean => p.type === 'Split' && (p.pattern as Json)?.String === ' '
  if (normalizers.length === 1 && replace(normalizers[0]) && pres.every(splitOnSpace)) return 'as-is'
  // llama.cpp prefixes a space after every special token, which is Metaspace's "always", not "first".
  const scheme = (m: Json): unknown => m.prepend_scheme ?? (m.add_prefix_space === false ? 'never' : 'always')
  const metaspace = pres.length === 1 && pres[0].type === 'Metaspace' && scheme(pres[0]) === 'always' && pres[0].split === false
  return normalizers.length === 0 && metaspace ? 'prefixed' : undefined
}
