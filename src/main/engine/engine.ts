// The typed face of the native engine: load a checkpoint, tokenize, take the exact gradient of a phrase, generate
// from any number of stepped views at once, score texts, export a stepped model. Every long call is async, reports
// progress and honours an AbortSignal. Bad input is rejected with an Error a researcher can read.
import { existsSync, statSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { ModelFormatError, readJson, requireModelDirectory } from './config'
import { gemmaEmbeddingScale, ModelConfig, parseModelConfig, textModelTensors } from './families'
import { splitFusedTensors } from './phi3'
import { moeEngineTensors, Routing, routingByView } from './experts'
import { readCheckpointFiles, StoredTensorEntry } from './formats/safetensors'
import { isMetaDirectory, metaShardFiles, readMetaCheckpoint } from './formats/pth/pth'
import { loadTokenizer } from './tokenizers/load'
import { ChatTemplate, chatTemplateFromGguf, loadChatTemplate } from './tokenizers/chatTemplate'
import type { Tokenizer } from './tokenizers/types'
import { readGguf } from './formats/gguf/read'
import { ggufCheckpoint, ggufTokenizer } from './formats/gguf/model'
import { present } from './fserrors'
import { SEED_DEFAULTS } from '../../shared/api'
import { loadAddon, MaterialiseTensor, NativeCallOptions, NativeModel, NativeStep, NativeTerm, StepFactors, WeightsMemory } from './native'

export interface Progress {
  phase: string
  done: number
  total: number
}

export interface CallOptions {
  onProgress?: (p: Progress) => void
  signal?: AbortSignal
}

export class CancelledError extends Error {
  /** a cancelled generation: what each view had generated when it stopped */
  readonly partial?: Generation[]
  constructor(partial?: Generation[]) {
    super('cancelled')
    this.name = 'CancelledError'
    this.partial = partial
  }
}

export class InputError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'InputError'
  }
}

/** The gradient of one phrase loss, taken at some view of the model, held in factored form by the engine. */
export class Gradient {
  constructor(
    readonly native: NativeStep,
    readonly phrase: string,
    readonly phraseIds: number[],
    /** the view the gradient was taken at (empty: the base model) */
    readonly at: View,
    private readonly names: string[],
  ) {}
  get loss(): number {
    return this.native.loss
  }
  /** bytes of memory the engine holds for this gradient (factors sharing one input counted once); 0 once released */
  get bytes(): number {
    return this.native.bytes
  }
  /**
   * Gives the gradient's native memory back to the engine now, instead of whenever the garbage collector finds this
   * object: the engine's next gradient reuses it without faulting pages in (a 1B model's step holds ~60 MB). For a
   * caller that knows it is done with the gradient (the bench between timed steps); any later use throws.
   */
  release(): void {
    this.native.release()
  }
  /** Frobenius norm of ∂loss/∂W per HF tensor name (a tied head is counted in model.embed_tokens.weight) */
  gradNorms(): Record<string, number> {
    const n = this.native.gradNorms()
    const out: Record<string, number> = {}
    this.names.forEach((name, i) => (out[name] = n[i]))
    return out
  }
  factors(): StepFactors {
    return this.native.export()
  }
}

/** α·gradient: one term of a view. */
export interface Term {
  gradient: Gradient
  lr: number
}
/** A model state: base − Σ lr·gradient. */
export type View = Term[]

export interface GenerateArgs {
  /** text (BOS is prepended) or ids (used as given) */
  prompt: string | number[]
  views: View[]
  maxNew?: number
  maxSeq?: number
  temperature?: number
  topP?: number
  seed?: number
}

export interface Generation {
  ids: number[]
  text: string
  /** top-1 − top-2 logit at each generated position */
  margins: number[]
  /** ended by EOS rather than by the length limit */
  stopped: boolean
}

export interface ScoreArgs {
  ids: number[]
  views: View[]
  topk?: number
  fullAt?: number[]
}

