// The method table: one entry per call, its request and result schema; validation of a call against it.
import { z } from 'zod'
import type { ExperimentKind } from './enums'
import { id, text } from './fields'
import { MAX_PATH_CHARS } from './limits'
import { checkpointSchema, experimentDetailSchema, experimentExportSchema, experimentPageSchema, experimentSummarySchema, experimentTableSchema, historyFilter, historyPageSchema, modelInfoSchema, modelTextsSchema, runDiffSchema, scatterPointSchema, tokenCountSchema } from './records'
import { checkpointsRequest, compareRequest, deleteCheckpointRequest, emergeRequest, expertsRequest, experimentFilter, experimentTableRequest, exportCheckpointRequest, generateRequest, layerStudyRequest, lessonRequest, modelSel, purgeCheckpointsRequest, renameCheckpointRequest, reportRequest, restoreCheckpointRequest, runDiffRequest, saveCheckpointRequest, stepRequest, sweepRequest, tokenCountRequest, updateExperimentRequest, updateModelTextsRequest, windowRequest } from './requests'
import { compareResultSchema, deleteCheckpointResultSchema, deleteResultSchema, emergeResultSchema, engineInfoSchema, expertsResultSchema, exportResultSchema, layerStudyResultSchema, lessonResultSchema, reportResultSchema, runDetailSchema, runResultSchema, sweepResultSchema, windowResultSchema } from './results'
import { describeZodError, fieldErrors } from './words'
import { attachJobRequest, jobInfoSchema, jobOutcomeSchema } from './jobs'
import { studyRef, studyRequest, studyStatusSchema } from './study'
import { browseFilesRequest, browseResultSchema } from './files'

// ---------- the method table ----------
// `long`: takes progress and cancellation; `experiment`: records an experiment of that kind (one handler per kind)

export const methods = {
  listModels: { req: z.object({}).strict(), res: z.array(modelInfoSchema) },
  openModel: { req: z.object({ path: text(MAX_PATH_CHARS).min(1, 'no directory given') }).strict(), res: modelInfoSchema },
  /** lists a folder inside the ones the server allows (browser mode's file browser; nothing outside them) */
  browseFiles: { req: browseFilesRequest, res: browseResultSchema },
  generate: { req: generateRequest, res: runResultSchema, long: true, experiment: 'generate' },
  step: { req: stepRequest, res: runResultSchema, long: true, experiment: 'step' },
  sweep: { req: sweepRequest, res: sweepResultSchema, long: true, experiment: 'sweep' },
  compare: { req: compareRequest, res: compareResultSchema, long: true, experiment: 'compare' },
  lesson: { req: lessonRequest, res: lessonResultSchema, long: true, experiment: 'lesson' },
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
  layerStudy: { req: layerStudyRequest, res: layerStudyResultSchema, long: true, experiment: 'layers' },
  window: { req: windowRequest, res: windowResultSchema, long: true, experiment: 'window' },
  emerge: { req: emergeRequest, res: emergeResultSchema, long: true, experiment: 'emerge' },
  /** a mixture of experts' routing per layer × expert on prompt and phrase, base and stepped; the restricted step */
  experts: { req: expertsRequest, res: expertsResultSchema, long: true, experiment: 'experts' },
  report: { req: reportRequest, res: reportResultSchema },
  engineInfo: { req: z.object({}).strict(), res: engineInfoSchema },
  /** the lab's jobs: running, and finished in the last JOB_RETENTION (answered by the lab host, contract/jobs.ts) */
  jobs: { req: z.object({}).strict(), res: z.array(jobInfoSchema) },
  /** a job's progress from now on (to this caller, under the job's id), then its result or its error */
  attachJob: { req: attachJobRequest, res: jobOutcomeSchema, long: true },
  // ---- studies (issue 24: src/main/lab/study) ----
  /** a grid of phrases × prompts × α × models; embedded, or cells as BullMQ jobs for `soliloquy worker` (queue) */
  study: { req: studyRequest, res: studyStatusSchema, long: true, experiment: 'study' },
  studyStatus: { req: studyRef, res: studyStatusSchema },
  /** fetches cells finished while the lab was not listening (needs the queue's address again) */
  studyCollect: { req: studyRef, res: studyStatusSchema, long: true },
  /** queued cells removed, running cells stopped at their next token, recorded as cancelled */
  cancelStudy: { req: studyRef, res: studyStatusSchema },
} as const satisfies Record<string, { req: z.ZodType; res: z.ZodType; long?: boolean; experiment?: ExperimentKind }>

export type Methods = typeof methods
export type MethodName = keyof Methods
export type ApiRequest<M extends MethodName> = z.input<Methods[M]['req']>
export type ApiResponse<M extends MethodName> = z.output<Methods[M]['res']>
export type HistoryFilterArgs = z.input<typeof historyFilter>

export const methodNames = Object.keys(methods) as MethodName[]

/**
 * The methods that record an experiment, each marked with the kind it records (`experiment: 'sweep'`): the lab runs
 * each through its kind's handler (src/main/lab/kinds), whose table is typed by this list.
 */
export type ExperimentMethod = { [M in MethodName]: Methods[M] extends { experiment: string } ? M : never }[MethodName]
export const experimentMethods = methodNames.filter((m) => 'experiment' in methods[m]) as ExperimentMethod[]

export function isMethod(name: unknown): name is MethodName {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(methods, name)
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
