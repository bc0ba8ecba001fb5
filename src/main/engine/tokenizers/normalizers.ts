// tokenizer.json "normalizer": text → text, applied to each stretch of input between added tokens (so Prepend adds
// its "▁" after every special token too, as HF tokenizers does).
import { compileOnigurumaRegex, RegexTranslationError } from './regex'
import { asArray, asObject, Fail, optionalBool, patternOf, requireString, typeOf } from './json'

export type Normalizer = (text: string) => string

export function buildNormalizer(value: unknown, path: string, fail: Fail): Normalizer | undefined {
  if (value === null || value === undefined) return undefined
  const o = asObject(value, path, fail)
  const type = typeOf(o, path, fail)
  switch (type) {
    case 'Sequence': {
      const steps = asArray(o.normalizers, `${path}.normalizers`, fail).map((n, i) => buildNormalizer(n, `${path}.normalizers[${i}]`, fail))
      return (text) => steps.reduce((t, step) => (step ? step(t) : t), text)
    }
    case 'Prepend': {
      const prepend = requireString(o, 'prepend', path, fail)
      return (text) => (text === '' ? text : prepend + text)
    }
    case 'Append': {
      const append = requireString(o, 'append', path, fail)
      return (text) => (text === '' ? text : text + append)
    }
    case 'Replace': {
      const content = requireString(o, 'content', path, fail)
      const pattern = patternOf(o, 'pattern', path, fail)
      if ('literal' in pattern) {
        if (pattern.literal === '') return (text) => text
        return (text) => text.replaceAll(pattern.literal, content)
      }
      let regex: RegExp
      try {
        regex = compileOnigurumaRegex(pattern.regex)
      } catch (e) {
        if (e instanceof RegexTranslationError) fail(`${path}.pattern.Regex: ${e.message}`)
        throw e
      }
      return (text) => text.replace(regex, () => content)
    }
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
