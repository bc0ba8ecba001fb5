// The Lab's checks at the field, before any run: each returns what is wrong in words, or null. What is allowed is
// decided by the contract's own schemas (checkRequest in src/shared/contract/methods.ts, the ones every transport
// validates with), so nothing the form lets through comes back as a validator's message and no second copy of a
// limit can drift; this file only reads the typed text into numbers and says the schema's verdict in the form's words.
import { checkRequest, LIMITS } from '@shared/api'

export function textProblem(what: 'prompt' | 'phrase', v: string): string | null {
  if (v.trim().length === 0)
    return what === 'prompt' ? 'The prompt is empty: write the words the model should continue (the seed uses “To be”).' : 'The phrase is empty: write the text the step should teach (the seed uses Hamlet’s line).'
  return null
}

/** The contract's words for one field of a request, or null when the schema accepts it. */
function fieldProblem(method: 'generate' | 'sweep', field: string, value: unknown): string | null {
  const c = checkRequest(method, { [field]: value })
  return c ? (c.fields[field] ?? c.message) : null
}

/** Max tokens as typed: a whole number the contract accepts (LIMITS.maxGen). */
export function maxTokensProblem(v: string): string | null {
  const { min, max } = LIMITS.maxGen
  const t = v.trim()
  if (t === '') return `Max tokens is empty: give a whole number from ${min} to ${max}.`
  if (!/^\d+$/.test(t)) return `Max tokens must be a whole number from ${min} to ${max} (got “${t.slice(0, 40)}”).`
  const n = Number(t)
  return fieldProblem('generate', 'maxGen', n) === null ? null : `Max tokens must be between ${min} and ${max} (got ${n}).`
}

/** Step sizes as typed ("0, 1e-3, 3e-2"): the numbers, or what is wrong with them. */
export function parseStepSizes(s: string, allowEmpty = false): { ok: true; lrs: number[] } | { ok: false; problem: string } {
  const parts = s.split(/[,\s;]+/).filter(Boolean)
  if (parts.length === 0)
    return allowEmpty ? { ok: true, lrs: [] } : { ok: false, problem: 'No step sizes: give at least one α, e.g. 0, 1e-3, 3e-2 (or pick a preset below).' }
  const lrs: number[] = []
  for (const p of parts) {
    const n = Number(p)
    if (!Number.isFinite(n)) return { ok: false, problem: `“${p.slice(0, 30)}” is not a number: write step sizes separated by commas, e.g. 0, 1e-3, 3e-2.` }
    if (fieldProblem('sweep', 'lrs', [n]) !== null) {
      if (n < 0) return { ok: false, problem: `α = ${p} is negative: a step of −α climbs the phrase's loss instead of descending it. Use α ≥ 0.` }
      return { ok: false, problem: `α = ${p} is too large: above ${LIMITS.lr.max} one step only destroys the model (the seed's largest is 0.1).` }
    }
    lrs.push(n)
  }
  if (fieldProblem('sweep', 'lrs', lrs) !== null) return { ok: false, problem: `${lrs.length} step sizes: at most ${LIMITS.stepSizes.max} at once.` }
  return { ok: true, lrs }
}

/** The log-spaced helper's fields (it adds α = 0 to the count asked for). */
export function logSpacedProblem(from: string, to: string, count: string): string | null {
  const a = Number(from)
  const b = Number(to)
  const n = Number(count)
  if (!(Number.isFinite(a) && a > 0)) return `log-spaced: “from” must be a positive number (got “${from}”).`
  if (!(Number.isFinite(b) && b > 0)) return `log-spaced: “to” must be a positive number (got “${to}”).`
  if (fieldProblem('sweep', 'lrs', [a, b]) !== null) return `log-spaced: step sizes above ${LIMITS.lr.max} only destroy the model.`
  const most = LIMITS.stepSizes.max - 1
  if (!Number.isInteger(n) || n < 2 || n > most) return `log-spaced: the count must be a whole number from 2 to ${most} (α = 0 is added), got “${count}”.`
  return null
}
