// Records the lab answers with: models, runs and their metrics, experiments, per-model texts, the scatter.
import { z } from 'zod'
import { checkpointState, experimentKind, paramGroup, paramGroups, runKind, runStatus, sortKey, sortOrders, tableFormat } from './enums'
import { finite, id, isoDate, measured, measuredMap, oneOrMany, text } from './fields'
import { LIMITS, MAX_PATH_CHARS } from './limits'

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

// ---------- studies (issue 24) ----------

/** What a run of a study records about its cell (RunMetrics.study). */
export const studyRunInfoSchema = z.object({
  cell: z.string(),
  host: z.string(),
  kernelPath: z.string(),
  threads: z.number(),
  /** the job's time in the queue before a worker took it (ms; 0 embedded) */
  queuedMs: z.number(),
  /** the cell's compute on the worker (ms) */
  cellMs: z.number(),
  learned: z.boolean(),
  broken: z.boolean(),
})

// ---------- runs ----------

/** What every run measures (definitions: docs/design.md, "Metrics"). */
/** Where a text the metrics use came from (runMetricsSchema.texts, modelTextsSchema.from). */
export const textOrigin = z.enum(['model', 'saved', 'request', 'default'])
export type TextOrigin = z.infer<typeof textOrigin>

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
   * generalisation (EasyEdit's rephrase accuracy, teacher-forced): for each of the model's paraphrased prompts, the share
   * of the phrase's continuation tokens after it that the stepped model predicts as its top-1 next token given the true
   * tokens before (0–1); mean over prompts, per prompt in generalisationBy
   */
  generalisation: measured.optional(),
  generalisationBy: measuredMap.optional(),
  /**
   * free-running generalisation: the share of the phrase's words the stepped model's greedy completion reproduces
   * after each paraphrased prompt (0–1); mean over prompts, per prompt in paraphraseRecallBy
   */
  paraphraseRecall: measured.optional(),
  paraphraseRecallBy: measuredMap.optional(),
  /**
   * locality (EasyEdit, teacher-forced): on each probe's opening + the starting model's greedy continuation, the share
   * of the continuation's positions where the stepped model's top-1 next token equals the starting model's
   * (1 = untouched); mean over probes, per probe in localityBy. localityKl: KL(base ‖ stepped) over the same positions
   */
  locality: measured.optional(),
  localityBy: measuredMap.optional(),
  localityKl: measured.optional(),
  localityKlBy: measuredMap.optional(),
  /**
   * free-running locality ("continuation unchanged"): the stepped model's own greedy continuation of each probe's
   * opening compared position by position with the starting model's (one flip at a near-tie changes every later
   * position); baseMinMargin: the smallest top-1 − top-2 logit margin of the starting model's continuations
   */
  continuationUnchanged: measured.optional(),
  continuationUnchangedBy: measuredMap.optional(),
  baseMinMargin: measured.optional(),
  baseMarginBy: measuredMap.optional(),
  /** metrics that could not be measured for this run, each with the reason in words (metric name → why) */
  unmeasured: z.record(z.string(), z.string()).optional(),
  /**
   * where the texts the metrics were measured against came from: 'model' (the model's own preset/probes files or its
   * GGUF metadata), 'saved' (edited in the lab), 'request' (given with the experiment), 'default' (the shipped
   * defaults: the soliloquy, the shipped probes and paraphrases — the model has none of its own)
   */
  texts: z.object({ reference: textOrigin.optional(), probes: textOrigin.optional(), paraphrases: textOrigin.optional() }).optional(),
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
  /** a study's run: its cell, the worker that ran it and how (src/main/lab/study) */
  study: studyRunInfoSchema.optional(),
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
  /** its place in the experiment (α column of a sweep, step of a lesson, cell of a comparison; null: the experiment's
   *  only run, a generation or a step) */
  position: z.number().nullable(),
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
  /** the request as given, for kinds of several runs (sweep, compare, lesson, layers, window, emerge); null otherwise */
  args: z.record(z.string(), z.unknown()).nullable().default(null),
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
  /** where each text comes from: the model's own ('model'), edited ('saved'), or the shipped defaults ('default') */
  from: z.object({ reference: textOrigin, probes: textOrigin, paraphrases: textOrigin }),
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
  /** prompt engineering: the run was asked with an engineered prefix (a compare's right half), not only stepped */
  prefixed: z.boolean().default(false),
  startedAt: z.string(),
})
export type ScatterPoint = z.infer<typeof scatterPointSchema>


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
    /** the runs of one experiment */
    experimentId: id.optional(),
    checkpointId: id.optional(),
    sort: sortKey.optional(),
    order: z.enum(sortOrders).optional(),
    limit: z.number().int().min(1).max(LIMITS.page.max).optional(),
    offset: z.number().int().min(0).optional(),
  })
  .strict()
export type HistoryFilter = z.infer<typeof historyFilter>
