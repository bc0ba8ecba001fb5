// llama.cpp's named mixtures of block types ("Q4_K_M", "Q3_K_M", …): the type llama-quantize gives each tensor
// (llama_tensor_get_type in llama.cpp's src/llama-quant.cpp, without an importance matrix, no overrides), written out
// here as the rules it applies, so a GGUF export in a mixture holds the types llama.cpp's own quantiser would have
// chosen for the same shapes. Each mixture has a default type (Q3_K for Q3_K_*, Q4_K for Q4_K_M, Q5_K for Q5_K_*);
// then, per tensor kind:
//   output    the output matrix (or, with tied embeddings, the token embedding, which then serves as the output):
//             Q6_K — Q8_0 when its rows are not whole blocks of the default type's 256
//   attn_v    (and a fused attn_qkv, which llama.cpp counts with them) Q3_K_M: Q5_K in the first two layers, Q4_K
//             after; Q3_K_L: Q5_K; Q4_K_M / Q5_K_M: Q6_K in the "more bits" layers (use_more_bits: the first and
//             last eighth of the layers and every third one between); a 70B model's (llama with 80 layers and
//             grouped KV heads, qwen2 with 80) Q3_K / Q4_K become Q5_K; with 8 experts, Q8_0
//   attn_k    with 8 experts, Q8_0
//   ffn_down  Q3_K_M: Q5_K in the first sixteenth of the layers, Q4_K after; Q3_K_L: Q5_K; Q4_K_M / Q5_K_M: Q6_K
//             in the "more bits" layers
//   attn_output  Q3_K_M: Q4_K; Q3_K_L: Q5_K; with 8 experts: Q5_K for Q3_K_S / Q3_K_M / Q4_K_M (Q3_K_L keeps Q3_K)
//   ffn_gate_inp (a mixture of experts' router) is never quantised: F32, as converted
//   everything else the default type.
// Then the fallback of rows that are not whole blocks of the chosen type: Q3_K → Q4_0, Q4_K → Q5_0, Q5_K → Q5_1,
// Q6_K → Q8_0, and F16 where rows are not whole blocks of 32 either. Vectors (norms, biases) stay F32.
// (llama.cpp's Falcon-only rules are left out: the export writes no Falcon.)
/** The block types a GGUF export writes (the writer, export/gguf.ts, re-exports it; defined here so the mixture rules
 *  and the writer do not import each other). */
export type GgufDType = 'F32' | 'F16' | 'BF16' | 'Q8_0' | 'Q4_0' | 'Q5_0' | 'Q5_1' | 'Q3_K' | 'Q4_K' | 'Q5_K' | 'Q6_K'

export const GGUF_MIXTURES = ['Q3_K_S', 'Q3_K_M', 'Q3_K_L', 'Q4_K_M', 'Q5_K_S', 'Q5_K_M'] as const
export type GgufMixture = (typeof GGUF_MIXTURES)[number]

export function isGgufMixture(d: string): d is GgufMixture {
  return (GGUF_MIXTURES as readonly string[]).includes(d)
}

/** llama.cpp's general.file_type of each mixture (LLAMA_FTYPE_MOSTLY_Q3_K_S … _Q5_K_M) */
export const MIXTURE_FILE_TYPE: Record<GgufMixture, number> = { Q3_K_S: 11, Q3_K_M: 12, Q3_K_L: 13, Q4_K_M: 15, Q5_K_S: 16, Q5_K_M: 17 }

const DEFAULT_TYPE: Record<GgufMixture, GgufDType> = { Q3_K_S: 'Q3_K', Q3_K_M: 'Q3_K', Q3_K_L: 'Q3_K', Q4_K_M: 'Q4_K', Q5_K_S: 'Q5_K', Q5_K_M: 'Q5_K' }

/** llama.cpp's use_more_bits(i_layer, n_layers), in C's integer arithmetic */
export function useMoreBits(i: number, n: number): boolean {
  const e = Math.trunc(n / 8)
  return i < e || i >= Math.trunc((7 * n) / 8) || (i - e) % 3 === 2
}

