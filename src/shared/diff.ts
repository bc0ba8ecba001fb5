// Two runs side by side: their generated tokens aligned by a longest common subsequence (pure: used by the lab's
// diffRuns method, the CLI's `soliloquy diff` and any view that has two id lists), and their scalar metrics.

export type DiffOp = { op: 'same' | 'a' | 'b'; index: number }

/**
 * Aligns two token sequences: `same` (index into a; b's token equal), `a` (only in a), `b` (only in b), in reading
 * order, minimising the tokens not in common (classic LCS table; O(|a|·|b|), fine for a few thousand tokens).
 */
export function alignTokens(a: readonly number[], b: readonly number[]): DiffOp[] {
  const n = a.length
  const m = b.length
  // L[i][j] = LCS length of a[i..] and b[j..]
  const L = Array.from({ length: n + 1 }, () => new Int32Array(m + 1))
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--) L[i][j] = a[i] === b[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1])
  const ops: DiffOp[] = []
  let i = 0
  let j = 0
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      ops.push({ op: 'same', index: i })
      i++
      j++
    } else if (L[i + 1][j] >= L[i][j + 1]) ops.push({ op: 'a', index: i++ })
    else ops.push({ op: 'b', index: j++ })
  }
  while (i < n) ops.push({ op: 'a', index: i++ })
  while (j < m) ops.push({ op: 'b', index: j++ })
  return ops
}

/** Tokens in common / the longer sequence's length (1 for two empty sequences). */
export function sameFraction(ops: readonly DiffOp[], a: number, b: number): number {
  const same = ops.filter((o) => o.op === 'same').length
  return Math.max(a, b) === 0 ? 1 : same / Math.max(a, b)
}

/** Every scalar (number or null) metric of either run, keys sorted, side by side. */
export function metricsSideBySide(
  a: Record<string, unknown>,
  b: Record<string, unknown>,
): { key: string; a: number | null; b: number | null }[] {
  const scalar = (v: unknown): v is number | null => v === null || typeof v === 'number'
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => scalar(a[k]) || scalar(b[k])).sort()
  return keys.map((key) => ({
    key,
    a: scalar(a[key]) ? (a[key] as number | null) : null,
    b: scalar(b[key]) ? (b[key] as number | null) : null,
  }))
}
