// The HTML escape of the self-contained reports (`soliloquy report`: an experiment's, report/experiment.ts, and a
// study's, study/report.ts): every text that came from a person or a file goes through it.

/** Text as HTML text or attribute content: & < > " ' as entities. */
export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)
}
