// Tiny random mixtures of experts in their families' own transformers checkpoint layouts (config.json +
// model.safetensors), for the MoE tests. GPT-OSS's layout (test/gptOssTiny.ts gives it its config): q/k/v/o with
// biases, self_attn.sinks, mlp.router {weight, bias}, and the experts as GptOssExperts stores them — gate_up_proj
// [E, D, 2F] (gate and up interleaved along the last axis), gate_up_proj_bias [E, 2F], down_proj [E, F, D],
// down_proj_bias [E, D].
import { RefMoe } from './reference/experts'
import { TinyConfig, TinyTensors, rng, tmp, writeTinyModel } from './helpers'

type Fam = RefMoe['family']

export interface MoeTiny {
  family: Fam
  vocab: number
  dim: number
  ffn: number
  layers: number
  heads: number
  kvHeads: number
  headDim: number
  tied: boolean
  experts: number
  topk: number
  /** the experts' intermediate size */
  expertFfn: number
  /** per layer: MoE (else the dense MLP of ffn) */
  moeLayers: boolean[]
  seed: number
  configExtra: Record<string, unknown>
}

/** Random weights in the family's own checkpoint layout. */
export function moeTensors(c: MoeTiny): TinyTensors {
  const r = rng(c.seed)
  const t: TinyTensors = {}
  const put = (name: string, shape: number[], scale: number, around = 0): void => {
    const d = new Float32Array(shape.reduce((a, s) => a * s, 1))
    for (let i = 0; i < d.length; i++) d[i] = around + (r() * 2 - 1) * scale
    t[name] = { shape, data: d }
  }
  const { dim: D, heads: H, kvHeads: KVH, headDim: hd, experts: E, expertFfn: Fe } = c
  const gptOss = c.family === 'gpt_oss'
  put('model.embed_tokens.weight', [c.vocab, D], 1)
  for (let l = 0; l < c.layers; l++) {
    const p = `model.layers.${l}.`
    // (each weight followed by its bias, where the family has them: the order the random values are drawn in)
    const proj = (name: string, out: number, inp: number): void => {
      put(`${p}self_attn.${name}.weight`, [out, inp], 1 / Math.sqrt(inp))
      if (gptOss) put(`${p}self_attn.${name}.bias`, [out], 0.3)
    }
    proj('q_proj', H * hd, D)
    proj('k_proj', KVH * hd, D)
    proj('v_proj', KVH * hd, D)
    proj('o_proj', D, H * hd)
    if (gptOss) put(p + 'self_attn.sinks', [H], 1)
    put(p + 'input_layernorm.weight', [D], 0.2, 1)
    put(p + 'post_attention_layernorm.weight', [D], 0.2, 1)
    if (c.family === 'qwen3_moe') {
      put(p + 'self_attn.q_norm.weight', [hd], 0.2, 1)
      put(p + 'self_attn.k_norm.weight', [hd], 0.2, 1)
    }
    if (c.family === 'olmoe') {
      put(p + 'self_attn.q_norm.weight', [H * hd], 0.2, 1)
      put(p + 'self_attn.k_norm.weight', [KVH * hd], 0.2, 1)
    }
    if (!c.moeLayers[l]) {
      put(p + 'mlp.gate_proj.weight', [c.ffn, D], 1 / Math.sqrt(D))
      put(p + 'mlp.up_proj.weight', [c.ffn, D], 1 / Math.sqrt(D))
      put(p + 'mlp.down_proj.weight', [D, c.ffn], 1 / Math.sqrt(c.ffn))
      continue
    }
    // a router with a wide spread of logits: no two experts near a tie (a finite difference must not flip a choice)
    if (gptOss) {
      put(p + 'mlp.router.weight', [E, D], 2 / Math.sqrt(D))
      put(p + 'mlp.router.bias', [E], 0.5)
      put(p + 'mlp.experts.gate_up_proj', [E, D, 2 * Fe], 1.5 / Math.sqrt(D))
      put(p + 'mlp.experts.gate_up_proj_bias', [E, 2 * Fe], 0.3)
      put(p + 'mlp.experts.down_proj', [E, Fe, D], 1 / Math.sqrt(Fe))
      put(p + 'mlp.experts.down_proj_bias', [E, D], 0.3)
      continue
    }
    if (c.family === 'granitemoe') {
      put(p + 'block_sparse_moe.router.layer.weight', [E, D], 2 / Math.sqrt(D))
      put(p + 'block_sparse_moe.input_linear.weight', [E, 2 * Fe, D], 1 / Math.sqrt(D))
      put(p + 'block_sparse_moe.output_linear.weight', [E, D, Fe], 1 / Math.sqrt(Fe))
      continue
    }
    const moe = c.family === 'mixtral' ? 'block_sparse_moe' : 'mlp'
    const [gn, un, dn] = c.family === 'mixtral' ? ['w1', 'w3', 'w2'] : ['gate_proj', 'up_proj', 'down_proj']
    put(`${p}${moe}.gate.weight`, [E, D], 2 / Math.sqrt(D))
    for (let e = 0; e < E; e++) {
      put(`${p}${moe}.experts.${e}.${gn}.weight`, [Fe, D], 1 / Math.sqrt(D))
      put(`${p}${moe}.experts.${e}.${un}.weight`, [Fe, D], 1 / Math.sqrt(D))
      put(`${p}${moe}.experts.${e}.${dn}.weight`, [D, Fe], 1 / Math.sqrt(Fe))
    }
  }
  put('model.norm.weight', [D], 0.2, 1)
  if (!c.tied) put('lm_head.weight', [c.vocab, D], 1 / Math.sqrt(D))
  return t
}

export function writeMoe(c: MoeTiny): string {
  const tiny: TinyConfig = { vocab: c.vocab, dim: c.dim, ffn: c.ffn, layers: c.layers, heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim, tied: c.tied, seed: c.seed, configExtra: c.configExtra }
  return writeTinyModel(tmp(), tiny, moeTensors(c))
}

