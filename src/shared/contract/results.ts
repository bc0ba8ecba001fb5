// Results: what each method answers with, beyond the records.
import { z } from 'zod'
import { exportDtype, exportFormat } from './enums'
import { measured } from './fields'
import { checkpointSchema, experimentSummarySchema, lessonRecallSchema, restrictionSchema, runRecordSchema, updateGridSchema } from './records'

// ---------- responses ----------

export const runResultSchema = z.object({ run: runRecordSchema, checkpoint: checkpointSchema.optional() })
export type RunResult = z.infer<typeof runResultSchema>

/** A kind of several runs answers with its experiment (kind, request as `args`, result, status) and its runs in order. */
export const sweepResultSchema = z.object({
  experiment: experimentSummarySchema,
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

export const compareResultSchema = z.object({ experiment: experimentSummarySchema, runs: z.array(runRecordSchema), cells: z.array(compareCellSchema) })
export type CompareResult = z.infer<typeof compareResultSchema>

export const lessonResultSchema = z.object({
  experiment: experimentSummarySchema,
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
  experiment: experimentSummarySchema,
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
  experiment: experimentSummarySchema,
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
  experiment: experimentSummarySchema,
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

/** What an export kept of the checkpoint, measured on the written model re-opened from disk (engine/export/fidelity.ts). */
export const exportFidelitySchema = z.object({
  /** KL(checkpoint ‖ export) of the next-token distributions over the probes: mean, max, per probe (nats) */
  klMean: z.number(),
  klMax: z.number(),
  perProbe: z.record(z.string(), z.number()),
  /** mean CE of BOS + the checkpoint's phrase: the plain model, the checkpoint, the export (null: no step) */
  phraseLoss: z.object({ base: z.number(), checkpoint: z.number(), export: z.number() }).nullable(),
  /** the share of the checkpoint's phrase-loss change the export keeps (1 = all; null: no step) */
  stepKept: z.number().nullable(),
  /** share of the greedy tokens after the prompt the export generates as the checkpoint does */
  greedyAgreement: z.number(),
  /** stepKept ≥ 0.9 (null: no step to keep) */
  keepsStep: z.boolean().nullable(),
  /** the measurements in words */
  summary: z.string(),
  /** in words, when the written dtype loses the step (asked for explicitly; a default dtype moves up instead) */
  warning: z.string().nullable(),
  /** dtypes tried and not kept before the written one (the default dtype only), each with why */
  tried: z.array(z.object({ dtype: exportDtype, stepKept: z.number().nullable(), warning: z.string() })),
})
export type ExportFidelityRecord = z.infer<typeof exportFidelitySchema>

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
  /** what the export kept of the checkpoint, measured (every format) */
  fidelity: exportFidelitySchema.optional(),
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

/** A mixture of experts' routing on one text under one view (src/main/engine/experts.ts Routing). */
const expertRoutingSchema = z.object({
  lr: z.number(),
  /** the MoE layers */
  layers: z.array(z.number()),
  experts: z.number(),
  /** per MoE layer, per token: the chosen experts (most probable first) and their combination weights */
  chosen: z.array(z.array(z.array(z.number()))),
  weights: z.array(z.array(z.array(z.number()))),
  /** per MoE layer × expert: its combination weight summed over the tokens ÷ the tokens */
  mass: z.array(z.array(z.number())),
})

/** One step of an experts experiment at one α, full or restricted to the chosen experts: does it recall the phrase? */
export const expertsStepSchema = z.object({
  runId: z.number(),
  lr: z.number(),
  /** "full α" or "experts L:E,… α" */
  label: z.string(),
  restricted: z.boolean(),
  /** prompt + completion reproduces every word of the phrase, in order (as the layer study's cells) */
  recalls: z.boolean(),
  /** words of the phrase reproduced (of phraseWords) */
  phraseRecall: z.number(),
  text: z.string(),
})
export type ExpertsStep = z.infer<typeof expertsStepSchema>

/** The knowledge areas of a mixture of experts (src/main/lab/kinds/experts.ts). */
export const expertsResultSchema = z.object({
  /** the experiment recorded (History lists it; `soliloquy report` takes its id) */
  experimentId: z.number(),
  experiment: experimentSummarySchema,
  runs: z.array(runRecordSchema),
  layers: z.array(z.number()),
  experts: z.number(),
  expertsPerToken: z.number(),
  tokens: z.array(z.string()),
  /** α = 0 (the base) first, then each α */
  views: z.array(expertRoutingSchema),
  /** ‖∇W‖_F per MoE layer × expert (gate, up, down together) at α = 1; × α for a step of size α */
  gradNorm: z.array(z.array(z.number())),
  routerGradNorm: z.array(z.number()),
  restricted: z.object({ experts: z.array(z.object({ layer: z.number(), expert: z.number() })), views: z.array(expertRoutingSchema) }).optional(),
  /** the prompt's routing: its tokens (BOS first), base and each α, and under the restricted step */
  prompt: z.object({ tokens: z.array(z.string()), views: z.array(expertRoutingSchema), restricted: z.array(expertRoutingSchema).optional() }),
  phraseWords: z.number(),
  /** per α ≠ 0: the full step, then (with chosen experts) the restricted one — their completions of the prompt */
  steps: z.array(expertsStepSchema),
})
export type ExpertsResult = z.infer<typeof expertsResultSchema>
