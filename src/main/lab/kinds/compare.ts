// compare: prompt engineering vs training — the prompt with and without a prefix, on the starting model and after
// each chosen α, side by side (one run per cell).
import { InputError, type CallOptions, type Generation, type View } from '../../engine/engine'
import { SEED_DEFAULTS, type CompareCell, type CompareResult, type RunMetrics } from '../../../shared/api'
import { getExperiment } from '../history/tables/experiments'
import type { PartialOutput } from '../history/lifecycle'
import { checkTexts, fullText, generateAll, minMargin, partialOutput, reachable, records, withoutPrefix, type ExperimentContext, type Settings } from '../experiment/common'
import { conduct, runSpec } from '../experiment/lifecycle'
import { gradientMetrics, modelMetrics, textMetrics } from '../metrics'
import { textsNote } from '../metricTexts'
import type { Target } from '../targets'
import type { KindHandler } from './kind'
import { modelPhrase, modelProbes } from '../chat'

export const compare: KindHandler<'compare'> = (lab, args, opts) => {
  const t = lab.target(args.model)
  const s = lab.settings(args, t)
  const prefix = args.prefix ?? (t.model.preset.engineeredPrefix || SEED_DEFAULTS.engineeredPrefix)
  const lrs = args.lrs ?? []
  const phrase = lrs.some((x) => x !== 0) ? lab.phrase(args.phrase, t) : null
  return runCompare(lab.context(), t, s, prefix, phrase, lrs, { ...args, prefix, lrs }, opts)
}

export function runCompare(
  ctx: ExperimentContext,
  t: Target,
  s: Settings,
  prefix: string,
  phrase: string | null,
  lrs: number[],
  args: unknown,
  opts?: CallOptions,
): Promise<CompareResult> {
  const engine = t.model.engine
  const steps = [0, ...lrs.filter((lr) => lr !== 0)]
  if (steps.length > 1 && !phrase) throw new InputError('a phrase is needed to compare steps')
  // the plain half has no prefix; the engineered half stores its prefix apart from the prompt (recall skips it)
  s = { ...s, prefix: '' }
  const pre: Settings = { ...s, prefix }
  const { promptIds, phraseIds } = checkTexts(engine, s, steps.length > 1 && phrase ? [phrase] : [])
  const { promptIds: prefixedIds } = checkTexts(engine, pre, [])
  const layout: { prefixed: boolean; lr: number }[] = []
  for (const prefixed of [false, true]) for (const lr of steps) layout.push({ prefixed, lr })
  let partialPlain: Generation[] | null = null
  return conduct(ctx, t, s, {
    kind: 'compare',
    phrase,
    lrs: steps,
    args,
    extra: { prefix },
    runs: layout.map((c) => runSpec(t, c.prefixed ? pre : s, 'compare', { phrase: c.lr !== 0 ? phrase : null, lr: c.lr })),
    work: async ({ ids, opened, settle }) => {
      const gradient = steps.length > 1 && phrase ? await engine.gradient(modelPhrase(engine, s, phrase), t.base, opts, s.maxSeq) : null
      const views: View[] = steps.map((lr) => (lr === 0 || !gradient ? t.base : [...t.base, { gradient, lr }]))
      const plain = await generateAll(t, s, promptIds, views, opts)
      partialPlain = plain
      const engineered = await generateAll(t, pre, prefixedIds, views, opts)
      const ms = await modelMetrics(
        engine,
        { base: t.base, views, phraseIds: gradient ? phraseIds[0] : undefined, reference: s.reference, probes: modelProbes(engine, s) },
        opts,
      )
      const cells: CompareCell[] = []
      const outcomes = layout.map((c, i) => {
        const j = steps.indexOf(c.lr)
        const g = c.prefixed ? engineered[j] : plain[j]
        const full = fullText(engine, c.prefixed ? prefixedIds : promptIds, g)
        const shown = c.prefixed ? withoutPrefix(full, prefix) : full
        const m: RunMetrics = {
          ...(gradient && c.lr !== 0 ? gradientMetrics(gradient, c.lr) : {}),
          ...ms[j],
          ...textMetrics(g.ids, g.text, shown, s.reference, reachable(engine, s)),
          minMargin: minMargin(g),
        }
        Object.assign(m, textsNote(s, m))
        cells.push({ runId: ids[i], prefixed: c.prefixed, lr: c.lr, text: shown, recall: m.recall ?? null })
        return { id: ids[i], outputIds: g.ids, outputText: g.text, fullText: full, metrics: m }
      })
      settle(outcomes, { prefix, cells })
      if (gradient)
        layout.forEach((c, i) => c.lr !== 0 && ctx.remember(ids[i], { gradient, lr: c.lr, modelId: t.model.row.id, at: t.base }))
      return { experiment: getExperiment(ctx.db, opened.experimentId)!, runs: records(ctx.db, ids), cells }
    },
    partial: (p, ids) => {
      // cancelled in the plain half: its partial tokens; in the engineered half: the plain half whole, its partial
      const rows = new Map<number, PartialOutput>()
      layout.forEach((c, i) => {
        const j = steps.indexOf(c.lr)
        const g = c.prefixed ? (partialPlain ? p[j] : undefined) : (partialPlain ? partialPlain[j] : p[j])
        if (g) rows.set(ids[i], partialOutput(engine, c.prefixed ? prefixedIds : promptIds, g, c.prefixed ? prefix : ''))
      })
      return rows
    },
  })
}
