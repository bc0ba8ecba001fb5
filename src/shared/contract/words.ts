// The contract's words: request fields named as the UI labels them, and zod's issues reworded so that every transport,
// the CLI and the UI show the same message (never zod's raw text, never a stack).
import { z } from 'zod'

/** The request fields in words: error messages name the field as the UI labels it, never by its key. */
export const FIELD_LABELS: Record<string, string> = {
  model: 'Model',
  prompt: 'Prompt',
  phrase: 'Phrase',
  prefix: 'Prefix',
  lr: 'Step size α',
  lrs: 'Step sizes',
  maxGen: 'Max tokens',
  maxSeq: 'Max sequence length',
  temperature: 'Temperature',
  topP: 'Top-p',
  seed: 'Seed',
  reference: 'Reference text',
  probes: 'Probe texts',
  paraphrases: 'Paraphrased prompts',
  steps: 'Lessons',
  save: 'Checkpoint name',
  name: 'Name',
  id: 'Id',
  outDir: 'Export target',
  dtype: 'Data type',
  texts: 'Texts',
  notes: 'Notes',
  tags: 'Tags',
  title: 'Title',
  starred: 'Star',
  format: 'Format',
  limit: 'Page size',
  offset: 'Page start',
  text: 'Search text',
  olderThanDays: 'Older than (days)',
}


/** A field's name in words: "lrs.2" → "Step sizes (no. 3)", "steps.0.phrase" → "Lessons (no. 1): Phrase". */
export function fieldLabel(path: readonly PropertyKey[]): string {
  const out: string[] = []
  for (const k of path) {
    if (typeof k === 'number') out[out.length - 1] = `${out[out.length - 1] ?? 'item'} (no. ${k + 1})`
    else out.push(FIELD_LABELS[String(k)] ?? String(k))
  }
  return out.join(': ')
}

function shown(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)
  if (v === undefined) return 'nothing'
  try {
    return JSON.stringify(v)?.slice(0, 60) ?? String(v)
  } catch {
    return String(v)
  }
}

/**
 * One zod issue in words, naming the field as the UI labels it: "Max tokens must be a whole number from 1 to 4096
 * (got "abc")". Messages the schemas wrote themselves are kept; zod's own (type, size, unknown keys) are reworded.
 */
export function issueInWords(issue: z.core.$ZodIssue): string {
  const label = fieldLabel(issue.path)
  const own = (m: string): string => (label ? `${label}: ${m}` : m)
  const i = issue as z.core.$ZodIssue & { input?: unknown; expected?: unknown; minimum?: unknown; maximum?: unknown; keys?: string[]; origin?: string; values?: unknown[] }
  switch (issue.code) {
    case 'invalid_type':
      if (i.input === undefined) return own('is missing')
      return own(`must be ${i.expected === 'number' ? 'a number' : i.expected === 'string' ? 'text' : i.expected === 'array' ? 'a list' : i.expected === 'boolean' ? 'true or false' : `of type ${String(i.expected)}`} (got ${shown(i.input)})`)
    case 'too_small':
      if (!/^Too small/.test(issue.message)) return own(issue.message)
      if (i.origin === 'string') return own(Number(i.minimum) <= 1 ? 'is empty' : `needs at least ${String(i.minimum)} characters`)
      if (i.origin === 'array') return own(`needs at least ${String(i.minimum)} item${Number(i.minimum) === 1 ? '' : 's'}`)
      return own(`must be at least ${String(i.minimum)}`)
    case 'too_big':
      if (!/^Too big/.test(issue.message)) return own(issue.message)
      if (i.origin === 'string') return own(`has more than ${String(i.maximum)} characters`)
      if (i.origin === 'array') return own(`takes at most ${String(i.maximum)} items`)
      return own(`must be at most ${String(i.maximum)}`)
    case 'unrecognized_keys':
      return `unknown setting${(i.keys ?? []).length === 1 ? '' : 's'} ${(i.keys ?? []).map((k) => JSON.stringify(k)).join(', ')}${label ? ` in ${label}` : ''}`
    case 'invalid_value':
      // an enumeration: name what it accepts
      if (Array.isArray(i.values) && i.values.length > 0 && i.values.length <= 16)
        return own(`must be one of ${i.values.map(String).join(', ')} (got ${shown(i.input)})`)
      return own(`is not one of the accepted values (got ${shown(i.input)})`)
    case 'invalid_union':
      return own(`is not one of the accepted values (got ${shown(i.input)})`)
    default:
      return own(issue.message)
  }
}

/** Per field (the request's top-level key, '' for the whole request): the first problem in words — for inline errors. */
export function fieldErrors(err: z.ZodError): Record<string, string> {
  const out: Record<string, string> = {}
  for (const issue of err.issues) {
    const k = issue.path.length ? String(issue.path[0]) : ''
    if (!(k in out)) out[k] = issueInWords(issue)
  }
  return out
}

/**
 * THE zod error → message mapping (every transport, the CLI and the UI use it): "sweep: Max tokens must be a whole
 * number from 1 to 4096 (got "abc"); Phrase: the phrase is empty". Never zod's raw text.
 */
export function describeZodError(method: string, err: z.ZodError): string {
  const parts = err.issues.slice(0, 4).map(issueInWords)
  return `${method}: ${parts.join('; ')}`
}

/** Message of any thrown value, in words: first line, no stack. */
export function errorMessage(e: unknown): string {
  const m = e instanceof Error ? e.message : typeof e === 'string' ? e : e && typeof e === 'object' && 'message' in e ? String((e as { message: unknown }).message) : String(e)
  return (m.split('\n')[0] || 'unknown error').slice(0, 2000)
}
