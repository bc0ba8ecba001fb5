// What crosses a transport (Electron IPC, browser mode's WebSocket, the lab process): the call envelope, progress,
// errors with a kind (so no caller matches on message text), and the client interfaces the renderer and preload use.
import { z } from 'zod'
import { ApiRequest, ApiResponse, MethodName } from './methods'
import { LabEvent, labEventSchema } from './records'

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
