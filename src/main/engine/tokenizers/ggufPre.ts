// The one table of GGUF byte-level pre-tokenizer names (tokenizer.ggml.pre): which HF tokenizer.json pre-tokenizer
// each name stands for, as llama.cpp's converter chose the name from the tokenizer.json it converted. gguf.ts reads a
// name back into that pre-tokenizer; toGguf.ts writes the first name of the row whose pre-tokenizer a tokenizer.json
// has. A name not in the table is refused by name.
import { GPT2_SPLIT_PATTERN, LLAMA3_SPLIT_PATTERN } from './byteLevel'

/** Qwen2/Qwen3's split: Llama-3's with single digits. */
export const QWEN2_SPLIT_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

/** o200k (GPT-4o, GPT-OSS): case runs split from the letters that follow, contractions attached, digits by three. */
export const O200K_SPLIT_PATTERN =
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|" +
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|" +
  "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

/** Mistral's tekken (Mistral Nemo, Small 3, Pixtral): o200k's case runs without contractions, single digits. */
export const TEKKEN_SPLIT_PATTERN =
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|" +
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|" +
  "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

export interface GgufPreTokenizer {
  /** tokenizer.ggml.pre names; the first is the one a GGUF export writes */
  names: readonly string[]
  /** the tokenizer.json pre_tokenizer */
  preTokenizer: object
  /** tokenizer.json model.ignore_merges (a word that is a token is taken whole) */
  ignoreMerges: boolean
  /** who ships it, for the table's readers */
  families: string
}

const BYTE_LEVEL_ONLY = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false }
const BYTE_LEVEL_GPT2 = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true }

/** A Split on `pattern` then ByteLevel without its own regex: the form of every recent byte-level tokenizer.json. */
function splitThenBytes(pattern: string): object {
  return { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: pattern }, behavior: 'Isolated', invert: false }, BYTE_LEVEL_ONLY] }
}

export const GGUF_PRE_TOKENIZERS: readonly GgufPreTokenizer[] = [
  { names: ['llama-bpe', 'llama3', 'llama-v3', 'falcon3'], preTokenizer: splitThenBytes(LLAMA3_SPLIT_PATTERN), ignoreMerges: true, families: 'Llama 3, Falcon 3' },
  { names: ['dbrx', 'smaug-bpe'], preTokenizer: splitThenBytes(LLAMA3_SPLIT_PATTERN), ignoreMerges: false, families: 'OLMo 2, DBRX (cl100k)' },
  { names: ['qwen2', 'deepseek-r1-qwen'], preTokenizer: splitThenBytes(QWEN2_SPLIT_PATTERN), ignoreMerges: false, families: 'Qwen2, Qwen2.5, Qwen3' },
  { names: ['gpt-4o'], preTokenizer: splitThenBytes(O200K_SPLIT_PATTERN), ignoreMerges: true, families: 'GPT-OSS (o200k)' },
  { names: ['tekken'], preTokenizer: splitThenBytes(TEKKEN_SPLIT_PATTERN), ignoreMerges: true, families: 'Mistral Nemo, Mistral Small 3' },
  {
    names: ['smollm', 'starcoder', 'refact', 'codeshell'],
    preTokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, BYTE_LEVEL_GPT2] },
    ignoreMerges: false,
    families: 'Granite 3 ("refact"), SmolLM, StarCoder',
  },
  // llama.cpp's own "default" chains four regexes of its making; a file converted from a tokenizer it did not
  // recognise most likely came from a GPT-2-style ByteLevel pre-tokenizer, which is what this reproduces.
  { names: ['gpt-2', 'default', 'gpt2', 'olmo'], preTokenizer: splitThenBytes(GPT2_SPLIT_PATTERN), ignoreMerges: false, families: 'GPT-2, OLMo 1 and OLMoE ("olmo")' },
]

export function ggufPreByName(name: string): GgufPreTokenizer | undefined {
  return GGUF_PRE_TOKENIZERS.find((p) => p.names.includes(name))
}

export const SUPPORTED_GGUF_PRE: readonly string[] = GGUF_PRE_TOKENIZERS.flatMap((p) => p.names)

/** The first name of the row whose pre-tokenizer a tokenizer.json's `pre_tokenizer` and `ignore_merges` are. */
export function ggufPreName(preTokenizer: unknown, ignoreMerges: boolean): string | undefined {
  const o = preTokenizer as Record<string, unknown> | null
  if (!o || typeof o !== 'object') return undefined
  const steps = (o.type === 'Sequence' ? (o.pretokenizers as Record<string, unknown>[]) : [o]) ?? []
  const byteLevelOnly = (s: Record<string, unknown>): boolean => s.type === 'ByteLevel' && s.use_regex === false && s.add_prefix_space !== true
  const gpt2ByteLevel = (s: Record<string, unknown>): boolean => s.type === 'ByteLevel' && s.use_regex !== false && s.add_prefix_space === false
  if (steps.length === 2 && byteLevelOnly(steps[1])) {
    const split = steps[0]
    const pattern = (split.pattern as Record<string, unknown> | undefined)?.Regex
    if (split.type !== 'Split' || split.behavior !== 'Isolated' || split.invert === true || typeof pattern !== 'string') return undefined
    const row = GGUF_PRE_TOKENIZERS.find((p) => {
      const pre = p.preTokenizer as { pretokenizers?: { pattern?: { Regex?: string } }[] }
      return pre.pretokenizers?.[0]?.pattern?.Regex === pattern && p.ignoreMerges === ignoreMerges
    })
    return row?.names[0]
  }
  if (ignoreMerges) return undefined
  if (steps.length === 1 && gpt2ByteLevel(steps[0])) return 'gpt-2'
  if (steps.length === 2 && steps[0].type === 'Digits' && steps[0].individual_digits === true && gpt2ByteLevel(steps[1])) return 'smollm'
  return undefined
}
