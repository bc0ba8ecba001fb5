// The knowledge areas of a mixture of experts (issue 21, item 8), recorded as an experiment: for the phrase (or a
// text) and the prompt, which experts each token is routed to in each MoE layer and the routing mass per layer ×
// expert, before the step and after it at each α; ‖α∇W‖ per expert (its gate, up and down together); and, with chosen
// experts ("L:E,…"), the step restricted to them alone (step/experts.ts, exact as the group restriction).
//
// Its runs: per α ≠ 0 the full step, then (with chosen experts) the restricted step — each one's greedy completion of
// the prompt (one batched generation) with the run metrics, and whether it recalls the phrase as the layer study asks
// it (phraseRecall). The routing and the norms are the experiment's result, so History, `show`, `export` and the
// report read it back.
import { CallOptions, Engine, Gradient, InputError, View } from '../../engine/engine'
import { expertSlots, type Routing } from '../../engine/experts'
import type { ExpertsResult, ExpertsStep } from '../../../shared/api'
import { getExperiment } from '../history/tables/experiments'
import { checkTexts, fullText, generateViews, outcome, records, stepMetrics, type ExperimentContext, type Settings } from '../experiment/common'
import { conduct, runSpec } from '../experiment/lifecycle'
import { modelMetrics } from '../metrics'
import { phraseRecall, wordCount } from '../experiment/recall'
import { expertGradNorms, formatExpertList, parseExpertList, restrictGradientToExperts, type ExpertRef } from '../step/experts'
import type { Target } from '../targets'
import type { KindHandler } from './kind'

type RoutingAt = { lr: number } & Routing

export const experts: KindHandler<'experts'> = (lab, args, opts) => {
  const t = lab.target(args.model)
  const c = t.model.engine.config
  // refused before anything is written: a dense model has no experts to show
  if (!c.experts) throw new InputError(`the model is not a mixture of experts (model_type ${c.family}): it has no experts to show`)
  const s = lab.settings(args, t)
  const phrase = lab.phrase(args.phrase, t)
  const lrs = args.lrs ?? t.model.preset.lrs
  if (lrs.length === 0) throw new InputError(`no step sizes given (and none in ${t.model.engine.dir}/preset.json)`)
  const chosen = args.experts ? parseExpertList(args.experts, c) : undefined
  const text = args.text ?? phrase
  return runExperts(lab.context(), t, s, { phrase, text, lrs, chosen }, { ...args, lrs, ...(chosen ? { experts: formatExpertList(chosen) } : {}) }, opts)
}

/** "full 0.03" / "experts 0:1+2 0.03": a step's label (the report and History show it beside the run). */
function stepLabel(lr: number, chosen: ExpertRef[] | null): string {
  return `${chosen ? `experts ${formatExpertList(chosen)}` : 'full'} ${lr}`
}

