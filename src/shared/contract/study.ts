// Studies (issue 24): a grid of phrases × prompts × step sizes × models, one cell per (model, prompt, phrase) with all
// its α in one batched sweep, run in the lab's own process or by workers on a BullMQ queue (Redis). The requests the
// lab takes, what it answers with, and the job payload a worker accepts — all checked here, like every other call.
import { z } from 'zod'
import { finite, lrList, maxGen, measured, modelRef, safeText, text, wholeIn } from './fields'
import { LIMITS, MAX_REFERENCE_CHARS, MAX_TEXT_CHARS } from './limits'
import { restrictionSchema, runMetricsSchema } from './records'

/** At most this many phrases, prompts and models in one study (cells = models × prompts × phrases). */
export const STUDY_LIMITS = { phrases: 2000, prompts: 64, models: 16, cells: 20_000 } as const

/**
 * A queue's address: redis://[user:pass@]HOST:PORT[/db] or rediss:// (TLS). Credentials in it are used to connect and
 * never stored or printed (src/main/lab/study/queueUrl.ts redacts them).
 */
export const queueUrl = text(2048).refine((u) => /^rediss?:\/\/[^\s/]+(\/\d{1,2})?\/?$/.test(u), {
  error: 'a queue is redis://[user:pass@]HOST:PORT[/db] or rediss://… (no spaces, no path but a database number)',
})

const nonEmpty = (what: string) => text(MAX_TEXT_CHARS).refine((p) => p.trim().length > 0, `${what} is empty`)

export const studyRequest = z
  .object({
    phrases: z.array(nonEmpty('a phrase')).min(1, 'give at least one phrase').max(STUDY_LIMITS.phrases, `at most ${STUDY_LIMITS.phrases} phrases`),
    /** default: each model's preset prompt */
    prompts: z.array(nonEmpty('a prompt')).min(1).max(STUDY_LIMITS.prompts, `at most ${STUDY_LIMITS.prompts} prompts`).optional(),
    lrs: lrList,
    /** models or checkpoints (null: the embedded organism); default: the organism alone */
    models: z.array(modelRef).min(1).max(STUDY_LIMITS.models, `at most ${STUDY_LIMITS.models} models`).optional(),
    restrict: restrictionSchema.optional(),
    maxGen: maxGen.optional(),
    maxSeq: wholeIn(LIMITS.maxSeq.min, LIMITS.maxSeq.max).optional(),
    temperature: finite.min(0).max(100).optional(),
    topP: z.number().gt(0).max(1).optional(),
    seed: z.number().int().min(0).max(2 ** 31 - 1).optional(),
    reference: z.union([text(MAX_REFERENCE_CHARS), z.null()]).optional(),
    /** a BullMQ queue on Redis: cells become jobs for `soliloquy worker`; absent: cells run here, one after another */
    queue: queueUrl.optional(),
    /** wait until every cell is recorded (default true); false: return once submitted, the lab keeps listening */
    follow: z.boolean().optional(),
    title: text(LIMITS.title.chars).superRefine(safeText('a study title')).optional(),
  })
  .strict()
  .refine((r) => r.phrases.length * (r.prompts?.length ?? 1) * (r.models?.length ?? 1) <= STUDY_LIMITS.cells, {
    error: `a study has at most ${STUDY_LIMITS.cells} cells (models × prompts × phrases)`,
  })
export type StudyRequest = z.infer<typeof studyRequest>

export const studyRef = z.object({ id: z.number().int().nonnegative(), queue: queueUrl.optional() }).strict()
export type StudyRef = z.infer<typeof studyRef>

export const cellStates = ['queued', 'running', 'done', 'refused', 'failed', 'cancelled'] as const
export const cellState = z.enum(cellStates)
export type CellState = z.infer<typeof cellState>

export const studyCellSchema = z.object({
  /** the cell's id: sha256 of its settings and its model's fingerprint (the BullMQ job id is "cell-" + it) */
  id: z.string(),
  index: z.number(),
  model: z.string(),
  fingerprint: z.string(),
  prompt: z.string(),
  phrase: z.string(),
  state: cellState,
  /** the worker's host (embedded: this machine) */
  host: z.string().nullable(),
  /** why it was refused / failed */
  reason: z.string().nullable(),
  ms: z.number().nullable(),
  /** a running cell's phase on its worker, e.g. "generate 12/64" */
  progress: z.string().nullable().optional(),
})
export type StudyCell = z.infer<typeof studyCellSchema>

export const studyWorkerSchema = z.object({ host: z.string(), done: z.number(), running: z.number(), refused: z.number(), meanMs: z.number().nullable() })
export const studyPhraseWindowSchema = z.object({
  model: z.string(),
  prompt: z.string(),
  phrase: z.string(),
  /** smallest α of the grid that learned the phrase with every smaller α not (null: none, or not bracketed) */
  alphaLearn: z.number().nullable(),
  /** smallest α of the grid that broke the model (repetition or probe KL), every smaller α not */
  alphaBreak: z.number().nullable(),
})
export type StudyPhraseWindow = z.infer<typeof studyPhraseWindowSchema>

export const studyStatusSchema = z.object({
  id: z.number(),
  status: z.string(),
  /** where the cells run: "embedded", or the queue's address without credentials */
  where: z.string(),
  lrs: z.array(z.number()),
  total: z.number(),
  counts: z.record(cellState, z.number()),
  cells: z.array(studyCellSchema),
  workers: z.array(studyWorkerSchema),
  windows: z.array(studyPhraseWindowSchema),
})
export type StudyStatus = z.infer<typeof studyStatusSchema>

// ---------- the job a worker takes (validated on the worker before anything is loaded) ----------

export const cellJobSchema = z
  .object({
    v: z.literal(1),
    /** the model by fingerprint (never a path): the worker looks for it among its own model directories */
    model: z.object({ fingerprint: z.string().regex(/^[0-9a-f]{64}$/, 'a model fingerprint is 64 hex digits'), name: text(256) }).strict(),
    prompt: nonEmpty('the prompt'),
    prefix: text(MAX_TEXT_CHARS),
    phrase: nonEmpty('the phrase'),
    lrs: lrList,
    restrict: restrictionSchema.optional(),
    maxGen: maxGen,
    maxSeq: wholeIn(LIMITS.maxSeq.min, LIMITS.maxSeq.max),
    temperature: finite.min(0).max(100),
    topP: z.number().gt(0).max(1),
    seed: z.number().int().min(0).max(2 ** 31 - 1),
    reference: z.union([text(MAX_REFERENCE_CHARS), z.null()]),
    probes: z.record(z.string().max(200), text(MAX_TEXT_CHARS)),
    paraphrases: z.array(text(MAX_TEXT_CHARS)).max(LIMITS.paraphrases.max),
  })
  .strict()
export type CellJob = z.infer<typeof cellJobSchema>

// ---------- what a worker sends home (validated by the lab before anything is recorded) ----------

export const cellRunSchema = z.object({
  lr: z.number(),
  outputIds: z.array(z.number().int()),
  outputText: z.string(),
  fullText: z.string(),
  metrics: runMetricsSchema,
})
export const cellResultSchema = z
  .object({
    v: z.literal(1),
    cell: z.string().regex(/^[0-9a-f]{64}$/),
    host: text(256),
    kernelPath: text(64),
    threads: z.number().int().min(0),
    cellMs: z.number().min(0),
    phraseIds: z.array(z.number().int()),
    phraseLoss: measured,
    runs: z.array(cellRunSchema).max(64),
  })
  .strict()
export type CellResult = z.infer<typeof cellResultSchema>
