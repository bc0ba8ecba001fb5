// JSON cells of the history read so that one damaged cell costs that cell, not the whole listing (issue 20, item 20):
// a metrics cell cut short ("Unexpected end of JSON input") made `history --runs` and `show` fail outright. The cell
// reads as its empty value and is named in the record's `unreadable` list, which every output marks.

/** The parsed cell, or `empty` when it holds no valid JSON — then `column` is added to `unreadable`. */
export function jsonCell<T>(text: string | null | undefined, empty: T, column: string, unreadable: string[]): T {
  if (text === null || text === undefined || text === '') return empty
  try {
    return JSON.parse(text) as T
  } catch {
    unreadable.push(column)
    return empty
  }
}

/** How an output marks a cell it could not read. */
export const UNREADABLE_CELL = '(unreadable: damaged in the history database)'