export function runExperts(
  ctx: ExperimentContext,
  t: Target,
  s: Settings,
  a: { phrase: string; text: string; lrs: number[]; chosen?: ExpertRef[] },
  args: unknown,
  opts?: CallOptions,
): Promise<ExpertsResult> {
  const engine = t.model.engine
  const { promptIds, phraseIds } = checkTexts(engine, s, [a.phrase])
  const textIds = engine.withBos(a.text, 'text')
  const routedPrompt = engine.withBos(s.prompt, 'prompt')
  if (textIds.length > engine.config.maxPos) throw new InputError(`the text is ${textIds.length} tokens, more than the model's ${engine.config.maxPos}`)
  const lrs = [0, ...a.lrs.filter((x) => x !== 0)]
  const stepped = lrs.slice(1)
  const plan: { lr: number; chosen: ExpertRef[] | null }[] = stepped.flatMap((lr) => [{ lr, chosen: null }, ...(a.chosen ? [{ lr, chosen: a.chosen }] : [])])
  return conduct(ctx, t, s, {
    kind: 'experts',
    phrase: a.phrase,
    lrs: stepped,
    args,
    extra: { instrument: args },
    runs: plan.map((p) => runSpec(t, s, 'experts', { phrase: a.phrase, lr: p.lr })),
    work: async ({ ids, opened, settle }) => {
      const g = await engine.gradient(a.phrase, t.base, opts, s.maxSeq)
      const f = g.factors()
      const rg = a.chosen ? restrictGradientToExperts(engine, g, a.chosen, f) : null
      const viewsOf = (gr: Gradient): View[] => lrs.map((lr) => (lr === 0 ? t.base : [...t.base, { gradient: gr, lr }]))
      const at = (rs: Routing[]): RoutingAt[] => rs.map((r, i) => ({ lr: lrs[i], ...r }))
      const routed = at(await engine.routing(textIds, viewsOf(g), opts))
      const routedR = rg ? at(await engine.routing(textIds, viewsOf(rg), opts)) : undefined
      const promptViews = at(await engine.routing(routedPrompt, viewsOf(g), opts))
      const promptR = rg ? at(await engine.routing(routedPrompt, viewsOf(rg), opts)) : undefined
      const norms = expertGradNorms(f, expertSlots(engine.config), routed[0].layers, engine.config.experts!)
      // the steps' completions of the prompt, one batched generation, and their metrics
      const grads = plan.map((p) => (p.chosen ? rg! : g))
      const views: View[] = plan.map((p, i) => [...t.base, { gradient: grads[i], lr: p.lr }])
      const gens = await generateViews(engine, s, promptIds, views, opts)
      const ms = await modelMetrics(engine, { base: t.base, views, phraseIds: phraseIds[0], reference: s.reference, probes: s.probes }, opts)
      const steps: ExpertsStep[] = []
      const outcomes = plan.map((p, i) => {
        const o = outcome(ids[i], engine, promptIds, gens[i], { ...stepMetrics(engine, grads[i], p.lr), ...ms[i] }, s)
        const text = fullText(engine, promptIds, gens[i])
        const pr = phraseRecall(text, a.phrase)
        steps.push({ runId: ids[i], lr: p.lr, label: stepLabel(p.lr, p.chosen), restricted: p.chosen !== null, recalls: pr === wordCount(a.phrase), phraseRecall: pr, text })
        return o
      })
      const analysis = {
        layers: routed[0].layers,
        experts: engine.config.experts!,
        expertsPerToken: engine.config.expertsPerToken ?? 0,
        tokens: tokenPieces(engine, textIds),
        views: routed,
        gradNorm: norms.experts,
        routerGradNorm: norms.router,
        ...(a.chosen && routedR ? { restricted: { experts: a.chosen, views: routedR } } : {}),
        prompt: { tokens: tokenPieces(engine, routedPrompt), views: promptViews, ...(promptR ? { restricted: promptR } : {}) },
        phraseWords: wordCount(a.phrase),
        steps,
      }
      // the result is kept whole: the view and the report redraw the heatmaps from History
      settle(outcomes, { ...analysis, cells: steps.map(({ text: _t, ...c }) => c) })
      ids.forEach((id, i) => ctx.remember(id, { gradient: grads[i], lr: plan[i].lr, modelId: t.model.row.id, at: t.base }))
      return { experimentId: opened.experimentId, experiment: getExperiment(ctx.db, opened.experimentId)!, runs: records(ctx.db, ids), ...analysis }
    },
  })
}

/**
 * The experts a recorded run's step was restricted to (null: the full step, or not an experts run): the experiment's
 * result names its restricted runs, so a step recomputed later (a checkpoint saved after a restart) is the one taken.
 */
export function expertsRunRestriction(run: { id: number; kind: string }, result: unknown): ExpertRef[] | null {
  if (run.kind !== 'experts' || !result || typeof result !== 'object') return null
  const r = result as { steps?: { runId?: unknown; restricted?: unknown }[]; restricted?: { experts?: ExpertRef[] } }
  const st = r.steps?.find((x) => x.runId === run.id)
  if (!st?.restricted) return null
  if (!Array.isArray(r.restricted?.experts)) throw new InputError(`run ${run.id}: its experiment's result does not name the experts its step was restricted to`)
  return r.restricted.experts
}

function tokenPieces(engine: Engine, ids: number[]): string[] {
  return ids.map((id) => engine.tokenizer.piece(id))
}
