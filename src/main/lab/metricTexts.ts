// Which texts a run's metrics were measured against, and why a metric is missing, in words (docs/design.md, "Metrics").
// A model without texts of its own is measured against the shipped defaults (engine/preset.ts); every metric then
// carries where its text came from, so a researcher reading "recall 45 (default reference)" knows what was compared.
import type { ModelTexts, RunMetrics } from '../../shared/api'

/** The origins of the texts a request uses: the model's texts' origins, 'request' where the request gave its own. */
export function textOrigins(from: ModelTexts['from'], a: { reference?: string | null; probes?: Record<string, string> }): NonNullable<RunMetrics['texts']> {
  return {
    reference: a.reference === undefined ? from.reference : 'request',
    probes: a.probes === undefined ? from.probes : 'request',
    paraphrases: from.paraphrases,
  }
}

const HOW = 'set them with `soliloquy texts set` or in Models → texts'

/**
 * The run's texts' origins and, for each of recall, KL, locality and generalisation that is not in `m`, why (merged
 * with the reasons the measuring code gave).
 */
export function textsNote(
  s: { reference: string | null; probes: Record<string, string>; paraphrases: string[]; texts?: RunMetrics['texts'] },
  m: RunMetrics,
): Pick<RunMetrics, 'texts' | 'unmeasured'> {
  const why: Record<string, string> = { ...(m.unmeasured ?? {}) }
  const probes = Object.values(s.probes).some((t) => typeof t === 'string' && t.trim().length > 0)
  if (m.recall === undefined && !why.recall)
    why.recall = s.reference ? 'the reference text could not be compared' : `no reference text for this model (${HOW})`
  if (m.stabilityKl === undefined && !why.stabilityKl)
    why.stabilityKl = probes ? 'no step: KL compares a stepped model with the model it started from' : `no probe texts for this model (${HOW})`
  if (m.locality === undefined && !why.locality)
    why.locality = probes ? 'no step: locality compares a stepped model with the model it started from' : `no probe texts for this model (${HOW})`
  if (m.generalisation === undefined && !why.generalisation)
    why.generalisation = s.paraphrases.length ? 'no phrase was learnt: generalisation measures the phrase after paraphrased prompts' : `no paraphrased prompts for this model (${HOW})`
  const out: Pick<RunMetrics, 'texts' | 'unmeasured'> = {}
  if (s.texts) out.texts = s.texts
  if (Object.keys(why).length) out.unmeasured = why
  return out
}

/** `m` with its texts' origins and the reasons for what it lacks. */
export function withTextsNote(s: Parameters<typeof textsNote>[0], m: RunMetrics): RunMetrics {
  return { ...m, ...textsNote(s, m) }
}

/** The label shown next to a metric measured against a default text ('' when the model's own). */
export function defaultLabel(texts: RunMetrics['texts'], which: 'reference' | 'probes' | 'paraphrases'): string {
  return texts?.[which] === 'default' ? `default ${which === 'reference' ? 'reference' : which}` : ''
}
