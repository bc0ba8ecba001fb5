// What the instruments share: the recorded experiment and group of runs (the run lifecycle of src/main/lab/history/runs.ts —
// rows written `running` before any work, completed in one transaction, or marked cancelled/failed), and the
// phrase-recall test used by the layer study.
import type { GroupKind, RunKind } from '../../../shared/api'
import { commonPrefixWords } from '../../../shared/seedTable'
import { insertGroup, insertRun } from '../history/tables/runs'
import { openExperiment, runBase, type ExperimentContext, type Settings } from './common'
import type { Target } from '../targets'

/** Where an instrument's runs go: its experiment (History lists it, of the instrument's kind) and its group. */
export interface Opened {
  experimentId: number
  groupId: number
}

/** Inserts the instrument's group (status running) and opens its experiment holding it. */
export function openGroup(
  ctx: ExperimentContext,
  t: Target,
  s: Settings,
  kind: GroupKind,
  phrase: string,
  lrs: number[],
  args: unknown,
): Opened {
  const groupId = insertGroup(ctx.db, {
    kind,
    modelId: t.model.row.id,
    checkpointId: t.checkpoint?.id ?? null,
    prompt: s.prompt,
    phrase,
    lrs,
    args,
  })
  const experimentId = openExperiment(ctx, t, s, { kind, phrase, lrs, groupId, extra: { instrument: args } })
  return { experimentId, groupId }
}

/** Inserts one `running` run per α of the group, at positions from `first` on. */
export function openRuns(
  ctx: ExperimentContext,
  t: Target,
  s: Settings,
  kind: RunKind,
  { experimentId, groupId }: Opened,
  phrase: string,
  lrs: number[],
  first = 0,
): number[] {
  return ctx.db.transaction(() =>
    lrs.map((lr, i) => insertRun(ctx.db, { ...runBase(t, s, kind, experimentId), phrase, lr, groupId, groupIndex: first + i })),
  )()
}

export function wordCount(text: string): number {
  return text.split(/\s+/).filter(Boolean).length
}

/**
 * Words of the phrase that prompt + completion reproduces, in order from the start (all of them: it recalls).
 * Whole words must be equal, except the phrase's last word, which may go on in the text ("question" is reproduced
 * by "question:"): the phrase ends where the text need not.
 */
export function phraseRecall(fullText: string, phrase: string): number {
  const wp = phrase.split(/\s+/).filter(Boolean)
  const wt = fullText.split(/\s+/).filter(Boolean)
  let n = Math.min(wp.length, commonPrefixWords(fullText, phrase))
  if (n === wp.length - 1 && n < wt.length && wt[n].startsWith(wp[n])) n++
  return n
}
