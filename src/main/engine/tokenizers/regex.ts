// Split patterns in tokenizer.json are Oniguruma regexes (HF tokenizers compiles them with onig). This translates
// the subset tokenizers actually ship into an equivalent JavaScript RegExp with the `u` flag, and refuses the rest
// by name rather than guessing.
//
// Differences handled:
//  - \s \S are Unicode White_Space in Oniguruma (includes U+0085, excludes U+FEFF); JS's \s differs on both.
//  - \d \w are Unicode in Oniguruma (Nd; letters, marks, Nd, Pc), ASCII in JS.
//  - `.` excludes only \n in Oniguruma; JS also excludes \r, U+2028, U+2029.
//  - (?i:...) has no JS equivalent before ES2025: each letter inside becomes the class of characters that
//    case-fold to it (simple Unicode case folding, as onig does: 's' also matches 'ſ' U+017F, 'k' the Kelvin sign).
//  - \p{Han} style script names need `Script=` in JS.

export class RegexTranslationError extends Error {}

const WHITE_SPACE = '\\p{White_Space}'
const NOT_WHITE_SPACE = '\\P{White_Space}'
const WORD_CHARS = '\\p{L}\\p{M}\\p{N}\\p{Pc}' // Oniguruma's Unicode \w

/** Characters that are equal to `letter` under simple case folding, as a class body (without brackets). */
function caseFoldClass(char: string): string {
  const variants = new Set<string>([char, char.toLowerCase(), char.toUpperCase()])
  const folded = char.toLowerCase()
  for (const other of FOLD_EXTRAS[folded] ?? []) variants.add(other)
  return [...variants].filter((v) => [...v].length === 1).map(escapeClassChar).join('')
}

/**
 * The characters outside ASCII whose simple case folding is an ASCII letter (CaseFolding.txt, status C/S): the
 * long s and the Kelvin sign. The only two, so they are listed rather than computed.
 */
const FOLD_EXTRAS: Record<string, string[]> = { s: ['\u017F'], k: ['\u212A'] }

function escapeClassChar(c: string): string {
  return /[\\\]\[\^\-]/.test(c) ? `\\${c}` : c
}

function propertyEscape(kind: 'p' | 'P', name: string): string {
  for (const candidate of [name, `Script=${name}`]) {
    try {
      new RegExp(`\\${kind}{${candidate}}`, 'u')
      return `\\${kind}{${candidate}}`
    } catch {
      // try the next spelling
    }
  }
  throw new RegexTranslationError(`unknown Unicode property \\${kind}{${name}}`)
}

/**
 * Translates one escape sequence starting at `pattern[i] === '\\'`. Returns the JS text and the index after it.
 * `inClass` selects forms valid inside [...].
 */
function translateEscape(pattern: string, i: number, inClass: boolean, fold: boolean): [string, number] {
  const next = pattern[i + 1]
  if (next === undefined) throw new RegexTranslationError('pattern ends with a backslash')
  if (next === 'p' || next === 'P') {
    const match = /^\{\^?([A-Za-z_ =]+)\}/.exec(pattern.slice(i + 2))
    if (!match) throw new RegexTranslationError(`malformed \\${next}{...} at index ${i}`)
    const negated = match[0].startsWith('{^')
    const kind = (next === 'P') !== negated ? 'P' : 'p'
    return [propertyEscape(kind, match[1].replace(/ /g, '')), i + 2 + match[0].length]
  }
  if (next === 'x') {
    const braced = /^\{([0-9A-Fa-f]{1,8})\}/.exec(pattern.slice(i + 2))
    const plain = /^[0-9A-Fa-f]{2}/.exec(pattern.slice(i + 2))
    const hex = braced?.[1] ?? plain?.[0]
    if (hex === undefined) throw new RegexTranslationError(`malformed \\x escape at index ${i}`)
    const char = String.fromCodePoint(parseInt(hex, 16))
    const text = fold && !inClass && /[A-Za-z]/.test(char) ? `[${caseFoldClass(char)}]` : `\\u{${hex}}`
    return [text, i + 2 + (braced ? braced[0].length : 2)]
  }
  if (next === 'u') {
    const match = /^[0-9A-Fa-f]{4}/.exec(pattern.slice(i + 2))
    if (!match) throw new RegexTranslationError(`malformed \\u escape at index ${i}`)
    return [`\\u{${match[0]}}`, i + 6]
  }
  const simple: Record<string, string> = {
    s: WHITE_SPACE,
    S: NOT_WHITE_SPACE,
    d: '\\p{Nd}',
    D: '\\P{Nd}',
    w: inClass ? WORD_CHARS : `[${WORD_CHARS}]`,
    W: inClass ? '' : `[^${WORD_CHARS}]`,
    n: '\\n',
    r: '\\r',
    t: '\\t',
    f: '\\f',
    v: '\\v',
    a: '\\x07',
    e: '\\x1B',
    '0': '\\0',
  }
  if (next === 'W' && inClass) throw new RegexTranslationError('\\W inside a character class is not supported')
  if (next in simple) return [simple[next], i + 2]
  if (next === 'A') return ['(?<![\\s\\S])', i + 2]
  if (next === 'z') return ['(?![\\s\\S])', i + 2]
  if (/[A-Za-z0-9]/.test(next)) throw new RegexTranslationError(`escape \\${next} is not supported`)
  // An escaped punctuation character stands for itself.
  if (!inClass && fold && /[A-Za-z]/.test(next)) return [`[${caseFoldClass(next)}]`, i + 2]
  return [`\\${next}`, i + 1 + next.length]
}

