// tokenizer.json "normalizer": text → text, applied to each stretch of input between added tokens (so Prepend adds
// its "▁" after every special token too, as HF tokenizers does).
import { asArray, asObject, Fail, optionalBool, patternOf, requireString, typeOf } from './json'
import { ChainBudget, checkDepth, shownPattern } from './limits'
import { replaceStep } from './replace'

export type Normalizer = (text: string) => string

/**
 * `budget` bounds the text each step may produce and records the step that runs (limits.ts); `depth` counts the
 * Sequences around this one.
 */
export function buildNormalizer(value: unknown, path: string, fail: Fail, budget: ChainBudget, depth = 0): Normalizer | undefined {
  if (value === null || value === undefined) return undefined
  const o = asObject(value, path, fail)
  const type = typeOf(o, path, fail)
  if (type === 'Sequence') {
    checkDepth(depth + 1, 'normalizer', budget.label)
    const steps = asArray(o.normalizers, `${path}.normalizers`, fail).map((n, i) => buildNormalizer(n, `${path}.normalizers[${i}]`, fail, budget, depth + 1))
    return (text) => steps.reduce((t, step) => (step ? step(t) : t), text)
  }
  const step = buildStep(o, type, path, fail, budget)
  const pattern = type === 'Replace' ? patternOf(o, 'pattern', path, fail) : undefined
  const shown = pattern && 'regex' in pattern ? `${type}, pattern ${shownPattern(pattern.regex)}` : type
  return (text) => {
    budget.step = `${path} (${shown})`
    const out = step(text)
    budget.check(out.length, path, type)
    return out
  }
}

function buildStep(o: Record<string, unknown>, type: string, path: string, fail: Fail, budget: ChainBudget): Normalizer {
  switch (type) {
    case 'Prepend': {
      const prepend = requireString(o, 'prepend', path, fail)
      return (text) => (text === '' ? text : prepend + text)
    }
    case 'Append': {
      const append = requireString(o, 'append', path, fail)
      return (text) => (text === '' ? text : text + append)
    }
    case 'Replace':
      return replaceStep(o, path, type, fail, budget)
    case 'NFC':
    case 'NFD':
    case 'NFKC':
    case 'NFKD':
      return (text) => text.normalize(type)
    case 'Lowercase':
      return (text) => text.toLowerCase()
    case 'Strip': {
      const left = optionalBool(o, 'strip_left', path, fail, true)
      const right = optionalBool(o, 'strip_right', path, fail, true)
      return (text) => {
        let t = text
        if (left) t = t.replace(/^\p{White_Space}+/u, '')
        if (right) t = t.replace(/\p{White_Space}+$/u, '')
        return t
      }
    }
    case 'StripAccents':
      // HF removes combining marks; it is meant to follow NFD, which the file has to say itself.
      return (text) => text.replace(/\p{M}/gu, '') // unicode_normalization's is_combining_mark: any M
    default:
      return fail(`${path} type ${type} is not supported`)
  }
}
