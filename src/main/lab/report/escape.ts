// The HTML escape and the page of the self-contained reports (`soliloquy report`: an experiment's,
// report/experiment.ts, and a study's, study/report.ts): every text that came from a person or a file goes through
// esc; both are one page of their own style, no scripts, no network.

/** Text as HTML text or attribute content: & < > " ' as entities. */
export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)
}

/** A self-contained HTML document: the title (escaped here), the report's own style sheet, the body's parts in order. */
export function htmlPage(title: string, css: string, body: string[]): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${esc(title)}</title><style>${css}</style></head><body>${body.join('\n')}</body></html>\n`
}
