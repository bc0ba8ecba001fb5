// transformers' dequantisation of GPT-OSS's MXFP4 experts (integrations/mxfp4.py, convert_moe_packed_tensors),
// written again in float64 for the tests, independently of the engine (which repacks the bytes into ggml's blocks):
// blocks [E, R, G, 16] u8, scales [E, R, G] u8. Each byte of a block holds two e2m1 codes, the low nibble the even
// element and the high nibble the odd one (out[:, 0::2] = lut[lo], out[:, 1::2] = lut[hi]); the code is looked up in
// FP4_VALUES; the block is multiplied by 2^(scale − 127) (torch.ldexp); the rows [E, R, G·32] are transposed to
// [E, G·32, R] — gate_up_proj [E, D, 2F] (gate the even columns), down_proj [E, F, D].

/** FP4_VALUES: e2m1 codes 0–7 positive, 8–15 their negatives */
export const FP4_VALUES = [0, 0.5, 1, 1.5, 2, 3, 4, 6, -0, -0.5, -1, -1.5, -2, -3, -4, -6]

/** [E, G·32, R] float64 from blocks [E, R, G, 16] and scales [E, R, G]; `order` 'ggml' reads the nibbles as ggml's
 *  blocks would (low nibbles first, then the high ones) — a wrong reading, for the tests to tell apart */
export function dequantiseMoePacked(blocks: Uint8Array, scales: Uint8Array, E: number, R: number, G: number, order: 'transformers' | 'ggml' = 'transformers'): Float64Array {
  const C = G * 32
  const out = new Float64Array(E * C * R)
  for (let e = 0; e < E; e++)
    for (let r = 0; r < R; r++)
      for (let g = 0; g < G; g++) {
        const s = Math.pow(2, scales[(e * R + r) * G + g] - 127)
        for (let j = 0; j < 16; j++) {
          const byte = blocks[((e * R + r) * G + g) * 16 + j]
          const [i0, i1] = order === 'transformers' ? [2 * j, 2 * j + 1] : [j, j + 16]
          // element c of row r lands at [e, c, r] (the transpose)
          out[(e * C + g * 32 + i0) * R + r] = FP4_VALUES[byte & 15] * s
          out[(e * C + g * 32 + i1) * R + r] = FP4_VALUES[byte >> 4] * s
        }
      }
  return out
}
