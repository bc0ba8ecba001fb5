// Answers in the contract's full shapes, for tests that stand in for the lab (the routers check every answer).
import type { ExperimentSummary, SweepResult } from '../src/shared/api'

/** A finished sweep experiment as the lab would describe it. */
export function sweepExperiment(id: number, createdAt = 'now'): ExperimentSummary {
  return {
    id, kind: 'sweep', status: 'done', createdAt, finishedAt: null, modelId: 1, modelName: null, modelFingerprint: 'f', modelRef: null,
    base: null, prompt: 'To be', phrase: 'p', maxGen: 64, maxSeq: 128, lrs: [0], settings: {}, result: null, title: '', notes: '', tags: [],
    starred: false, runCount: 0, runStatuses: {}, args: {}, error: null,
  }
}

/** A sweep's answer with no runs. */
export function sweepResult(id: number, more: Partial<SweepResult> = {}, createdAt?: string): SweepResult {
  return { experiment: sweepExperiment(id, createdAt), runs: [], phraseIds: [1], phraseLoss: 1, table: '', ...more }
}
