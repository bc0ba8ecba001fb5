// The one table of llama.cpp ↔ Hugging Face tensor names (src/main/engine/formats/gguf/names.ts) that the GGUF reader,
// the GGUF writer and the benchmark's synthetic models share: every tensor of a Llama round-trips, and what the
// engine does not use (rope_freqs, a bias on a norm) has no HF name.
import { describe, expect, it } from 'vitest'
import { ggufTensorName, hfTensorName, LAYER_TENSORS } from '../src/main/engine/formats/gguf/names'
import { syntheticGgufTensors } from '../tools/bench/benchSynthetic'

describe('GGUF tensor names', () => {
  it("every tensor of a synthetic 2-layer Llama maps to HF's name and back", () => {
    const names = syntheticGgufTensors({ vocab: 32, dim: 8, ffn: 16, layers: 2, heads: 2, kvHeads: 1 }).map((t) => t.name)
    expect(names).toHaveLength(3 + 2 * Object.keys(LAYER_TENSORS).length)
    const hf = names.map((n) => hfTensorName(n))
    expect(hf).toContain('model.embed_tokens.weight')
    expect(hf).toContain('lm_head.weight')
    expect(hf).toContain('model.norm.weight')
    expect(hf).toContain('model.layers.1.post_attention_layernorm.weight')
    expect(hf).toContain('model.layers.0.self_attn.o_proj.weight')
    expect(hf.map((h) => ggufTensorName(h!))).toEqual(names)
  })

  it('biases of the linears map both ways; a norm has none; unknown names are refused or skipped', () => {
    expect(hfTensorName('blk.3.attn_q.bias')).toBe('model.layers.3.self_attn.q_proj.bias')
    expect(ggufTensorName('model.layers.3.mlp.down_proj.bias')).toBe('blk.3.ffn_down.bias')
    expect(hfTensorName('blk.3.attn_norm.bias')).toBeUndefined()
    expect(hfTensorName('output_norm.bias')).toBeUndefined()
    expect(hfTensorName('rope_freqs.weight')).toBeUndefined()
    expect(hfTensorName('blk.0.attn_qkv.weight')).toBeUndefined()
    expect(() => ggufTensorName('model.layers.0.self_attn.rotary_emb.inv_freq')).toThrow(/no GGUF name/)
  })
})
