// Messages between the lab host (main thread) and the lab worker (worker thread).
import type { ErrorKind, LabEvent, MethodName } from '../../shared/api'

export type ToWorker =
  | { type: 'call'; id: number; method: MethodName; args: unknown; jobId?: string }
  | { type: 'cancel'; jobId: string }
  | { type: 'close' }

export type FromWorker =
  | { type: 'ready' }
  | { type: 'fatal'; message: string }
  | { type: 'progress'; id: number; phase: string; done: number; total: number }
  /** call `id` opened this experiment (the one its job writes) */
  | { type: 'experiment'; id: number; experimentId: number }
  | { type: 'result'; id: number; ok: true; result: unknown }
  | { type: 'result'; id: number; ok: false; message: string; kind: ErrorKind; fields?: string[] }
  | { type: 'closed' }
  /** a run or an experiment changed (pushed to every client) */
  | { type: 'event'; event: LabEvent }
  /** the lab's event loop turns (every BEAT_MS, watchdog.ts) */
  | { type: 'beat' }
  /** the lab begins this call (a call not begun when the lab is stopped goes to the next one) */
  | { type: 'begin'; id: number }

export interface WorkerConfig {
  dataDir: string
  /** browser mode: the lab opens models only inside its model folders, when any are given (Lab's confineModels) */
  confineModels?: boolean
  /** the previous lab process died: its runs are marked failed with this reason when the new one opens the lab */
  crashed?: { pid: number; reason: string }
  /** 0 for the first lab process of a host, +1 for each restart (the test abort hook fires in the first only) */
  generation?: number
}
