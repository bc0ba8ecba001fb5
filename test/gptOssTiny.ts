// A tiny random GPT-OSS in transformers' checkpoint layout (config.json + model.safetensors): q/k/v/o with biases,
// self_attn.sinks, mlp.router {weight, bias}, and the experts as GptOssExperts stores them — gate_up_proj [E, D, 2F]
// (gate and up interleaved along the last axis), gate_up_proj_bias [E, 2F], down_proj [E, F, D], down_proj_bias [E, D].
import { TinyConfig, TinyTensors, rng, tmp, writeTinyModel } from './helpers'

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

export function gptOssTensors(c: GptOssTiny): TinyTensors {
  const r = rng(c.seed)
  const t: TinyTensors = {}
  const put = (name: string, shape: number[], scale: number, around = 0): void => {
    const d = new Float32Array(shape.reduce((a, s) => a * s, 1))
    for (let i = 0; i < d.length; i++) d[i] = around + (r() * 2 - 1) * scale
    t[name] = { shape, data: d }
  }
  const { dim: D, heads: H, kvHeads: KVH, headDim: hd, experts: E, expertFfn: F } = c
  put('model.embed_tokens.weight', [c.vocab, D], 1)
  for (let l = 0; l < c.layers; l++) {
    const p = `model.layers.${l}.`
    put(p + 'self_attn.q_proj.weight', [H * hd, D], 1 / Math.sqrt(D))
    put(p + 'self_attn.q_proj.bias', [H * hd], 0.3)
    put(p + 'self_attn.k_proj.weight', [KVH * hd, D], 1 / Math.sqrt(D))
    put(p + 'self_attn.k_proj.bias', [KVH * hd], 0.3)
    put(p + 'self_attn.v_proj.weight', [KVH * hd, D], 1 / Math.sqrt(D))
    put(p + 'self_attn.v_proj.bias', [KVH * hd], 0.3)
    put(p + 'self_attn.o_proj.weight', [D, H * hd], 1 / Math.sqrt(H * hd))
    put(p + 'self_attn.o_proj.bias', [D], 0.3)
    put(p + 'self_attn.sinks', [H], 1)
    put(p + 'input_layernorm.weight', [D], 0.2, 1)
    put(p + 'post_attention_layernorm.weight', [D], 0.2, 1)
    // a router with a wide spread of logits: no two experts near a tie (a finite difference must not flip a choice)
    put(p + 'mlp.router.weight', [E, D], 2 / Math.sqrt(D))
    put(p + 'mlp.router.bias', [E], 0.5)
    put(p + 'mlp.experts.gate_up_proj', [E, D, 2 * F], 1.5 / Math.sqrt(D))
    put(p + 'mlp.experts.gate_up_proj_bias', [E, 2 * F], 0.3)
    put(p + 'mlp.experts.down_proj', [E, F, D], 1 / Math.sqrt(F))
    put(p + 'mlp.experts.down_proj_bias', [E, D], 0.3)
  }
  put('model.norm.weight', [D], 0.2, 1)
  put('lm_head.weight', [c.vocab, D], 1 / Math.sqrt(D))
  return t
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
  const tiny: TinyConfig = { vocab: c.vocab, dim: c.dim, ffn: c.expertFfn, layers: c.layers, heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim, tied: false, seed: c.seed, configExtra: gptOssConfig(c) }
  return writeTinyModel(tmp(), tiny, gptOssTensors(c))
}
