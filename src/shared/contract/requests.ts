// Requests: what each method takes, with the checks that run before any work (the UI runs them as the user types).
import { z } from 'zod'
import { quoteForMessage, unsafeTextProblem } from '../textSafety'
import { EXPORT_DTYPES, experimentKind, experimentSortKey, exportDtype, exportFormat, paramGroup, paramGroups, runStatus, sortOrders, tableFormat } from './enums'
import { checkpointRef, finite, id, isAbsolutePath, isoDate, lrList, maxGen, modelRef, oneOrMany, safeText, stepSize, text, wholeIn } from './fields'
import { LIMITS, MAX_LESSONS, MAX_PATH_CHARS, MAX_PROBES, MAX_REFERENCE_CHARS, MAX_STEP_SIZES, MAX_TEXT_CHARS } from './limits'
import { restrictionSchema } from './records'

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
/**
 * The experiments' option to apply the model's chat template (its tokenizer_config.json or GGUF template): the prompt
 * and each probe become a user turn followed by the assistant's opening, the phrase the assistant's answer to the
 * prompt (default false: the texts as typed; refused in words when the model has no template).
 */
const chat = { chatTemplate: z.boolean().optional() }

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

export const generateRequest = z.object({ ...experimentBase, ...chat }).strict()
export const stepRequest = z
  .object({
    ...experimentBase,
    ...chat,
    phrase: phrase.optional(),
    lr: stepSize,
    /** save the step as a checkpoint with this name */
    save: checkpointName.optional(),
    /** step only these parameters (exact: the other factors are dropped) */
    restrict: restrictionSchema.optional(),
  })
  .strict()
export const sweepRequest = z
  .object({ ...experimentBase, ...chat, phrase: phrase.optional(), lrs: lrList.optional(), restrict: restrictionSchema.optional() })
  .strict()
export const compareRequest = z
  .object({
    ...experimentBase,
    ...chat,
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
    ...chat,
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

export const modelSel = z.object({ model: modelRef.optional() }).strict()
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

/**
 * A mixture of experts' routing on the phrase (or a text) and the prompt, before the step and after it at each α; with
 * `experts`, the step restricted to them too, and whether its completion of the prompt recalls the phrase.
 */
export const expertsRequest = z
  .object({
    ...experimentBase,
    phrase: phrase.optional(),
    /** the text routed (default: the phrase) */
    text: text(MAX_TEXT_CHARS).refine((p) => p.trim().length > 0, 'the text is empty').optional(),
    /** default: the model's preset */
    lrs: lrList.optional(),
    /** a step restricted to these experts too: "L:E,L:E" (e.g. "3:17,3:40" or "3:17+40") */
    experts: z.string().max(10_000).optional(),
  })
  .strict()
export type ExpertsRequest = z.infer<typeof expertsRequest>

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
