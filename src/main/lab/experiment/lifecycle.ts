// The lifecycle every experiment kind goes through (src/main/lab/kinds), written once:
//   validate — the kind checks its texts and settings against the loaded model before anything is written
//              (bad input records nothing);
//   open     — the experiment row, `running`, with its full settings (and, for kinds with several runs, the request);
//   record   — its runs, `running`, in one transaction (a failure here — disk full — fails the experiment in words);
//   guard    — the work runs; if it throws, the rows still running become cancelled (with a cancelled generation's
//              partial tokens) or failed with the reason, and the error goes on to the caller;
//   settle   — the kind completes its runs (and the experiment's result) in one transaction (history/lifecycle.ts, the
//              only writer of a status), which settles the experiment from its runs.
// Validation is the kind's own (it knows its texts); this file does the other four.
import type { Generation } from '../../engine/engine'
import type { ExperimentKind, RunKind } from '../../../shared/api'
import { insertRun, type NewRun } from '../history/tables/runs'
import { completeRuns, type PartialOutput, type RunOutcome } from '../history/lifecycle'
import { writingRuns } from '../history/settle'
import { guarded, openExperiment, runBase, type ExperimentContext, type Settings } from './common'
import type { Target } from '../targets'

/** Where an experiment's runs go: its experiment (History lists it). */
export interface Opened {
  experimentId: number
}

/** A run of the experiment as the kind describes it; the lifecycle adds the experiment and the position. */
export type RunSpec = Omit<NewRun, 'experimentId' | 'position' | 'parentRunId'> & {
  /** the position of the earlier run of this experiment it continues (a lesson's step k continues step k − 1) */
  after?: number
}

export interface Conduct<T> {
  kind: ExperimentKind
  phrase: string | null
  lrs: number[]
  /** kinds with several runs: the request as run (the experiment's `args`); their runs are then numbered by position */
  args?: unknown
  /** settings the experiment keeps besides the common ones */
  extra?: Record<string, unknown>
  /** the runs written before any work (in their order: a run's position in its experiment) */
  runs: RunSpec[]
  work: (w: Working) => Promise<T>
  /** the runs still owed when the work fails (default: all of them) */
  pending?: (ids: number[]) => number[]
  /** a cancelled generation's partial tokens → the rows they belong to */
  partial?: (partial: Generation[], ids: number[]) => Map<number, PartialOutput>
}

/** What the work is handed: its rows, and the way to settle them. */
export interface Working {
  opened: Opened
  /** the run ids, in the order of `runs` (and of any added with `record`) */
  ids: number[]
  /** when the experiment started (ms) */
  t0: number
  /** completes runs; with `result` (kinds with several runs) also the experiment's result, which settles it even with
   *  no runs left */
  settle(outcomes: RunOutcome[], result?: unknown, startedMs?: number): void
  /** more runs recorded while working (a window search's later rounds), placed after the ones before */
  record(runs: RunSpec[]): number[]
}

/** Opens, records, guards the work of one experiment; the work settles it (see the header). */
export function conduct<T>(ctx: ExperimentContext, t: Target, s: Settings, c: Conduct<T>): Promise<T> {
  const t0 = Date.now()
  const experimentId = openExperiment(ctx, t, s, { kind: c.kind, phrase: c.phrase, lrs: c.lrs, args: c.args, extra: c.extra })
  const several = c.args !== undefined
  const opened: Opened = { experimentId }
  const ids: number[] = []
  const record = (runs: RunSpec[]): number[] => {
    const first = ids.length
    const out = ctx.db.transaction(() =>
      runs.map(({ after, ...r }, i) => {
        const id = insertRun(ctx.db, {
          ...r,
          experimentId,
          ...(several ? { position: first + i } : {}),
          ...(after !== undefined ? { parentRunId: ids[after] ?? null } : {}),
        })
        ids.push(id)
        return id
      }),
    )()
    return out
  }
  if (c.runs.length) writingRuns(ctx.db, experimentId, () => record(c.runs))
  const w: Working = {
    opened,
    ids,
    t0,
    settle: (outcomes, result, startedMs) =>
      completeRuns(ctx.db, outcomes, startedMs ?? t0, result !== undefined && several ? { id: experimentId, result } : undefined),
    record,
  }
  return guarded(ctx.db, () => (c.pending ? c.pending(ids) : ids), t0, () => c.work(w), c.partial && ((p) => c.partial!(p, ids)))
}

/** A run of kind `kind` on the target with the settings `s` (phrase and α added by the kind). */
export function runSpec(t: Target, s: Settings, kind: RunKind, more: Partial<RunSpec> = {}): RunSpec {
  const { experimentId: _e, ...base } = runBase(t, s, kind, 0)
  return { ...base, ...more }
}
