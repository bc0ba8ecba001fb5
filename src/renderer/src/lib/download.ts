// Results that leave the app: files made in the page and handed to the browser's download (or Electron's save).
import { seedTableText } from '@shared/seedTableExport'
import type { RunRecord, TableFormat } from '@shared/api'

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

/** The seed's table of the Lab's runs as the file the page downloads: the bytes `soliloquy table` writes for the
 *  same runs (one writer, src/shared/seedTableExport.ts), named by the time it was made. */
export function seedTableFile(runs: readonly RunRecord[], format: TableFormat, stamp: string): { name: string; text: string; type: string } {
  return { name: `stepping-off-${stamp}.${format}`, text: seedTableText(runs, format), type: format === 'csv' ? 'text/csv' : 'text/markdown' }
}
