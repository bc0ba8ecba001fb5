// tokenizer.json's "Replace" step, which HF tokenizers has as a normalizer and as a decoder alike: every match of
// `pattern` (a literal String, or a Regex in Oniguruma syntax) becomes `content`, the output's length held to the
// chain's budget as it grows (limits.ts) so that a file cannot make a text of gigabytes.
import { compileOnigurumaRegex, RegexTranslationError } from './regex'
import { Fail, Json, patternOf, requireString } from './json'
import type { ChainBudget } from './limits'

/** The Replace step described by `o` (at `path` in the file, of `type` for the messages), as a text → text map. */
export function replaceStep(o: Json, path: string, type: string, fail: Fail, budget: ChainBudget): (text: string) => string {
  const content = requireString(o, 'content', path, fail)
  const pattern = patternOf(o, 'pattern', path, fail)
  if ('literal' in pattern) {
    const literal = pattern.literal
    if (literal === '') return (text) => text
    return (text) => {
      // the output's length before it is built: each occurrence changes it by content.length − literal.length
      if (content.length > literal.length) {
        let n = 0
        for (let at = text.indexOf(literal); at >= 0; at = text.indexOf(literal, at + literal.length)) n++
        budget.check(text.length + n * (content.length - literal.length), path, type)
      }
      return text.replaceAll(literal, content)
    }
  }
  let regex: RegExp
  try {
    regex = compileOnigurumaRegex(pattern.regex)
  } catch (e) {
    if (e instanceof RegexTranslationError) fail(`${path}.pattern.Regex: ${e.message}`)
    throw e
  }
  return (text) => {
    // counted match by match: an empty pattern matches between every two characters
    let length = text.length
    return text.replace(regex, (match: string) => {
      length += content.length - match.length
      budget.check(length, path, type)
      return content
    })
  }
}
