// What to show beside a metric: "default reference" (or probes, paraphrases) when it was measured against the shipped
// texts because the model has none of its own, and the reason in words when it was not measured — so a view never
// shows a bare "—" (docs/design.md, "Metrics"). Used by the renderer's tables and the run detail.
import type { RunMetrics } from './contract/records'

/** The text each metric is measured against. */
export const METRIC_TEXT: Record<string, 'reference' | 'probes' | 'paraphrases'> = {
  recall: 'reference',
  recallOf: 'reference',
  recallShare: 'reference',
  referenceLogprob: 'reference',
  referenceLoss: 'reference',
  stabilityKl: 'probes',
  probePerplexityDelta: 'probes',
  locality: 'probes',
  localityKl: 'probes',
  continuationUnchanged: 'probes',
  baseMinMargin: 'probes',
  generalisation: 'paraphrases',
  paraphraseRecall: 'paraphrases',
}

/** The key of `unmeasured` that explains a missing metric. */
const REASON_KEY: Record<string, string> = {
  recall: 'recall',
  recallOf: 'recall',
  recallShare: 'recall',
  referenceLogprob: 'recall',
  referenceLoss: 'recall',
  stabilityKl: 'stabilityKl',
  probePerplexityDelta: 'stabilityKl',
  locality: 'locality',
  localityKl: 'locality',
  continuationUnchanged: 'locality',
  generalisation: 'generalisation',
  paraphraseRecall: 'generalisation',
}

/** "default reference" / "default probes" / "default paraphrases" when `key` used a shipped default text, else ''. */
export function defaultTextLabel(m: RunMetrics, key: string): string {
  const which = METRIC_TEXT[key]
  return which && m.texts?.[which] === 'default' ? `default ${which}` : ''
}

/** Why `key` was not measured, in words (undefined when it was, or nothing was said). */
export function unmeasuredReason(m: RunMetrics, key: string): string | undefined {
  const k = REASON_KEY[key] ?? key
  return m.unmeasured?.[k]
}
