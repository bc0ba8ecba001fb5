// The contract's methods (src/shared/api.ts) mapped onto the Lab facade: the one table used by every way in — the
// lab worker behind Electron's IPC and browser mode's WebSocket, and the CLI — so all of them accept exactly the
// same, validated arguments.
import { experimentMethods, hostMethodNames, validateCall, type ApiRequest, type ApiResponse, type ExperimentMethod, type HostMethodName, type MethodName } from '../../shared/api'
import { InputError, type CallOptions } from '../engine/engine'
import type { Lab } from './lab'
import { browseFiles } from './fileBrowser'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type LabMethodTable = Record<LabMethodName, (args: any, opts: CallOptions) => Promise<unknown>>
/** The contract's methods the lab answers (the jobs methods are the lab host's: src/main/host/jobs.ts). */
export type LabMethodName = Exclude<MethodName, HostMethodName>
export function isLabMethod(m: MethodName): m is LabMethodName {
  return !(hostMethodNames as readonly string[]).includes(m)
}

export function labMethodTable(lab: Lab): LabMethodTable {
  // every experiment kind through its handler (src/main/lab/kinds); a method not listed here fails the build
  const kinds = Object.fromEntries(experimentMethods.map((m) => [m, (a: never, o: CallOptions) => lab.runKind(m, a, o)])) as Record<
    ExperimentMethod,
    LabMethodTable[LabMethodName]
  >
  return {
    ...kinds,
    listModels: () => lab.listModels(),
    openModel: (a: { path: string }) => lab.openModel(a.path),
    browseFiles: async (a: { dir?: string }) => browseFiles(lab.modelDirs, a.dir),
    history: (a) => lab.history(a),
    run: (a: { id: number }) => lab.run(a.id),
    scatter: (a) => lab.scatter(a),
    checkpoints: (a) => lab.checkpoints(a),
    saveCheckpoint: (a, o) => lab.saveCheckpoint(a, o),
    renameCheckpoint: (a) => lab.renameCheckpoint(a),
    deleteCheckpoint: (a) => lab.deleteCheckpoint(a),
    exportCheckpoint: (a, o) => lab.exportCheckpoint(a, o),
    restoreCheckpoint: (a) => lab.restoreCheckpoint(a),
    purgeCheckpoints: (a) => lab.purgeCheckpoints(a),
    rerun: (a: { runId: number }, o) => lab.rerun(a.runId, o),
    experiments: (a) => lab.experiments(a),
    experiment: (a: { id: number }) => lab.experiment(a.id),
    updateExperiment: (a) => lab.updateExperiment(a),
    exportExperiment: (a: { id: number }) => lab.exportExperiment(a.id),
    experimentTable: (a) => lab.experimentTable(a),
    diffRuns: (a) => lab.diffRuns(a),
    modelTexts: (a) => lab.modelTexts(a),
    updateModelTexts: (a) => lab.updateModelTexts(a),
    tokenCount: (a) => lab.tokenCount(a),
    report: (a) => lab.report(a),
    engineInfo: async () => lab.engineInfo(),
    studyStatus: async (a) => lab.studies().status(a),
    studyCollect: (a, o) => lab.studies().collect(a, o),
    cancelStudy: (a) => lab.studies().cancel(a),
  }
}

/** Calls the lab through the contract: arguments are validated exactly as the IPC and WebSocket routers do. */
export interface LabClient {
  call<M extends MethodName>(method: M, args: ApiRequest<M>): Promise<ApiResponse<M>>
  /** where the history and checkpoints live */
  readonly dataDir: string
}

export function labClient(lab: Lab, opts: CallOptions): LabClient {
  const table = labMethodTable(lab)
  return {
    dataDir: lab.dataDir,
    async call<M extends MethodName>(method: M, args: ApiRequest<M>): Promise<ApiResponse<M>> {
      const v = validateCall(method, args)
      if (!v.ok) throw new InputError(v.message)
      if (!isLabMethod(v.method)) throw new InputError(`${v.method} is answered by the lab host (soliloquy serve or the app), not by the lab alone`)
      return (await table[v.method](v.args, opts)) as ApiResponse<M>
    },
  }
}
