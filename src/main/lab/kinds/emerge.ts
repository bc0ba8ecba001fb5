// Watching it emerge (issue 10): log p(next reference token | reference prefix) at every position of BOS + the
// reference text, under the model stepped at every α — one gradient, one batched teacher-forced score pass over all
// the α views — with the top-k alternatives of each cell, and the greedy table beside it (one batched generation).
//
// The scored text is the reference when it begins with the prompt (the soliloquy begins with "To be"), else the
// prompt followed by the reference; without a reference, the phrase. promptTokens counts the leading tokens that are
// BOS + the prompt (when they are a token prefix of the scored text), so a heatmap can mark where continuation starts.
import { CallOptions, InputError, View } from '../../engine/engine'
import { type EmergeResult } from '../../../shared/api'
import { formatSeedTable, seedWords } from '../../../shared/seedTable'
import { getExperiment } from '../history/tables/experiments'
import { checkTexts, ExperimentContext, generateViews, outcome, records, Settings, stepMetrics } from '../experiment/common'
import { conduct, runSpec } from '../experiment/lifecycle'
import { modelMetrics } from '../metrics'
import type { Target } from '../targets'
import type { KindHandler } from './kind'

export const EMERGE_TOKENS = 96
export const EMERGE_TOPK = 5

/** The text the heatmap is scored over (see the header). */
export function emergeText(prompt: string, reference: string | null, phrase: string): string {
  const ref = reference && reference.trim() ? reference : phrase
  return ref.startsWith(prompt) ? ref : `${prompt} ${ref}`
}

export const emerge: KindHandler<'emerge'> = (lab, args, opts) => {
  const t = lab.target(args.model)
  const s = lab.settings(args, t)
  const lrs = args.lrs ?? t.model.preset.lrs
  if (lrs.length === 0) throw new InputError(`no step sizes given (and none in ${t.model.engine.dir}/preset.json)`)
  const topk = args.topk ?? EMERGE_TOPK
  const tokens = args.tokens ?? EMERGE_TOKENS
  return runEmerge(lab.context(), t, s, lab.phrase(args.phrase, t), lrs, topk, tokens, { ...args, lrs, topk, tokens }, opts)
}

export function runEmerge(
  ctx: ExperimentContext,
  t: Target,
  s: Settings,
  phrase: string,
  lrs: number[],
  topk: number,
  tokens: number,
  args: unknown,
  opts?: CallOptions,
): Promise<EmergeResult> {
  const engine = t.model.engine
  const { promptIds, phraseIds } = checkTexts(engine, s, [phrase])
  const ids = engine.withBos(emergeText(s.prompt, s.reference, phrase), 'reference text').slice(0, Math.min(tokens, engine.config.maxPos))
  if (ids.length < 2) throw new InputError('the reference text is empty: nothing to score')
  const promptTokens = promptIds.every((id, i) => ids[i] === id) ? promptIds.length : 1
  return conduct(ctx, t, s, {
    kind: 'emerge',
    phrase,
    lrs,
    args,
    extra: { instrument: args },
    runs: lrs.map((lr) => runSpec(t, s, 'emerge', { phrase, lr })),
    work: async ({ ids: runIds, opened, settle }) => {
    const gradient = await engine.gradient(phrase, t.base, opts, s.maxSeq)
    const views: View[] = lrs.map((lr) => (lr === 0 ? t.base : [...t.base, { gradient, lr }]))
    const rows = await engine.score({ ids, views, topk }, opts)
    const gens = await generateViews(engine, s, promptIds, views, opts)
    const ms = await modelMetrics(engine, { base: t.base, views, phraseIds: phraseIds[0], reference: s.reference, probes: s.probes }, opts)
    const pieces = engine.decodeTokens(ids)
    const altText = new Map<number, string>()
    const textOf = (id: number): string => {
      let x = altText.get(id)
      if (x === undefined) altText.set(id, (x = engine.decodeTokens([id])[0]))
      return x
    }
    const logprob = rows.map((r) => r.nll.map((x) => -x))
    const top = rows.map((r) =>
      r.top.slice(0, ids.length - 1).map((alts) => alts.map((a) => ({ id: a.id, text: textOf(a.id), logprob: a.logprob }))),
    )
    const outcomes = lrs.map((lr, i) =>
      outcome(runIds[i], engine, promptIds, gens[i], { ...(lr !== 0 ? stepMetrics(engine, gradient, lr) : {}), ...ms[i] }, s),
    )
    const table = formatSeedTable(outcomes.map((o, i) => ({ lr: lrs[i], words: seedWords(o.fullText) })))
    const tokensOut = ids.map((id, i) => ({ id, text: pieces[i] }))
    // the heatmap's numbers without the alternatives (those are recomputed on demand: they are the bulk)
    settle(outcomes, { lrs, tokens: tokensOut, promptTokens, logprob, table, phraseLoss: gradient.loss })
    runIds.forEach((id, i) => lrs[i] !== 0 && ctx.remember(id, { gradient, lr: lrs[i], modelId: t.model.row.id, at: t.base }))
    return { experimentId: opened.experimentId, experiment: getExperiment(ctx.db, opened.experimentId)!, runs: records(ctx.db, runIds), lrs, tokens: tokensOut, promptTokens, logprob, top, table }
    },
  })
}
