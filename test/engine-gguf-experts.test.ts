// Mixtures of experts through GGUF (llama.cpp's "llama" with expert tensors, "qwen3moe", "olmoe", "granitemoe"): the
// same tiny weights, base and stepped, exported by our GGUF writer (each layer's experts as one 3-D tensor), give
// llama.cpp's greedy ids (node-llama-cpp, installed on demand as the benchmark does) and our engine's ids on the HF
// directory; the file re-opens in our engine as the same model, and exports back to an HF directory in the family's
// own layout that is again that model. What llama.cpp's graphs fix (renormalisation, every layer with experts) is
// refused by name when a model differs.
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { Engine } from '../src/main/engine/engine'
import { exportGguf } from '../src/main/engine/export/gguf'
import { LlamaCppModule, loadPeer } from '../tools/bench/peer'
import { MoeTiny, writeMoe } from './moeTiny'
import { tmp } from './helpers'
import { expectGgufRoundTrip, GGUF_PHRASE } from './familyChecks'

const base = { vocab: 4096, dim: 64, ffn: 96, layers: 2, heads: 4, kvHeads: 2, headDim: 16, experts: 4, topk: 2, expertFfn: 64, moeLayers: [true, true] }

const FAMILIES: { arch: string; tiny: MoeTiny; lr?: number }[] = [
  {
    arch: 'llama',
    tiny: { ...base, family: 'mixtral', tied: false, seed: 71, configExtra: { model_type: 'mixtral', architectures: ['MixtralForCausalLM'], num_local_experts: 4, num_experts_per_tok: 2, intermediate_size: 64, rope_theta: 1e6 } },
  },
  {
    arch: 'qwen3moe',
    tiny: { ...base, family: 'qwen3_moe', tied: true, seed: 72, configExtra: { model_type: 'qwen3_moe', architectures: ['Qwen3MoeForCausalLM'], num_experts: 4, num_experts_per_tok: 2, moe_intermediate_size: 64, norm_topk_prob: true, head_dim: 16, rms_norm_eps: 1e-6, rope_theta: 1e6 } },
  },
  {
    arch: 'olmoe',
    // llama.cpp's olmoe graph normalises k over hidden_size: as many key/value heads as query heads (as OLMoE has)
    tiny: { ...base, kvHeads: 4, family: 'olmoe', tied: false, seed: 73, configExtra: { model_type: 'olmoe', architectures: ['OlmoeForCausalLM'], num_experts: 4, num_experts_per_tok: 2, intermediate_size: 64, norm_topk_prob: false } },
  },
  {
    arch: 'granitemoe',
    tiny: { ...base, family: 'granitemoe', tied: true, seed: 74, configExtra: { model_type: 'granitemoe', architectures: ['GraniteMoeForCausalLM'], num_local_experts: 4, num_experts_per_tok: 2, intermediate_size: 64, embedding_multiplier: 3.0, residual_multiplier: 0.5, attention_multiplier: 0.125, logits_scaling: 2.0 } },
    lr: 20,
  },
]

let llamaCpp: LlamaCppModule
beforeAll(async () => {
  llamaCpp = await loadPeer(() => {})
}, 900_000)

describe('mixtures of experts through GGUF', () => {
  for (const f of FAMILIES) {
    it(`${f.tiny.family} (${f.arch}): base and stepped → GGUF = the HF model in our engine and in llama.cpp; GGUF → HF directory = the same model`, async () => {
      const hf = Engine.load(writeMoe(f.tiny))
      await expectGgufRoundTrip(llamaCpp, hf, await hf.gradient(GGUF_PHRASE), {
        name: f.arch,
        family: f.tiny.family,
        lrs: [0, f.lr ?? 2],
        meta: (file) => {
          expect(file.kv.get('general.architecture')).toBe(f.arch)
          expect(file.kv.get(`${f.arch}.expert_count`)).toBe(4)
          expect(file.tensors.find((t) => t.name === 'blk.1.ffn_gate_exps.weight')?.dims).toEqual([64, 64, 4])
        },
      })
    }, 300_000)
  }

  it("what llama.cpp's MoE graphs fix is refused by name", async () => {
    const q = FAMILIES.find((f) => f.arch === 'qwen3moe')!.tiny
    const open = (tiny: MoeTiny): Engine => Engine.load(writeMoe(tiny))
    await expect(exportGguf(open({ ...q, configExtra: { ...q.configExtra, norm_topk_prob: false } }), [], join(tmp(), 'a.gguf'))).rejects.toThrow(/norm_topk_prob false cannot be carried \(llama.cpp's qwen3moe architecture fixes it\)/)
    await expect(exportGguf(open({ ...q, moeLayers: [false, true], configExtra: { ...q.configExtra, mlp_only_layers: [0] } }), [], join(tmp(), 'b.gguf'))).rejects.toThrow(/a layer with a dense MLP/)
    const o = FAMILIES.find((f) => f.arch === 'olmoe')!.tiny
    await expect(exportGguf(open({ ...o, kvHeads: 2 }), [], join(tmp(), 'c.gguf'))).rejects.toThrow(/num_key_value_heads 2 ≠ num_attention_heads 4 cannot be carried/)
  })
})