export interface ScoreRow {
  /** −log p(ids[t+1] | ids[..t]) for t = 0 … T−2 */
  nll: number[]
  argmax: number[]
  top: { id: number; logprob: number }[][]
  /** KL(view 0 ‖ this view) at each position */
  kl: number[]
  full: Float32Array[]
}

/** The seed's max_gen_len and max_seq_len (defined once, in the contract) */
export const DEFAULT_MAX_GEN: number = SEED_DEFAULTS.maxGen
export const DEFAULT_MAX_SEQ: number = SEED_DEFAULTS.maxSeq

export function checkStepSize(lr: unknown, what = 'step size'): number {
  if (typeof lr !== 'number' || !Number.isFinite(lr))
    throw new InputError(`${what} must be a finite number (got ${String(lr)})`)
  return lr
}

function nativeOptions(opts: CallOptions | undefined): { native: NativeCallOptions; done: () => void } {
  const cancel = new Int32Array(1)
  const onAbort = (): void => {
    cancel[0] = 1
  }
  if (opts?.signal) {
    if (opts.signal.aborted) cancel[0] = 1
    else opts.signal.addEventListener('abort', onAbort, { once: true })
  }
  const cb = opts?.onProgress
  return {
    native: { cancel, onProgress: cb ? (phase, done, total) => cb({ phase, done, total }) : undefined },
    done: () => opts?.signal?.removeEventListener('abort', onAbort),
  }
}

async function call<T>(opts: CallOptions | undefined, f: (o: NativeCallOptions) => Promise<T>): Promise<T> {
  if (opts?.signal?.aborted) throw new CancelledError()
  const { native, done } = nativeOptions(opts)
  try {
    return await f(native)
  } catch (e) {
    if (e instanceof Error && e.message === 'cancelled') throw new CancelledError()
    throw e
  } finally {
    done()
  }
}

/** A chat template, or the words saying why the model's cannot be used. */
function templateOrProblem(read: () => ChatTemplate | undefined): ChatTemplate | string | undefined {
  try {
    return read()
  } catch (e) {
    return e instanceof Error ? e.message : String(e)
  }
}

export class Engine {
  private constructor(
    readonly dir: string,
    readonly config: ModelConfig,
    readonly tokenizer: Tokenizer,
    readonly model: NativeModel,
    readonly tensors: StoredTensorEntry[],
    readonly fileBytes: number,
    readonly tensorNames: string[],
    /** where the weights came from: an HF directory or a single GGUF file (with its dominant weight type) */
    readonly source: { format: 'hf' | 'gguf'; quantisation: string } = { format: 'hf', quantisation: 'none' },
  ) {}

  /**
   * The instruct model's chat template (chatTemplate.ts): undefined when the model has none, a string saying why
   * when it has one that cannot be used (the model still opens; asking for the template gets these words).
   */
  chatTemplate: ChatTemplate | string | undefined = undefined

  /** how the weights are held now (see WeightsMemory) */
  get weightsMemory(): WeightsMemory {
    return this.model.weightsMemory()
  }

  /** Waits while a background copy of the weights is being made (benchmarks time the settled engine); the next
   *  operation then reads the copy. */
  async weightsSettled(): Promise<WeightsMemory> {
    while (this.weightsMemory === 'copying') await new Promise((r) => setTimeout(r, 50))
    return this.weightsMemory
  }

