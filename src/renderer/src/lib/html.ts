// The renderer's one HTML escape. ECharts shows a tooltip `formatter`'s return value as HTML (its default tooltips
// escape names; a formatter's string does not), so anything there that came from a file or a person — a model folder's
// name, a lesson's phrase, a token's text — must be escaped: a folder named `x<img src=x onerror=…>` would otherwise
// put a live element in the page. Markup is written only in the template's literal parts; every `${value}` is escaped
// unless it is itself the result of `html` (a list of escaped lines joined, say).
import { escapeUnsafe } from '@shared/textSafety'

/** Text as HTML text or attribute content: & < > " ' replaced by their entities, control and bidi characters shown as
 * `\uXXXX` (the one rule of src/shared/textSafety.ts, as in the templates: src/renderer/display/vue.ts). */
export function escapeHtml(s: string): string {
  return escapeUnsafe(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** Markup built by `html` (its values already escaped): inserted as it is into another `html` template. */
export class SafeHtml {
  constructor(readonly markup: string) {}
  toString(): string {
    return this.markup
  }
}

/** A tagged template: the literal parts are markup, every interpolated value is escaped (unless a SafeHtml). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0]
  values.forEach((v, i) => {
    out += (v instanceof SafeHtml ? v.markup : escapeHtml(String(v))) + strings[i + 1]
  })
  return new SafeHtml(out)
}

/** Pieces of markup joined by `sep` (itself markup, e.g. '<br/>'). */
export function joinHtml(parts: SafeHtml[], sep: string): SafeHtml {
  return new SafeHtml(parts.map((p) => p.markup).join(sep))
}