const FALLBACK: Partial<Record<GgufDType, GgufDType>> = { Q3_K: 'Q4_0', Q4_K: 'Q5_0', Q5_K: 'Q5_1', Q6_K: 'Q8_0' }
export const BLOCK_ELEMS: Record<GgufDType, number> = {
  F32: 1, F16: 1, BF16: 1, Q8_0: 32, Q4_0: 32, Q5_0: 32, Q5_1: 32, Q3_K: 256, Q4_K: 256, Q5_K: 256, Q6_K: 256,
}

/** what the rules read of the model beyond the tensor: llama.cpp's architecture name, the experts per layer (1 or
 *  absent: dense), and the heads (a llama of 80 layers is llama.cpp's "70B" when its KV heads are grouped) */
export interface MixtureModel {
  arch?: string
  experts?: number
  heads?: number
  kvHeads?: number
}

/**
 * The type of a matrix (GGUF name, rows of `cols` weights) in `mix`, for a model of `layers` layers that has its own
 * output matrix (`hasOutput`) or ties it to the token embedding: `chosen` is the mixture's pick, `type` what is
 * written after the row-size fallback.
 */
export function mixtureMatrixType(
  mix: GgufMixture,
  name: string,
  cols: number,
  layers: number,
  hasOutput: boolean,
  model: MixtureModel = {},
): { chosen: GgufDType; type: GgufDType } {
  if (/ffn_gate_inp\.weight$/.test(name)) return { chosen: 'F32', type: 'F32' }
  const base = DEFAULT_TYPE[mix]
  const experts = model.experts ?? 1
  const seventyB =
    layers === 80 && ((model.arch === 'llama' && experts !== 8 && model.heads !== model.kvHeads) || model.arch === 'qwen2')
  let chosen: GgufDType = base
  const layerMatch = /^blk\.(\d+)\./.exec(name)
  const layer = layerMatch ? Number(layerMatch[1]) : -1
  if (name === 'output.weight' || (!hasOutput && name === 'token_embd.weight')) {
    chosen = cols % BLOCK_ELEMS[base] !== 0 ? 'Q8_0' : 'Q6_K'
  } else if (/attn_(v|qkv)\.weight$/.test(name)) {
    // llama.cpp counts these tensors in file order (i_attention_wv): one per layer, so the layer's index
    if (mix === 'Q3_K_M') chosen = layer < 2 ? 'Q5_K' : 'Q4_K'
    else if (mix === 'Q3_K_L') chosen = 'Q5_K'
    else if ((mix === 'Q4_K_M' || mix === 'Q5_K_M') && useMoreBits(layer, layers)) chosen = 'Q6_K'
    if (seventyB && (chosen === 'Q3_K' || chosen === 'Q4_K')) chosen = 'Q5_K'
    if (experts === 8) chosen = 'Q8_0'
  } else if (/attn_k\.weight$/.test(name)) {
    if (experts === 8) chosen = 'Q8_0'
  } else if (/ffn_down/.test(name)) {
    if (mix === 'Q3_K_M') chosen = layer < Math.trunc(layers / 16) ? 'Q5_K' : 'Q4_K'
    else if (mix === 'Q3_K_L') chosen = 'Q5_K'
    else if ((mix === 'Q4_K_M' || mix === 'Q5_K_M') && useMoreBits(layer, layers)) chosen = 'Q6_K'
  } else if (/attn_output\.weight$/.test(name)) {
    if (experts === 8) {
      if (mix === 'Q3_K_S' || mix === 'Q3_K_M' || mix === 'Q4_K_M') chosen = 'Q5_K'
    } else if (mix === 'Q3_K_M') chosen = 'Q4_K'
    else if (mix === 'Q3_K_L') chosen = 'Q5_K'
  }
  let type: GgufDType = chosen
  if (cols % BLOCK_ELEMS[type] !== 0) {
    type = FALLBACK[type] ?? type
    if (cols % BLOCK_ELEMS[type] !== 0) type = 'F16'
  }
  return { chosen, type }
}
