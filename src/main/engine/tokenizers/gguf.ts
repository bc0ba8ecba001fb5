// The tokenizer embedded in a GGUF file's metadata, as llama.cpp writes and reads it (tokenizer.ggml.*):
//  - model "llama": SentencePiece-style BPE over tokens + scores + token_type, byte tokens "<0xNN>";
//  - model "gpt2": byte-level BPE over tokens + merges, with tokenizer.ggml.pre naming the split regex.
// Control tokens are recognised in text (llama.cpp's parse_special, HF's special added tokens).
import { ModelFormatError } from '../config'
import { SentencePieceTokenizer } from './sentencepiece/tokenizer'
import { ggufPreByName, SUPPORTED_GGUF_PRE } from './ggufPre'
import { TokenizerJson } from './tokenizerJson'
import { Tokenizer } from './types'
import { WithSpecialTokens } from './withSpecialTokens'

/** llama.cpp's llama_token_type. */
export const GgufTokenType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const

/**
 * `kv` is the GGUF metadata as plain values: strings, numbers or bigints (64-bit integers), booleans, and arrays of
 * them. `label` names the file in errors.
 */
export function tokenizerFromGguf(kv: Record<string, unknown>, label = 'GGUF'): Tokenizer {
  const fail = (problem: string): never => {
    throw new ModelFormatError(`${label}: ${problem}`)
  }
  const key = (name: string): string => `tokenizer.ggml.${name}`
  // A parser may hand numeric arrays over as typed arrays; they read like lists.
  const list = (v: unknown): unknown => (ArrayBuffer.isView(v) && !(v instanceof DataView) ? Array.from(v as unknown as ArrayLike<number>) : v)
  const strings = (name: string): string[] => {
    const v = kv[key(name)]
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) return fail(`${key(name)} is missing or not a list of strings`)
    return v as string[]
  }
  const numbers = (name: string, length: number): number[] | undefined => {
    const v = list(kv[key(name)])
    if (v === undefined) return undefined
    if (!Array.isArray(v) || v.length !== length) return fail(`${key(name)} is not a list of ${length} numbers`)
    return v.map((x, i) => (typeof x === 'number' ? x : typeof x === 'bigint' ? Number(x) : fail(`${key(name)}[${i}] is not a number`)))
  }
  const id = (name: string, vocabSize: number): number => {
    const v = kv[key(name)]
    if (v === undefined) return -1
    const n = typeof v === 'bigint' ? Number(v) : v
    if (typeof n !== 'number' || !Number.isInteger(n)) return fail(`${key(name)} is not an integer`)
    // llama.cpp writes -1 (or a huge unsigned value) for "none"
    return n >= 0 && n < vocabSize ? n : -1
  }
  const flag = (name: string): boolean | undefined => {
    const v = kv[key(name)]
    if (v === undefined) return undefined
    if (typeof v !== 'boolean') return fail(`${key(name)} is not true or false`)
    return v
  }

  const model = kv[key('model')]
  if (typeof model !== 'string') return fail(`${key('model')} is missing`)
  const tokens = strings('tokens')
  const n = tokens.length
  const types = numbers('token_type', n) ?? new Array<number>(n).fill(GgufTokenType.NORMAL)
  const bosId = id('bos_token_id', n)
  const eosId = id('eos_token_id', n)
  const specials = tokens
    .map((content, i) => ({ id: i, content, type: types[i] }))
    .filter((t) => t.type === GgufTokenType.CONTROL || t.type === GgufTokenType.UNKNOWN || t.type === GgufTokenType.USER_DEFINED)

  if (model === 'llama') {
    const scores = numbers('scores', n) ?? fail(`${key('scores')} is missing (model "llama" needs token scores)`)
    const spm = SentencePieceTokenizer.fromPieces(
      tokens.map((text, i) => ({ text, score: scores[i], type: types[i] })),
      { bosId, eosId, addDummyPrefix: flag('add_space_prefix') ?? true, label: `${label} (tokenizer.ggml.model llama)` },
    )
    // User-defined pieces are already matched inside the SentencePiece tokenizer, as sentencepiece does.
    const controls = specials.filter((t) => t.type !== GgufTokenType.USER_DEFINED)
    return new WithSpecialTokens(spm, controls, flag('add_bos_token') ?? true)
  }
  if (model === 'gpt2') {
    const pre = kv[key('pre')] ?? 'default'
    if (typeof pre !== 'string') return fail(`${key('pre')} is not a string`)
    const choice = ggufPreByName(pre) ?? fail(`${key('pre')} "${pre}" is not supported (supported: ${SUPPORTED_GGUF_PRE.join(', ')})`)
    const merges = strings('merges')
    const vocab: Record<string, number> = Object.create(null) as Record<string, number> // "constructor" is a token
    tokens.forEach((t, i) => {
      if (!Object.hasOwn(vocab, t)) vocab[t] = i
    })
    const json = {
      added_tokens: specials.map((t) => ({
        id: t.id, content: t.content, special: t.type !== GgufTokenType.USER_DEFINED, normalized: false,
        single_word: false, lstrip: false, rstrip: false,
      })),
      normalizer: null,
      pre_tokenizer: choice.preTokenizer,
      model: { type: 'BPE', vocab, merges, ignore_merges: choice.ignoreMerges, byte_fallback: false, fuse_unk: false },
      decoder: { type: 'ByteLevel' },
    }
    const config = {
      bos_token: bosId >= 0 ? tokens[bosId] : undefined,
      eos_token: eosId >= 0 ? tokens[eosId] : undefined,
      add_bos_token: flag('add_bos_token') ?? false,
    }
    return new TokenizerJson(json, config, `${label} (tokenizer.ggml.model gpt2, pre ${pre})`)
  }
  return fail(`${key('model')} "${model}" is not supported (only "llama" and "gpt2")`)
}
