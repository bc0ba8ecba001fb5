// One Markdown table cell (and tables of them) as every Markdown the lab writes holds it (the seed table's download and `soliloquy table`,
// the metric rows under it): the cell renders as the text it holds, in GitHub's renderer and any CommonMark one.
//  - `\` and `|` are backslash-escaped, so a word never splits the row;
//  - `<` and `&` become &lt; and &amp;: the seed's newline marker `question:<br>` would otherwise render as a line
//    break, a completion's `<img …>` as markup, and a word `&lt;` as `<`;
//  - the inline-markup characters `` ` `` `*` `_` `~` `[` `]` `$` are backslash-escaped (CommonMark escapes any ASCII
//    punctuation), so `__init__` stays itself rather than bold "init" and `$x$` is not typeset as math — except in a
//    cell made of `*` `_` `~` alone (the table's own `_` past a column's end), which has nothing to emphasise and
//    stays readable in the source.

const MARKUP = /[`*_~[\]$]/g
const DELIMITERS_ONLY = /^[*_~]+$/

/** The text of one Markdown table cell (or list item value) that renders as `s`. */
export function markdownCell(s: string): string {
  const t = s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/&/g, '&amp;').replace(/</g, '&lt;')
  return DELIMITERS_ONLY.test(s) ? t : t.replace(MARKUP, (c) => `\\${c}`)
}

/** A GitHub-flavoured Markdown table: a line per row, every cell through markdownCell. */
export function markdownTable(rows: readonly string[][]): string {
  const line = (cells: readonly string[]): string => `| ${cells.map(markdownCell).join(' | ')} |`
  return [line(rows[0]), `|${rows[0].map(() => ' --- ').join('|')}|`, ...rows.slice(1).map(line)].join('\n') + '\n'
}
