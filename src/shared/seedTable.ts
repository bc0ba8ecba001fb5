// The seed's "Stepping Off" table: one word per row, one column per step size, `_` once a column has ended.
// Pure functions shared by the CLI and the renderer.
import { csvText } from './csvCell'

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

/** Plain-text table as the seed printed it, with columns padded so a person can read it. */
export function formatSeedTable(columns: SeedColumn[]): string {
  const header = ['gradStep', ...columns.map((c) => c.label ?? formatStepSize(c.lr))]
  const body = seedRows(columns).map((r, i) => [String(i), ...r])
  const widths = header.map((h, j) => Math.max(h.length, ...body.map((r) => r[j].length)))
  const line = (cells: string[]): string => cells.map((c, j) => c.padEnd(widths[j])).join(' ').trimEnd()
  const rule = '-'.repeat(widths.reduce((a, w) => a + w + 1, -1))
  return [rule, line(header), ...body.map(line), rule].join('\n')
}

/** Number of leading whitespace-separated words two texts share: the recall metric (docs/design.md, "Metrics"). */
export function commonPrefixWords(a: string, b: string): number {
  const wa = a.split(/\s+/).filter(Boolean)
  const wb = b.split(/\s+/).filter(Boolean)
  let n = 0
  while (n < wa.length && n < wb.length && wa[n] === wb[n]) n++
  return n
}

/** A Markdown cell: pipes and backslashes escaped so a word never splits the row. */
function mdCell(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|')
}

/** The seed's table as GitHub Markdown: a "gradStep" column of word numbers, then one column per step size. */
export function seedTableMarkdown(columns: SeedColumn[]): string {
  const header = ['gradStep', ...columns.map((c) => c.label ?? formatStepSize(c.lr))]
  const rows = seedRows(columns).map((r, i) => [String(i), ...r])
  const line = (cells: string[]): string => `| ${cells.map(mdCell).join(' | ')} |`
  return [line(header), `|${header.map(() => ' --- ').join('|')}|`, ...rows.map(line)].join('\n') + '\n'
}

/** The seed's table as CSV (RFC 4180, CRLF line ends; cells a spreadsheet would run as formulas neutralised): the header row holds the step sizes as numbers. */
export function seedTableCsv(columns: SeedColumn[]): string {
  const header = ['gradStep', ...columns.map((c) => String(c.lr))]
  const rows = seedRows(columns).map((r, i) => [String(i), ...r])
  return csvText([header, ...rows])
}
