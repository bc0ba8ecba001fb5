// A tiny random GPT-OSS in transformers' checkpoint layout (config.json + model.safetensors): test/moeTiny.ts writes its
// tensors (q/k/v/o with biases, self_attn.sinks, mlp.router {weight, bias}, the experts fused as GptOssExperts stores
// them); this file gives GPT-OSS's shape of the description (every layer a mixture, untied) and its config.json.
import { moeTensors, writeMoe, type MoeTiny } from './moeTiny'
import type { TinyTensors } from './helpers'

export interface GptOssTiny {
  vocab: number
  dim: number
  layers: number
  heads: number
  kvHeads: number
  headDim: number
  experts: number
  topk: number
  /** the experts' intermediate size (intermediate_size) */
  expertFfn: number
  seed: number
  configExtra: Record<string, unknown>
}

/** The same model as a test/moeTiny.ts description: every layer a mixture, untied, configExtra as config.json's. */
export function gptOssAsMoe(c: GptOssTiny): MoeTiny {
  return { ...c, family: 'gpt_oss', ffn: c.expertFfn, tied: false, moeLayers: Array(c.layers).fill(true), configExtra: gptOssConfig(c) }
}

export function gptOssTensors(c: GptOssTiny): TinyTensors {
  return moeTensors(gptOssAsMoe(c))
}

export function gptOssConfig(c: GptOssTiny): Record<string, unknown> {
  return {
    model_type: 'gpt_oss',
    architectures: ['GptOssForCausalLM'],
    num_local_experts: c.experts,
    num_experts_per_tok: c.topk,
    intermediate_size: c.expertFfn,
    head_dim: c.headDim,
    attention_bias: true,
    rms_norm_eps: 1e-5,
    ...c.configExtra,
  }
}

export function writeGptOss(c: GptOssTiny): string {
  return writeMoe(gptOssAsMoe(c))
}
