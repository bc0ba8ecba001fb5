// tokenizer.json "pre_tokenizer": splits normalized text into the words BPE runs on, following HF tokenizers'
// PreTokenizedString: each pre-tokenizer splits every current piece further, empty pieces are dropped.
import { compileOnigurumaRegex, escapeRegex, RegexTranslationError } from './regex'
import { GPT2_SPLIT_PATTERN, toByteLevel } from './byteLevel'
import { asArray, asObject, Fail, optionalBool, optionalString, patternOf, requireString, typeOf } from './json'
import { ChainBudget, checkDepth, shownPattern } from './limits'
import { metaspaceOptions } from './metaspace'

/** A piece of the input; `atOrigin` when it starts at offset 0 of the original text (Metaspace "first"). */
export interface Piece {
  text: string
  atOrigin: boolean
}

export type PreTokenizer = (pieces: Piece[]) => Piece[]

type Behavior = 'Removed' | 'Isolated' | 'MergedWithPrevious' | 'MergedWithNext' | 'Contiguous'
const BEHAVIORS: Behavior[] = ['Removed', 'Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous']

interface Span {
  start: number
  end: number
  isMatch: boolean
}

/** The text cut at a pattern's matches: every stretch, match or not, in order (Pattern::find_matches). */
function findMatches(text: string, regex: RegExp): Span[] {
  const spans: Span[] = []
  let previous = 0
  for (const m of text.matchAll(regex)) {
    const start = m.index as number
    const end = start + m[0].length
    if (start === end) continue
    if (previous !== start) spans.push({ start: previous, end: start, isMatch: false })
    spans.push({ start, end, isMatch: true })
    previous = end
  }
  if (previous !== text.length) spans.push({ start: previous, end: text.length, isMatch: false })
  return spans
}

/** NormalizedString::split: regroups the spans by the delimiter behaviour. */
function applyBehavior(spans: Span[], behavior: Behavior): Span[] {
  const out: Span[] = []
  switch (behavior) {
    case 'Removed':
      return spans.filter((s) => !s.isMatch)
    case 'Isolated':
      return spans
    case 'MergedWithPrevious': {
      let previousMatch = false
      for (const s of spans) {
        const last = out[out.length - 1]
        if (s.isMatch && !previousMatch && last) last.end = s.end
        else out.push({ ...s })
        previousMatch = s.isMatch
      }
      return out
    }
    case 'MergedWithNext': {
      let previousMatch = false
      for (let i = spans.length - 1; i >= 0; i--) {
        const s = spans[i]
        const last = out[out.length - 1]
        if (s.isMatch && !previousMatch && last) last.start = s.start
        else out.push({ ...s })
        previousMatch = s.isMatch
      }
      return out.reverse()
    }
    case 'Contiguous': {
      let previousMatch = false
      for (const s of spans) {
        const last = out[out.length - 1]
        if (s.isMatch === previousMatch && last) last.end = s.end
        else out.push({ ...s })
        previousMatch = s.isMatch
      }
      return out
    }
  }
}

/** Splits every piece at the pattern's matches; the first sub-piece keeps its parent's atOrigin. */
function splitPieces(pieces: Piece[], regex: RegExp, behavior: Behavior, invert: boolean): Piece[] {
  const out: Piece[] = []
  for (const piece of pieces) {
    let spans = findMatches(piece.text, regex)
    if (invert) spans = spans.map((s) => ({ ...s, isMatch: !s.isMatch }))
    for (const s of applyBehavior(spans, behavior)) {
      if (s.end > s.start) out.push({ text: piece.text.slice(s.start, s.end), atOrigin: piece.atOrigin && s.start === 0 })
    }
  }
  return out
}

function compile(pattern: string, path: string, fail: Fail): RegExp {
  try {
    return compileOnigurumaRegex(pattern)
  } catch (e) {
    if (e instanceof RegexTranslationError) fail(`${path}: ${e.message}`)
    throw e
  }
}

function behaviorOf(value: string | undefined, path: string, fail: Fail, fallback: Behavior): Behavior {
  if (value === undefined) return fallback
  if (!BEHAVIORS.includes(value as Behavior)) fail(`${path}.behavior "${value}" is not one of ${BEHAVIORS.join(', ')}`)
  return value as Behavior
}

