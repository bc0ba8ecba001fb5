// HF tokenizers' serialisation (tokenizer.json) with tokenizer_config.json, as the tokenizers library runs it:
// added tokens → normalizer → pre-tokenizer → BPE model; decoder for the way back. Only BPE models are supported
// (Llama-2/3, Mistral, Qwen2, SmolLM, …); anything else is refused by naming the field.
import { ModelFormatError } from '../config'
import { readModelJson } from '../modelFiles'
import { AddedToken, AddedTokenMatcher, Segment } from './addedTokens'
import { BpeModel, PairLookup, pairsFromMerges } from './bpe'
import { buildDecoder, Decoder } from './decoders'
import { asArray, asObject, Fail, Json, optionalBool, optionalString, typeOf } from './json'
import { buildNormalizer, Normalizer } from './normalizers'
import { buildPreTokenizer, Piece, PreTokenizer } from './preTokenizers'
import { ChainBudget, encodeBudgetMs, TokenizerLimitError, withinTimeBudget } from './limits'
import { checkTokenId, decodeTokensByPrefix, Tokenizer } from './types'

/** The BPE model's vocabulary and how pairs merge, when they come from elsewhere than model.merges (tiktoken). */
export interface BpeOverride {
  vocab: Map<string, number>
  pairs: PairLookup
}

/** Largest token id a tokenizer.json (or tiktoken file) may use: 2^24, 64 times Llama 3's vocabulary. */
export const MAX_TOKEN_ID = 2 ** 24 - 1

export class TokenizerJson implements Tokenizer {
  readonly kind: string
  readonly vocabSize: number
  readonly unkId: number
  readonly bosId: number
  readonly eosId: number
  readonly addsBos: boolean
  /** The tokenizer.json object this was built from (for writing it back out, e.g. into a GGUF file). */
  readonly source: Json
  /** Whether the vocabulary and merge ranks came from elsewhere (a tiktoken file) rather than source.model. */
  readonly hasExternalRanks: boolean

  private readonly idToToken: string[]
  private readonly addedById = new Map<number, AddedToken>()
  private readonly rawMatcher: AddedTokenMatcher
  private readonly normalizedMatcher: AddedTokenMatcher
  private readonly normalizer: Normalizer | undefined
  private readonly preTokenizer: PreTokenizer | undefined
  private readonly decoder: Decoder | undefined
  private readonly model: BpeModel
  private readonly cleanUpSpaces: boolean
  /** bounds of the normalizer and pre-tokenizer (limits.ts) */
  private readonly budget: ChainBudget

