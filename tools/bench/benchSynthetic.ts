// The tensors of a synthetic Llama of a given shape, in llama.cpp's GGUF names and row-major shapes, with the scale
// of their random weights (0: a norm vector, written as ones). Shared by the benchmark's GGUF writers.
import type { LlamaConfig } from '../../src/main/engine/config'

/** the sizes that fix a synthetic model's tensors: those of the engine's LlamaConfig */
export type SyntheticShape = Pick<LlamaConfig, 'vocab' | 'dim' | 'ffn' | 'layers' | 'heads' | 'kvHeads'>

export interface SyntheticTensor {
  name: string
  shape: number[]
  scale: number
}

export function syntheticGgufTensors(c: SyntheticShape): SyntheticTensor[] {
  const hd = c.dim / c.heads
  const tensors: SyntheticTensor[] = [{ name: 'token_embd.weight', shape: [c.vocab, c.dim], scale: 1 / Math.sqrt(c.dim) }]
  for (let l = 0; l < c.layers; l++) {
    const p = `blk.${l}.`
    const s = 1 / Math.sqrt(c.dim)
    tensors.push(
      { name: p + 'attn_norm.weight', shape: [c.dim], scale: 0 },
      { name: p + 'attn_q.weight', shape: [c.heads * hd, c.dim], scale: s },
      { name: p + 'attn_k.weight', shape: [c.kvHeads * hd, c.dim], scale: s },
      { name: p + 'attn_v.weight', shape: [c.kvHeads * hd, c.dim], scale: s },
      { name: p + 'attn_output.weight', shape: [c.dim, c.heads * hd], scale: s },
      { name: p + 'ffn_norm.weight', shape: [c.dim], scale: 0 },
      { name: p + 'ffn_gate.weight', shape: [c.ffn, c.dim], scale: s },
      { name: p + 'ffn_up.weight', shape: [c.ffn, c.dim], scale: s },
      { name: p + 'ffn_down.weight', shape: [c.dim, c.ffn], scale: 1 / Math.sqrt(c.ffn) },
    )
  }
  tensors.push({ name: 'output_norm.weight', shape: [c.dim], scale: 0 }, { name: 'output.weight', shape: [c.vocab, c.dim], scale: 1 / Math.sqrt(c.dim) })
  return tensors
}
