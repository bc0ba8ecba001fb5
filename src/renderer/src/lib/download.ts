// Results that leave the app: files made in the page and handed to the browser's download (or Electron's save).
import { csvText } from '@shared/csvCell'
import { markdownCell } from '@shared/runExports'
import { formatStepSize, seedRows, seedWords } from '@shared/seedTable'
import type { RunRecord } from '@shared/api'

/** a click on a temporary link that downloads `href` as `name` */
function clickDownload(name: string, href: string): void {
  const a = document.createElement('a')
  a.href = href
  a.download = name
  document.body.appendChild(a)
  a.click()
  a.remove()
}

export function downloadBlob(name: string, data: Blob): void {
  const url = URL.createObjectURL(data)
  clickDownload(name, url)
  setTimeout(() => URL.revokeObjectURL(url), 1000)
}

export function downloadText(name: string, text: string, type = 'text/plain'): void {
  downloadBlob(name, new Blob([text], { type: `${type};charset=utf-8` }))
}

export function downloadDataUrl(name: string, dataUrl: string): void {
  clickDownload(name, dataUrl)
}

/** the seed's table cells: header (gradStep, α…) and one row per word, `_` past a column's end */
function seedGrid(runs: RunRecord[]): { header: string[]; body: string[][] } {
  const cols = runs.map((r) => ({ lr: r.lr ?? 0, words: seedWords(r.fullText) }))
  return { header: ['gradStep', ...cols.map((c) => formatStepSize(c.lr))], body: seedRows(cols).map((r, i) => [String(i), ...r]) }
}

/** The seed's "Stepping Off" table as a GitHub-flavoured Markdown table (pipes escaped). */
export function seedTableMarkdown(runs: RunRecord[]): string {
  const { header, body } = seedGrid(runs)
  const line = (cells: string[]): string => `| ${cells.map(markdownCell).join(' | ')} |`
  return [line(header), `|${header.map(() => ' --- ').join('|')}|`, ...body.map(line)].join('\n') + '\n'
}

/** The same table as CSV (RFC 4180 quoting; formula-like cells neutralised, src/shared/csvCell.ts). */
export function seedTableCsv(runs: RunRecord[]): string {
  const { header, body } = seedGrid(runs)
  return csvText([header, ...body])
}
