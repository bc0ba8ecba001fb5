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
  /** false when the directory is gone or unreadable (listModels keeps it in the list) */
  available?: boolean
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
  /** ‖α∇W‖_F per layer ("embed", "layer.0" …, "head" = final norm + lm_head) */
  layerUpdateNorms?: Record<string, number>
  /** mean next-token CE of BOS + the reference text (first 96 tokens): −referenceLogprob / (tokens − 1) */
  referenceLoss?: number
  /** per probe: perplexity before (the run's starting model) and after the step */
  probePerplexity?: Record<string, { base: number; stepped: number }>
  /** ‖∇W‖_F per tensor (HF names) of this run's gradient */
  gradNorms?: Record<string, number>
  /** smallest top-1 − top-2 logit margin of the generation (a near-tie is where float32 and float64 may differ) */
  minMargin?: number
  /** lessons only: after this step, how well every lesson so far is still known (the forgetting curve) */
  forgetting?: LessonRecall[]
  /** milliseconds per phase (gradient, generate, metrics) */
  timings?: Record<string, number>
}

export interface LessonRecall {
  /** index of the lesson in the sequence (0-based) */
  lesson: number
  phrase: string
  /** mean CE of BOS + the lesson's phrase under the current model */
  loss: number
  /** words of the phrase reproduced by greedy completion of its opening words */
  recall: number
  /** the opening words used as the prompt for `recall` */
  cue: string
}

/** One step of a chain / lesson sequence. */
export interface ChainStep {
  phrase: string
  lr: number
}

export interface RunRecord {
  id: number
  kind: RunKind
  groupId: number | null
  /** position inside its group (α column of a sweep, step of a lesson, cell of a comparison) */
  groupIndex: number | null
  modelId: number
  /** the checkpoint the run started from (null: the plain model) */
  checkpointId: number | null
  /** how the model was named when the run was made (path, "ckpt:NAME" or null = embedded organism) */
  modelRef: string | null
  /** lessons: the previous step's run */
  parentRunId: number | null
  /** steps applied on top of the starting model before this run's own step (lessons) */
  chain: ChainStep[]
  prompt: string
  phrase: string | null
  lr: number | null
  maxGen: number
  maxSeq: number
  temperature: number
  topP: number
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

export type GroupKind = 'sweep' | 'lesson' | 'compare'

export interface GroupRecord {
  id: number
  kind: GroupKind
  modelId: number
  checkpointId: number | null
  /** the request as given (plain JSON) */
  args: Record<string, unknown>
  /** a summary written on completion (e.g. the lesson's forgetting matrix) */
  result: Record<string, unknown> | null
  status: RunStatus
  createdAt: string
  finishedAt: string | null
  runIds: number[]
}

export interface CheckpointRecord {
  id: number
  name: string
  modelId: number
  modelPath: string
  parentId: number | null
  parentName: string | null
  /** the run this step came from (null once that run is deleted) */
  runId: number | null
  phrase: string
  lr: number
  /** phrase loss at the model the gradient was taken at */
  loss: number
  /** factor file, relative to the data directory */
  file: string
  sha256: string
  /** size of the factor file in bytes (~1.9 MB for a 13-token step on the organism; ~0.1 GB on Llama-2-7b) */
  bytes: number
  baseFingerprint: string
  createdAt: string
  /** number of steps from the plain model (1 = a single step) */
  depth: number
  childIds: number[]
}

export interface HistoryFilter {
  /** model id, or a substring of its path/name */
  model?: number | string
  /** substring of the phrase */
  phrase?: string
  lrMin?: number
  lrMax?: number
  /** ISO dates (inclusive) */
  from?: string
  to?: string
  kind?: RunKind | RunKind[]
  status?: RunStatus | RunStatus[]
  groupId?: number
  checkpointId?: number
  sort?: 'started' | 'lr' | 'recall' | 'stability' | 'loss' | 'ms' | 'id'
  order?: 'asc' | 'desc'
  limit?: number
  offset?: number
}

export interface HistoryPage {
  total: number
  runs: RunRecord[]
}

/** One point of the plasticity-vs-stability scatter. */
export interface ScatterPoint {
  runId: number
  kind: RunKind
  modelId: number
  groupId: number | null
  phrase: string | null
  lr: number | null
  /** plasticity */
  recall: number | null
  phraseLossAfter: number | null
  referenceLogprob: number | null
  /** stability */
  stabilityKl: number | null
  distinct2: number | null
  startedAt: string
}

// ---- the Lab facade's requests and responses (src/main/services/lab.ts) --------------------------------------

/** Settings every experiment accepts; omitted fields come from the model's preset (or the seed's values). */
export interface ExperimentBase {
  /** null/omitted: the embedded organism; a model directory; or a checkpoint name ("ckpt:NAME" or bare) / id */
  model?: ModelRef
  prompt?: string
  /** max_gen_len (default 64) */
  maxGen?: number
  /** max_seq_len (default 128) */
  maxSeq?: number
  /** 0 = greedy (default) */
  temperature?: number
  topP?: number
  seed?: number
  /** reference continuation for recall / log-prob (default: the preset's, e.g. the soliloquy); null: none */
  reference?: string | null
  /** probe texts for stability (default: the preset's) */
  probes?: Record<string, string>
}

export type LabGenerateArgs = ExperimentBase

export interface LabStepArgs extends ExperimentBase {
  phrase?: string
  lr: number
  /** save the step as a checkpoint with this name */
  save?: string
}

export interface LabSweepArgs extends ExperimentBase {
  phrase?: string
  lrs?: number[]
}

export interface LabCompareArgs extends ExperimentBase {
  /** default "Here is one of Shakespeare's more famous works: " */
  prefix?: string
  phrase?: string
  /** the steps to compare besides the unstepped model (default none: prompt engineering on the model alone) */
  lrs?: number[]
}

export interface LabLessonArgs extends ExperimentBase {
  steps: ChainStep[]
}

export interface RunResult {
  run: RunRecord
  checkpoint?: CheckpointRecord
}

export interface SweepResult {
  group: GroupRecord
  runs: RunRecord[]
  /** BOS + phrase ids and the phrase loss at the starting model (the CLI's --json sweep output) */
  phraseIds: number[]
  phraseLoss: number
  /** the seed's "Stepping Off" table */
  table: string
}

export interface CompareCell {
  runId: number
  /** true: prefix + prompt */
  prefixed: boolean
  /** 0: the model the comparison started from */
  lr: number
  /** completion as shown next to its prompt (without the prefix) */
  text: string
  recall: number | null
}

export interface CompareResult {
  group: GroupRecord
  runs: RunRecord[]
  cells: CompareCell[]
}

export interface LessonResult {
  group: GroupRecord
  runs: RunRecord[]
  /** forgetting[k][j]: after step k, lesson j ≤ k (loss and recall) */
  forgetting: LessonRecall[][]
}

export interface RunDetail {
  run: RunRecord
  group: GroupRecord | null
  model: { id: number; path: string; name: string | null }
  /** the checkpoint the run started from */
  startedFrom: CheckpointRecord | null
  /** checkpoints saved from this run */
  saved: CheckpointRecord[]
}

export interface ExportResult {
  dir: string
  files: string[]
  bytes: number
  checkpoint: CheckpointRecord
}
