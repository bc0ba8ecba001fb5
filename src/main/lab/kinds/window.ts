// The plasticity window (issue 10): for a phrase and a model, the smallest step that teaches it and the smallest
// that breaks the model, found by bisection in log α with several α per batched generation.
//
// Definitions (also returned in words with every result):
// - the continuation: the phrase's tokens after the prompt's — BOS + prompt must be a token prefix of BOS + phrase;
//   the tokens that follow are what the model must say next;
// - learned(α): the greedy completion of the prompt under base − α·∇ begins with exactly those tokens;
// - broken(α): the completion's repetition (the run's `repetition` metric, src/main/lab/metrics.ts) ≥ repetitionMax, or the mean probe KL(base ‖ stepped) ≥ klMax;
// - α_learn: the smallest α tried that learned, with every α tried below it not learned on the bisection's side
//   (the search assumes one crossing in the bracket and reports the crossing it refined);
//   α_break likewise; width = log10(α_break / α_learn) decades.
// Round 0 tries `perRound` α log-spaced over [lo, hi]; each later round splits the bracket of each crossing still
// open (the largest α that did not cross below the smallest that did) into log-even parts, in one generation.
import { CallOptions, Gradient, InputError, View } from '../../engine/engine'
import { WINDOW_DEFAULTS, type RunMetrics, type WindowProbe, type WindowResult } from '../../../shared/api'
import { getExperiment } from '../history/tables/experiments'
import { checkTexts, ExperimentContext, fullText, generateViews, outcome, records, Settings, stepMetrics } from '../experiment/common'
import { continuationIds, crossing, learned } from '../experiment/plasticity'
import { conduct, runSpec } from '../experiment/lifecycle'
import { modelMetrics, repetitionByN, REPETITION_N } from '../metrics'
import type { Target } from '../targets'
import type { KindHandler } from './kind'

export const window: KindHandler<'window'> = (lab, args, opts) => {
  const t = lab.target(args.model)
  const o = windowOptions(args)
  return runWindow(lab.context(), t, lab.settings(args, t), lab.phrase(args.phrase, t), o, { ...args, ...o }, opts)
}

/** α log-spaced over [lo, hi], `n` of them including both ends. */
export function logSpaced(lo: number, hi: number, n: number): number[] {
  if (n === 1) return [lo]
  const a = Math.log(lo)
  const b = Math.log(hi)
  return Array.from({ length: n }, (_, i) => Math.exp(a + ((b - a) * i) / (n - 1)))
}

export interface WindowOptions {
  lo: number
  hi: number
  perRound: number
  rounds: number
  repetitionMax: number
  klMax: number
}

export function windowOptions(a: Partial<WindowOptions>): WindowOptions {
  const o = {
    lo: a.lo ?? WINDOW_DEFAULTS.lo,
    hi: a.hi ?? WINDOW_DEFAULTS.hi,
    perRound: a.perRound ?? WINDOW_DEFAULTS.perRound,
    rounds: a.rounds ?? WINDOW_DEFAULTS.rounds,
    repetitionMax: a.repetitionMax ?? WINDOW_DEFAULTS.repetitionMax,
    klMax: a.klMax ?? WINDOW_DEFAULTS.klMax,
  }
  if (!(o.lo < o.hi)) throw new InputError(`the window's bracket must have lo < hi (got ${o.lo} … ${o.hi})`)
  return o
}

export function windowDefinitions(o: WindowOptions): { learn: string; break: string } {
  return {
    learn: "the greedy completion of the prompt begins with the phrase's tokens that follow the prompt's",
    break: `the completion's repetition (share of its token ${REPETITION_N}-grams that occurred earlier in it) ≥ ${o.repetitionMax}, or the mean probe KL(base ‖ stepped) ≥ ${o.klMax} nats`,
  }
}

