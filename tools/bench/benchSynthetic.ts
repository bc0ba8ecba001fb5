// The tensors of a synthetic Llama of a given shape, in llama.cpp's GGUF names and row-major shapes, with the scale
// of their random weights (0: a norm vector, written as ones). Shared by the benchmark's GGUF writers.
import type { LlamaConfig } from '../../src/main/engine/config'
import { ggufLayerTensor as blk, ggufTopTensor as top } from '../../src/main/engine/formats/gguf/names'

/** the sizes that fix a synthetic model's tensors: those of the engine's LlamaConfig */
export type SyntheticShape = Pick<LlamaConfig, 'vocab' | 'dim' | 'ffn' | 'layers' | 'heads' | 'kvHeads'>

export interface SyntheticTensor {
  name: string
  shape: number[]
  scale: number
}

export function syntheticGgufTensors(c: SyntheticShape): SyntheticTensor[] {
  const hd = c.dim / c.heads
  const tensors: SyntheticTensor[] = [{ name: top('token_embd'), shape: [c.vocab, c.dim], scale: 1 / Math.sqrt(c.dim) }]
  for (let l = 0; l < c.layers; l++) {
    const s = 1 / Math.sqrt(c.dim)
    tensors.push(
      { name: blk(l, 'attn_norm'), shape: [c.dim], scale: 0 },
      { name: blk(l, 'attn_q'), shape: [c.heads * hd, c.dim], scale: s },
      { name: blk(l, 'attn_k'), shape: [c.kvHeads * hd, c.dim], scale: s },
      { name: blk(l, 'attn_v'), shape: [c.kvHeads * hd, c.dim], scale: s },
      { name: blk(l, 'attn_output'), shape: [c.dim, c.heads * hd], scale: s },
      { name: blk(l, 'ffn_norm'), shape: [c.dim], scale: 0 },
      { name: blk(l, 'ffn_gate'), shape: [c.ffn, c.dim], scale: s },
      { name: blk(l, 'ffn_up'), shape: [c.ffn, c.dim], scale: s },
      { name: blk(l, 'ffn_down'), shape: [c.dim, c.ffn], scale: 1 / Math.sqrt(c.ffn) },
    )
  }
  tensors.push({ name: top('output_norm'), shape: [c.dim], scale: 0 }, { name: top('output'), shape: [c.vocab, c.dim], scale: 1 / Math.sqrt(c.dim) })
  return tensors
}
