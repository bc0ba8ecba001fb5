// tokenizer.json "decoder": token strings → text, as HF tokenizers' decode_chain (each decoder maps the list of
// token strings to a new list; the result is joined).
import { CHAR_TO_BYTE } from './byteLevel'
import { asArray, asObject, Fail, optionalInt, requireString, typeOf } from './json'
import { metaspaceOptions } from './metaspace'
import { replaceStep } from './replace'
import { ChainBudget, checkDepth } from './limits'

export type Decoder = (tokens: string[]) => string[]

const utf8 = new TextEncoder()
const utf8Lossy = new TextDecoder('utf-8', { ignoreBOM: true }) // keeps a leading U+FEFF; replaces each maximal invalid subpart by U+FFFD, as from_utf8_lossy
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * `budget` bounds the text each step may produce (limits.ts; the decode sets it from the tokens' length); `depth`
 * counts the Sequences around this one.
 */
export function buildDecoder(value: unknown, path: string, fail: Fail, budget: ChainBudget, depth = 0): Decoder | undefined {
  if (value === null || value === undefined) return undefined
  const o = asObject(value, path, fail)
  const type = typeOf(o, path, fail)
  if (type === 'Sequence') {
    checkDepth(depth + 1, 'decoder', budget.label)
    const steps = asArray(o.decoders, `${path}.decoders`, fail).map((d, i) => buildDecoder(d, `${path}.decoders[${i}]`, fail, budget, depth + 1))
    return (tokens) => steps.reduce((ts, step) => (step ? step(ts) : ts), tokens)
  }
  const step = buildStep(o, type, path, fail, budget)
  return (tokens) => {
    const out = step(tokens)
    let length = 0
    for (const t of out) length += t.length
    budget.check(length, path, type)
    return out
  }
}

function buildStep(o: Record<string, unknown>, type: string, path: string, fail: Fail, budget: ChainBudget): Decoder {
  switch (type) {
    case 'ByteLevel':
      return (tokens) => {
        const bytes: number[] = []
        for (const token of tokens) {
          const mapped: number[] = []
          let allMapped = true
          for (const c of token) {
            const b = CHAR_TO_BYTE.get(c)
            if (b === undefined) {
              allMapped = false
              break
            }
            mapped.push(b)
          }
          // A token with a character outside the byte alphabet (an added token, say) contributes its own UTF-8.
          bytes.push(...(allMapped ? mapped : utf8.encode(token)))
        }
        return [utf8Lossy.decode(Uint8Array.from(bytes))]
      }
    case 'Replace': {
      const replace = replaceStep(o, path, type, fail, budget)
      return (tokens) => tokens.map(replace)
    }
    case 'ByteFallback':
      return (tokens) => {
        const out: string[] = []
        let pending: number[] = []
        const flush = (): void => {
          if (pending.length === 0) return
          try {
            out.push(utf8Strict.decode(Uint8Array.from(pending)))
          } catch {
            for (let i = 0; i < pending.length; i++) out.push('\uFFFD') // one per byte, as HF does
          }
          pending = []
        }
        for (const t of tokens) {
          const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(t)
          if (m) {
            pending.push(parseInt(m[1], 16))
            continue
          }
          flush()
          out.push(t)
        }
        flush()
        return out
      }
    case 'Fuse':
      return (tokens) => [tokens.join('')]
    case 'Strip': {
      const content = requireString(o, 'content', path, fail)
      const start = optionalInt(o, 'start', path, fail, 0)
      const stop = optionalInt(o, 'stop', path, fail, 0)
      return (tokens) =>
        tokens.map((t) => {
          const chars = [...t]
          let from = 0
          while (from < start && from < chars.length && chars[from] === content) from++
          let to = chars.length
          while (chars.length - to < stop && to > from && chars[to - 1] === content) to--
          return chars.slice(from, to).join('')
        })
    }
    case 'Metaspace': {
      const { replacement, scheme } = metaspaceOptions(o, path, fail)
      return (tokens) =>
        tokens.map((t, i) => {
          let out = ''
          for (const c of t) {
            if (c !== replacement) out += c
            else if (!(i === 0 && scheme !== 'never')) out += ' '
          }
          return out
        })
    }
    default:
      return fail(`${path} type ${type} is not supported`)
  }
}