export function runWindow(
  ctx: ExperimentContext,
  t: Target,
  s: Settings,
  phrase: string,
  o: WindowOptions,
  args: unknown,
  opts?: CallOptions,
): Promise<WindowResult> {
  const engine = t.model.engine
  const { promptIds, phraseIds } = checkTexts(engine, s, [phrase])
  const cont = continuationIds(promptIds, phraseIds[0])
  // the greedy completion must be long enough to show the whole continuation
  const gs = { ...s, temperature: 0, maxGen: Math.max(s.maxGen, cont.length) }
  const probes: WindowProbe[] = []
  return conduct(ctx, t, s, {
    kind: 'window',
    phrase,
    lrs: [],
    args,
    extra: { instrument: args },
    runs: [],
    work: async ({ ids, opened, settle, record }) => {
    const gradient: Gradient = await engine.gradient(phrase, t.base, opts, s.maxSeq)
    const tryRound = async (lrs: number[], round: number): Promise<void> => {
      const tr = Date.now()
      const rids = record(lrs.map((lr) => runSpec(t, gs, 'window', { phrase, lr })))
      const views: View[] = lrs.map((lr) => [...t.base, { gradient, lr }])
      const gens = await generateViews(engine, gs, promptIds, views, opts)
      const ms = await modelMetrics(engine, { base: t.base, views, phraseIds: phraseIds[0], reference: s.reference, probes: s.probes }, opts)
      const outcomes = lrs.map((lr, i) => {
        // the run's own repetition metric (outcome() stores the same number): one measure of ranting
        const rep = repetitionByN(gens[i].ids, REPETITION_N)[String(REPETITION_N)]
        const m: RunMetrics = { ...stepMetrics(engine, gradient, lr), ...ms[i] }
        const kl = typeof m.stabilityKl === 'number' && Number.isFinite(m.stabilityKl) ? m.stabilityKl : null
        probes.push({
          runId: rids[i],
          lr,
          round,
          learned: learned(gens[i].ids, cont),
          broken: rep >= o.repetitionMax || (kl !== null && kl >= o.klMax) || (m.stabilityKl !== undefined && kl === null),
          repetition: rep,
          stabilityKl: kl,
          text: fullText(engine, promptIds, gens[i]),
        })
        return outcome(rids[i], engine, promptIds, gens[i], m, s)
      })
      settle(outcomes, undefined, tr)
      rids.forEach((id, i) => ctx.remember(id, { gradient, lr: lrs[i], modelId: t.model.row.id, at: t.base }))
    }
    await tryRound(logSpaced(o.lo, o.hi, o.perRound), 0)
    const learnOf = (): ReturnType<typeof crossing> => crossing(probes.map((p) => ({ lr: p.lr, yes: p.learned })))
    const breakOf = (): ReturnType<typeof crossing> => crossing(probes.map((p) => ({ lr: p.lr, yes: p.broken })))
    for (let round = 1; round <= o.rounds; round++) {
      const open = [learnOf(), breakOf()].filter((c) => c.at !== null && c.below !== null) as { at: number; below: number }[]
      if (open.length === 0) break
      const per = Math.max(1, Math.floor(o.perRound / open.length))
      const lrs = new Set<number>()
      for (const c of open) logSpaced(c.below, c.at, per + 2).slice(1, -1).forEach((x) => lrs.add(x))
      await tryRound([...lrs].sort((a, b) => a - b), round)
    }
    const L = learnOf()
    const B = breakOf()
    const widthDecades = L.at !== null && B.at !== null ? Math.log10(B.at / L.at) : null
    probes.sort((a, b) => a.lr - b.lr)
    const summary = {
      alphaLearn: L.at,
      alphaLearnBelow: L.at !== null ? L.below : null,
      alphaBreak: B.at,
      alphaBreakBelow: B.at !== null ? B.below : null,
      widthDecades,
      continuationIds: cont,
      continuationText: engine.decode(cont),
      thresholds: { repetitionMax: o.repetitionMax, klMax: o.klMax },
      definitions: windowDefinitions(o),
    }
    settle([], { ...summary, probes: probes.map(({ text: _t, ...p }) => p) })
    return { experimentId: opened.experimentId, experiment: getExperiment(ctx.db, opened.experimentId)!, runs: records(ctx.db, ids), ...summary, probes }
    },
  })
}
