// The single API contract between the renderer and the lab: one table of methods, each with a zod schema for its
// request and its response. The preload passes calls through untouched; the IPC router (Electron) and the
// WebSocket router (browser mode) validate every argument against this table before anything reaches the lab
// services, and the CLI uses the same argument shapes.
//
// Plain JSON only. Errors cross the boundary as { message } in words, never stacks.
//
// NOTE for the renderer: under a strict CSP, zod must be configured with `jitless: true` before any schema is built
// (src/renderer/src/zodConfig.ts, imported first by the renderer entry).
import { z } from 'zod'
import { quoteForMessage, unsafeTextProblem } from './textSafety'

// ---------- constants: the seed's experiment and the lab's limits (defined here only) ----------

/** The seed's experiment: Llama-2-7b's "To be", one step on Hamlet's line, these step sizes. */
export const SEED_DEFAULTS = {
  prompt: 'To be',
  phrase: 'To be, or not to be, that is the question',
  lrs: [0, 1e-4, 1e-3, 2e-3, 3e-3, 5e-3, 1e-2, 1e-1],
  /** the seed's prompt-engineering prefix (the comparison's default) */
  engineeredPrefix: "Here is one of Shakespeare's more famous works: ",
  /** max_gen_len and max_seq_len of the seed's generation */
  maxGen: 64,
  maxSeq: 128,
  seed: 0,
} as const

/** Most step sizes one sweep or comparison takes, lessons in one sequence, probe texts per experiment. */
export const MAX_STEP_SIZES = 64
export const MAX_LESSONS = 64
export const MAX_PROBES = 64
export const MAX_GEN_LIMIT = 4096
/** Longest prompt, phrase, prefix or probe text (UTF-16 code units, as JavaScript counts). */
export const MAX_TEXT_CHARS = 20_000
/** Longest reference continuation. */
export const MAX_REFERENCE_CHARS = 100_000
/** Longest model or export path. */
export const MAX_PATH_CHARS = 4096
/**
 * Largest message a transport accepts (bytes of the JSON text; the WebSocket's maxPayload). The fields above bound
 * the largest valid call: a lesson of MAX_LESSONS phrases + MAX_PROBES probes + a reference + a prompt is
 * ≈ 2.7 M code units, at most 6 bytes each in JSON ("\u0001") ≈ 16.3 MB < 24 MiB (test/api-transport.test.ts
 * builds that message and sends it).
 */
export const MAX_MESSAGE_BYTES = 24 * 1024 * 1024

/**
 * The lab's input limits, stated once: every request schema, every inline check in the UI and the CLI's errors use
 * these numbers. A step size α is a non-negative finite number at most LIMITS.lr.max (the seed's largest is 0.1; the
 * organism rants well before 1); 0 means "no step".
 */
export const LIMITS = {
  lr: { min: 0, max: 10 },
  maxGen: { min: 1, max: MAX_GEN_LIMIT },
  maxSeq: { min: 2, max: 1_000_000 },
  stepSizes: { min: 1, max: MAX_STEP_SIZES },
  lessons: { min: 1, max: MAX_LESSONS },
  probes: { max: MAX_PROBES },
  paraphrases: { max: 32 },
  tags: { max: 32, chars: 40 },
  notes: { chars: 100_000 },
  title: { chars: 200 },
  /** rows in one page of `history` or `experiments`: a caller that wants more asks for the next page (offset) */
  page: { max: 1000 },
} as const

/** Days a deleted checkpoint stays in the Trash (file kept, restorable) before the lab purges it. */
export const TRASH_DAYS = 30

/** The request fields in words: error messages name the field as the UI labels it, never by its key. */
export const FIELD_LABELS: Record<string, string> = {
  model: 'Model',
  prompt: 'Prompt',
  phrase: 'Phrase',
  prefix: 'Prefix',
  lr: 'Step size α',
  lrs: 'Step sizes',
  maxGen: 'Max tokens',
  maxSeq: 'Max sequence length',
  temperature: 'Temperature',
  topP: 'Top-p',
  seed: 'Seed',
  reference: 'Reference text',
  probes: 'Probe texts',
  paraphrases: 'Paraphrased prompts',
  steps: 'Lessons',
  save: 'Checkpoint name',
  name: 'Name',
  id: 'Id',
  outDir: 'Export target',
  dtype: 'Data type',
  texts: 'Texts',
  notes: 'Notes',
  tags: 'Tags',
  title: 'Title',
  starred: 'Star',
  format: 'Format',
  limit: 'Page size',
  offset: 'Page start',
  text: 'Search text',
  olderThanDays: 'Older than (days)',
}

// ---------- enumerations ----------

export const runKinds = ['generate', 'step', 'sweep', 'compare', 'lesson', 'layers', 'window', 'emerge'] as const
/**
 * What an experiment is: one per action. Every run belongs to exactly one experiment. The instruments (layer study,
 * plasticity-window search, emergence heatmap) are experiments too.
 */
export const experimentKinds = ['generate', 'step', 'sweep', 'compare', 'lesson', 'layers', 'window', 'emerge'] as const
/** experiment list sort keys */
export const experimentSortKeys = ['created', 'finished', 'kind', 'runs', 'id'] as const
/** a checkpoint's state: live, in the Trash (restorable; file kept), or purged (row and file gone) */
export const checkpointStates = ['live', 'trashed', 'purged'] as const
export const tableFormats = ['md', 'csv'] as const
export const runStatuses = ['running', 'done', 'failed', 'cancelled', 'interrupted'] as const
export const groupKinds = ['sweep', 'lesson', 'compare', 'layers', 'window', 'emerge'] as const
/** history sort keys: when it started, α, recall, stability KL, phrase loss after, duration, id */
export const sortKeys = ['started', 'lr', 'recall', 'stability', 'loss', 'ms', 'id'] as const
export const sortOrders = ['asc', 'desc'] as const
export const exportDtypes = ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q4_K', 'Q6_K', 'Q4_K_M'] as const
/** hf: a merged Hugging Face directory; gguf: one merged llama.cpp file; peft: the step as a LoRA adapter directory */
export const exportFormats = ['hf', 'gguf', 'peft'] as const

export const runKind = z.enum(runKinds)
export const runStatus = z.enum(runStatuses)
export const groupKind = z.enum(groupKinds)
export const sortKey = z.enum(sortKeys)
export const exportDtype = z.enum(exportDtypes)
export const exportFormat = z.enum(exportFormats)
export const experimentKind = z.enum(experimentKinds)
export const experimentSortKey = z.enum(experimentSortKeys)
export const checkpointState = z.enum(checkpointStates)
export const tableFormat = z.enum(tableFormats)

export type RunKind = z.infer<typeof runKind>
export type RunStatus = z.infer<typeof runStatus>
export type GroupKind = z.infer<typeof groupKind>
export type SortKey = z.infer<typeof sortKey>
export type ExportDtype = z.infer<typeof exportDtype>
export type ExportFormat = z.infer<typeof exportFormat>
/** The dtypes each export format can write (Q8_0, Q4_0, Q4_K, Q6_K are GGUF block types, written with ggml's reference
 *  quantisers; Q4_K_M is llama.cpp's mixture of them; an adapter is float). */
export const EXPORT_DTYPES: Record<ExportFormat, readonly ExportDtype[]> = {
  hf: ['F32', 'F16', 'BF16'],
  gguf: ['F16', 'F32', 'BF16', 'Q8_0', 'Q6_K', 'Q4_K_M', 'Q4_K', 'Q4_0'],
  peft: ['F32', 'F16', 'BF16'],
}
export type ExperimentKind = z.infer<typeof experimentKind>
export type ExperimentSortKey = z.infer<typeof experimentSortKey>
export type CheckpointState = z.infer<typeof checkpointState>
export type TableFormat = z.infer<typeof tableFormat>

/**
 * Parameter groups a step can be restricted to (docs/design.md, "Restricted steps"): the coarse groups and the
 * seven linear modules of a block. embed = the token-embedding rows the phrase looks up; attn = q,k,v,o; mlp =
 * gate,up,down; norm = every RMSNorm weight (attn/ffn norms of each layer and the final norm); head = lm_head (with
 * tied embeddings, the head's share of the shared matrix).
 */
