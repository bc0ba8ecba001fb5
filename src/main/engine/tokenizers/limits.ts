// Bounds on what a tokenizer.json's normalizer and pre-tokenizer may do to a text. The file is data from the user's
// disk: a Sequence of 30 Replace steps that each make the text four times longer, an empty Regex replaced by "xx" 25
// times, Sequences nested 20,000 deep or a Split pattern that backtracks without end (`(a+)+$`) would otherwise take
// gigabytes, the stack or minutes of the one thread that serves the lab. Each is refused in words that name the step:
//  - depth: Sequences nest at most MAX_CHAIN_DEPTH deep (published tokenizers nest one level);
//  - growth: the text a normalizer or pre-tokenizer step produces is at most MAX_GROWTH times the text given to
//    encode, plus GROWTH_SLACK characters, checked inside Replace as it goes (before the string exists);
//  - time: one encode runs under a time budget (encodeBudgetMs) and is stopped when it overruns — V8 interrupts a
//    running regex on a vm timeout, so the budget holds inside a single exec as well.
// The bounds change no legitimate result: published tokenizers stay far below them (NFKC expands a character to at
// most 18, ByteLevel to 4, Prepend and Metaspace add one character per piece).
import { createContext, Script } from 'node:vm'
import { ModelFormatError } from '../config'

/** How deep Sequences of normalizers or pre-tokenizers may nest. */
export const MAX_CHAIN_DEPTH = 32
/** How many times the text given to encode a step's output may be, plus GROWTH_SLACK characters. */
export const MAX_GROWTH = 64
export const GROWTH_SLACK = 4096
/** An encode's time budget: a base, plus 20 µs a character (Llama 3's tokenizer.json takes ~0.8 µs a character, a
 *  SentencePiece-style one, whose whole text is one BPE word, ~1–8; the budget is there to stop what never ends). */
export const ENCODE_BUDGET_BASE_MS = 2000
export const ENCODE_BUDGET_PER_CHAR_MS = 0.02
/** At most this (below the lab host's budget, host/watchdog.ts, so the encode is stopped in its own words). */
export const ENCODE_BUDGET_MAX_MS = 20_000

export function encodeBudgetMs(chars: number): number {
  return Math.round(Math.min(ENCODE_BUDGET_BASE_MS + ENCODE_BUDGET_PER_CHAR_MS * chars, ENCODE_BUDGET_MAX_MS))
}

/** A tokenizer file's step that exceeded a bound (a ModelFormatError: the file is refused, not the text). */
export class TokenizerLimitError extends ModelFormatError {
  constructor(message: string) {
    super(message)
    this.name = 'TokenizerLimitError'
  }
}

/**
 * The running encode's bounds, shared by the steps of one tokenizer: `limit` is the longest text a step may
 * produce, `step` names the step that runs (for the message when the time budget stops it).
 */
export class ChainBudget {
  limit = Infinity
  chars = 0
  step = ''
  constructor(readonly label: string) {}

  /** Sets the bound for an encode of `chars` characters. */
  start(chars: number): void {
    this.chars = chars
    this.limit = MAX_GROWTH * chars + GROWTH_SLACK
    this.step = ''
  }

  /** Throws when a step's output of `length` characters is over the bound. */
  check(length: number, path: string, type: string): void {
    if (length > this.limit)
      throw new TokenizerLimitError(
        `${this.label}: ${path} (${type}) makes a text of ${this.chars} characters longer than ${this.limit} characters ` +
          `(${MAX_GROWTH} times its length plus ${GROWTH_SLACK}); this ${path.split(/[.[]/)[0].replace('_', '-')} is refused`,
      )
  }
}

/** Refuses a Sequence nested deeper than MAX_CHAIN_DEPTH (before recursing into it). */
export function checkDepth(depth: number, root: string, label: string): void {
  if (depth > MAX_CHAIN_DEPTH)
    throw new TokenizerLimitError(`${label}: ${root} nests Sequences more than ${MAX_CHAIN_DEPTH} deep; this ${root.replace('_', '-')} is refused`)
}

/** A pattern for a message: at most 80 characters, quoted. */
export function shownPattern(pattern: string): string {
  return JSON.stringify(pattern.length > 80 ? `${pattern.slice(0, 77)}…` : pattern)
}

// One context and one script for every budgeted call: vm's timeout is the only way to interrupt synchronous JS (and
// a regex exec) on this thread. The function runs in its own realm's objects; the context only calls it.
const context = createContext({ run: undefined as (() => unknown) | undefined })
const runScript = new Script('run()', { filename: 'tokenizer-budget' })
let inside = 0

/**
 * Runs `fn` with a time budget of `ms`; when it overruns, the work is stopped where it is and `overrun()` is thrown.
 * A nested call runs under the outer budget.
 */
export function withinTimeBudget<T>(ms: number, fn: () => T, overrun: () => Error): T {
  if (inside > 0) return fn()
  inside++
  context.run = fn
  try {
    return runScript.runInContext(context, { timeout: Math.max(1, Math.round(ms)), breakOnSigint: false }) as T
  } catch (e) {
    if ((e as { code?: string } | null)?.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') throw overrun()
    throw e
  } finally {
    context.run = undefined
    inside--
  }
}
