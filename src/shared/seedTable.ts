// The seed's "Stepping Off" table: one word per row, one column per step size, `_` once a column has ended.
// Pure functions shared by the CLI and the renderer.
import type { TableFormat } from './contract/enums'

/**
 * Words of prompt + completion as the seed shows them: a newline becomes "<br>" glued to the words around it
 * (the seed's "question:< br>"; we drop the space its rendering added so a word stays one cell).
 */
export function seedWords(fullText: string): string[] {
  return fullText
    .replace(/\r?\n/g, '<br>')
    .split(/ +/)
    .filter((w) => w.length > 0)
}

/** The seed writes step sizes as 0.0, 1.0E-04, 3.0E-02 … */
export function formatStepSize(lr: number): string {
  if (lr === 0) return '0.0'
  const exp = Math.floor(Math.log10(Math.abs(lr)))
  let mant = lr / 10 ** exp
  let e = exp
  if (Math.abs(Number(mant.toFixed(1))) >= 10) {
    mant /= 10
    e += 1
  }
  const sign = e < 0 ? '-' : '+'
  return `${mant.toFixed(1)}E${sign}${String(Math.abs(e)).padStart(2, '0')}`
}

/**
 * A step size in the seed's style (1.0E-03) with as many digits as it takes to give back exactly the α the run
 * recorded: 1.0E-03 for 0.001, 1.25E-03 for 0.00125 (formatStepSize, for axes and labels, would print 1.3E-03).
 * Number(exactStepSize(x)) === x for every finite x.
 */
export function exactStepSize(lr: number): string {
  if (lr === 0) return '0.0'
  if (!Number.isFinite(lr)) return String(lr)
  let digits = 1
  while (Number(lr.toExponential(digits)) !== lr) digits++
  const [mant, exp] = lr.toExponential(digits).split('e')
  const e = Number(exp)
  return `${mant}E${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`
}

/** the header of a run's column: its exact α in the format's style, or "no step" when it took none */
export function stepSizeHeader(lr: number | null, format: TableFormat): string {
  if (lr === null) return 'no step'
  return format === 'csv' ? String(lr) : exactStepSize(lr)
}

export interface SeedColumn {
  lr: number
  words: string[]
  /** the column's header when the step size alone does not tell columns apart (a lesson's: "lesson 2 · 3.0E-02") */
  label?: string
}

/** Rows of the table: rows[i][j] is word i of column j, or `_` past the column's end. */
export function seedRows(columns: SeedColumn[]): string[][] {
  const n = Math.max(0, ...columns.map((c) => c.words.length))
  const rows: string[][] = []
  for (let i = 0; i < n; i++) rows.push(columns.map((c) => (i < c.words.length ? c.words[i] : '_')))
  return rows
}

/**
 * Rows as the seed printed its table: columns padded so a person can read them, the header and body between rules of
 * dashes; `below` rows (a summary such as recall) come after the closing rule, in the same columns.
 */
export function paddedTable(header: string[], body: string[][], below: string[][] = []): string {
  const all = [header, ...body, ...below]
  const widths = header.map((_, j) => Math.max(...all.map((r) => r[j].length)))
  const line = (cells: string[]): string => cells.map((c, j) => c.padEnd(widths[j])).join(' ').trimEnd()
  const rule = '-'.repeat(widths.reduce((a, w) => a + w + 1, -1))
  return [rule, line(header), ...body.map(line), rule, ...below.map(line)].join('\n')
}

/** Plain-text table as the seed printed it, with columns padded so a person can read it. */
export function formatSeedTable(columns: SeedColumn[]): string {
  const header = ['gradStep', ...columns.map((c) => c.label ?? formatStepSize(c.lr))]
  return paddedTable(header, seedRows(columns).map((r, i) => [String(i), ...r]))
}

/** Number of leading whitespace-separated words two texts share: the recall metric (docs/design.md, "Metrics"). */
export function commonPrefixWords(a: string, b: string): number {
  const wa = a.split(/\s+/).filter(Boolean)
  const wb = b.split(/\s+/).filter(Boolean)
  let n = 0
  while (n < wa.length && n < wb.length && wa[n] === wb[n]) n++
  return n
}
