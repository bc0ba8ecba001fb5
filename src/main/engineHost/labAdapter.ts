// The one place that knows the lab facade (src/main/services/lab.ts): maps each contract method to its call. Runs in
// the lab worker; arguments arrive already validated against src/shared/api.ts.
import type { MethodName } from '../../shared/api'
import type { CallOptions } from '../engine/engine'
import { Lab } from '../services/lab'
import type { WorkerConfig } from './protocol'

export interface LabAdapter {
  call(method: MethodName, args: unknown, opts: CallOptions): Promise<unknown>
  close(): void
}

type Args = Record<string, never> & Record<string, unknown>

export function createLabAdapter(config: WorkerConfig): LabAdapter {
  const lab = new Lab({ dataDir: config.dataDir })
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const table: Record<MethodName, (a: any, o: CallOptions) => Promise<unknown>> = {
    listModels: () => lab.listModels(),
    openModel: (a: { path: string }) => lab.openModel(a.path),
    generate: (a, o) => lab.generate(a, o),
    step: (a, o) => lab.step(a, o),
    sweep: (a, o) => lab.sweep(a, o),
    compare: (a, o) => lab.compare(a, o),
    lesson: (a, o) => lab.lesson(a, o),
    history: (a) => lab.history(a),
    run: (a: { id: number }) => lab.run(a.id),
    scatter: (a) => lab.scatter(a),
    checkpoints: () => lab.checkpoints(),
    saveCheckpoint: (a, o) => lab.saveCheckpoint(a, o),
    renameCheckpoint: (a) => lab.renameCheckpoint(a),
    deleteCheckpoint: (a) => lab.deleteCheckpoint(a),
    exportCheckpoint: (a, o) => lab.exportCheckpoint(a, o),
  }
  return {
    call: (method, args, opts) => table[method](args as Args, opts),
    close: () => lab.close(),
  }
}
