// The one id form of the command line (issue 23, item 5): eN for an experiment, rN for a run, printed by every command
// and accepted wherever an id is taken — beside the plain number, which names the kind the command expects.
import { InputError } from '../engine/engine'

export type IdKind = 'experiment' | 'run'

/** How an experiment is written: e12. */
export function expId(id: number | null | undefined): string {
  return id === null || id === undefined ? '' : `e${id}`
}

/** How a run is written: r34. */
export function runId(id: number | null | undefined): string {
  return id === null || id === undefined ? '' : `r${id}`
}

/** A range of runs as the commands print it: r3–r7 (or r3 alone). */
export function runRange(ids: number[]): string {
  if (!ids.length) return ''
  return ids.length === 1 ? runId(ids[0]) : `${runId(ids[0])}–${runId(ids[ids.length - 1])}`
}

/** "e12"/"exp:12"/"experiment:12" → experiment; "r12"/"run:12" → run; "12" → `plain` (undefined: refused). */
export function parseId(s: string | undefined, plain: IdKind | undefined, usage: string): { kind: IdKind; id: number } {
  const m = s ? /^(?:(e|exp:|experiment:)|(r|run:))?(\d+)$/i.exec(s.trim()) : null
  if (!m) throw new InputError(usage)
  const kind: IdKind | undefined = m[1] ? 'experiment' : m[2] ? 'run' : plain
  if (!kind) throw new InputError(usage)
  return { kind, id: Number(m[3]) }
}

/** An experiment's id: e12 or 12; a run's id (r34) is refused in words. */
export function parseExperimentId(s: string | undefined, usage: string): number {
  const t = parseId(s, 'experiment', usage)
  if (t.kind !== 'experiment') throw new InputError(`${usage} (r${t.id} is a run; experiments are eN: soliloquy history)`)
  return t.id
}

/** A run's id: r34 or 34; an experiment's id (e12) is refused in words. */
export function parseRunId(s: string | undefined, usage: string): number {
  const t = parseId(s, 'run', usage)
  if (t.kind !== 'run') throw new InputError(`${usage} (e${t.id} is an experiment; runs are rN: soliloquy history --runs)`)
  return t.id
}