  /**
   * `json` is tokenizer.json's content, `config` tokenizer_config.json's (or undefined); `label` names the source in
   * errors. `override` supplies the vocabulary and merge ranks when they are not in json.model (tiktoken).
   */
  constructor(json: unknown, config: unknown, label = 'tokenizer.json', override?: BpeOverride) {
    const fail: Fail = (problem) => {
      throw new ModelFormatError(`${label}: ${problem}`)
    }
    const root = asObject(json, 'the file', fail)
    this.source = root
    this.hasExternalRanks = override !== undefined
    const cfg = config === undefined || config === null ? {} : asObject(config, 'tokenizer_config.json', (p) => {
      throw new ModelFormatError(`tokenizer_config.json: ${p}`)
    })
    const model = asObject(root.model, 'model', fail)
    const modelType = model.type === undefined && model.merges !== undefined ? 'BPE' : typeOf(model, 'model', fail)
    if (modelType !== 'BPE') fail(`model type ${modelType} is not supported (only BPE; WordPiece, Unigram and WordLevel are not)`)
    if (model.dropout !== undefined && model.dropout !== null && model.dropout !== 0)
      fail(`model.dropout ${String(model.dropout)} is not supported (it makes tokenization random)`)
    this.kind = label

    const vocab = override?.vocab ?? readVocab(model.vocab, fail)
    const continuing = optionalString(model, 'continuing_subword_prefix', 'model', fail) ?? ''
    const suffix = optionalString(model, 'end_of_word_suffix', 'model', fail) ?? ''
    const pairs = override?.pairs ?? pairsFromMerges(asArray(model.merges ?? [], 'model.merges', fail) as (string | [string, string])[], vocab, continuing, fail)
    const unkToken = optionalString(model, 'unk_token', 'model', fail)
    let unkId = -1
    if (unkToken !== undefined) {
      const id = vocab.get(unkToken)
      if (id === undefined) fail(`model.unk_token "${unkToken}" is not in model.vocab`)
      unkId = id
    }
    this.unkId = unkId
    this.model = new BpeModel({
      vocab,
      pairs,
      unkId,
      fuseUnk: optionalBool(model, 'fuse_unk', 'model', fail, false),
      byteFallback: optionalBool(model, 'byte_fallback', 'model', fail, false),
      ignoreMerges: optionalBool(model, 'ignore_merges', 'model', fail, false),
      continuingSubwordPrefix: continuing,
      endOfWordSuffix: suffix,
    })

    const added = asArray(root.added_tokens ?? [], 'added_tokens', fail).map((t, i) => readAddedToken(t, `added_tokens[${i}]`, fail))
    let size = 0
    for (const id of vocab.values()) size = Math.max(size, id + 1)
    for (const t of added) size = Math.max(size, t.id + 1)
    // ids index a table: a stray id of 10^12 would ask for a terabyte (Llama 3 has 128,256; the largest known ~256 k)
    const entries = vocab.size + added.length
    if (size > MAX_TOKEN_ID + 1 || size > 16 * Math.max(entries, 1024))
      fail(`the largest token id is ${size - 1}, for ${entries} tokens: ids must be below ${Math.min(MAX_TOKEN_ID + 1, 16 * Math.max(entries, 1024))}`)
    this.vocabSize = size
    this.idToToken = new Array<string>(size).fill('')
    for (const [token, id] of vocab) this.idToToken[id] = token
    for (const t of added) {
      this.idToToken[t.id] = t.content
      this.addedById.set(t.id, t)
    }
    this.rawMatcher = new AddedTokenMatcher(added.filter((t) => !t.normalized))
    this.normalizedMatcher = new AddedTokenMatcher(added.filter((t) => t.normalized))

    this.budget = new ChainBudget(label)
    this.normalizer = buildNormalizer(root.normalizer, 'normalizer', fail, this.budget)
    this.preTokenizer = buildPreTokenizer(root.pre_tokenizer, 'pre_tokenizer', fail, this.budget)
    this.decoder = buildDecoder(root.decoder, 'decoder', fail, this.budget)

    const idOf = (key: string): number => {
      const v = cfg[key]
      const content = typeof v === 'string' ? v : v && typeof v === 'object' && typeof (v as Json).content === 'string' ? ((v as Json).content as string) : undefined
      if (content === undefined) return -1
      const fromAdded = added.find((t) => t.content === content)?.id
      return fromAdded ?? vocab.get(content) ?? -1
    }
    const template = templateBos(root.post_processor, vocab, added)
    this.bosId = idOf('bos_token') >= 0 ? idOf('bos_token') : template.bosId
    this.eosId = idOf('eos_token')
    this.addsBos = typeof cfg.add_bos_token === 'boolean' ? cfg.add_bos_token : template.addsBos
    // transformers' decode cleans " ." → "." etc. when the config asks for it (its default is true).
    this.cleanUpSpaces = cfg.clean_up_tokenization_spaces === true
  }

  static fromFiles(jsonPath: string, configPath?: string): TokenizerJson {
    const json = readJsonFile(jsonPath, 'tokenizer.json')
    const config = configPath === undefined ? undefined : readJsonFile(configPath, 'tokenizer_config.json')
    return new TokenizerJson(json, config)
  }

  /** Runs under a time budget and bounds on the text's growth (limits.ts): a step that overruns is refused by name. */
  encode(text: string): number[] {
    const ms = encodeBudgetMs(text.length)
    return withinTimeBudget(
      ms,
      () => {
        this.budget.start(text.length)
        return this.encodeUnbounded(text)
      },
      () =>
        new TokenizerLimitError(
          `${this.kind}: ${this.budget.step || 'the BPE model'} ran for more than ${(ms / 1000).toFixed(1)} s on a text of ${text.length} characters ` +
            `and was stopped (a pattern that backtracks without end, such as (a+)+$, does this)`,
        ),
    )
  }

  private encodeUnbounded(text: string): number[] {
    const ids: number[] = []
    const pieces: Piece[] = []
    // Added tokens first: an id is emitted in order, so text pieces are tokenized as they come.
    const flush = (): void => {
      if (pieces.length === 0) return
      const words = this.preTokenizer ? this.preTokenizer(pieces) : pieces
      this.budget.step = 'the BPE model'
      for (const w of words) for (const id of this.model.tokenize(w.text)) ids.push(id)
      pieces.length = 0
    }
    for (const raw of this.rawMatcher.split(text)) {
      if ('id' in raw) {
        flush()
        ids.push(raw.id)
        continue
      }
      const normalized = this.normalizer ? this.normalizer(raw.text) : raw.text
      for (const segment of this.normalizedMatcher.split(normalized) as Segment[]) {
        if ('id' in segment) {
          flush()
          ids.push(segment.id)
        } else {
          pieces.push({ text: segment.text, atOrigin: raw.start === 0 && segment.start === 0 })
        }
      }
    }
    flush()
    return ids
  }

