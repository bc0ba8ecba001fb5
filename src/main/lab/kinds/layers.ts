// The layer study (issue 10, "Where does the memory live?"): one gradient of the phrase, then the step at one α
// restricted to each parameter group alone and to each band of layers alone — all of them, with the full step, in
// ONE batched generation (every view is [{ restricted gradient, α }]). A restriction "recalls" the phrase when the
// prompt plus its greedy completion reproduces every word of the phrase, in order (phraseRecall); the recall metric
// of src/main/lab/metrics.ts (words of the reference reproduced) is stored with each run as well.
import { CallOptions, InputError, View } from '../../engine/engine'
import { LAYER_STUDY_LR, paramGroups, type LayerCell, type LayerStudyResult, type ParamGroup, type Restriction } from '../../../shared/api'
import { commonPrefixWords } from '../../../shared/seedTable'
import { getExperiment } from '../history/tables/experiments'
import { checkTexts, ExperimentContext, fullText, generateViews, outcome, records, Settings, stepMetrics } from '../experiment/common'
import { conduct, runSpec } from '../experiment/lifecycle'
import { modelMetrics } from '../metrics'
import type { Target } from '../targets'
import { gridTotal, restrictFactors, keepOf, updateGrid } from '../step/restrict'
import type { KindHandler } from './kind'
import { phraseRecall, wordCount } from '../experiment/recall'

export const layerStudy: KindHandler<'layerStudy'> = (lab, args, opts) => {
  const t = lab.target(args.model)
  const s = lab.settings(args, t)
  const lr = args.lr ?? LAYER_STUDY_LR
  const plan = layerStudyPlan(t.model.engine.config.layers, args.groups, args.band ?? 1)
  return runLayerStudy(lab.context(), t, s, lab.phrase(args.phrase, t), lr, plan, { ...args, lr }, opts)
}

export interface LayerStudyPlan {
  label: string
  restrict: Restriction | null
}

/** The full step, each named group alone, then each band of `band` layers alone (every per-layer group). */
export function layerStudyPlan(layers: number, groups: readonly ParamGroup[] = paramGroups, band = 1): LayerStudyPlan[] {
  const plan: LayerStudyPlan[] = [{ label: 'full', restrict: null }]
  for (const g of groups) plan.push({ label: g, restrict: { groups: [g] } })
  if (band > 0)
    for (let from = 0; from < layers; from += band) {
      const to = Math.min(layers - 1, from + band - 1)
      plan.push({
        label: from === to ? `layer ${from}` : `layers ${from}–${to}`,
        restrict: { groups: ['attn', 'mlp', 'norm'], layers: { from, to } },
      })
    }
  return plan
}

export function runLayerStudy(
  ctx: ExperimentContext,
  t: Target,
  s: Settings,
  phrase: string,
  lr: number,
  plan: LayerStudyPlan[],
  args: unknown,
  opts?: CallOptions,
): Promise<LayerStudyResult> {
  const engine = t.model.engine
  if (plan.length > 256) throw new InputError(`the layer study would try ${plan.length} restrictions; at most 256`)
  const { promptIds, phraseIds } = checkTexts(engine, s, [phrase])
  return conduct(ctx, t, s, {
    kind: 'layers',
    phrase,
    lrs: [lr],
    args,
    extra: { instrument: args },
    runs: plan.map(() => runSpec(t, s, 'layers', { phrase, lr })),
    work: async ({ ids, opened, settle }) => {
    const tg = Date.now()
    const full = await engine.gradient(phrase, t.base, opts, s.maxSeq)
    const factors = full.factors()
    const layers = engine.config.layers
    // the same gradient, restricted: dropped factors zeroed and re-imported (no recomputation)
    const grads = plan.map((p) =>
      p.restrict ? engine.importGradient(restrictFactors(factors, keepOf(p.restrict, layers)), phrase, t.base) : full,
    )
    const gradientMs = Date.now() - tg
    const views: View[] = grads.map((g) => [...t.base, { gradient: g, lr }])
    const tgen = Date.now()
    const gens = await generateViews(engine, s, promptIds, views, opts)
    const generateMs = Date.now() - tgen
    const tm = Date.now()
    const ms = await modelMetrics(engine, { base: t.base, views, phraseIds: phraseIds[0], reference: s.reference, probes: s.probes }, opts)
    const metricsMs = Date.now() - tm
    const cells: LayerCell[] = []
    const outcomes = plan.map((p, i) => {
      const m = stepMetrics(engine, grads[i], lr, p.restrict ?? undefined)
      const o = outcome(ids[i], engine, promptIds, gens[i], { ...m, ...ms[i], timings: { gradientMs, generateMs, metricsMs } }, s)
      const text = fullText(engine, promptIds, gens[i])
      const pr = phraseRecall(text, phrase)
      cells.push({
        runId: ids[i],
        label: p.label,
        restrict: p.restrict,
        recalls: pr === wordCount(phrase),
        phraseRecall: pr,
        recall: o.metrics.recall ?? null,
        text,
        updateNorm: gridTotal(m.updateGrid!),
      })
      return o
    })
    const grid = updateGrid(factors, layers, lr)
    settle(outcomes, { lr, phraseWords: wordCount(phrase), cells: cells.map(({ text: _t, ...c }) => c), grid })
    ids.forEach((id, i) => ctx.remember(id, { gradient: grads[i], lr, modelId: t.model.row.id, at: t.base }))
    return { experimentId: opened.experimentId, experiment: getExperiment(ctx.db, opened.experimentId)!, runs: records(ctx.db, ids), lr, phraseWords: wordCount(phrase), cells, grid }
    },
  })
}