function translateClass(pattern: string, start: number, fold: boolean): [string, number] {
  let i = start + 1
  let out = '['
  if (pattern[i] === '^') {
    out += '^'
    i++
  }
  let first = true
  while (i < pattern.length) {
    const char = String.fromCodePoint(pattern.codePointAt(i) as number)
    if (char === ']' && !first) return [out + ']', i + 1]
    first = false
    if (char === '[') {
      if (pattern.startsWith('[:', i)) throw new RegexTranslationError(`POSIX bracket at index ${i} is not supported`)
      throw new RegexTranslationError(`nested character class at index ${i} is not supported`)
    }
    if (pattern.startsWith('&&', i)) throw new RegexTranslationError(`class intersection at index ${i} is not supported`)
    if (char === '\\') {
      const [text, next] = translateEscape(pattern, i, true, fold)
      out += text
      i = next
      continue
    }
    if (fold && /[A-Za-z]/.test(char) && pattern[i + 1] !== '-' && pattern[i - 1] !== '-') out += caseFoldClass(char)
    else if (fold && /[A-Za-z]/.test(char)) throw new RegexTranslationError('a letter range inside (?i:...) is not supported')
    else out += char === ']' ? '\\]' : char === '[' ? '\\[' : char
    i += char.length
  }
  throw new RegexTranslationError(`unterminated character class at index ${start}`)
}

/** Oniguruma pattern → JS RegExp source (to be compiled with the `u` flag, plus `g` for scanning). */
export function translateOnigurumaRegex(pattern: string): string {
  let out = ''
  const foldStack: boolean[] = []
  let fold = false
  let lastWasQuantifier = false
  for (let i = 0; i < pattern.length; ) {
    const char = String.fromCodePoint(pattern.codePointAt(i) as number)
    if (char === '\\') {
      const [text, next] = translateEscape(pattern, i, false, fold)
      out += text
      i = next
      lastWasQuantifier = false
      continue
    }
    if (char === '[') {
      const [text, next] = translateClass(pattern, i, fold)
      out += text
      i = next
      lastWasQuantifier = false
      continue
    }
    if (char === '(') {
      foldStack.push(fold)
      if (pattern.startsWith('(?i:', i)) {
        fold = true
        out += '(?:'
        i += 4
      } else if (pattern.startsWith('(?-i:', i)) {
        fold = false
        out += '(?:'
        i += 5
      } else if (pattern.startsWith('(?>', i)) {
        throw new RegexTranslationError(`atomic group at index ${i} is not supported`)
      } else if (/^\(\?[imx-]+[:)]/.test(pattern.slice(i))) {
        throw new RegexTranslationError(`inline option group at index ${i} is not supported`)
      } else {
        const prefix = /^\((\?(:|=|!|<=|<!|<[A-Za-z_][A-Za-z0-9_]*>))?/.exec(pattern.slice(i))?.[0] ?? '('
        out += prefix
        i += prefix.length
      }
      lastWasQuantifier = false
      continue
    }
    if (char === ')') {
      if (foldStack.length === 0) throw new RegexTranslationError(`unbalanced ) at index ${i}`)
      fold = foldStack.pop() as boolean
      out += ')'
      i++
      lastWasQuantifier = false
      continue
    }
    if (char === '*' || char === '+' || char === '?') {
      if (lastWasQuantifier && char === '+') throw new RegexTranslationError(`possessive quantifier at index ${i} is not supported`)
      if (lastWasQuantifier && char === '*') throw new RegexTranslationError(`quantifier after a quantifier at index ${i}`)
      out += char
      i++
      // "??" "+?" "*?" are lazy quantifiers; after them a further quantifier would be an error either way.
      lastWasQuantifier = !(char === '?' && lastWasQuantifier)
      continue
    }
    if (char === '{') {
      const quantifier = /^\{(\d*),?(\d*)\}/.exec(pattern.slice(i))
      if (quantifier) {
        out += quantifier[0]
        i += quantifier[0].length
        lastWasQuantifier = true
        continue
      }
      out += '\\{'
      i++
      continue
    }
    if (char === '}') {
      out += '\\}'
      i++
      continue
    }
    if (char === '.') out += '[^\\n]'
    else if (char === '^') out += '(?<![^\\n])'
    else if (char === '$') out += '(?![^\\n])'
    else if (fold && /[A-Za-z]/.test(char)) out += `[${caseFoldClass(char)}]`
    else if (char === '/') out += '\\/'
    else out += char
    i += char.length
    lastWasQuantifier = false
  }
  if (foldStack.length > 0) throw new RegexTranslationError('unbalanced ( in pattern')
  return out
}

/** Compiles an Oniguruma pattern for global scanning. */
export function compileOnigurumaRegex(pattern: string): RegExp {
  const source = translateOnigurumaRegex(pattern)
  try {
    return new RegExp(source, 'gu')
  } catch (e) {
    throw new RegexTranslationError(`cannot be compiled as a JavaScript regex (${(e as Error).message})`)
  }
}

/** Escapes literal text for use inside a RegExp. */
export function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\\/]/g, '\\$&') // no "-": "\-" is invalid outside a class with the u flag
}
