// lesson: steps in order, each gradient taken at the model the previous one left; after each step every earlier
// lesson is measured again (loss, recall) — the forgetting curve, stored with each run and as the experiment's result.
import { InputError, type CallOptions, type Generation, type View } from '../../engine/engine'
import type { ChainStep, LessonRecall, LessonResult, RunMetrics } from '../../../shared/api'
import { commonPrefixWords } from '../../../shared/seedTable'
import { getExperiment } from '../history/tables/experiments'
import { checkTexts, outcome, records, stepFrom, type ExperimentContext, type Settings } from '../experiment/common'
import { conduct, runSpec } from '../experiment/lifecycle'
import { gradientMetrics } from '../metrics'
import type { Target } from '../targets'
import type { KindHandler } from './kind'

export const lesson: KindHandler<'lesson'> = (lab, args, opts) => {
  if (args.chatTemplate)
    throw new InputError('the chat template option applies to generate, step, sweep and compare; a lesson does not apply it (its cues are recalled as typed)')
  const steps: ChainStep[] = args.steps.map((st) => ({ phrase: st.phrase, lr: st.lr }))
  const t = lab.target(args.model)
  return runLesson(lab.context(), t, lab.settings(args, t), steps, { ...args, steps }, opts)
}

/** The opening words a lesson is cued with for its recall: the experiment's prompt when the phrase starts with it. */
export function lessonCue(phrase: string, prompt: string): string {
  if (prompt.trim() && phrase.startsWith(prompt)) return prompt
  const w = phrase.split(/\s+/).filter(Boolean)
  return w.slice(0, Math.min(2, Math.max(1, w.length - 1))).join(' ')
}

export function runLesson(
  ctx: ExperimentContext,
  t: Target,
  s: Settings,
  steps: ChainStep[],
  args: unknown,
  opts?: CallOptions,
): Promise<LessonResult> {
  const engine = t.model.engine
  if (!Array.isArray(steps) || steps.length === 0) throw new InputError('a lesson needs at least one step')
  const { promptIds, phraseIds } = checkTexts(engine, s, steps.map((x) => x.phrase))
  const cues = steps.map((x) => lessonCue(x.phrase, s.prompt))
  const cueIds = cues.map((c) => engine.withBos(c, 'cue'))
  const forgetting: LessonRecall[][] = []
  let done = 0
  return conduct(ctx, t, s, {
    kind: 'lesson',
    phrase: steps.map((x) => x.phrase).join(' | '),
    lrs: steps.map((x) => x.lr),
    args,
    extra: { steps },
    runs: steps.map((st, k) => ({
      ...runSpec(t, s, 'lesson', { phrase: st.phrase, lr: st.lr, chain: steps.slice(0, k) }),
      ...(k > 0 ? { after: k - 1 } : {}),
    })),
    // the steps already settled stay done when a later one fails
    pending: (ids) => ids.slice(done),
    work: async ({ ids, opened, settle }) => {
      let view: View = t.base
      for (let k = 0; k < steps.length; k++) {
        const tk = Date.now()
        const at = view
        const step = await stepFrom(t, s, at, steps[k].phrase, steps[k].lr, phraseIds[k], promptIds, opts)
        const { gradient, g, m, gradientMs, generateMs, metricsStart } = step
        view = step.view
        // the forgetting curve: every lesson so far, under the model after step k
        const row: LessonRecall[] = []
        const gens = new Map<string, Generation>()
        gens.set(s.prompt, g)
        for (let j = 0; j <= k; j++) {
          const sc = await engine.score({ ids: phraseIds[j], views: [view] }, opts)
          const loss = sc[0].nll.reduce((a, b) => a + b, 0) / sc[0].nll.length
          let cg = gens.get(cues[j])
          if (!cg) {
            const need = Math.min(s.maxSeq - cueIds[j].length, phraseIds[j].length + 8)
            ;[cg] = await engine.generate({ prompt: cueIds[j], views: [view], maxNew: Math.max(1, need), maxSeq: s.maxSeq }, opts)
            gens.set(cues[j], cg)
          }
          const words = steps[j].phrase.split(/\s+/).filter(Boolean).length
          const text = engine.decode([...cueIds[j].slice(1), ...cg.ids])
          row.push({ lesson: j, phrase: steps[j].phrase, loss, recall: Math.min(words, commonPrefixWords(text, steps[j].phrase)), cue: cues[j] })
        }
        forgetting.push(row)
        const metrics: RunMetrics = {
          ...gradientMetrics(gradient, steps[k].lr),
          ...m,
          forgetting: row,
          timings: { gradientMs, generateMs, metricsMs: Date.now() - metricsStart },
        }
        // the last step completes the group in the same transaction
        const last = k === steps.length - 1
        settle([outcome(ids[k], engine, promptIds, g, metrics, s)], last ? { forgetting } : undefined, tk)
        ctx.remember(ids[k], { gradient, lr: steps[k].lr, modelId: t.model.row.id, at })
        done = k + 1
      }
      return { experiment: getExperiment(ctx.db, opened.experimentId)!, runs: records(ctx.db, ids), forgetting }
    },
  })
}
