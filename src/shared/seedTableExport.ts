// The seed's table as a file: the one writer of the Lab's "Markdown" / "CSV" downloads (src/renderer/src/lib/
// download.ts) and of `soliloquy table` (src/main/lab/report/tables.ts), so the two give the same bytes for the same
// runs. The words (one row per word, one column per run, `_` past a column's end), then what the table was made with
// and each column's metrics (src/shared/runExports.ts).
//
// What a researcher gets (README, "soliloquy table"):
//  - each column is headed by the α its run recorded, exactly: CSV as a number (0.03, 0.00125 — the shortest decimal
//    that reads back as the same double), Markdown in the seed's style with the digits it needs (3.0E-02, 1.25E-03);
//  - a run without a step size (a generation, no step taken) is kept as a column headed "no step", never dropped and
//    never passed off as α = 0;
//  - every cell escaped for its format: CSV by src/shared/csvCell.ts (RFC 4180, formula cells neutralised), Markdown
//    by src/shared/markdownCell.ts (`|`, `\`, `<`, `&` and inline markup).
import { csvText } from './csvCell'
import { markdownTable } from './markdownCell'
import { seedTableCsvContext, seedTableMarkdownContext } from './runExports'
import { seedRows, seedWords, stepSizeHeader } from './seedTable'
import type { RunRecord } from './contract/records'
import type { TableFormat } from './contract/enums'

/** the words of the table: header (gradStep, one α per run) and one row per word */
function seedGrid(runs: readonly RunRecord[], format: TableFormat): string[][] {
  const header = ['gradStep', ...runs.map((r) => stepSizeHeader(r.lr, format))]
  const body = seedRows(runs.map((r) => ({ lr: r.lr ?? 0, words: seedWords(r.fullText) }))).map((row, i) => [String(i), ...row])
  return [header, ...body]
}

/** The seed's table of these runs (one column each, in their order) with its context, as a file's text. */
export function seedTableText(runs: readonly RunRecord[], format: TableFormat): string {
  const grid = seedGrid(runs, format)
  return format === 'csv' ? csvText(grid) + seedTableCsvContext(runs) : markdownTable(grid) + seedTableMarkdownContext(runs)
}
