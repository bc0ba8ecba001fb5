// The lab's request/response types, shared by the services (src/main/services), the CLI, the IPC and WebSocket
// routers and the renderer. Runtime validation of these shapes lives in src/shared/api.ts (zod).
// Plain JSON only: these cross process boundaries.

export type RunKind = 'generate' | 'step' | 'sweep' | 'compare' | 'lesson'
export type RunStatus = 'running' | 'done' | 'failed' | 'cancelled' | 'interrupted'

/** A model reference: a directory path, a saved checkpoint name ("ckpt:NAME" or a bare name), or null = embedded organism. */
export type ModelRef = string | null

export interface ModelInfo {
  id: number
  path: string
  name: string
  format: 'hf'
  fingerprint: string
  config: Record<string, unknown>
  params: number
  fileBytes: number
  /** bytes of RAM a sweep needs beyond the mmap'd weights (KV caches, factors, activations) */
  workingBytes: number
  preset: { prompt: string; phrase: string; lrs: number[]; reference: string | null; probes: Record<string, string>; engineeredPrefix: string }
  embedded: boolean
}

export interface RunMetrics {
  phraseLossBefore?: number
  phraseLossAfter?: number
  /** words of the reference continuation reproduced exactly, in order (prompt included) */
  recall?: number
  /** log-prob of the reference continuation (sum over its tokens) */
  referenceLogprob?: number
  /** mean KL(base ‖ stepped) over the probe texts, and per probe */
  stabilityKl?: number
  probeKl?: Record<string, number>
  /** change of probe perplexity (stepped − base), mean over probes */
  probePerplexityDelta?: number
  distinct2?: number
  /** longest run of a repeated n-gram in the generation (in words) */
  longestRepeat?: number
  /** ‖α∇W‖_F per layer ("embed", "layer.0" …, "head") */
  layerUpdateNorms?: Record<string, number>
}

export interface RunRecord {
  id: number
  kind: RunKind
  groupId: number | null
  modelId: number
  checkpointId: number | null
  prompt: string
  phrase: string | null
  lr: number | null
  maxGen: number
  temperature: number
  seed: number
  outputIds: number[]
  outputText: string
  /** prompt + completion, for tables */
  fullText: string
  metrics: RunMetrics
  status: RunStatus
  error: string | null
  startedAt: string
  finishedAt: string | null
  ms: number | null
}

export interface ProgressEvent {
  jobId: string
  phase: string
  done: number
  total: number
}