  /**
   * Opens a Hugging Face Llama directory (config.json, safetensors, tokenizer.json or tokenizer.model), Meta's
   * original layout (params.json, consolidated.NN.pth, tokenizer.model — SentencePiece or tiktoken; see pth.ts) or a
   * llama.cpp .gguf file (ggufModel.ts).
   */
  static load(dir: string, opts: { threads?: number } = {}): Engine {
    const root = resolve(dir)
    if (/\.gguf$/i.test(root) && existsSync(root) && statSync(root).isFile()) return Engine.loadGguf(root, opts)
    requireModelDirectory(root, dir)
    const meta = isMetaDirectory(root)
    if (!meta && metaShardFiles(root).length > 0 && !existsSync(join(root, 'config.json')))
      throw new ModelFormatError(`${dir}: has ${metaShardFiles(root)[0]} but no params.json beside it (Meta's layout needs both)`)
    const cfgFile = meta ? 'params.json' : 'config.json'
    const rawConfig = meta ? undefined : readJson(join(root, 'config.json'), 'config.json')
    const hfConfig = rawConfig && parseModelConfig(rawConfig)
    const tokenizer = loadTokenizer(root, cfgFile)
    // Meta's params.json needs the tokenizer (vocab_size −1, bos/eos) and the checkpoint (tied or not)
    const metaCkpt = meta ? readMetaCheckpoint(root, { tokenizerVocab: tokenizer.vocabSize, bos: tokenizer.bosId, eos: tokenizer.eosId }) : undefined
    const parsed = metaCkpt ? { ...parseModelConfig(metaCkpt.raw, 'params.json'), ropeInterleaved: true } : hfConfig!
    if (tokenizer.vocabSize > parsed.vocab)
      throw new ModelFormatError(`${tokenizer.kind} has ${tokenizer.vocabSize} tokens but ${cfgFile} vocab_size is ${parsed.vocab}`)
    const read = metaCkpt ?? readCheckpointFiles(root)
    // a multimodal checkpoint opens as its text model (families.ts)
    // a multimodal checkpoint opens as its text model; Phi-3's fused projections as their parts (phi3.ts)
    const ckpt0 = rawConfig ? { ...read, tensors: splitFusedTensors(parsed, textModelTensors(rawConfig, read.tensors), 'model.safetensors') } : read
    // a mixture of experts' tensors under the engine's names (experts.ts)
    const ckpt = { ...ckpt0, tensors: moeEngineTensors(parsed.family, ckpt0.tensors) }
    // Gemma scales its embeddings by √hidden_size rounded to the embedding weight's dtype
    const embed = ckpt.tensors.find((t) => t.name === 'model.embed_tokens.weight')
    const config: ModelConfig = parsed.postNorms && embed ? { ...parsed, embeddingMultiplier: gemmaEmbeddingScale(parsed, embed.dtype) } : parsed
    const names = new Set(ckpt.tensors.map((t) => t.name))
    if (names.has('lm_head.weight') === false && !config.tied)
      throw new ModelFormatError('config.json: tie_word_embeddings is false but the checkpoint has no lm_head.weight')
    const addon = loadAddon()
    let model: NativeModel
    try {
      model = new addon.Model({
        config: { ...config, raw: undefined, eosIds: undefined },
        files: ckpt.files,
        tensors: ckpt.tensors,
        threads: opts.threads ?? 0,
      })
    } catch (e) {
      throw new ModelFormatError((e as Error).message)
    }
    const engine = new Engine(root, config, tokenizer, model, ckpt.tensors, ckpt.bytes, model.tensorNames())
    engine.chatTemplate = templateOrProblem(() => loadChatTemplate(root))
    return engine
  }

  /** A llama.cpp GGUF file: metadata → config, the embedded tokenizer, tensors mmap'd in their stored ggml type. */
  private static loadGguf(path: string, opts: { threads?: number }): Engine {
    const g = readGguf(path)
    const ckpt = ggufCheckpoint(g)
    const config = ckpt.config
    const tokenizer = ggufTokenizer(g)
    if (tokenizer.vocabSize > config.vocab)
      throw new ModelFormatError(`${basename(path)}: the tokenizer has ${tokenizer.vocabSize} tokens but the model ${config.vocab}`)
    const names = new Set(ckpt.tensors.map((t) => t.name))
    if (!names.has('model.embed_tokens.weight')) throw new ModelFormatError(`${basename(path)}: has no token_embd.weight`)
    const addon = loadAddon()
    let model: NativeModel
    try {
      model = new addon.Model({
        config: { ...config, raw: undefined, eosIds: undefined },
        files: [path],
        tensors: ckpt.tensors,
        threads: opts.threads ?? 0,
      })
    } catch (e) {
      throw new ModelFormatError(`${basename(path)}: ${(e as Error).message}`)
    }
    const engine = new Engine(path, config, tokenizer, model, ckpt.tensors, g.fileSize, model.tensorNames(), {
      format: 'gguf',
      quantisation: ckpt.quantisation,
    })
    engine.chatTemplate = templateOrProblem(() => chatTemplateFromGguf(Object.fromEntries(g.kv), basename(path)))
    return engine
  }

