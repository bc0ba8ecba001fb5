// The contract's enumerations: kinds of runs and experiments, statuses, parameter groups, export formats and dtypes.
import { z } from 'zod'

// ---------- enumerations ----------

/**
 * What an experiment is: one per action. Every run belongs to exactly one experiment. The instruments (layer study,
 * plasticity-window search, emergence heatmap) are experiments too.
 */
/** study: a grid of phrases × prompts × α × models, run here or by workers on a queue (src/main/lab/study) */
/** experts: a mixture of experts' routing per layer × expert, before and after the step (src/main/lab/kinds/experts.ts) */
export const experimentKinds = ['generate', 'step', 'sweep', 'compare', 'lesson', 'layers', 'window', 'emerge', 'study', 'experts'] as const
/** A run's kind is its experiment's: one list. */
export const runKinds = experimentKinds
/** experiment list sort keys */
export const experimentSortKeys = ['created', 'finished', 'kind', 'runs', 'id'] as const
/** a checkpoint's state: live, in the Trash (restorable; file kept), or purged (row and file gone) */
export const checkpointStates = ['live', 'trashed', 'purged'] as const
export const tableFormats = ['md', 'csv'] as const
export const runStatuses = ['running', 'done', 'failed', 'cancelled', 'interrupted'] as const
/** history sort keys: when it started, α, recall, stability KL, phrase loss after, duration, id */
export const sortKeys = ['started', 'lr', 'recall', 'stability', 'loss', 'ms', 'id'] as const
export const sortOrders = ['asc', 'desc'] as const
export const exportDtypes = ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q4_K', 'Q6_K', 'Q4_K_M', 'Q3_K_S', 'Q3_K_M', 'Q3_K_L', 'Q5_K_S', 'Q5_K_M'] as const
/** hf: a merged Hugging Face directory; gguf: one merged llama.cpp file; peft: the step as a LoRA adapter directory */
export const exportFormats = ['hf', 'gguf', 'peft'] as const

export const runKind = z.enum(runKinds)
export const runStatus = z.enum(runStatuses)
export const sortKey = z.enum(sortKeys)
export const exportDtype = z.enum(exportDtypes)
export const exportFormat = z.enum(exportFormats)
export const experimentKind = z.enum(experimentKinds)
export const experimentSortKey = z.enum(experimentSortKeys)
export const checkpointState = z.enum(checkpointStates)
export const tableFormat = z.enum(tableFormats)

export type RunKind = z.infer<typeof runKind>
export type RunStatus = z.infer<typeof runStatus>
export type SortKey = z.infer<typeof sortKey>
export type ExportDtype = z.infer<typeof exportDtype>
export type ExportFormat = z.infer<typeof exportFormat>
/** The dtypes each export format can write (Q8_0, Q4_0, Q4_K, Q6_K are GGUF block types, written with ggml's reference
 *  quantisers; Q3_K_S/M/L, Q4_K_M and Q5_K_S/M are llama.cpp's mixtures of them with Q3_K, Q5_K and the fallbacks,
 *  listed largest first; an adapter is float). */
export const EXPORT_DTYPES: Record<ExportFormat, readonly ExportDtype[]> = {
  hf: ['F32', 'F16', 'BF16'],
  gguf: ['F16', 'F32', 'BF16', 'Q8_0', 'Q6_K', 'Q5_K_M', 'Q5_K_S', 'Q4_K_M', 'Q4_K', 'Q4_0', 'Q3_K_L', 'Q3_K_M', 'Q3_K_S'],
  peft: ['F32', 'F16', 'BF16'],
}
export type ExperimentKind = z.infer<typeof experimentKind>
export type ExperimentSortKey = z.infer<typeof experimentSortKey>
export type CheckpointState = z.infer<typeof checkpointState>
export type TableFormat = z.infer<typeof tableFormat>

/**
 * Parameter groups a step can be restricted to (docs/design.md, "Restricted steps"): the coarse groups and the
 * seven linear modules of a block. embed = the token-embedding rows the phrase looks up; attn = q,k,v,o; mlp =
 * gate,up,down; norm = every RMSNorm weight (attn/ffn norms of each layer and the final norm); head = lm_head (with
 * tied embeddings, the head's share of the shared matrix).
 */
export const paramGroups = ['embed', 'attn', 'mlp', 'norm', 'head', 'q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const
export const paramGroup = z.enum(paramGroups)
export type ParamGroup = z.infer<typeof paramGroup>
/** Columns of the layer × module grid, in order. */
export const gridModules = ['q', 'k', 'v', 'o', 'gate', 'up', 'down', 'attn_norm', 'ffn_norm'] as const
