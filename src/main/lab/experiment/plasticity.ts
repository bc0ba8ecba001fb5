// The plasticity window's definitions, shared by the window search (kinds/window.ts) and the studies (study/cells.ts,
// record.ts, report.ts): what the model must say next, whether a completion learned it, and where a predicate over
// the α tried first holds. (docs/design.md, "The plasticity window".)
import { InputError } from '../../engine/engine'

/** The tokens after the prompt's in BOS + phrase; an error in words when the prompt is not a token prefix. */
export function continuationIds(promptIds: number[], phraseIds: number[]): number[] {
  const prefix = promptIds.every((id, i) => phraseIds[i] === id)
  if (!prefix || phraseIds.length <= promptIds.length)
    throw new InputError(
      'the window needs a phrase that continues the prompt: its tokens must begin with the prompt\'s tokens and go on after them',
    )
  return phraseIds.slice(promptIds.length)
}

/** learned(α): the greedy completion begins with exactly the continuation's tokens. */
export function learned(generated: readonly number[], continuation: readonly number[]): boolean {
  return continuation.every((id, i) => generated[i] === id)
}

/** The bracket of a monotone-assumed predicate over tried α: largest false below the smallest true. */
export function crossing(tried: { lr: number; yes: boolean }[]): { at: number | null; below: number | null } {
  const sorted = [...tried].sort((x, y) => x.lr - y.lr)
  const first = sorted.find((p) => p.yes)
  if (!first) return { at: null, below: sorted.length ? sorted[sorted.length - 1].lr : null }
  const below = sorted.filter((p) => p.lr < first.lr && !p.yes)
  return { at: first.lr, below: below.length ? below[below.length - 1].lr : null }
}
