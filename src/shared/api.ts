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
import type {
  CheckpointRecord,
  CompareResult,
  ExportResult,
  GroupRecord,
  HistoryPage,
  LessonResult,
  ModelInfo,
  RunDetail,
  RunRecord,
  RunResult,
  ScatterPoint,
  SweepResult,
} from './labTypes'

// ---------- shared shapes ----------

const finite = z.number().refine(Number.isFinite, 'must be a finite number')
const id = z.number().int().nonnegative()
/** a saved checkpoint: its id, or its name (the CLI's way of naming one) */
const checkpointRef = z.union([id, z.string().min(1).max(120)])
/** A model reference: directory path, checkpoint reference ("ckpt:NAME" / id), or null = the embedded organism. */
export const modelRef = z.union([z.string().min(1).max(4096), z.null()])
const text = (max: number): z.ZodString => z.string().max(max)

export const lrList = z.array(finite).min(1, 'give at least one step size').max(64, 'at most 64 step sizes at once')

const maxGen = z.number().int().min(1).max(4096)

/** A response schema that checks the essentials at run time but carries the exact record type for TypeScript. */
function typed<T>(schema: z.ZodType): z.ZodType<T> {
  return schema as unknown as z.ZodType<T>
}

export const presetSchema = z
  .object({
    prompt: z.string(),
    phrase: z.string(),
    lrs: z.array(z.number()),
    reference: z.string().nullable(),
    engineeredPrefix: z.string(),
  })
  .loose()

export const modelInfoSchema = typed<ModelInfo>(
  z
    .object({
      id: z.number(),
      path: z.string(),
      name: z.string(),
      fingerprint: z.string(),
      config: z.record(z.string(), z.unknown()),
      params: z.number(),
      fileBytes: z.number(),
      workingBytes: z.number(),
      preset: presetSchema,
      embedded: z.boolean(),
    })
    .loose(),
)

export const runStatus = z.enum(['running', 'done', 'failed', 'cancelled', 'interrupted'])
export const runKind = z.enum(['generate', 'step', 'sweep', 'compare', 'lesson'])

export const runRecordSchema = typed<RunRecord>(
  z
    .object({
      id: z.number(),
      kind: z.string(),
      groupId: z.number().nullable(),
      prompt: z.string(),
      lr: z.number().nullable(),
      outputText: z.string(),
      fullText: z.string(),
      metrics: z.record(z.string(), z.unknown()),
      status: runStatus,
      error: z.string().nullable(),
      startedAt: z.string(),
    })
    .loose(),
)

export const groupRecordSchema = typed<GroupRecord>(
  z.object({ id: z.number(), kind: z.string(), status: runStatus, runIds: z.array(z.number()) }).loose(),
)

export const checkpointSchema = typed<CheckpointRecord>(
  z
    .object({
      id: z.number(),
      name: z.string(),
      parentId: z.number().nullable(),
      runId: z.number().nullable(),
      bytes: z.number(),
      createdAt: z.string(),
    })
    .loose(),
)

export const historyPageSchema = typed<HistoryPage>(z.object({ total: z.number(), runs: z.array(runRecordSchema) }).loose())

export const scatterPointSchema = typed<ScatterPoint>(
  z.object({ runId: z.number(), lr: z.number().nullable(), startedAt: z.string() }).loose(),
)

const isoDate = z.string().max(40)
const oneOrMany = <T extends z.ZodType>(t: T) => z.union([t, z.array(t).max(10)])

export const historyFilter = z
  .object({
    model: z.union([id, text(4096)]).optional(),
    phrase: text(20_000).optional(),
    lrMin: finite.optional(),
    lrMax: finite.optional(),
    from: isoDate.optional(),
    to: isoDate.optional(),
    kind: oneOrMany(runKind).optional(),
    status: oneOrMany(runStatus).optional(),
    groupId: id.optional(),
    checkpointId: id.optional(),
    sort: z.enum(['started', 'lr', 'recall', 'stability', 'loss', 'ms', 'id']).optional(),
    order: z.enum(['asc', 'desc']).optional(),
    limit: z.number().int().min(1).max(100_000).optional(),
    offset: z.number().int().min(0).optional(),
  })
  .strict()

export const exportResultSchema = z.object({ dir: z.string(), files: z.array(z.string()), bytes: z.number() }).loose()

// ---------- the method table ----------

const probes = z.record(z.string().max(200), text(100_000)).refine((r) => Object.keys(r).length <= 64, 'at most 64 probe texts')

/** ExperimentBase (labTypes.ts): omitted fields come from the model's preset. */
const experimentBase = {
  model: modelRef.optional(),
  prompt: text(20_000).min(1, 'the prompt is empty').optional(),
  maxGen: maxGen.optional(),
  maxSeq: z.number().int().min(2).max(1_000_000).optional(),
  temperature: finite.min(0).max(100).optional(),
  topP: z.number().gt(0).max(1).optional(),
  seed: z.number().int().min(0).max(2 ** 31 - 1).optional(),
  reference: z.union([text(1_000_000), z.null()]).optional(),
  probes: probes.optional(),
}
const phrase = text(20_000).min(1, 'the phrase is empty')

