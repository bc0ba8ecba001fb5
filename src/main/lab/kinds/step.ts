// step: one SGD step on a phrase at α (optionally restricted to some parameters), the stepped model's completion and
// every metric — one run; `save` keeps the step as a checkpoint.
import type { CallOptions } from '../../engine/engine'
import type { Restriction, RunResult } from '../../../shared/api'
import { nameFree } from '../checkpoints/store'
import { getRun } from '../history/tables/runs'
import { checkTexts, outcome, partialOutput, stepFrom, stepMetrics, type ExperimentContext, type Settings } from '../experiment/common'
import { conduct, runSpec } from '../experiment/lifecycle'
import { checkRestriction } from '../step/restrict'
import type { Target } from '../targets'
import type { KindHandler } from './kind'

export const step: KindHandler<'step'> = async (lab, args, opts) => {
  if (args.save !== undefined) nameFree(lab.db, args.save)
  const t = lab.target(args.model)
  if (args.restrict) checkRestriction(args.restrict, t.model.engine.config.layers)
  const r = await runStep(lab.context(), t, lab.settings(args, t), lab.phrase(args.phrase, t), args.lr, opts, args.restrict)
  if (args.save === undefined) return r
  const checkpoint = await lab.saveCheckpoint({ runId: r.run.id, name: args.save }, opts)
  return { ...r, checkpoint }
}

export function runStep(
  ctx: ExperimentContext,
  t: Target,
  s: Settings,
  phrase: string,
  lr: number,
  opts?: CallOptions,
  restrict?: Restriction,
): Promise<RunResult> {
  const engine = t.model.engine
  const { promptIds, phraseIds } = checkTexts(engine, s, [phrase])
  return conduct(ctx, t, s, {
    kind: 'step',
    phrase,
    lrs: [lr],
    runs: [runSpec(t, s, 'step', { phrase, lr })],
    work: async ({ ids: [id], settle }) => {
      const { gradient, g, m, gradientMs, generateMs, metricsStart } = await stepFrom(t, s, t.base, phrase, lr, phraseIds[0], promptIds, opts, restrict)
      const metrics = { ...stepMetrics(engine, gradient, lr, restrict), ...m, timings: { gradientMs, generateMs, metricsMs: Date.now() - metricsStart } }
      settle([outcome(id, engine, promptIds, g, metrics, s)])
      ctx.remember(id, { gradient, lr, modelId: t.model.row.id, at: t.base })
      return { run: getRun(ctx.db, id)! }
    },
    partial: (p, [id]) => new Map([[id, partialOutput(engine, promptIds, p[0], s.prefix)]]),
  })
}