  decode(ids: ArrayLike<number>): string {
    const text = this.decodeRaw(Array.from(ids))
    return this.cleanUpSpaces ? cleanUpTokenizationSpaces(text) : text
  }

  /**
   * Per-token text. Decoders that strip the start of the text (Strip, Metaspace) would eat the first token's space,
   * which a table of generated tokens needs; an anchor token decoded in front keeps it, as sentencepiece's does.
   */
  decodeTokens(ids: ArrayLike<number>): string[] {
    const anchor = this.anchorId()
    if (anchor < 0) return decodeTokensByPrefix(ids, (prefix) => this.decodeRaw(prefix))
    return decodeTokensByPrefix([anchor, ...Array.from(ids)], (prefix) => this.decodeRaw(prefix)).slice(1)
  }

  private anchor: number | undefined
  /** A token that decodes to one ASCII letter on its own, or -1. */
  private anchorId(): number {
    if (this.anchor === undefined) {
      this.anchor = -1
      for (const letter of ['a', '▁a', 'Ġa', 'x']) {
        const id = this.idToToken.indexOf(letter)
        if (id >= 0 && /^[A-Za-z]$/.test(this.decodeRaw([id]))) {
          this.anchor = id
          break
        }
      }
    }
    return this.anchor
  }

  piece(id: number): string {
    return this.idToToken[checkTokenId(id, this.vocabSize)]
  }

  /** Tokenizer::decode with skip_special_tokens = false. */
  private decodeRaw(ids: number[]): string {
    const tokens = ids.map((id) => this.piece(id))
    if (!this.decoder) return tokens.join(' ')
    let chars = 0
    for (const t of tokens) chars += t.length
    this.budget.start(chars)
    return this.decoder(tokens).join('')
  }
}

function readVocab(value: unknown, fail: Fail): Map<string, number> {
  const o = asObject(value, 'model.vocab', fail)
  const vocab = new Map<string, number>()
  for (const [token, id] of Object.entries(o)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) fail(`model.vocab["${token}"] is not a token id`)
    vocab.set(token, id)
  }
  return vocab
}

function readAddedToken(value: unknown, path: string, fail: Fail): AddedToken {
  const o = asObject(value, path, fail)
  const id = o.id
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) fail(`${path}.id is not a token id`)
  if (typeof o.content !== 'string') fail(`${path}.content is not a string`)
  const special = optionalBool(o, 'special', path, fail, false)
  return {
    id,
    content: o.content,
    singleWord: optionalBool(o, 'single_word', path, fail, false),
    lstrip: optionalBool(o, 'lstrip', path, fail, false),
    rstrip: optionalBool(o, 'rstrip', path, fail, false),
    normalized: optionalBool(o, 'normalized', path, fail, !special),
    special,
  }
}

/** Whether post_processor puts a special token before the text (TemplateProcessing's "single"), and which. */
function templateBos(value: unknown, vocab: Map<string, number>, added: AddedToken[]): { addsBos: boolean; bosId: number } {
  const none = { addsBos: false, bosId: -1 }
  if (!value || typeof value !== 'object') return none
  const o = value as Json
  if (o.type === 'Sequence' && Array.isArray(o.processors)) {
    for (const p of o.processors) {
      const found = templateBos(p, vocab, added)
      if (found.addsBos) return found
    }
    return none
  }
  if (o.type !== 'TemplateProcessing' || !Array.isArray(o.single) || o.single.length === 0) return none
  const first = o.single[0] as Json
  const special = first?.SpecialToken as Json | undefined
  if (!special || typeof special.id !== 'string') return none
  const tokens = (o.special_tokens as Json | undefined)?.[special.id] as Json | undefined
  const ids = tokens?.ids
  const id = Array.isArray(ids) && typeof ids[0] === 'number' ? ids[0] : added.find((t) => t.content === special.id)?.id ?? vocab.get(special.id) ?? -1
  return { addsBos: true, bosId: id }
}

/** transformers' clean_up_tokenization. */
export function cleanUpTokenizationSpaces(text: string): string {
  return text
    .replaceAll(' .', '.')
    .replaceAll(' ?', '?')
    .replaceAll(' !', '!')
    .replaceAll(' ,', ',')
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re")
}

export function readJsonFile(path: string, label: string): unknown {
  // a regular file only, bounded in size and nesting (modelFiles.ts): /dev/zero behind a symlink was read for 5 GB
  return readModelJson(path, label)
}
