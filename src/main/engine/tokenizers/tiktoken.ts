// The tokenizer.model of Meta's original Llama-3 releases: a tiktoken BPE file, one "base64(token bytes) rank" line
// per token, rank = id. Meta's tokenizer.py adds the Llama-3 split pattern and 256 special tokens after the base
// vocabulary. tiktoken merges, in a piece, the adjacent pair whose concatenation has the lowest rank until none is
// in the vocabulary, and takes a piece that is itself a token whole; that is HF's BPE with ignore_merges and a
// pair's rank being its result's rank, so the tokenizer.json pipeline runs it.
import { ModelFormatError } from '../config'
import { BYTE_TO_CHAR, LLAMA3_SPLIT_PATTERN } from './byteLevel'
import { TokenizerJson } from './tokenizerJson'

/** Whether the bytes look like a tiktoken file (text lines "base64 rank") rather than a SentencePiece protobuf. */
export function isTiktokenFile(bytes: Uint8Array): boolean {
  const end = Math.min(bytes.length, 512)
  const newline = bytes.subarray(0, end).indexOf(0x0a)
  const firstLine = Buffer.from(bytes.subarray(0, newline < 0 ? end : newline)).toString('latin1').trimEnd()
  return /^[A-Za-z0-9+/]+={0,2} \d+$/.test(firstLine)
}

/** Special tokens of Meta's Llama-3 tokenizer.py, in id order after the base vocabulary. */
export function llama3SpecialTokens(count = 256): string[] {
  const named = [
    '<|begin_of_text|>', '<|end_of_text|>', '<|reserved_special_token_0|>', '<|reserved_special_token_1|>',
    '<|reserved_special_token_2|>', '<|reserved_special_token_3|>', '<|start_header_id|>', '<|end_header_id|>',
    '<|reserved_special_token_4|>', '<|eot_id|>',
  ]
  for (let i = 5; named.length < count; i++) named.push(`<|reserved_special_token_${i}|>`)
  return named
}

/**
 * Parses a tiktoken file. `config` is tokenizer_config.json if one lies next to it: its added_tokens_decoder then
 * names the special tokens (Llama-3.1 renamed some, e.g. <|eom_id|>, <|python_tag|>) and its bos/eos are used.
 */
export function tiktokenTokenizer(bytes: Uint8Array, config?: unknown, label = 'tokenizer.model'): TokenizerJson {
  const fail: (problem: string) => never = (problem) => {
    throw new ModelFormatError(`${label}: ${problem}`)
  }
  const text = Buffer.from(bytes).toString('latin1')
  const vocab = new Map<string, number>()
  const idToToken: string[] = []
  let lineNumber = 0
  for (const line of text.split('\n')) {
    lineNumber++
    if (line.trim() === '') continue
    const match = /^([A-Za-z0-9+/]+={0,2}) (\d+)\r?$/.exec(line)
    if (!match) fail(`line ${lineNumber} is not "base64-token rank" (is this a tiktoken file?)`)
    const rank = Number(match[2])
    let token = ''
    for (const b of Buffer.from(match[1], 'base64')) token += BYTE_TO_CHAR[b]
    if (token === '') fail(`line ${lineNumber} has an empty token`)
    if (vocab.has(token)) fail(`line ${lineNumber}: the token is listed twice (ranks ${vocab.get(token)} and ${rank})`)
    if (idToToken[rank] !== undefined) fail(`line ${lineNumber}: rank ${rank} is used twice`)
    vocab.set(token, rank)
    idToToken[rank] = token
  }
  const baseSize = idToToken.length
  if (vocab.size === 0) fail('contains no tokens')
  if (vocab.size !== baseSize) fail(`ranks are not 0…${vocab.size - 1} without gaps`)
  for (let b = 0; b < 256; b++) if (!vocab.has(BYTE_TO_CHAR[b])) fail(`byte ${b} has no token, so some texts could not be encoded`)

  const cfg = (config && typeof config === 'object' ? config : {}) as Record<string, unknown>
  const names = llama3SpecialTokens()
  const decoderMap = cfg.added_tokens_decoder as Record<string, { content?: unknown }> | undefined
  const added = names.map((name, i) => {
    const fromConfig = decoderMap?.[String(baseSize + i)]?.content
    return { id: baseSize + i, content: typeof fromConfig === 'string' ? fromConfig : name, special: true, normalized: false }
  })

  const pairs = (left: number, right: number): { rank: number; id: number } | undefined => {
    const id = vocab.get(idToToken[left] + idToToken[right])
    return id === undefined ? undefined : { rank: id, id }
  }
  const json = {
    model: { type: 'BPE', ignore_merges: true },
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: LLAMA3_SPLIT_PATTERN }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    decoder: { type: 'ByteLevel' },
  }
  const tokenizerConfig = {
    bos_token: cfg.bos_token ?? added[0].content,
    eos_token: cfg.eos_token ?? added[1].content,
    add_bos_token: typeof cfg.add_bos_token === 'boolean' ? cfg.add_bos_token : true, // Meta's encode(bos=True)
  }
  return new TokenizerJson(json, tokenizerConfig, `${label} (tiktoken)`, { vocab, pairs })
}
