// config.json of the families the engine runs beyond Llama, read as transformers' config classes read them, onto the
// one block of native/src/model.h: a family is a few named options on that block (norms, multipliers), not a copy of
// the model. Llama, Mistral and Qwen2 are read by parseLlamaConfig (config.ts); this file adds
//   qwen3    Qwen3Config: RMSNorm of each head of q and k over head_dim (q_norm, k_norm) after the projection, before
//            RoPE; explicit head_dim (default 128); attention_bias on q/k/v/o; no MLP biases
//   granite  GraniteConfig: embedding_multiplier, residual_multiplier, attention_multiplier (the q·k scale itself,
//            default 1), logits_scaling (logits are divided by it)
// Families the engine does not implement are refused by name, with what they would need.
import { LlamaConfig, ModelFormatError, parseLlamaConfig } from './config'

export type Family = 'llama' | 'mistral' | 'qwen2' | 'qwen3' | 'granite'

/** The options of the block a family sets (the native engine's Config; names as the engine's spec reads them). */
export interface FamilyOptions {
  family: Family
  /** RMSNorm over head_dim on each head of q and of k, before RoPE (q_norm, k_norm) */
  qkNorm: boolean
  /** embeddings × this */
  embeddingMultiplier: number
  /** each block's attention and MLP output × this before its residual add */
  residualMultiplier: number
  /** the scale of q·k; 0 = head_dim^−½ (Llama) */
  attentionMultiplier: number
  /** logits ÷ this */
  logitsScaling: number
}

export type ModelConfig = LlamaConfig & FamilyOptions

export const LLAMA_OPTIONS: Omit<FamilyOptions, 'family'> = {
  qkNorm: false,
  embeddingMultiplier: 1,
  residualMultiplier: 1,
  attentionMultiplier: 0,
  logitsScaling: 1,
}

/** model_type → what it would take, for the families that are refused by name */
const NOT_IMPLEMENTED: Record<string, string> = {
  qwen3_moe: 'Qwen3-MoE (mixture-of-experts MLP layers)',
  qwen2_moe: 'Qwen2-MoE (mixture-of-experts MLP layers with a shared expert)',
  mixtral: 'Mixtral (mixture-of-experts MLP layers)',
  olmoe: 'OLMoE (mixture-of-experts MLP layers, full-width q/k norms)',
  granitemoe: 'GraniteMoE (mixture-of-experts MLP layers)',
  gpt_oss: 'GPT-OSS (attention sinks, mixture-of-experts MLP layers)',
  gemma: 'Gemma (RMSNorm as 1 + w, GeGLU, scaled embeddings)',
  gemma2: 'Gemma 2 (RMSNorm as 1 + w, GeGLU, post-attention and post-feed-forward norms, soft-capping, sliding-window layers)',
  gemma3: 'Gemma 3 (RMSNorm as 1 + w, GeGLU, post-norms, q/k norms, sliding-window layers with their own RoPE base)',
  gemma3_text: 'Gemma 3 (RMSNorm as 1 + w, GeGLU, post-norms, q/k norms, sliding-window layers with their own RoPE base)',
  gemma4: 'Gemma 4 (per-layer embeddings)',
  phi3: 'Phi-3 (fused qkv_proj and gate_up_proj, partial rotary embeddings, longrope)',
  smollm3: 'SmolLM3 (layers without RoPE)',
  qwen3_5: 'Qwen3.5 (Gated DeltaNet linear-attention layers)',
  qwen3_5_moe: 'Qwen3.5-MoE (Gated DeltaNet linear-attention layers, mixture-of-experts MLP layers)',
}

const SUPPORTED: Family[] = ['llama', 'mistral', 'qwen2', 'qwen3', 'granite']

function finite(raw: Record<string, unknown>, key: string, def: number, file: string, positive: boolean): number {
  const v = raw[key]
  if (v === undefined || v === null) return def
  if (typeof v !== 'number' || !Number.isFinite(v) || (positive ? !(v > 0) : false) || Math.abs(v) > 3.4e38)
    throw new ModelFormatError(`${file}: ${key} must be a ${positive ? 'positive ' : ''}number (found ${JSON.stringify(v)})`)
  return v
}

function refuseTrue(raw: Record<string, unknown>, key: string, file: string, why: string): void {
  if (raw[key] === true) throw new ModelFormatError(`${file}: ${key} true is not supported (${why})`)
}

/** config.json → the engine's configuration, for every family the engine runs; other model types are refused by name. */
export function parseModelConfig(raw: Record<string, unknown>, file = 'config.json'): ModelConfig {
  const mt = raw.model_type
  if (mt === undefined || mt === 'llama' || mt === 'mistral' || mt === 'qwen2')
    return { ...parseLlamaConfig(raw, file), family: (mt ?? 'llama') as Family, ...LLAMA_OPTIONS }
  if (mt === 'qwen3') return parseQwen3(raw, file)
  if (mt === 'granite') return parseGranite(raw, file)
  if (typeof mt === 'string' && NOT_IMPLEMENTED[mt])
    throw new ModelFormatError(`${file}: model_type "${mt}" is not supported yet: ${NOT_IMPLEMENTED[mt]} (supported: ${SUPPORTED.join(', ')})`)
  throw new ModelFormatError(`${file}: model_type "${String(mt)}" is not supported (supported: ${SUPPORTED.join(', ')})`)
}

/** Qwen3Config's fields onto the Llama reader (its defaults where config.json leaves a field out). */
function parseQwen3(raw: Record<string, unknown>, file: string): ModelConfig {
  refuseTrue(raw, 'use_sliding_window', file, "Qwen3's sliding window on the layers from max_window_layers on")
  refuseTrue(raw, 'mlp_bias', file, 'Qwen3 has no MLP biases')
  const llama: Record<string, unknown> = { ...raw, model_type: 'llama' }
  // Qwen3Config drops sliding_window unless use_sliding_window: it is not a setting of the model then
  delete llama.sliding_window
  delete llama.mlp_bias
  if (llama.head_dim === undefined) llama.head_dim = 128
  if (llama.num_key_value_heads === undefined) llama.num_key_value_heads = 32
  if (llama.max_position_embeddings === undefined) llama.max_position_embeddings = 32768
  const c = parseLlamaConfig(llama, file)
  return { ...c, raw, family: 'qwen3', ...LLAMA_OPTIONS, qkNorm: true }
}

/** GraniteConfig's multipliers (each defaults to 1, attention_multiplier included: it is the q·k scale itself). */
function parseGranite(raw: Record<string, unknown>, file: string): ModelConfig {
  const llama: Record<string, unknown> = { ...raw, model_type: 'llama' }
  if (llama.max_position_embeddings === undefined) llama.max_position_embeddings = 2048
  const c = parseLlamaConfig(llama, file)
  return {
    ...c,
    raw,
    family: 'granite',
    ...LLAMA_OPTIONS,
    embeddingMultiplier: finite(raw, 'embedding_multiplier', 1, file, false),
    residualMultiplier: finite(raw, 'residual_multiplier', 1, file, false),
    attentionMultiplier: finite(raw, 'attention_multiplier', 1, file, true),
    logitsScaling: finite(raw, 'logits_scaling', 1, file, true),
  }
}