export const paramGroups = ['embed', 'attn', 'mlp', 'norm', 'head', 'q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const
export const paramGroup = z.enum(paramGroups)
export type ParamGroup = z.infer<typeof paramGroup>
/** Columns of the layer × module grid, in order. */
export const gridModules = ['q', 'k', 'v', 'o', 'gate', 'up', 'down', 'attn_norm', 'ffn_norm'] as const

// ---------- shared shapes ----------

const notFinite = (input: unknown): string => `must be a finite number (got ${typeof input === 'string' ? input : String(input)})`
/** A finite number's refusal: out of its range said as such (a temperature of -1 is finite, just below 0). */
const finiteProblem = (iss: { code?: string; input?: unknown; minimum?: unknown; maximum?: unknown; inclusive?: boolean }): string =>
  iss.code === 'too_small' && typeof iss.input === 'number' && Number.isFinite(iss.input)
    ? `must be ${iss.inclusive === false ? '>' : '≥'} ${String(iss.minimum)} (got ${iss.input})`
    : iss.code === 'too_big' && typeof iss.input === 'number' && Number.isFinite(iss.input)
      ? `must be ${iss.inclusive === false ? '<' : '≤'} ${String(iss.maximum)} (got ${iss.input})`
      : notFinite(iss.input)
const finite = z
  .number({ error: (iss) => finiteProblem(iss as Parameters<typeof finiteProblem>[0]) })
  .refine(Number.isFinite, { error: (iss) => notFinite(iss.input) })
const id = z.number().int().nonnegative()
/** a saved checkpoint: its id, or its name (the CLI's way of naming one) */
const checkpointRef = z.union([id, z.string().min(1).max(120)])
/** A model reference: directory path, checkpoint reference ("ckpt:NAME" / id), or null = the embedded organism. */
export const modelRef = z.union([z.string().min(1).max(MAX_PATH_CHARS), z.null()])
export type ModelRef = z.infer<typeof modelRef>
const text = (max: number): z.ZodString => z.string().max(max)
/** A refinement refusing control and bidi-override characters in a name or text (src/shared/textSafety.ts). */
const safeText =
  (what: string, prose = false) =>
  (s: string, ctx: z.RefinementCtx): void => {
    const why = unsafeTextProblem(what, s, prose)
    if (why) ctx.addIssue({ code: 'custom', message: why })
  }
/** POSIX "/…", Windows "C:\…" or "\\server\share" (this file also runs in the renderer: no node:path). */
export function isAbsolutePath(p: string): boolean {
  return p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p) || p.startsWith('\\\\')
}

/** A step size α: finite, 0 ≤ α ≤ LIMITS.lr.max. */
export const stepSize = finite.refine((x) => x >= LIMITS.lr.min && x <= LIMITS.lr.max, {
  error: (iss) => `must be from ${LIMITS.lr.min} to ${LIMITS.lr.max} (got ${String(iss.input)})`,
})

export const lrList = z
  .array(stepSize, { error: 'must be a list of step sizes' })
  .min(1, 'give at least one step size')
  .max(MAX_STEP_SIZES, `at most ${MAX_STEP_SIZES} step sizes at once`)

const wholeIn = (lo: number, hi: number) =>
  z.custom<number>((v) => typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi, {
    error: (iss) => `must be a whole number from ${lo} to ${hi} (got ${JSON.stringify(iss.input)})`,
  })
const maxGen = wholeIn(LIMITS.maxGen.min, LIMITS.maxGen.max)

/**
 * A measured number. A non-finite value (a NaN metric) arrives as null once it has crossed JSON, so the check
 * accepts null; the type stays number as the lab writes it.
 */
const measured = z.custom<number>((v) => v === null || typeof v === 'number')
const measuredMap = z.record(z.string(), measured)

// ---------- records the lab answers with ----------

export const presetSchema = z.object({
  prompt: z.string(),
  phrase: z.string(),
  lrs: z.array(z.number()),
  reference: z.string().nullable(),
  probes: z.record(z.string(), z.string()),
  engineeredPrefix: z.string(),
  /** rewordings of the prompt for generalisation */
  paraphrases: z.array(z.string()).default([]),
})

export const modelInfoSchema = z.object({
  id: z.number(),
  path: z.string(),
  name: z.string(),
  /** hf: a Hugging Face directory; meta: Meta's original layout (params.json, consolidated.NN.pth); gguf: a llama.cpp file */
  format: z.enum(['hf', 'meta', 'gguf']),
  /** the tokenizer as read (tokenizer.json, SentencePiece, tiktoken, GGUF vocab); null when the model is not loaded */
  tokenizer: z.string().nullable().optional(),
  /** stored tensors per type, most first, e.g. [{type:'Q4_K', count:155}, …]; null when the model is not loaded */
  quantisation: z.array(z.object({ type: z.string(), count: z.number() })).nullable().optional(),
  /** estimated RAM of a sweep: the file's bytes mapped + workingBytes (factors, KV caches, activations) */
  memoryBytes: z.number().optional(),
  fingerprint: z.string(),
  config: z.record(z.string(), z.unknown()),
  params: z.number(),
  fileBytes: z.number(),
  /** bytes of RAM a sweep needs beyond the mmap'd weights (KV caches, factors, activations) */
  workingBytes: z.number(),
  preset: presetSchema,
  embedded: z.boolean(),
  /** false when the directory is gone or unreadable (listModels keeps it in the list) */
  available: z.boolean().optional(),
})
export type ModelInfo = z.infer<typeof modelInfoSchema>

/** One step of a chain / lesson sequence. */
export const chainStepSchema = z.object({ phrase: z.string(), lr: z.number() })
export type ChainStep = z.infer<typeof chainStepSchema>

export const lessonRecallSchema = z.object({
  /** index of the lesson in the sequence (0-based) */
  lesson: z.number(),
  phrase: z.string(),
  /** mean CE of BOS + the lesson's phrase under the current model */
  loss: measured,
  /** words of the phrase reproduced by greedy completion of its opening words */
  recall: measured,
  /** the opening words used as the prompt for `recall` */
  cue: z.string(),
})
export type LessonRecall = z.infer<typeof lessonRecallSchema>

/**
 * A step restricted to some parameters: the same gradient with every other factor dropped (exact, no recomputation).
 * A tensor is kept when its group is in `groups` (default: all) and, for tensors inside a transformer block, its
 * layer is in `layers` (inclusive, 0-based; default: all). Tensors outside the blocks (embeddings, final norm, head)
 * are governed by `groups` alone.
 */
export const restrictionSchema = z
  .object({
    groups: z.array(paramGroup).min(1, 'name at least one parameter group').max(paramGroups.length).optional(),
    layers: z
      .object({ from: z.number().int().min(0), to: z.number().int().min(0) })
      .strict()
      .refine((r) => r.from <= r.to, 'layers: from must not exceed to')
      .optional(),
  })
  .strict()
export type Restriction = z.infer<typeof restrictionSchema>

/** ‖α∇W‖_F per layer × module (columns: gridModules; biases counted with their weight), and outside the blocks. */
export const updateGridSchema = z.object({
  modules: z.array(z.string()),
  /** cells[layer][module] */
  cells: z.array(z.array(measured)),
  embed: measured,
  head: measured,
  finalNorm: measured,
})
export type UpdateGrid = z.infer<typeof updateGridSchema>