const WORD = '\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}' // Rust regex's Unicode \w
/** char::is_ascii_punctuation or a Unicode P* character (HF's is_punc). */
const PUNCTUATION = /[\p{P}!-\/:-@\[-`{-~]/gu

/**
 * `budget` bounds the text each step may produce and records the step that runs (limits.ts); `depth` counts the
 * Sequences around this one.
 */
export function buildPreTokenizer(value: unknown, path: string, fail: Fail, budget: ChainBudget, depth = 0): PreTokenizer | undefined {
  if (value === null || value === undefined) return undefined
  const o = asObject(value, path, fail)
  const type = typeOf(o, path, fail)
  if (type === 'Sequence') {
    checkDepth(depth + 1, 'pre_tokenizer', budget.label)
    const steps = asArray(o.pretokenizers, `${path}.pretokenizers`, fail)
      .map((p, i) => buildPreTokenizer(p, `${path}.pretokenizers[${i}]`, fail, budget, depth + 1))
    return (pieces) => steps.reduce((ps, step) => (step ? step(ps) : ps), pieces)
  }
  const step = buildStep(o, type, path, fail)
  // only ByteLevel (UTF-8 bytes: up to 4 characters for 1) and Metaspace (one more per piece) lengthen the text
  const grows = type === 'ByteLevel' || type === 'Metaspace'
  const pattern = type === 'Split' ? patternOf(o, 'pattern', path, fail) : undefined
  const shown = pattern && 'regex' in pattern ? `${type}, pattern ${shownPattern(pattern.regex)}` : type
  return (pieces) => {
    budget.step = `${path} (${shown})`
    const out = step(pieces)
    if (grows) {
      let length = 0
      for (const p of out) length += p.text.length
      budget.check(length, path, type)
    }
    return out
  }
}

function buildStep(o: Record<string, unknown>, type: string, path: string, fail: Fail): PreTokenizer {
  switch (type) {
    case 'Split': {
      const pattern = patternOf(o, 'pattern', path, fail)
      const regex = 'literal' in pattern ? new RegExp(escapeRegex(pattern.literal), 'gu') : compile(pattern.regex, `${path}.pattern.Regex`, fail)
      const behavior = behaviorOf(requireString(o, 'behavior', path, fail), path, fail, 'Isolated')
      const invert = optionalBool(o, 'invert', path, fail, false)
      return (pieces) => splitPieces(pieces, regex, behavior, invert)
    }
    case 'ByteLevel': {
      const addPrefixSpace = optionalBool(o, 'add_prefix_space', path, fail, true)
      const useRegex = optionalBool(o, 'use_regex', path, fail, true)
      const regex = compileOnigurumaRegex(GPT2_SPLIT_PATTERN)
      return (pieces) => {
        const prefixed = pieces.map((p) => (addPrefixSpace && !p.text.startsWith(' ') ? { ...p, text: ' ' + p.text } : p))
        const split = useRegex ? splitPieces(prefixed, regex, 'Isolated', false) : prefixed
        return split.map((p) => ({ ...p, text: toByteLevel(p.text) }))
      }
    }
    case 'Metaspace': {
      const { replacement, scheme } = metaspaceOptions(o, path, fail)
      const split = optionalBool(o, 'split', path, fail, true)
      const regex = new RegExp(escapeRegex(replacement), 'gu')
      return (pieces) => {
        const replaced = pieces.map((p) => {
          let text = p.text.replaceAll(' ', replacement)
          const prepend = scheme === 'always' || (scheme === 'first' && p.atOrigin)
          if (prepend && !text.startsWith(replacement)) text = replacement + text
          return { ...p, text }
        })
        return split ? splitPieces(replaced, regex, 'MergedWithNext', false) : replaced
      }
    }
    case 'Digits': {
      const individual = optionalBool(o, 'individual_digits', path, fail, false)
      const regex = /\p{N}/gu
      return (pieces) => splitPieces(pieces, regex, individual ? 'Isolated' : 'Contiguous', false)
    }
    case 'Punctuation': {
      const behavior = behaviorOf(optionalString(o, 'behavior', path, fail), path, fail, 'Isolated')
      return (pieces) => splitPieces(pieces, PUNCTUATION, behavior, false)
    }
    case 'Whitespace': {
      const regex = new RegExp(`[${WORD}]+|[^${WORD}\\p{White_Space}]+`, 'gu')
      return (pieces) => splitPieces(pieces, regex, 'Removed', true)
    }
    case 'WhitespaceSplit':
      return (pieces) => splitPieces(pieces, /\p{White_Space}/gu, 'Removed', false)
    default:
      return fail(`${path} type ${type} is not supported`)
  }
}
