// llama.cpp's named mixtures of block types ("Q4_K_M"): the type llama-quantize gives each tensor of a Llama-family
// model (llama_tensor_get_type in llama.cpp's src/llama-quant.cpp, without an importance matrix, one expert per
// layer), written out here as the rules it applies, so a GGUF export in a mixture holds the types llama.cpp's own
// quantiser would have chosen for the same shapes:
//   Q4_K_M  the output matrix (or, with tied embeddings, the token embedding, which then serves as the output) Q6_K —
//           Q8_0 when its rows are not whole blocks of 256; attn_v and ffn_down Q6_K in the "more bits" layers
//           (use_more_bits: the first and last eighth of the layers and every third one between), Q4_K elsewhere;
//           every other matrix Q4_K.
// Then the fallback of rows that are not whole blocks of the chosen type: Q4_K → Q5_0, Q6_K → Q8_0 (and F16 where
// rows are not whole blocks of 32 either). Vectors (norms, biases) stay F32.
/** The block types a GGUF export writes (the writer, export/gguf.ts, re-exports it; defined here so the mixture rules
 *  and the writer do not import each other). */
export type GgufDType = 'F32' | 'F16' | 'BF16' | 'Q8_0' | 'Q4_0' | 'Q5_0' | 'Q4_K' | 'Q6_K'

export const GGUF_MIXTURES = ['Q4_K_M'] as const
export type GgufMixture = (typeof GGUF_MIXTURES)[number]

export function isGgufMixture(d: string): d is GgufMixture {
  return (GGUF_MIXTURES as readonly string[]).includes(d)
}

/** llama.cpp's use_more_bits(i_layer, n_layers), in C's integer arithmetic */
export function useMoreBits(i: number, n: number): boolean {
  const e = Math.trunc(n / 8)
  return i < e || i >= Math.trunc((7 * n) / 8) || (i - e) % 3 === 2
}

const FALLBACK: Partial<Record<GgufDType, GgufDType>> = { Q4_K: 'Q5_0', Q6_K: 'Q8_0' }
const BLOCK_ELEMS: Partial<Record<GgufDType, number>> = { Q4_K: 256, Q6_K: 256, Q5_0: 32, Q8_0: 32 }

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
): { chosen: GgufDType; type: GgufDType } {
  let chosen: GgufDType = 'Q4_K' // Q4_K_M's default type
  const layer = /^blk\.(\d+)\./.exec(name)
  if (name === 'output.weight' || (!hasOutput && name === 'token_embd.weight')) chosen = cols % 256 !== 0 ? 'Q8_0' : 'Q6_K'
  else if (layer && /\.(attn_v|ffn_down)\.weight$/.test(name) && useMoreBits(Number(layer[1]), layers)) chosen = 'Q6_K'
  void mix // one mixture so far: its rules are the ones above
  let type: GgufDType = chosen
  if (cols % BLOCK_ELEMS[type]! !== 0) {
    type = FALLBACK[type] ?? type
    if (cols % BLOCK_ELEMS[type]! !== 0) type = 'F16'
  }
  return { chosen, type }
}