/** What every run measures (definitions: docs/design.md, "Metrics"). */
export const runMetricsSchema = z.object({
  phraseLossBefore: measured.optional(),
  phraseLossAfter: measured.optional(),
  /**
   * words of the reference reproduced exactly, in order, by prompt + completion — the engineered prefix (if any)
   * excluded, so a prompt-engineered run and its Re-run measure the same thing
   */
  recall: measured.optional(),
  /**
   * recall's denominator: words of the reference reachable within the run's max tokens (prompt + max_gen_len tokens
   * of the reference), so recall never silently depends on max tokens; recallShare = recall / recallOf (0–1)
   */
  recallOf: measured.optional(),
  recallShare: measured.optional(),
  /** log-prob of the reference continuation (sum over its tokens) */
  referenceLogprob: measured.optional(),
  /** mean KL(base ‖ stepped) over the probe texts, and per probe */
  stabilityKl: measured.optional(),
  probeKl: measuredMap.optional(),
  /** change of probe perplexity (stepped − base), mean over probes */
  probePerplexityDelta: measured.optional(),
  /** old rows only (replaced by repetition and compressionRatio): distinct word bigrams / bigrams */
  distinct2: measured.optional(),
  /**
   * token-level repetition of the completion: share of its 4-grams of token ids that already occurred earlier in it
   * (0 = nothing repeats; ranting → near 1); repetitionByN: the same for n = 1..4 (keys "1".."4")
   */
  repetition: measured.optional(),
  repetitionByN: measuredMap.optional(),
  /** raw bytes / raw-deflate bytes of the completion's UTF-8 (ranting compresses well → high; prose ≈ 1–2) */
  compressionRatio: measured.optional(),
  /**
   * generalisation (EasyEdit): mean over the model's paraphrased prompts of the share of the phrase's words the
   * stepped model reproduces after that prompt (0–1); per prompt in generalisationBy
   */
  generalisation: measured.optional(),
  generalisationBy: measuredMap.optional(),
  /**
   * locality (EasyEdit): share of the greedy tokens the starting model gives after each probe's opening words that
   * the stepped model gives unchanged, position by position (1 = untouched); per probe in localityBy
   */
  locality: measured.optional(),
  localityBy: measuredMap.optional(),
  /** longest run of a repeated n-gram in the generation (in words) */
  longestRepeat: measured.optional(),
  /** ‖α∇W‖_F per layer ("embed", "layer.0" …, "head" = final norm + lm_head) */
  layerUpdateNorms: measuredMap.optional(),
  /** mean next-token CE of BOS + the reference text (first 96 tokens): −referenceLogprob / (tokens − 1) */
  referenceLoss: measured.optional(),
  /** per probe: perplexity before (the run's starting model) and after the step */
  probePerplexity: z.record(z.string(), z.object({ base: measured, stepped: measured })).optional(),
  /** ‖∇W‖_F per tensor (HF names) of this run's gradient */
  gradNorms: measuredMap.optional(),
  /** smallest top-1 − top-2 logit margin of the generation (a near-tie is where float32 and float64 may differ) */
  minMargin: measured.optional(),
  /** lessons only: after this step, how well every lesson so far is still known (the forgetting curve) */
  forgetting: z.array(lessonRecallSchema).optional(),
  /** milliseconds per phase (gradient, generate, metrics) */
  timings: measuredMap.optional(),
  /** the step was restricted to these parameters (absent: the full step) */
  restriction: restrictionSchema.optional(),
  /** ‖α∇W‖_F per layer × module of the step this run took (restricted steps: dropped cells are 0) */
  updateGrid: updateGridSchema.optional(),
})
export type RunMetrics = z.infer<typeof runMetricsSchema>

/**
 * Provenance of the checkpoint a run/experiment started from, kept when the checkpoint is renamed, trashed or purged:
 * its id, its name and hash at the time, and what became of it.
 */
export const baseCheckpointSchema = z.object({
  id: z.number(),
  /** the name when the run was made */
  name: z.string(),
  sha256: z.string(),
  /** its name now (null once purged) */
  currentName: z.string().nullable(),
  state: checkpointState,
  /** when it was moved to the Trash (null: live, or purged without a record) */
  deletedAt: z.string().nullable(),
})
export type BaseCheckpoint = z.infer<typeof baseCheckpointSchema>

