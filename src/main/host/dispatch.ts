// The thin router shared by Electron's IPC and browser mode's WebSocket: every call is validated against the
// contract (src/shared/api.ts) before it reaches the lab, and every answer leaves as { ok, result } or
// { ok: false, error: { message, kind, fields? } } — words and a kind (host/errors.ts), never a stack.
import {
  callEnvelope,
  CallResult,
  jobIdSchema,
  methods,
  ProgressMessage,
  validateCall,
  type LabEvent,
  type MethodName,
} from '../../shared/api'
import { callError } from './errors'

/** Where validated calls go: the lab host (a worker thread) or, in tests, a fake. */
export interface LabBackend {
  call(method: MethodName, args: unknown, opts: { jobId?: string; onProgress?: (p: ProgressMessage) => void }): Promise<unknown>
  cancel(jobId: string): void
  /** lab events (runs/experiments changed) for the routers to push to every client */
  onEvent?(cb: (e: LabEvent) => void): () => void
}

export interface Dispatcher {
  handle(envelope: unknown, onProgress?: (p: ProgressMessage) => void): Promise<CallResult>
  cancel(jobId: unknown): void
}

export function createDispatcher(backend: LabBackend, o: { checkResponses?: boolean } = {}): Dispatcher {
  const checkResponses = o.checkResponses ?? true
  return {
    async handle(envelope, onProgress) {
      const env = callEnvelope.safeParse(envelope)
      if (!env.success) return { ok: false, error: { message: 'malformed call: expected { method, args, jobId? }', kind: 'input' } }
      const v = validateCall(env.data.method, env.data.args)
      if (!v.ok) return { ok: false, error: { message: v.message, kind: 'input', ...(v.fields ? { fields: v.fields } : {}) } }
      const jobId = env.data.jobId
      try {
        const result = await backend.call(v.method, v.args, {
          jobId,
          onProgress: jobId && onProgress ? (p) => onProgress({ ...p, jobId }) : undefined,
        })
        if (checkResponses) {
          const r = methods[v.method].res.safeParse(result)
          if (!r.success) {
            const issue = r.error.issues[0]
            return {
              ok: false,
              error: { message: `${v.method}: the lab answered in an unexpected shape (${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''})`, kind: 'internal' },
            }
          }
          return { ok: true, result: r.data }
        }
        return { ok: true, result }
      } catch (e) {
        return { ok: false, error: callError(e) }
      }
    },
    cancel(jobId) {
      const j = jobIdSchema.safeParse(jobId)
      if (j.success) backend.cancel(j.data)
    },
  }
}