  /** SentencePiece ids of text, without BOS. */
  tokenize(text: string): number[] {
    return this.tokenizer.encode(text)
  }

  /** BOS + ids of a non-empty text. */
  withBos(text: string, what: string): number[] {
    if (typeof text !== 'string' || text.length === 0) throw new InputError(`the ${what} is empty`)
    return [this.config.bos, ...this.tokenizer.encode(text)]
  }

  /**
   * Text of ids; ids past the tokenizer's pieces (padded vocabularies, vocab_size > the tokenizer's tokens) read as
   * <unk>, or — a vocabulary without one (byte-level BPE, Qwen2's padding) — add nothing, as HF tokenizers skips them.
   */
  decode(ids: ArrayLike<number>): string {
    return this.tokenizer.decode(this.inVocab(ids).filter((id) => id >= 0))
  }

  /** Per-token text, for tables that show one token at a time (a padding id without <unk> shows as ""). */
  decodeTokens(ids: ArrayLike<number>): string[] {
    const mapped = this.inVocab(ids)
    const texts = this.tokenizer.decodeTokens(mapped.filter((id) => id >= 0))
    let next = 0
    return mapped.map((id) => (id >= 0 ? texts[next++] : ''))
  }

  /** Each id, or the unknown token's for an id past the tokenizer's pieces (-1 when there is none). */
  private inVocab(ids: ArrayLike<number>): number[] {
    const n = this.tokenizer.vocabSize
    return Array.from(ids, (id) => (id >= 0 && id < n ? id : this.tokenizer.unkId))
  }

  private nativeView(view: View): NativeTerm[] {
    return view.map((t) => ({ step: t.gradient.native, lr: checkStepSize(t.lr) }))
  }

  /** The exact gradient of mean next-token CE over BOS + phrase, at `at` (default: the base model). */
  async gradient(phrase: string, at: View = [], opts?: CallOptions, maxSeq = DEFAULT_MAX_SEQ): Promise<Gradient> {
    const ids = this.withBos(phrase, 'phrase')
    if (ids.length < 2) throw new InputError('the phrase is empty')
    if (ids.length > maxSeq)
      throw new InputError(`the phrase has ${ids.length} tokens with BOS; max_seq_len is ${maxSeq}`)
    const nat = this.nativeView(at)
    const step = await call(opts, (o) => this.model.gradient(ids, nat, o))
    return new Gradient(step, phrase, ids, at, this.tensorNames)
  }

  /** Rebuilds a gradient from saved factors (a checkpoint). */
  importGradient(f: StepFactors, phrase: string, at: View = []): Gradient {
    const step = this.model.importStep(f)
    return new Gradient(step, phrase, Array.from(f.ids), at, this.tensorNames)
  }

