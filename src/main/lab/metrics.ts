// Plasticity, stability and fluency of a stepped model (docs/design.md, "Metrics"). Pure text metrics are plain
// functions; the model metrics score texts under many views in one engine call (view 0 is the model the experiment
// started from, so KL(view 0 ‖ view n) is the drift the step caused).
import { CallOptions, Engine, Gradient, View } from '../engine/engine'
import { commonPrefixWords } from '../../shared/seedTable'
import type { RunMetrics } from '../../shared/api'

/** Tokens (BOS included) of the reference text scored for its log-prob — reference.json's soliloquy_loss uses 96. */
export const REFERENCE_TOKENS = 96

function words(text: string): string[] {
  return text.split(/\s+/).filter(Boolean)
}

/** Words of the reference reproduced exactly, in order, by prompt + completion (docs/design.md, "Metrics": recall). */
export function recall(fullText: string, reference: string | null | undefined): number | undefined {
  if (!reference) return undefined
  return commonPrefixWords(fullText, reference)
}

/** Distinct word bigrams / word bigrams of a generation (1 = no bigram repeats; "or or or …" → ~0). */
export function distinct2(text: string): number {
  const w = words(text)
  if (w.length < 2) return 1
  const seen = new Set<string>()
  for (let i = 0; i + 1 < w.length; i++) seen.add(`${w[i]}\u0000${w[i + 1]}`)
  return seen.size / (w.length - 1)
}

/**
 * Longest stretch of words made of one n-gram repeated back to back (n ≤ 8, at least two copies), in words;
 * 0 when nothing repeats. "or or or or" → 4; "To be, or not to be" → 0.
 */
export function longestRepeat(text: string, maxN = 8): number {
  const w = words(text)
  let best = 0
  for (let n = 1; n <= maxN; n++) {
    for (let start = 0; start + 2 * n <= w.length; start++) {
      let copies = 1
      while (start + (copies + 1) * n <= w.length) {
        let same = true
        for (let k = 0; k < n && same; k++) same = w[start + k] === w[start + copies * n + k]
        if (!same) break
        copies++
      }
      if (copies >= 2) best = Math.max(best, copies * n)
    }
  }
  return best
}

/** Layer of an HF tensor name: "embed", "layer.N" or "head" (final norm and lm_head). */
export function layerOf(tensor: string): string {
  if (tensor === 'model.embed_tokens.weight') return 'embed'
  const m = /^model\.layers\.(\d+)\./.exec(tensor)
  if (m) return `layer.${m[1]}`
  return 'head'
}

/** ‖α∇W‖_F per layer: √(Σ over the layer's tensors of ‖∇W‖²) × |α| (norms come from the factors; docs/design.md, "Metrics"). */
export function layerUpdateNorms(gradNorms: Record<string, number>, lr: number): Record<string, number> {
  const sq: Record<string, number> = {}
  for (const [name, n] of Object.entries(gradNorms)) {
    const l = layerOf(name)
    sq[l] = (sq[l] ?? 0) + n * n
  }
  const out: Record<string, number> = {}
  for (const [l, s] of Object.entries(sq)) out[l] = Math.sqrt(s) * Math.abs(lr)
  return out
}

export function textMetrics(completion: string, fullText: string, reference: string | null | undefined): RunMetrics {
  const m: RunMetrics = { distinct2: distinct2(completion), longestRepeat: longestRepeat(completion) }
  const r = recall(fullText, reference)
  if (r !== undefined) m.recall = r
  return m
}

export function gradientMetrics(g: Gradient, lr: number): RunMetrics {
  const norms = g.gradNorms()
  return { phraseLossBefore: g.loss, gradNorms: norms, layerUpdateNorms: layerUpdateNorms(norms, lr) }
}

export interface ModelMetricsArgs {
  /** the model the experiment started from (KL reference, perplexity baseline) */
  base: View
  /** the models to measure */
  views: View[]
  /** BOS + phrase: its mean CE under each view is phraseLossAfter */
  phraseIds?: number[]
  reference?: string | null
  probes?: Record<string, string>
}

function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN
}

/**
 * Model metrics of every view, scored against `base`:
 * - phraseLossAfter: mean next-token CE over BOS + phrase;
 * - referenceLogprob / referenceLoss: over the first REFERENCE_TOKENS of BOS + reference;
 * - probeKl: per probe, KL(base ‖ view) of next-token distributions averaged over all T positions of BOS + probe
 *   (the convention of reference.json's probe_kl_from_base, reproduced to ~1e-5); stabilityKl is the mean over probes;
 * - probePerplexity: exp(mean CE) per probe before/after; probePerplexityDelta: mean over probes of after − before.
 */
export async function modelMetrics(engine: Engine, a: ModelMetricsArgs, opts?: CallOptions): Promise<RunMetrics[]> {
  const out: RunMetrics[] = a.views.map(() => ({}))
  const views = [a.base, ...a.views]
  const maxLen = Math.min(engine.config.maxPos, 512)
  if (a.phraseIds && a.phraseIds.length >= 2) {
    // losses need no reference view: score only the views measured
    const rows = await engine.score({ ids: a.phraseIds, views: a.views }, opts)
    a.views.forEach((_, i) => (out[i].phraseLossAfter = mean(rows[i].nll)))
  }
  if (a.reference) {
    const ids = engine.withBos(a.reference, 'reference text').slice(0, REFERENCE_TOKENS)
    if (ids.length >= 2) {
      const rows = await engine.score({ ids, views: a.views }, opts)
      a.views.forEach((_, i) => {
        const nll = rows[i].nll
        out[i].referenceLogprob = -nll.reduce((s, x) => s + x, 0)
        out[i].referenceLoss = mean(nll)
      })
    }
  }
  const probes = Object.entries(a.probes ?? {}).filter(([, t]) => typeof t === 'string' && t.trim().length > 0)
  if (probes.length) {
    a.views.forEach((_, i) => {
      out[i].probeKl = {}
      out[i].probePerplexity = {}
    })
    for (const [name, text] of probes) {
      const ids = engine.withBos(text, `probe "${name}"`).slice(0, maxLen)
      if (ids.length < 2) continue
      const rows = await engine.score({ ids, views }, opts)
      const basePpl = Math.exp(mean(rows[0].nll))
      a.views.forEach((_, i) => {
        out[i].probeKl![name] = mean(rows[i + 1].kl)
        out[i].probePerplexity![name] = { base: basePpl, stepped: Math.exp(mean(rows[i + 1].nll)) }
      })
    }
    for (const m of out) {
      m.stabilityKl = mean(Object.values(m.probeKl!))
      m.probePerplexityDelta = mean(Object.values(m.probePerplexity!).map((p) => p.stepped - p.base))
    }
  }
  return out
}
