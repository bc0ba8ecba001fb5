// The lab in its worker: contract methods go through the shared table (src/main/lab/methods.ts); arguments
// arrive already validated against src/shared/api.ts by the router.
import type { LabEvent, MethodName } from '../../shared/api'
import type { CallOptions } from '../engine/engine'
import { Lab } from '../lab/lab'
import type { WorkerConfig } from './protocol'
import { isLabMethod, labMethodTable } from '../lab/methods'
import { LabCallError } from './errors'
import { markOwnerFailed } from '../lab/history/owner'

export interface LabAdapter {
  call(method: MethodName, args: unknown, opts: CallOptions): Promise<unknown>
  close(): void
  /** the lab's change events (runs, experiments) */
  onEvent(cb: (e: LabEvent) => void): () => void
}

export function createLabAdapter(config: WorkerConfig): LabAdapter {
  const lab = new Lab({ dataDir: config.dataDir, confineModels: config.confineModels })
  if (config.crashed) markOwnerFailed(lab.db, config.crashed.pid, config.crashed.reason)
  const table = labMethodTable(lab)
  return {
    call: (method, args, opts) =>
      isLabMethod(method) ? table[method](args, opts) : Promise.reject(new LabCallError(`${method} is answered by the lab host, not the lab process`, 'internal')),
    close: () => lab.close(),
    onEvent: (cb) => lab.onEvent(cb),
  }
}