export const sweepRequest = z.object({ ...experimentBase, phrase: phrase.optional(), lrs: lrList.optional() }).strict()

export const sweepResultSchema = typed<SweepResult>(
  z.object({ group: groupRecordSchema, runs: z.array(runRecordSchema), phraseLoss: z.number() }).loose(),
)
export const compareResultSchema = typed<CompareResult>(
  z.object({ group: groupRecordSchema, runs: z.array(runRecordSchema), cells: z.array(z.object({ runId: z.number() }).loose()) }).loose(),
)
export const lessonResultSchema = typed<LessonResult>(
  z.object({ group: groupRecordSchema, runs: z.array(runRecordSchema) }).loose(),
)
export const runResultSchema = typed<RunResult>(z.object({ run: runRecordSchema }).loose())
export const runDetailSchema = typed<RunDetail>(z.object({ run: runRecordSchema }).loose())

export const methods = {
  listModels: { req: z.object({}).strict(), res: z.array(modelInfoSchema) },
  openModel: { req: z.object({ path: text(4096).min(1, 'no directory given') }).strict(), res: modelInfoSchema },
  generate: { req: z.object(experimentBase).strict(), res: runResultSchema, long: true },
  step: {
    req: z.object({ ...experimentBase, phrase: phrase.optional(), lr: finite, save: text(120).min(1).optional() }).strict(),
    res: runResultSchema,
    long: true,
  },
  sweep: { req: sweepRequest, res: sweepResultSchema, long: true },
  compare: {
    req: z.object({ ...experimentBase, prefix: text(20_000).optional(), phrase: phrase.optional(), lrs: z.array(finite).max(64).optional() }).strict(),
    res: compareResultSchema,
    long: true,
  },
  lesson: {
    req: z
      .object({ ...experimentBase, steps: z.array(z.object({ phrase, lr: finite }).strict()).min(1, 'give at least one lesson').max(64) })
      .strict(),
    res: lessonResultSchema,
    long: true,
  },
  history: { req: historyFilter, res: historyPageSchema },
  run: { req: z.object({ id }).strict(), res: runDetailSchema },
  scatter: { req: historyFilter, res: z.array(scatterPointSchema) },
  checkpoints: { req: z.object({}).strict(), res: z.array(checkpointSchema) },
  saveCheckpoint: {
    req: z.object({ runId: id, name: text(120).min(1, 'give the checkpoint a name') }).strict(),
    res: checkpointSchema,
    long: true,
  },
  renameCheckpoint: { req: z.object({ id: checkpointRef, name: text(120).min(1, 'give the checkpoint a name') }).strict(), res: checkpointSchema },
  deleteCheckpoint: {
    req: z.object({ id: checkpointRef, force: z.boolean().optional() }).strict(),
    res: z.object({ deleted: z.array(z.string()), freedBytes: z.number() }).loose(),
  },
  exportCheckpoint: {
    req: z.object({ id: checkpointRef, outDir: text(4096).min(1, 'no export directory given'), dtype: z.enum(['F32', 'F16', 'BF16']).optional() }).strict(),
    res: typed<ExportResult>(exportResultSchema),
    long: true,
  },
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

export interface ProgressMessage {
  jobId: string
  phase: string
  done: number
  total: number
}

export type CallResult<T = unknown> = { ok: true; result: T } | { ok: false; error: { message: string } }

/** A zod error as one sentence: "lrs.2: must be a finite number; prompt: the prompt is empty". */
export function describeZodError(method: string, err: z.ZodError): string {
  const parts = err.issues.slice(0, 4).map((i) => {
    const path = i.path.map(String).join('.')
    return path ? `${path}: ${i.message}` : i.message
  })
  return `${method}: invalid arguments (${parts.join('; ')})`
}

/** Validates one call; returns the parsed args or an error message in words. */
export function validateCall(method: unknown, args: unknown): { ok: true; method: MethodName; args: unknown } | { ok: false; message: string } {
  if (!isMethod(method)) return { ok: false, message: `unknown method ${JSON.stringify(String(method)).slice(0, 80)}` }
  const r = methods[method].req.safeParse(args === undefined ? {} : args)
  if (!r.success) return { ok: false, message: describeZodError(method, r.error) }
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
  pickDirectory?(purpose: 'model' | 'export'): Promise<string | null>
}

/** What the preload exposes as window.api (everything validated again in main). */
export interface PreloadApi {
  call(envelope: { method: string; args: unknown; jobId?: string }): Promise<CallResult>
  cancel(jobId: string): Promise<void>
  onProgress(cb: (p: ProgressMessage) => void): () => void
  pickDirectory(purpose: 'model' | 'export'): Promise<string | null>
}