export const runRecordSchema = z.object({
  id: z.number(),
  kind: runKind,
  /** the experiment (one action) this run belongs to */
  experimentId: z.number().nullable().default(null),
  groupId: z.number().nullable(),
  /** position inside its group (α column of a sweep, step of a lesson, cell of a comparison) */
  groupIndex: z.number().nullable(),
  modelId: z.number(),
  /** the checkpoint the run started from (null: the plain model) */
  checkpointId: z.number().nullable(),
  /** how the model was named when the run was made (path, "ckpt:NAME" or null = embedded organism) */
  modelRef: z.string().nullable(),
  /** lessons: the previous step's run */
  parentRunId: z.number().nullable(),
  /** steps applied on top of the starting model before this run's own step (lessons) */
  chain: z.array(chainStepSchema),
  /** the checkpoint it started from, surviving renames and deletion (null: the plain model) */
  base: baseCheckpointSchema.nullable().default(null),
  /** the prompt as given (without the engineered prefix) */
  prompt: z.string(),
  /** prompt engineering: text generated in front of the prompt, excluded from recall ('' = none) */
  prefix: z.string().default(''),
  phrase: z.string().nullable(),
  lr: z.number().nullable(),
  maxGen: z.number(),
  maxSeq: z.number(),
  temperature: z.number(),
  topP: z.number(),
  seed: z.number(),
  outputIds: z.array(z.number()),
  outputText: z.string(),
  /** prompt + completion, for tables */
  fullText: z.string(),
  metrics: runMetricsSchema,
  status: runStatus,
  error: z.string().nullable(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  ms: z.number().nullable(),
  /** cells of its row the history could not read (damaged JSON: "metrics", "outputIds", "chain"), shown as such */
  unreadable: z.array(z.string()).optional(),
})
export type RunRecord = z.infer<typeof runRecordSchema>

export const groupRecordSchema = z.object({
  id: z.number(),
  kind: groupKind,
  modelId: z.number(),
  checkpointId: z.number().nullable(),
  /** the request as given (plain JSON) */
  args: z.record(z.string(), z.unknown()),
  /** a summary written on completion (e.g. the lesson's forgetting matrix) */
  result: z.record(z.string(), z.unknown()).nullable(),
  status: runStatus,
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
  runIds: z.array(z.number()),
})
export type GroupRecord = z.infer<typeof groupRecordSchema>

export const checkpointSchema = z.object({
  id: z.number(),
  name: z.string(),
  modelId: z.number(),
  modelPath: z.string(),
  parentId: z.number().nullable(),
  parentName: z.string().nullable(),
  /** the run this step came from (null once that run is deleted) */
  runId: z.number().nullable(),
  phrase: z.string(),
  lr: z.number(),
  /** phrase loss at the model the gradient was taken at */
  loss: measured,
  /** factor file, relative to the data directory */
  file: z.string(),
  sha256: z.string(),
  /** size of the factor file in bytes (~1.9 MB for a 13-token step on the organism; ~0.1 GB on Llama-2-7b) */
  bytes: z.number(),
  baseFingerprint: z.string(),
  createdAt: z.string(),
  /** number of steps from the plain model (1 = a single step) */
  depth: z.number(),
  childIds: z.array(z.number()),
  /** null: live; else when it was moved to the Trash (its file is kept until purged, TRASH_DAYS later) */
  deletedAt: z.string().nullable().default(null),
  /** when the lab will purge it (deletedAt + TRASH_DAYS); null when live */
  purgeAt: z.string().nullable().default(null),
})
export type CheckpointRecord = z.infer<typeof checkpointSchema>

export const historyPageSchema = z.object({ total: z.number(), runs: z.array(runRecordSchema) })
export type HistoryPage = z.infer<typeof historyPageSchema>

// ---------- experiments: one per action, holding its runs ----------

/** One experiment as History lists it: what was asked (the columns) and how it went. */
export const experimentSummarySchema = z.object({
  id: z.number(),
  kind: experimentKind,
  status: runStatus,
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
  modelId: z.number().nullable(),
  /** the model's name (or directory name) and the fingerprint of its weights at the time */
  modelName: z.string().nullable(),
  modelFingerprint: z.string(),
  /** how the model was named ("ckpt:NAME", a path, null = the embedded organism) */
  modelRef: z.string().nullable(),
  /** the checkpoint it started from (provenance survives rename and deletion) */
  base: baseCheckpointSchema.nullable(),
  prompt: z.string(),
  phrase: z.string().nullable(),
  /** max_gen_len of its runs */
  maxGen: z.number().nullable(),
  maxSeq: z.number().nullable(),
  /** the step sizes it ran (sweep, compare, lesson: in order) */
  lrs: z.array(z.number()),
  /** the full settings as run (plain JSON: prompt, phrase, prefix, maxGen, maxSeq, lrs, reference, probes, …) */
  settings: z.record(z.string(), z.unknown()),
  /** a summary written on completion (the sweep's table, a lesson's forgetting matrix, an instrument's result) */
  result: z.record(z.string(), z.unknown()).nullable(),
  title: z.string(),
  notes: z.string(),
  tags: z.array(z.string()),
  starred: z.boolean(),
  runCount: z.number(),
  /** runs by status, e.g. { done: 7, cancelled: 1 } */
  runStatuses: z.record(z.string(), z.number()),
  /** the group of runs (sweep, compare, lesson and the instruments layers, window, emerge), null otherwise */
  groupId: z.number().nullable(),
  /** why it did not finish, when its runs cannot say (the process ended before it wrote them) */
  error: z.string().nullable(),
})
export type ExperimentSummary = z.infer<typeof experimentSummarySchema>

export const experimentPageSchema = z.object({ total: z.number(), experiments: z.array(experimentSummarySchema) })
export type ExperimentPage = z.infer<typeof experimentPageSchema>

export const experimentDetailSchema = z.object({ experiment: experimentSummarySchema, runs: z.array(runRecordSchema) })
export type ExperimentDetail = z.infer<typeof experimentDetailSchema>

/** An experiment as a self-contained JSON document (exportExperiment; `soliloquy show --json`). */
export const experimentExportSchema = z.object({
  format: z.literal('soliloquy-experiment'),
  version: z.literal(1),
  exportedAt: z.string(),
  experiment: experimentSummarySchema,
  model: z.object({ id: z.number().nullable(), name: z.string().nullable(), path: z.string().nullable(), fingerprint: z.string() }),
  /** every run complete: settings, output ids and text, every metric */
  runs: z.array(runRecordSchema),
})
export type ExperimentExport = z.infer<typeof experimentExportSchema>

export const experimentTableSchema = z.object({
  format: tableFormat,
  /** the table's text (Markdown or CSV) */
  text: z.string(),
  /** a file name to save it under, e.g. "experiment-12-sweep.md" */
  filename: z.string(),
})
export type ExperimentTable = z.infer<typeof experimentTableSchema>

/** One step of the token alignment of two runs' completions (LCS over token ids). */
export const diffOpSchema = z.object({
  op: z.enum(['same', 'del', 'ins']),
  /** token id and its text */
  id: z.number(),
  text: z.string(),
  /** position in run a's / run b's completion (null for an insertion / deletion) */
  a: z.number().nullable(),
  b: z.number().nullable(),
})
export type DiffOp = z.infer<typeof diffOpSchema>

export const runDiffSchema = z.object({
  a: runRecordSchema,
  b: runRecordSchema,
  /** completion tokens aligned: 'same' in both, 'del' only in a, 'ins' only in b */
  tokens: z.array(diffOpSchema),
  /** tokens shared by both (LCS length) */
  common: z.number(),
  /** common / the longer completion's tokens (1 for two empty completions) */
  sameFraction: z.number(),
  /** settings side by side (prompt, prefix, phrase, α, max tokens, base, model …) */
  settings: z.array(z.object({ key: z.string(), label: z.string(), a: z.unknown(), b: z.unknown(), same: z.boolean() })),
  /** scalar metrics side by side; delta = b − a (null when either is missing) */
  metrics: z.array(z.object({ key: z.string(), label: z.string(), a: measured.nullable(), b: measured.nullable(), delta: measured.nullable() })),
})
export type RunDiff = z.infer<typeof runDiffSchema>

/** A lab event pushed to every client when a run or an experiment changes (History updates without Refresh). */
export const labEventSchema = z.object({
  type: z.enum(['run', 'experiment']),
  id: z.number(),
  /** the run's experiment (for type 'run'); the experiment itself for type 'experiment' */
  experimentId: z.number().nullable(),
  status: runStatus,
  /** what happened: 'created', 'finished' (done/failed/cancelled/interrupted) or 'updated' (notes, tags, star) */
  change: z.enum(['created', 'finished', 'updated']),
  at: z.string(),
})
export type LabEvent = z.infer<typeof labEventSchema>

// ---------- per-model texts: reference, probes, paraphrased prompts ----------

/** What the metrics of a model are measured against, stored per model (by fingerprint), editable. */
export const modelTextsSchema = z.object({
  modelId: z.number(),
  fingerprint: z.string(),
  /** the continuation recall and reference log-prob are measured against (null: none → those metrics absent) */
  reference: z.string().nullable(),
  /** unrelated texts: KL, perplexity change and locality */
  probes: z.record(z.string(), z.string()),
  /** rewordings of the prompt: generalisation */
  paraphrases: z.array(z.string()),
  /** 'preset': the preset's defaults (nothing saved); 'saved': edited and stored in the history */
  source: z.enum(['preset', 'saved']),
  updatedAt: z.string().nullable(),
})
export type ModelTexts = z.infer<typeof modelTextsSchema>

export const tokenCountSchema = z.object({
  /** tokens of each text given, BOS included (as the lab counts them against max_seq_len) */
  counts: z.record(z.string(), z.number()),
  /** the model's context (the largest max_seq_len it accepts) */
  maxPos: z.number(),
  /** per text, a problem in words against the maxSeq given (e.g. the phrase's 531 tokens vs 128); absent when fine */
  problems: z.record(z.string(), z.string()),
})
export type TokenCount = z.infer<typeof tokenCountSchema>

/** One point of the plasticity-vs-stability scatter. */
export const scatterPointSchema = z.object({
  runId: z.number(),
  kind: runKind,
  modelId: z.number(),
  groupId: z.number().nullable(),
  phrase: z.string().nullable(),
  lr: z.number().nullable(),
  /** plasticity */
  recall: measured.nullable(),
  phraseLossAfter: measured.nullable(),
  referenceLogprob: measured.nullable(),
  /** stability */
  stabilityKl: measured.nullable(),
  /** old rows' fluency (null on new rows) */
  distinct2: measured.nullable(),
  /** fluency: token 4-gram repetition and compression ratio (null on rows older than v3) */
  repetition: measured.nullable().default(null),
  compressionRatio: measured.nullable().default(null),
  experimentId: z.number().nullable().default(null),
  startedAt: z.string(),
})
export type ScatterPoint = z.infer<typeof scatterPointSchema>

const isoDate = z.string().max(40)
const oneOrMany = <T extends z.ZodType>(t: T) => z.union([t, z.array(t).max(10)])

export const historyFilter = z
  .object({
    /** model id, or a substring of its path/name */
    model: z.union([id, text(MAX_PATH_CHARS)]).optional(),
    /** substring of the phrase */
    phrase: text(20_000).optional(),
    lrMin: finite.optional(),
    lrMax: finite.optional(),
    /** ISO dates (inclusive) */
    from: isoDate.optional(),
    to: isoDate.optional(),
    kind: oneOrMany(runKind).optional(),
    status: oneOrMany(runStatus).optional(),
    groupId: id.optional(),
    checkpointId: id.optional(),
    sort: sortKey.optional(),
    order: z.enum(sortOrders).optional(),
    limit: z.number().int().min(1).max(LIMITS.page.max).optional(),
    offset: z.number().int().min(0).optional(),
  })
  .strict()
export type HistoryFilter = z.infer<typeof historyFilter>

// ---------- requests ----------

const probes = z
  .record(z.string().max(200), text(MAX_TEXT_CHARS))
  .refine((r) => Object.keys(r).length <= MAX_PROBES, `at most ${MAX_PROBES} probe texts`)

/** Settings every experiment accepts; omitted fields come from the model's preset (or the seed's values). */
const experimentBase = {
  /** null/omitted: the embedded organism; a model directory; or a checkpoint name ("ckpt:NAME" or bare) / id */
  model: modelRef.optional(),
  prompt: text(MAX_TEXT_CHARS).refine((p) => p.trim().length > 0, 'the prompt is empty').optional(),
  /**
   * prompt engineering: text generated in front of the prompt and excluded from recall ('' / omitted: none). A
   * compare's engineered half stores it here, so Re-run of such a run measures recall the same way.
   */
  prefix: text(MAX_TEXT_CHARS).optional(),
  /** max_gen_len (default SEED_DEFAULTS.maxGen) */
  maxGen: maxGen.optional(),
  /** max_seq_len (default SEED_DEFAULTS.maxSeq; at most the model's context, checked by the lab) */
  maxSeq: wholeIn(LIMITS.maxSeq.min, LIMITS.maxSeq.max).optional(),
  /** 0 = greedy (default) */
  temperature: finite.min(0).max(100).optional(),
  topP: z.number().gt(0).max(1).optional(),
  seed: z.number().int().min(0).max(2 ** 31 - 1).optional(),
  /** reference continuation for recall / log-prob (default: the preset's, e.g. the soliloquy); null: none */
  reference: z.union([text(MAX_REFERENCE_CHARS), z.null()]).optional(),
  /** probe texts for stability (default: the preset's) */
  probes: probes.optional(),
}
const phrase = text(MAX_TEXT_CHARS).refine((p) => p.trim().length > 0, 'the phrase is empty')

/** What is wrong with a checkpoint name, in words (null: fine). Names are unique and never look like a path or an id. */
export function checkpointNameProblem(name: unknown): string | null {
  // JSON.stringify shows control characters escaped: printing the refusal never emits a raw escape sequence
  if (typeof name !== 'string' || !/^[^\s/\\:][^/\\:]{0,119}$/.test(name.trim()) || name.trim() !== name)
    return `a checkpoint name must be 1–120 characters without "/", "\\" or ":" and without leading/trailing spaces (got ${JSON.stringify(name)})`
  // control characters (a terminal escape sequence in a name printed by the CLI) and bidirectional overrides
  // (the one rule, src/shared/textSafety.ts)
  if (unsafeTextProblem('a checkpoint name', name)) return `a checkpoint name cannot contain control characters (got ${quoteForMessage(name)})`
  if (name.includes('..') || name.startsWith('.')) return `a checkpoint name cannot start with "." or contain ".." (got ${JSON.stringify(name)})`
  if (/^\d+$/.test(name)) return `a checkpoint name cannot be only digits (${name}): ids are written that way`
  return null
}
const checkpointName = z
  .string()
  .min(1, 'give the checkpoint a name')
  .superRefine((n, ctx) => {
    const why = checkpointNameProblem(n)
    if (why) ctx.addIssue({ code: 'custom', message: why })
  })

export const generateRequest = z.object(experimentBase).strict()
export const stepRequest = z
  .object({
    ...experimentBase,
    phrase: phrase.optional(),
    lr: stepSize,
    /** save the step as a checkpoint with this name */
    save: checkpointName.optional(),
    /** step only these parameters (exact: the other factors are dropped) */
    restrict: restrictionSchema.optional(),
  })
  .strict()
export const sweepRequest = z
  .object({ ...experimentBase, phrase: phrase.optional(), lrs: lrList.optional(), restrict: restrictionSchema.optional() })
  .strict()
export const compareRequest = z
  .object({
    ...experimentBase,
    /** the engineered prefix of the comparison's second half; default the preset's (SEED_DEFAULTS.engineeredPrefix) */
    prefix: text(MAX_TEXT_CHARS).optional(),
    phrase: phrase.optional(),
    /** the steps to compare besides the unstepped model (default none: prompt engineering on the model alone) */
    lrs: z.array(stepSize).max(MAX_STEP_SIZES, `at most ${MAX_STEP_SIZES} step sizes at once`).optional(),
  })
  .strict()
export const lessonRequest = z
  .object({
    ...experimentBase,
    steps: z
      .array(z.object({ phrase, lr: stepSize }).strict())
      .min(1, 'give at least one lesson')
      .max(MAX_LESSONS, `a lesson has at most ${MAX_LESSONS} steps`),
  })
  .strict()
export const saveCheckpointRequest = z.object({ runId: id, name: checkpointName }).strict()
export const renameCheckpointRequest = z.object({ id: checkpointRef, name: checkpointName }).strict()
export const deleteCheckpointRequest = z
  .object({ id: checkpointRef, force: z.boolean().optional(), /** delete for good instead of to the Trash */ purge: z.boolean().optional() })
  .strict()
/**
 * Export a checkpoint (or, without one, a model as it is) as a merged HF directory, a merged GGUF file or a PEFT
 * adapter. `outDir` is the target: a directory for hf/peft, a file for gguf.
 */
export const exportCheckpointRequest = z
  .object({
    id: checkpointRef.optional(),
    /** the model to export when no checkpoint is named (default: the embedded organism) */
    model: modelRef.optional(),
    format: exportFormat.optional(),
    // relative to what? The server's working directory is no place a user chose; the UI and CLI resolve first
    outDir: text(MAX_PATH_CHARS)
      .min(1, 'no export target given')
      .refine(isAbsolutePath, { error: (iss) => `the export target must be an absolute path (got ${JSON.stringify(iss.input)})` }),
    dtype: exportDtype.optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    const format = r.format ?? 'hf'
    if (r.dtype && !EXPORT_DTYPES[format].includes(r.dtype))
      ctx.addIssue({ code: 'custom', path: ['dtype'], message: `${r.dtype} is not available for ${format} (use ${EXPORT_DTYPES[format].join(', ')})` })
    if (format === 'peft' && r.id === undefined)
      ctx.addIssue({ code: 'custom', path: ['id'], message: 'a PEFT adapter is a step: name a checkpoint (the base model has no step to carry)' })
    if (r.id !== undefined && r.model !== undefined && r.model !== null)
      ctx.addIssue({ code: 'custom', path: ['model'], message: 'name a checkpoint or a model, not both (a checkpoint knows its model)' })
  })

const tagSchema = z
  .string()
  .trim()
  .min(1, 'a tag cannot be empty')
  .max(LIMITS.tags.chars, `a tag has at most ${LIMITS.tags.chars} characters`)
  .superRefine(safeText('a tag'))

export const experimentFilter = z
  .object({
    kind: oneOrMany(experimentKind).optional(),
    status: oneOrMany(runStatus).optional(),
    /** has this tag */
    tag: tagSchema.optional(),
    starred: z.boolean().optional(),
    /** substring of the title, notes, prompt, phrase or tags */
    text: text(2000).optional(),
    /** model id, or a substring of its path/name */
    model: z.union([id, text(4096)]).optional(),
    /** experiments that started from this checkpoint (id, also when trashed or purged) */
    checkpointId: id.optional(),
    from: isoDate.optional(),
    to: isoDate.optional(),
    sort: experimentSortKey.optional(),
    order: z.enum(sortOrders).optional(),
    limit: z.number().int().min(1).max(LIMITS.page.max).optional(),
    offset: z.number().int().min(0).optional(),
  })
  .strict()
export type ExperimentFilter = z.infer<typeof experimentFilter>

export const updateExperimentRequest = z
  .object({
    id,
    title: text(LIMITS.title.chars).superRefine(safeText('an experiment title')).optional(),
    notes: text(LIMITS.notes.chars).superRefine(safeText('experiment notes', true)).optional(),
    /** replaces the tags (trimmed, de-duplicated) */
    tags: z.array(tagSchema).max(LIMITS.tags.max, `at most ${LIMITS.tags.max} tags`).optional(),
    starred: z.boolean().optional(),
  })
  .strict()
export type UpdateExperimentRequest = z.infer<typeof updateExperimentRequest>

export const experimentTableRequest = z.object({ id, format: tableFormat.optional() }).strict()
export const runDiffRequest = z.object({ a: id, b: id }).strict()

export const checkpointsRequest = z
  .object({ /** 'live' (default): usable bases; 'trash': deleted, restorable; 'all' */ include: z.enum(['live', 'trash', 'all']).optional() })
  .strict()
export const restoreCheckpointRequest = z.object({ id: checkpointRef }).strict()
/** purge one trashed checkpoint (id), or every trashed one deleted more than olderThanDays ago (default TRASH_DAYS) */
export const purgeCheckpointsRequest = z
  .object({ id: checkpointRef.optional(), olderThanDays: z.number().min(0).max(100_000).optional() })
  .strict()

const modelSel = z.object({ model: modelRef.optional() }).strict()
export const updateModelTextsRequest = z
  .object({
    model: modelRef.optional(),
    reference: z.union([text(1_000_000), z.null()]).optional(),
    probes: probes.optional(),
    paraphrases: z
      .array(text(20_000).refine((p) => p.trim().length > 0, 'a paraphrased prompt is empty'))
      .max(LIMITS.paraphrases.max, `at most ${LIMITS.paraphrases.max} paraphrased prompts`)
      .optional(),
    /** forget the saved texts: back to the preset's */
    reset: z.boolean().optional(),
  })
  .strict()
export type UpdateModelTextsRequest = z.infer<typeof updateModelTextsRequest>

export const tokenCountRequest = z
  .object({
    model: modelRef.optional(),
    /** named texts to count, e.g. { prompt, phrase } */
    texts: z.record(z.string().max(64), text(1_000_000)).refine((r) => Object.keys(r).length <= 16, 'at most 16 texts'),
    /** checked against this max_seq_len (default SEED_DEFAULTS.maxSeq) */
    maxSeq: wholeIn(LIMITS.maxSeq.min, LIMITS.maxSeq.max).optional(),
  })
  .strict()

/** The layer study: the step at one α restricted to each group alone and to each layer band alone. */
export const layerStudyRequest = z
  .object({
    ...experimentBase,
    phrase: phrase.optional(),
    /** default 0.03 */
    lr: stepSize.optional(),
    /** which restrictions to try (default: every coarse group, every seven-module kind, every layer band) */
    groups: z.array(paramGroup).min(1).max(paramGroups.length).optional(),
    /** width of the layer bands (default 1: each layer alone); 0: no layer bands */
    band: z.number().int().min(0).max(1024).optional(),
  })
  .strict()

/** The plasticity window: bisection in log α for α_learn and α_break, several α per batched generation. */
export const windowRequest = z
  .object({
    ...experimentBase,
    phrase: phrase.optional(),
    /** bracket of the search (default 1e-5 … 1) */
    lo: finite.positive().optional(),
    hi: finite.positive().optional(),
    /** α per batched generation (default 8) and rounds after the first (default 3) */
    perRound: z.number().int().min(2).max(MAX_STEP_SIZES).optional(),
    rounds: z.number().int().min(0).max(20).optional(),
    /** broken when the completion's repetition ≥ this (default WINDOW_DEFAULTS.repetitionMax) … */
    repetitionMax: z.number().gt(0).max(1).optional(),
    /** … or when the mean probe KL(base ‖ stepped) ≥ this, in nats (default WINDOW_DEFAULTS.klMax) */
    klMax: finite.positive().optional(),
  })
  .strict()

/** Watching it emerge: log p(next reference token | prefix) over positions × α, one batched teacher-forced pass. */
export const emergeRequest = z
  .object({
    ...experimentBase,
    phrase: phrase.optional(),
    lrs: lrList.optional(),
    /** alternatives per cell (default 5) */
    topk: z.number().int().min(0).max(20).optional(),
    /** tokens of BOS + reference scored (default 96) */
    tokens: z.number().int().min(2).max(4096).optional(),
  })
  .strict()

/** a report of one experiment (by its id; an instrument's, a sweep's, a compare's or a lesson's) */
export const reportRequest = z.object({ id }).strict()

export type ExperimentBase = z.infer<typeof generateRequest>
export type LayerStudyRequest = z.infer<typeof layerStudyRequest>
export type WindowRequest = z.infer<typeof windowRequest>
export type EmergeRequest = z.infer<typeof emergeRequest>
export type ReportRequest = z.infer<typeof reportRequest>

/** The window's defaults and thresholds, stated (docs/design.md, "The plasticity window"). */
export const WINDOW_DEFAULTS = {
  lo: 1e-5,
  hi: 1,
  perRound: 8,
  rounds: 3,
  /** broken: at least this share of the completion's token 4-grams occurred earlier in it (the run's `repetition`) */
  repetitionMax: 0.5,
  /** broken: mean probe KL(base ‖ stepped) at least this many nats per token */
  klMax: 1,
} as const
/** The layer study's default step size. */
export const LAYER_STUDY_LR = 0.03
export type GenerateRequest = z.infer<typeof generateRequest>
export type StepRequest = z.infer<typeof stepRequest>
export type SweepRequest = z.infer<typeof sweepRequest>
export type CompareRequest = z.infer<typeof compareRequest>
export type LessonRequest = z.infer<typeof lessonRequest>
export type SaveCheckpointRequest = z.infer<typeof saveCheckpointRequest>
export type RenameCheckpointRequest = z.infer<typeof renameCheckpointRequest>
export type DeleteCheckpointRequest = z.infer<typeof deleteCheckpointRequest>
export type ExportCheckpointRequest = z.infer<typeof exportCheckpointRequest>

// ---------- responses ----------

export const runResultSchema = z.object({ run: runRecordSchema, checkpoint: checkpointSchema.optional() })
export type RunResult = z.infer<typeof runResultSchema>

export const sweepResultSchema = z.object({
  group: groupRecordSchema,
  runs: z.array(runRecordSchema),
  /** BOS + phrase ids and the phrase loss at the starting model (the CLI's --json sweep output) */
  phraseIds: z.array(z.number()),
  phraseLoss: measured,
  /** the seed's "Stepping Off" table */
  table: z.string(),
})
export type SweepResult = z.infer<typeof sweepResultSchema>

export const compareCellSchema = z.object({
  runId: z.number(),
  /** true: prefix + prompt */
  prefixed: z.boolean(),
  /** 0: the model the comparison started from */
  lr: z.number(),
  /** completion as shown next to its prompt (without the prefix) */
  text: z.string(),
  recall: measured.nullable(),
})
export type CompareCell = z.infer<typeof compareCellSchema>

export const compareResultSchema = z.object({ group: groupRecordSchema, runs: z.array(runRecordSchema), cells: z.array(compareCellSchema) })
export type CompareResult = z.infer<typeof compareResultSchema>

export const lessonResultSchema = z.object({
  group: groupRecordSchema,
  runs: z.array(runRecordSchema),
  /** forgetting[k][j]: after step k, lesson j ≤ k (loss and recall) */
  forgetting: z.array(z.array(lessonRecallSchema)),
})
export type LessonResult = z.infer<typeof lessonResultSchema>

export const layerCellSchema = z.object({
  runId: z.number(),
  /** "attn", "mlp", "q" …, "layers 0–1", or "full" */
  label: z.string(),
  restrict: restrictionSchema.nullable(),
  /** prompt + completion reproduces every word of the phrase, in order */
  recalls: z.boolean(),
  /** words of the phrase reproduced (of phraseWords) */
  phraseRecall: z.number(),
  /** the recall metric: words of the reference reproduced */
  recall: measured.nullable(),
  text: z.string(),
  /** ‖α∇W‖_F of the kept parameters */
  updateNorm: measured,
})
export type LayerCell = z.infer<typeof layerCellSchema>

export const layerStudyResultSchema = z.object({
  /** the experiment recorded (History lists it; `soliloquy report` takes its id) */
  experimentId: z.number(),
  group: groupRecordSchema,
  runs: z.array(runRecordSchema),
  lr: z.number(),
  phraseWords: z.number(),
  /** the full step first, then each restriction */
  cells: z.array(layerCellSchema),
  /** the full step's layer × module grid at α */
  grid: updateGridSchema,
})
export type LayerStudyResult = z.infer<typeof layerStudyResultSchema>

export const windowProbeSchema = z.object({
  runId: z.number(),
  lr: z.number(),
  /** the search round that tried it (0: the first, log-spaced bracket) */
  round: z.number(),
  learned: z.boolean(),
  broken: z.boolean(),
  /** the run's repetition metric (share of its completion's token 4-grams seen earlier in it) */
  repetition: measured,
  stabilityKl: measured.nullable(),
  text: z.string(),
})
export type WindowProbe = z.infer<typeof windowProbeSchema>

export const windowResultSchema = z.object({
  /** the experiment recorded (History lists it; `soliloquy report` takes its id) */
  experimentId: z.number(),
  group: groupRecordSchema,
  runs: z.array(runRecordSchema),
  /** smallest α tried that learned (null: none in the bracket) */
  alphaLearn: z.number().nullable(),
  /** largest α tried below alphaLearn that did not learn (the bisection's other side) */
  alphaLearnBelow: z.number().nullable(),
  alphaBreak: z.number().nullable(),
  alphaBreakBelow: z.number().nullable(),
  /** log10(α_break / α_learn) (null when either is missing) */
  widthDecades: z.number().nullable(),
  /** the tokens the greedy continuation must start with to count as learned */
  continuationIds: z.array(z.number()),
  continuationText: z.string(),
  thresholds: z.object({ repetitionMax: z.number(), klMax: z.number() }),
  /** the definitions, in words */
  definitions: z.object({ learn: z.string(), break: z.string() }),
  /** every α tried, sorted by α */
  probes: z.array(windowProbeSchema),
})
export type WindowResult = z.infer<typeof windowResultSchema>

export const tokenAltSchema = z.object({ id: z.number(), text: z.string(), logprob: measured })
export const emergeResultSchema = z.object({
  /** the experiment recorded (History lists it; `soliloquy report` takes its id) */
  experimentId: z.number(),
  group: groupRecordSchema,
  runs: z.array(runRecordSchema),
  lrs: z.array(z.number()),
  /** BOS + the scored text, one entry per token */
  tokens: z.array(z.object({ id: z.number(), text: z.string() })),
  /** tokens[0 … promptTokens−1] are BOS + the prompt (their predictions are context, not continuation) */
  promptTokens: z.number(),
  /** logprob[a][t] = log p(tokens[t+1] | tokens[0..t]) under α = lrs[a]; t = 0 … tokens−2 */
  logprob: z.array(z.array(measured)),
  /** top[a][t]: the most likely next tokens at t under α = lrs[a] */
  top: z.array(z.array(z.array(tokenAltSchema))),
  /** the greedy table beside it (the seed's format) */
  table: z.string(),
})
export type EmergeResult = z.infer<typeof emergeResultSchema>

export const reportResultSchema = z.object({ title: z.string(), html: z.string() })
export type ReportResult = z.infer<typeof reportResultSchema>


export const runDetailSchema = z.object({
  run: runRecordSchema,
  group: groupRecordSchema.nullable(),
  model: z.object({ id: z.number(), path: z.string(), name: z.string().nullable() }),
  /** the checkpoint the run started from */
  startedFrom: checkpointSchema.nullable(),
  /** checkpoints saved from this run */
  saved: z.array(checkpointSchema),
  /** the experiment it belongs to */
  experiment: experimentSummarySchema.nullable().default(null),
})
export type RunDetail = z.infer<typeof runDetailSchema>

export const deleteResultSchema = z.object({ deleted: z.array(z.string()), freedBytes: z.number() })
export type DeleteResult = z.infer<typeof deleteResultSchema>

export const exportResultSchema = z.object({
  format: exportFormat,
  /** the written target: a directory (hf, peft) or a file (gguf) */
  dir: z.string(),
  files: z.array(z.string()),
  bytes: z.number(),
  dtype: exportDtype,
  /** what was written otherwise than asked (gguf: matrices whose rows are not whole blocks of the type, and the type
   *  they fell back to) */
  notes: z.array(z.string()).optional(),
  /** null: the model exported as it is */
  checkpoint: checkpointSchema.nullable(),
  /** the adapter's rank, what it cannot carry and the measured cost (peft only) */
  peft: z
    .object({
      rank: z.number(),
      notCarried: z.array(z.string()),
      /** KL(merged ‖ adapter-applied) of the next-token distributions on the probes, in nats */
      normLoss: z.object({ meanKL: z.number(), maxKL: z.number(), perProbe: z.record(z.string(), z.number()) }),
    })
    .optional(),
})
export type ExportResult = z.infer<typeof exportResultSchema>

/** The engine on this machine: the kernel path in use (chosen at load from the CPU's features, or forced by
 *  $SOLILOQUY_KERNELS), the paths this CPU could run, the features read, and the worker threads. */
export const engineInfoSchema = z.object({
  kernelPath: z.string(),
  forced: z.boolean(),
  availablePaths: z.array(z.string()),
  cpuFeatures: z.array(z.string()),
  threads: z.number(),
})
export type EngineInfo = z.infer<typeof engineInfoSchema>
export const deleteCheckpointResultSchema = deleteResultSchema.extend({
  /** true: moved to the Trash (restorable until purged); false: purged */
  trashed: z.boolean(),
})
export type DeleteCheckpointResult = z.infer<typeof deleteCheckpointResultSchema>

// ---------- the method table ----------

export const methods = {
  listModels: { req: z.object({}).strict(), res: z.array(modelInfoSchema) },
  openModel: { req: z.object({ path: text(MAX_PATH_CHARS).min(1, 'no directory given') }).strict(), res: modelInfoSchema },
  generate: { req: generateRequest, res: runResultSchema, long: true },
  step: { req: stepRequest, res: runResultSchema, long: true },
  sweep: { req: sweepRequest, res: sweepResultSchema, long: true },
  compare: { req: compareRequest, res: compareResultSchema, long: true },
  lesson: { req: lessonRequest, res: lessonResultSchema, long: true },
  history: { req: historyFilter, res: historyPageSchema },
  run: { req: z.object({ id }).strict(), res: runDetailSchema },
  scatter: { req: historyFilter, res: z.array(scatterPointSchema) },
  checkpoints: { req: checkpointsRequest, res: z.array(checkpointSchema) },
  saveCheckpoint: { req: saveCheckpointRequest, res: checkpointSchema, long: true },
  renameCheckpoint: { req: renameCheckpointRequest, res: checkpointSchema },
  /** moves it (and with force its descendants) to the Trash; purge: true deletes it for good */
  deleteCheckpoint: { req: deleteCheckpointRequest, res: deleteCheckpointResultSchema },
  restoreCheckpoint: { req: restoreCheckpointRequest, res: checkpointSchema },
  purgeCheckpoints: { req: purgeCheckpointsRequest, res: deleteResultSchema },
  exportCheckpoint: { req: exportCheckpointRequest, res: exportResultSchema, long: true },
  /**
   * Runs a recorded run again with its settings (prompt, prefix, phrase, α, max tokens …) on its base by id — a
   * renamed base is found; a trashed or purged one is refused in words. A new experiment.
   */
  rerun: { req: z.object({ runId: id }).strict(), res: runResultSchema, long: true },
  experiments: { req: experimentFilter, res: experimentPageSchema },
  experiment: { req: z.object({ id }).strict(), res: experimentDetailSchema },
  updateExperiment: { req: updateExperimentRequest, res: experimentSummarySchema },
  exportExperiment: { req: z.object({ id }).strict(), res: experimentExportSchema },
  experimentTable: { req: experimentTableRequest, res: experimentTableSchema },
  diffRuns: { req: runDiffRequest, res: runDiffSchema },
  modelTexts: { req: modelSel, res: modelTextsSchema },
  updateModelTexts: { req: updateModelTextsRequest, res: modelTextsSchema },
  tokenCount: { req: tokenCountRequest, res: tokenCountSchema },
  layerStudy: { req: layerStudyRequest, res: layerStudyResultSchema, long: true },
  window: { req: windowRequest, res: windowResultSchema, long: true },
  emerge: { req: emergeRequest, res: emergeResultSchema, long: true },
  report: { req: reportRequest, res: reportResultSchema },
  engineInfo: { req: z.object({}).strict(), res: engineInfoSchema },
} as const

export type Methods = typeof methods
export type MethodName = keyof Methods
export type ApiRequest<M extends MethodName> = z.input<Methods[M]['req']>
export type ApiResponse<M extends MethodName> = z.output<Methods[M]['res']>
export type HistoryFilterArgs = z.input<typeof historyFilter>

export const methodNames = Object.keys(methods) as MethodName[]

export function isMethod(name: unknown): name is MethodName {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(methods, name)
}

/** Job ids are chosen by the client: short, printable. */
export const jobIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a job id is 1–64 letters, digits, _ or -')

/** What crosses the transport for one call. */
export const callEnvelope = z
  .object({
    method: z.string().max(64),
    args: z.unknown(),
    jobId: jobIdSchema.optional(),
  })
  .strict()
export type CallEnvelope = z.output<typeof callEnvelope>

export const progressMessage = z.object({
  jobId: z.string(),
  /** what the lab is doing: "gradient", "generate", "metrics", "export" … */
  phase: z.string(),
  done: z.number(),
  total: z.number(),
})
export type ProgressMessage = z.infer<typeof progressMessage>

/**
 * What kind of failure a call met, so that no caller has to match on message text: the request was wrong (input:
 * a field out of range, a checkpoint that does not exist), it was cancelled, the model or a file could not be used
 * (model), or something else went wrong (internal). modelMissing: a checkpoint's (or run's) model is no longer where it
 * was and is in none of the known folders — the app asks for its folder, opens it (which re-points the model by its
 * fingerprint) and tries again.
 */
export const errorKinds = ['input', 'cancelled', 'model', 'internal', 'modelMissing'] as const
export type ErrorKind = (typeof errorKinds)[number]

/** A failed call as it crosses every transport (IPC, WebSocket, the lab process): words, a kind, and the request's
 *  fields it concerns when the contract's validation named them. */
export interface CallError {
  message: string
  kind: ErrorKind
  fields?: string[]
}

export const callErrorSchema = z.object({ message: z.string(), kind: z.enum(errorKinds), fields: z.array(z.string()).optional() })

export type CallResult<T = unknown> = { ok: true; result: T } | { ok: false; error: CallError }

// ---------- transports ----------

/** Electron IPC channels between the preload and the main process (src/main/ipc.ts). */
export const IPC_CHANNELS = {
  /** invoke: { method, args, jobId? } → CallResult */
  call: 'api:call',
  /** invoke: jobId → nothing */
  cancel: 'api:cancel',
  /** main → renderer: ProgressMessage of the sender's jobs */
  progress: 'api:progress',
  /** invoke: 'model' | 'export' → the directory chosen in the native dialog, or null */
  pickDirectory: 'api:pickDirectory',
  /** main → every window: LabEvent (a run or an experiment changed) */
  event: 'api:event',
} as const

/** model: a model directory; model-file: a .gguf file; export: a directory to export into; export-file: a .gguf to save */
export const pickPurpose = z.enum(['model', 'model-file', 'export', 'export-file'])
export type PickPurpose = z.infer<typeof pickPurpose>

/** Browser mode's WebSocket (/api): what the page sends … */
export const wsClientMessage = z.union([
  z.object({ type: z.literal('cancel'), jobId: z.unknown().optional() }),
  z.object({
    type: z.literal('call').optional(),
    /** the client's number (or string) for matching the answer; anything else is answered with id null */
    id: z
      .unknown()
      .optional()
      .transform((v) => (typeof v === 'number' || typeof v === 'string' ? v : null)),
    // checked by the router against the method table (src/main/host/dispatch.ts), as IPC calls are
    method: z.unknown().optional(),
    args: z.unknown().optional(),
    jobId: z.unknown().optional(),
  }),
])
export type WsClientMessage = z.input<typeof wsClientMessage>

/** … and what the server answers: progress of a job, or the result of call `id`. */
export const wsServerMessage = z.union([
  progressMessage.extend({ type: z.literal('progress') }),
  /** pushed to every connected page: a run or an experiment changed */
  z.object({ type: z.literal('event'), event: labEventSchema }),
  z.object({ id: z.union([z.number(), z.string(), z.null()]), ok: z.literal(true), result: z.unknown() }),
  z.object({ id: z.union([z.number(), z.string(), z.null()]), ok: z.literal(false), error: callErrorSchema }),
])
export type WsServerMessage = z.infer<typeof wsServerMessage>

/** A field's name in words: "lrs.2" → "Step sizes (no. 3)", "steps.0.phrase" → "Lessons (no. 1): Phrase". */
export function fieldLabel(path: readonly PropertyKey[]): string {
  const out: string[] = []
  for (const k of path) {
    if (typeof k === 'number') out[out.length - 1] = `${out[out.length - 1] ?? 'item'} (no. ${k + 1})`
    else out.push(FIELD_LABELS[String(k)] ?? String(k))
  }
  return out.join(': ')
}

function shown(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)
  if (v === undefined) return 'nothing'
  try {
    return JSON.stringify(v)?.slice(0, 60) ?? String(v)
  } catch {
    return String(v)
  }
}

