// generate: a completion of the prompt on a model or checkpoint, with its metrics — one run.
import type { CallOptions } from '../../engine/engine'
import type { RunResult } from '../../../shared/api'
import { getRun } from '../history/tables/runs'
import { checkTexts, generateAll, outcome, partialOutput, type ExperimentContext, type Settings } from '../experiment/common'
import { conduct, runSpec } from '../experiment/lifecycle'
import { modelMetrics } from '../metrics'
import type { Target } from '../targets'
import type { KindHandler } from './kind'

export const generate: KindHandler<'generate'> = (lab, args, opts) => {
  const t = lab.target(args.model)
  return runGenerate(lab.context(), t, lab.settings(args, t), opts)
}

export function runGenerate(ctx: ExperimentContext, t: Target, s: Settings, opts?: CallOptions): Promise<RunResult> {
  const { promptIds } = checkTexts(t.model.engine, s, [])
  return conduct(ctx, t, s, {
    kind: 'generate',
    phrase: null,
    lrs: [],
    runs: [runSpec(t, s, 'generate')],
    work: async ({ ids: [id], settle }) => {
      const tg = Date.now()
      const [g] = await generateAll(t, s, promptIds, [t.base], opts)
      const generateMs = Date.now() - tg
      const tm = Date.now()
      const [m] = await modelMetrics(t.model.engine, { base: t.base, views: [t.base], reference: s.reference }, opts)
      delete m.probeKl
      settle([outcome(id, t.model.engine, promptIds, g, { ...m, timings: { generateMs, metricsMs: Date.now() - tm } }, s)])
      return { run: getRun(ctx.db, id)! }
    },
    partial: (p, [id]) => new Map([[id, partialOutput(t.model.engine, promptIds, p[0], s.prefix)]]),
  })
}
