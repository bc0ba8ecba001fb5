// The one rule for control and bidirectional-override characters in names and texts (issue 20, item 23).
//
// A name or title holding ESC (a terminal escape sequence: `\u001b[2J` clears the screen), BEL, or a bidi override
// (U+202E RLO shows "exe.txt" as "txt.exe") is an attack on whoever reads it, not information. So:
//  - every name and title the lab is handed (checkpoint names, experiment titles and tags) refuses them;
//  - texts that are the researcher's prose (experiment notes) refuse them too, but keep line breaks and tabs;
//  - everything printed for a person (the CLI's text output and error lines) shows any that still arrive — from a
//    model folder's name, a model's own output, an older history — as `\uXXXX`, never raw.
// Prompts, phrases and the model's completions are model input/output and may hold any character; they are escaped
// when printed, never refused.

/** C0 and C1 control characters (ESC, BEL, CR, DEL …) and the bidi marks, embeddings, overrides and isolates. */
export const UNSAFE_TEXT_CHARS = /[\p{Cc}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu

/** The same, except line feed, carriage return before a line feed, and tab: what a multi-line text may hold. */
const UNSAFE_IN_PROSE = /(?!\r\n)[\p{Cc}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069](?<![\n\t]|\r(?=\n))/gu

function hex(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`
}

/** `s` with every unsafe character written as `\uXXXX` (a backslash stays a backslash: this is for reading). */
export function escapeUnsafe(s: string): string {
  return s.replace(UNSAFE_TEXT_CHARS, hex)
}

/** `s` as it may go to a terminal as a block of text: line breaks and tabs kept, every other unsafe character escaped. */
export function escapeUnsafeProse(s: string): string {
  return s.replace(UNSAFE_IN_PROSE, hex)
}

/** A value quoted for an error message: JSON-quoted, and no unsafe character raw (JSON leaves the bidi ones raw). */
export function quoteForMessage(s: string): string {
  return escapeUnsafe(JSON.stringify(s))
}

/**
 * What is wrong with a name or text (null: fine). `what` names it in the message ("an experiment title");
 * `prose`: a multi-line text, where line breaks and tabs are allowed.
 */
export function unsafeTextProblem(what: string, s: string, prose = false): string | null {
  const bad = s.match(prose ? UNSAFE_IN_PROSE : UNSAFE_TEXT_CHARS)
  if (!bad) return null
  const shown = s.length > 60 ? s.slice(0, 60) + '…' : s
  return `${what} cannot contain control or bidirectional-override characters (${escapeUnsafe(bad[0])} in ${quoteForMessage(shown)})`
}