/**
 * One zod issue in words, naming the field as the UI labels it: "Max tokens must be a whole number from 1 to 4096
 * (got "abc")". Messages the schemas wrote themselves are kept; zod's own (type, size, unknown keys) are reworded.
 */
export function issueInWords(issue: z.core.$ZodIssue): string {
  const label = fieldLabel(issue.path)
  const own = (m: string): string => (label ? `${label}: ${m}` : m)
  const i = issue as z.core.$ZodIssue & { input?: unknown; expected?: unknown; minimum?: unknown; maximum?: unknown; keys?: string[]; origin?: string; values?: unknown[] }
  switch (issue.code) {
    case 'invalid_type':
      if (i.input === undefined) return own('is missing')
      return own(`must be ${i.expected === 'number' ? 'a number' : i.expected === 'string' ? 'text' : i.expected === 'array' ? 'a list' : i.expected === 'boolean' ? 'true or false' : `of type ${String(i.expected)}`} (got ${shown(i.input)})`)
    case 'too_small':
      if (!/^Too small/.test(issue.message)) return own(issue.message)
      if (i.origin === 'string') return own(Number(i.minimum) <= 1 ? 'is empty' : `needs at least ${String(i.minimum)} characters`)
      if (i.origin === 'array') return own(`needs at least ${String(i.minimum)} item${Number(i.minimum) === 1 ? '' : 's'}`)
      return own(`must be at least ${String(i.minimum)}`)
    case 'too_big':
      if (!/^Too big/.test(issue.message)) return own(issue.message)
      if (i.origin === 'string') return own(`has more than ${String(i.maximum)} characters`)
      if (i.origin === 'array') return own(`takes at most ${String(i.maximum)} items`)
      return own(`must be at most ${String(i.maximum)}`)
    case 'unrecognized_keys':
      return `unknown setting${(i.keys ?? []).length === 1 ? '' : 's'} ${(i.keys ?? []).map((k) => JSON.stringify(k)).join(', ')}${label ? ` in ${label}` : ''}`
    case 'invalid_value':
      // an enumeration: name what it accepts
      if (Array.isArray(i.values) && i.values.length > 0 && i.values.length <= 16)
        return own(`must be one of ${i.values.map(String).join(', ')} (got ${shown(i.input)})`)
      return own(`is not one of the accepted values (got ${shown(i.input)})`)
    case 'invalid_union':
      return own(`is not one of the accepted values (got ${shown(i.input)})`)
    default:
      return own(issue.message)
  }
}

