// Field shapes shared by records and requests: finite numbers, ids, step sizes, model references, safe texts.
// Only some are public (re-exported by index.ts); the rest are the contract's own building blocks.
import { z } from 'zod'
import { unsafeTextProblem } from '../textSafety'
import { LIMITS, MAX_PATH_CHARS, MAX_STEP_SIZES } from './limits'

// ---------- shared shapes ----------

const notFinite = (input: unknown): string => `must be a finite number (got ${typeof input === 'string' ? input : String(input)})`
/** A finite number's refusal: out of its range said as such (a temperature of -1 is finite, just below 0). */
const finiteProblem = (iss: { code?: string; input?: unknown; minimum?: unknown; maximum?: unknown; inclusive?: boolean }): string =>
  iss.code === 'too_small' && typeof iss.input === 'number' && Number.isFinite(iss.input)
    ? `must be ${iss.inclusive === false ? '>' : '≥'} ${String(iss.minimum)} (got ${iss.input})`
    : iss.code === 'too_big' && typeof iss.input === 'number' && Number.isFinite(iss.input)
      ? `must be ${iss.inclusive === false ? '<' : '≤'} ${String(iss.maximum)} (got ${iss.input})`
      : notFinite(iss.input)
export const finite = z
  .number({ error: (iss) => finiteProblem(iss as Parameters<typeof finiteProblem>[0]) })
  .refine(Number.isFinite, { error: (iss) => notFinite(iss.input) })
export const id = z.number().int().nonnegative()
/** a saved checkpoint: its id, or its name (the CLI's way of naming one) */
export const checkpointRef = z.union([id, z.string().min(1).max(120)])
/** A model reference: directory path, checkpoint reference ("ckpt:NAME" / id), or null = the embedded organism. */
export const modelRef = z.union([z.string().min(1).max(MAX_PATH_CHARS), z.null()])
export type ModelRef = z.infer<typeof modelRef>
export const text = (max: number): z.ZodString => z.string().max(max)
/** A refinement refusing control and bidi-override characters in a name or text (src/shared/textSafety.ts). */
export const safeText =
  (what: string, prose = false) =>
  (s: string, ctx: z.RefinementCtx): void => {
    const why = unsafeTextProblem(what, s, prose)
    if (why) ctx.addIssue({ code: 'custom', message: why })
  }
/** POSIX "/…", Windows "C:\…" or "\\server\share" (this file also runs in the renderer: no node:path). */
export function isAbsolutePath(p: string): boolean {
  return p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p) || p.startsWith('\\\\')
}

/** A step size α: finite, 0 ≤ α ≤ LIMITS.lr.max. */
export const stepSize = finite.refine((x) => x >= LIMITS.lr.min && x <= LIMITS.lr.max, {
  error: (iss) => `must be from ${LIMITS.lr.min} to ${LIMITS.lr.max} (got ${String(iss.input)})`,
})

export const lrList = z
  .array(stepSize, { error: 'must be a list of step sizes' })
  .min(1, 'give at least one step size')
  .max(MAX_STEP_SIZES, `at most ${MAX_STEP_SIZES} step sizes at once`)

export const wholeIn = (lo: number, hi: number) =>
  z.custom<number>((v) => typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi, {
    error: (iss) => `must be a whole number from ${lo} to ${hi} (got ${JSON.stringify(iss.input)})`,
  })
export const maxGen = wholeIn(LIMITS.maxGen.min, LIMITS.maxGen.max)

/**
 * A measured number. A non-finite value (a NaN metric) arrives as null once it has crossed JSON, so the check
 * accepts null; the type stays number as the lab writes it.
 */
export const measured = z.custom<number>((v) => v === null || typeof v === 'number')
export const measuredMap = z.record(z.string(), measured)

export const isoDate = z.string().max(40)
export const oneOrMany = <T extends z.ZodType>(t: T) => z.union([t, z.array(t).max(10)])
