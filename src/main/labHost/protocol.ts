// Messages between the lab host (main thread) and the lab worker (worker thread).
import type { MethodName } from '../../shared/api'

export type ToWorker =
  | { type: 'call'; id: number; method: MethodName; args: unknown; jobId?: string }
  | { type: 'cancel'; jobId: string }
  | { type: 'close' }

export type FromWorker =
  | { type: 'ready' }
  | { type: 'fatal'; message: string }
  | { type: 'progress'; id: number; phase: string; done: number; total: number }
  | { type: 'result'; id: number; ok: true; result: unknown }
  | { type: 'result'; id: number; ok: false; message: string }
  | { type: 'closed' }

export interface WorkerConfig {
  dataDir: string
}