/** Per field (the request's top-level key, '' for the whole request): the first problem in words — for inline errors. */
export function fieldErrors(err: z.ZodError): Record<string, string> {
  const out: Record<string, string> = {}
  for (const issue of err.issues) {
    const k = issue.path.length ? String(issue.path[0]) : ''
    if (!(k in out)) out[k] = issueInWords(issue)
  }
  return out
}

/**
 * THE zod error → message mapping (every transport, the CLI and the UI use it): "sweep: Max tokens must be a whole
 * number from 1 to 4096 (got "abc"); Phrase: the phrase is empty". Never zod's raw text.
 */
export function describeZodError(method: string, err: z.ZodError): string {
  const parts = err.issues.slice(0, 4).map(issueInWords)
  return `${method}: ${parts.join('; ')}`
}

/** Checks a request before any run (the UI calls this as the user types): null when fine, else per-field messages. */
export function checkRequest<M extends MethodName>(method: M, args: unknown): { message: string; fields: Record<string, string> } | null {
  const r = methods[method].req.safeParse(args === undefined ? {} : args, { reportInput: true })
  if (r.success) return null
  return { message: describeZodError(method, r.error), fields: fieldErrors(r.error) }
}

/** Validates one call; returns the parsed args or an error message in words. */
export function validateCall(
  method: unknown,
  args: unknown,
): { ok: true; method: MethodName; args: unknown } | { ok: false; message: string; fields?: string[] } {
  if (!isMethod(method)) return { ok: false, message: `unknown method ${JSON.stringify(String(method)).slice(0, 80)}` }
  const r = methods[method].req.safeParse(args === undefined ? {} : args, { reportInput: true })
  if (!r.success) {
    const fields = [...new Set(r.error.issues.map((i) => String(i.path[0] ?? '')).filter((f) => f !== ''))]
    return { ok: false, message: describeZodError(method, r.error), ...(fields.length ? { fields } : {}) }
  }
  return { ok: true, method, args: r.data }
}

