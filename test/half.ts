// fp16 decoding on its own (no vitest import), so the float64 references that decode ggml blocks can also run inside
// the benchmark's bundle (tools/bench/judge.ts).

/** An IEEE fp16 bit pattern as a number. */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1
  const e = (h >> 10) & 0x1f
  const m = h & 0x3ff
  if (e === 0) return s * m * 2 ** -24
  if (e === 31) return m ? NaN : s * Infinity
  return s * (1 + m / 1024) * 2 ** (e - 15)
}
