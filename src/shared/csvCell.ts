// One CSV cell (and rows of them) as every CSV the lab writes holds it (the CLI's `table`, the lab's experimentTable,
// the page's download).
// RFC 4180 quoting, and the OWASP defence against formula injection ("CSV Injection"): a spreadsheet runs a cell that
// begins with = + - @ (or a tab or carriage return, which some strip before looking) as a formula — a model's
// completion or a prompt word like `=HYPERLINK("http://…")` would become a live link. Such a cell is prefixed with a
// single quote (shown as text, the quote hidden) and quoted. A negative number (`-0.03`, a negative step size) is data,
// not a formula, and is left as it is so the header's step sizes stay numbers.

const FORMULA_START = /^[=+\-@\t\r]/
const PLAIN_NUMBER = /^-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/

/** The text of one CSV field: neutralised when a spreadsheet would read it as a formula, quoted when it must be. */
export function csvCell(s: string): string {
  const formula = FORMULA_START.test(s) && !PLAIN_NUMBER.test(s)
  const text = formula ? `'${s}` : s
  return formula || /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}

/** Rows of fields as a CSV text: each field a csvCell, CRLF line ends, one after the last row (RFC 4180). */
export function csvText(rows: string[][]): string {
  return rows.map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n'
}