  /** One batched generation for all views: each decoding step reads the base weights once. */
  async generate(args: GenerateArgs, opts?: CallOptions): Promise<Generation[]> {
    const prompt = typeof args.prompt === 'string' ? this.withBos(args.prompt, 'prompt') : args.prompt
    const maxNew = args.maxNew ?? DEFAULT_MAX_GEN
    const maxSeq = args.maxSeq ?? DEFAULT_MAX_SEQ
    if (!Number.isInteger(maxNew) || maxNew < 0) throw new InputError(`max_gen_len must be a whole number ≥ 0 (got ${maxNew})`)
    if (!Number.isInteger(maxSeq) || maxSeq < 2) throw new InputError(`max_seq_len must be a whole number ≥ 2 (got ${maxSeq})`)
    if (maxSeq > this.config.maxPos)
      throw new InputError(`max_seq_len ${maxSeq} exceeds the model's max_position_embeddings ${this.config.maxPos}`)
    if (prompt.length >= maxSeq)
      throw new InputError(`the prompt has ${prompt.length} tokens with BOS; max_seq_len is ${maxSeq}`)
    if (args.views.length === 0) throw new InputError('no step sizes to generate for')
    const temperature = args.temperature ?? 0
    const topP = args.topP ?? 1
    if (!(temperature >= 0) || !Number.isFinite(temperature)) throw new InputError('temperature must be ≥ 0')
    if (!(topP > 0 && topP <= 1)) throw new InputError('top_p must be in (0, 1]')
    const views = args.views.map((v) => this.nativeView(v))
    const r = await call(opts, (o) =>
      this.model.generate({ prompt, views, maxNew, maxSeq, temperature, topP, seed: args.seed ?? 0, eos: this.config.eosIds }, o),
    )
    const gens = r.tokens.map((t, i) => {
      const ids = Array.from(t)
      const stopped = ids.length > 0 && this.config.eosIds.includes(ids[ids.length - 1])
      return { ids, text: this.decode(ids), margins: Array.from(r.margins[i]), stopped }
    })
    // the engine returns what it had generated when cancelled: the caller may keep it (a cancelled sweep's rows)
    if (r.cancelled) throw new CancelledError(gens)
    return gens
  }

  /** A mixture of experts' router choices on `ids` under each view (experts.ts: per view, per MoE layer). */
  async routing(ids: number[], views: View[], opts?: CallOptions): Promise<Routing[]> {
    if (!this.config.experts) throw new InputError(`${basename(this.dir)} is not a mixture of experts (model_type ${this.config.family})`)
    if (ids.length > this.config.maxPos) throw new InputError('the text is longer than the model can attend to')
    const r = await call(opts, (o) => this.model.routing({ ids, views: views.map((v) => this.nativeView(v)) }, o))
    return routingByView(r, views.length)
  }

  /** Per-position log-likelihoods of a token sequence under several views (view 0 is the KL reference). */
  async score(args: ScoreArgs, opts?: CallOptions): Promise<ScoreRow[]> {
    if (args.ids.length < 2) throw new InputError('a text to score needs at least two tokens')
    if (args.ids.length > this.config.maxPos) throw new InputError('the text is longer than the model can attend to')
    const views = args.views.map((v) => this.nativeView(v))
    const topk = args.topk ?? 0
    const r = await call(opts, (o) => this.model.score({ ids: args.ids, views, topk, fullAt: args.fullAt ?? [] }, o))
    const T = r.T
    const V = this.config.vocab
    const nf = (args.fullAt ?? []).length
    return views.map((_, n) => ({
      nll: Array.from(r.nll.subarray(n * (T - 1), (n + 1) * (T - 1))),
      argmax: Array.from(r.argmax.subarray(n * T, (n + 1) * T)),
      top: Array.from({ length: T }, (_, t) =>
        Array.from({ length: topk }, (_, j) => ({
          id: r.topIds[(n * T + t) * topk + j],
          logprob: r.topLogprobs[(n * T + t) * topk + j],
        })),
      ),
      kl: Array.from(r.kl.subarray(n * T, (n + 1) * T)),
      full: Array.from({ length: nf }, (_, j) => r.full.subarray((n * nf + j) * V, (n * nf + j + 1) * V)),
    }))
  }

  /**
   * Streams the dense weights of `view` into `path` after `prefix` (a format's serialised header): each tensor at its
   * absolute offset, in its dtype (F32, F16, BF16, Q8_0). Written beside the target and renamed at the end.
   */
  async writeTensors(view: View, path: string, prefix: Uint8Array, tensors: MaterialiseTensor[], opts?: CallOptions): Promise<void> {
    const nat = this.nativeView(view)
    await call(opts, (o) => this.model.materialise({ view: nat, path, prefix, tensors }, o))
  }
}