/** Message of any thrown value, in words: first line, no stack. */
export function errorMessage(e: unknown): string {
  const m = e instanceof Error ? e.message : typeof e === 'string' ? e : e && typeof e === 'object' && 'message' in e ? String((e as { message: unknown }).message) : String(e)
  return (m.split('\n')[0] || 'unknown error').slice(0, 2000)
}

/** The transport-agnostic client the renderer uses (IPC through preload, or WebSocket in browser mode). */
export interface ApiClient {
  readonly kind: 'ipc' | 'websocket'
  call<M extends MethodName>(method: M, args: ApiRequest<M>, opts?: { jobId?: string; onProgress?: (p: ProgressMessage) => void }): Promise<ApiResponse<M>>
  cancel(jobId: string): Promise<void>
  /** native directory dialog (Electron only); null when cancelled or unavailable */
  pickDirectory?(purpose: PickPurpose): Promise<string | null>
  /** lab events (runs/experiments changed); returns the unsubscribe function */
  onEvent?(cb: (e: LabEvent) => void): () => void
}

/** What the preload exposes as window.api (everything validated again in main): one function per IPC channel. */
export interface PreloadApi {
  call(envelope: { method: MethodName; args: unknown; jobId?: string }): Promise<CallResult>
  cancel(jobId: string): Promise<void>
  onProgress(cb: (p: ProgressMessage) => void): () => void
  pickDirectory(purpose: PickPurpose): Promise<string | null>
  onEvent(cb: (e: LabEvent) => void): () => void
}
