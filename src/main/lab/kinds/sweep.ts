// sweep: the seed's "Stepping Off" — one gradient, every α in one batched generation (experiment/common.ts
// steppingOff), one run per α and the seed's table as the experiment's result.
import { InputError, type CallOptions } from '../../engine/engine'
import type { Restriction, SweepResult } from '../../../shared/api'
import { formatSeedTable, seedWords } from '../../../shared/seedTable'
import { getExperiment } from '../history/tables/experiments'
import { checkTexts, edits, outcome, partialOutput, records, stepMetrics, steppingOff, type ExperimentContext, type Settings } from '../experiment/common'
import { conduct, runSpec } from '../experiment/lifecycle'
import { modelMetrics } from '../metrics'
import { checkRestriction } from '../step/restrict'
import type { Target } from '../targets'
import type { KindHandler } from './kind'
import { modelPhrase, modelProbes } from '../chat'

export const sweep: KindHandler<'sweep'> = (lab, args, opts) => {
  const t = lab.target(args.model)
  const s = lab.settings(args, t)
  const lrs = args.lrs ?? t.model.preset.lrs
  if (lrs.length === 0) throw new InputError(`no step sizes given (and none in ${t.model.engine.dir}/preset.json)`)
  if (args.restrict) checkRestriction(args.restrict, t.model.engine.config.layers)
  return runSweep(lab.context(), t, s, lab.phrase(args.phrase, t), lrs, { ...args, lrs }, opts, args.restrict)
}

export function runSweep(
  ctx: ExperimentContext,
  t: Target,
  s: Settings,
  phrase: string,
  lrs: number[],
  args: unknown,
  opts?: CallOptions,
  restrict?: Restriction,
): Promise<SweepResult> {
  const engine = t.model.engine
  const { promptIds, phraseIds } = checkTexts(engine, s, [phrase])
  return conduct(ctx, t, s, {
    kind: 'sweep',
    phrase,
    lrs,
    args,
    runs: lrs.map((lr) => runSpec(t, s, 'sweep', { phrase, lr })),
    work: async ({ ids, opened, settle }) => {
      const { gradient, views, generations: gens, gradientMs, generateMs } = await steppingOff(engine, t.base, promptIds, modelPhrase(engine, s, phrase), lrs, s, opts, restrict)
      const tm = Date.now()
      const ms = await modelMetrics(
        engine,
        { base: t.base, views, phraseIds: phraseIds[0], reference: s.reference, probes: modelProbes(engine, s) },
        opts,
      )
      const em = await edits(t, s, views, phrase, opts)
      const metricsMs = Date.now() - tm
      const outcomes = lrs.map((lr, i) =>
        outcome(ids[i], engine, promptIds, gens[i], {
          ...stepMetrics(engine, gradient, lr, restrict),
          ...ms[i],
          ...em[i],
          timings: { gradientMs, generateMs, metricsMs },
        }, s),
      )
      const table = formatSeedTable(outcomes.map((o, i) => ({ lr: lrs[i], words: seedWords(o.fullText) })))
      settle(outcomes, { phraseIds: gradient.phraseIds, phraseLoss: gradient.loss, table })
      ids.forEach((id, i) => ctx.remember(id, { gradient, lr: lrs[i], modelId: t.model.row.id, at: t.base }))
      return {
        experiment: getExperiment(ctx.db, opened.experimentId)!,
        runs: records(ctx.db, ids),
        phraseIds: gradient.phraseIds,
        phraseLoss: gradient.loss,
        table,
      }
    },
    partial: (p, ids) => new Map(ids.map((id, i) => [id, partialOutput(engine, promptIds, p[i], s.prefix)])),
  })
}
