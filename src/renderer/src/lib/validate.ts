// The Lab's checks at the field, before any run: each returns what is wrong in words, or null. The limits are the
// contract's own (LIMITS in src/shared/api.ts, the numbers its schemas use), so nothing the form lets through comes
// back as a validator's message and no second copy of a limit can drift.
import { LIMITS } from '@shared/api'

/** Largest step size the form accepts: the seed's largest is 0.1; beyond this a single step only destroys the model. */
const MAX_ALPHA = LIMITS.lr.max
const MAX_GEN_LIMIT = LIMITS.maxGen.max
const MAX_STEP_SIZES = LIMITS.stepSizes.max

export function textProblem(what: 'prompt' | 'phrase', v: string): string | null {
  if (v.trim().length === 0)
    return what === 'prompt' ? 'The prompt is empty: write the words the model should continue (the seed uses “To be”).' : 'The phrase is empty: write the text the step should teach (the seed uses Hamlet’s line).'
  return null
}

/** Max tokens as typed: a whole number from 1 to MAX_GEN_LIMIT. */
export function maxTokensProblem(v: string): string | null {
  const t = v.trim()
  if (t === '') return `Max tokens is empty: give a whole number from 1 to ${MAX_GEN_LIMIT}.`
  if (!/^\d+$/.test(t)) return `Max tokens must be a whole number from 1 to ${MAX_GEN_LIMIT} (got “${t.slice(0, 40)}”).`
  const n = Number(t)
  if (n < 1 || n > MAX_GEN_LIMIT) return `Max tokens must be between 1 and ${MAX_GEN_LIMIT} (got ${n}).`
  return null
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
    if (n < 0) return { ok: false, problem: `α = ${p} is negative: a step of −α climbs the phrase's loss instead of descending it. Use α ≥ 0.` }
    if (n > MAX_ALPHA) return { ok: false, problem: `α = ${p} is too large: above ${MAX_ALPHA} one step only destroys the model (the seed's largest is 0.1).` }
    lrs.push(n)
  }
  if (lrs.length > MAX_STEP_SIZES) return { ok: false, problem: `${lrs.length} step sizes: at most ${MAX_STEP_SIZES} at once.` }
  return { ok: true, lrs }
}

/** The log-spaced helper's fields. */
export function logSpacedProblem(from: string, to: string, count: string): string | null {
  const a = Number(from)
  const b = Number(to)
  const n = Number(count)
  if (!(Number.isFinite(a) && a > 0)) return `log-spaced: “from” must be a positive number (got “${from}”).`
  if (!(Number.isFinite(b) && b > 0)) return `log-spaced: “to” must be a positive number (got “${to}”).`
  if (a > MAX_ALPHA || b > MAX_ALPHA) return `log-spaced: step sizes above ${MAX_ALPHA} only destroy the model.`
  if (!Number.isInteger(n) || n < 2 || n > MAX_STEP_SIZES - 1) return `log-spaced: the count must be a whole number from 2 to ${MAX_STEP_SIZES - 1} (α = 0 is added), got “${count}”.`
  return null
}
