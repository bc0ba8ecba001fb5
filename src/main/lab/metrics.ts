// Plasticity, stability and fluency of a stepped model (docs/design.md, "Metrics"). Pure text metrics are plain
// functions; the model metrics score texts under many views in one engine call (view 0 is the model the experiment
// started from, so KL(view 0 ‖ view n) is the drift the step caused).
import { deflateRawSync } from 'node:zlib'
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

/**
 * Recall's denominator: words of the reference a run could reproduce at all — the words of the first
 * promptTokens + maxGen tokens of the reference (a word cut by the token limit does not count), capped by the
 * reference's words. Recall out of this, not out of the whole reference, does not silently depend on max tokens.
 */
export function reachableWords(engine: Engine, reference: string, promptTokens: number, maxGen: number): number {
  const ids = engine.tokenize(reference)
  const n = Math.max(0, Math.min(ids.length, promptTokens + maxGen))
  const w = words(engine.decode(ids.slice(0, n))).length
  if (n >= ids.length) return w
  // the last word is whole only if the next token starts a new word
  const next = words(engine.decode(ids.slice(0, n + 1))).length
  return next > w ? w : Math.max(0, w - 1)
}

/**
 * Token-level repetition: for n-grams of token ids, the share of the completion's n-grams that already occurred
 * earlier in it. 0 when nothing repeats; a rant ("bealalalal…", "or or or") → near 1. Keys "1".."maxN"; a completion
 * shorter than n has no n-grams and scores 0 for that n.
 */
/** The n of `repetition` (the run metric, and the plasticity window's break criterion). */
export const REPETITION_N = 4

export function repetitionByN(ids: readonly number[], maxN = REPETITION_N): Record<string, number> {
  const out: Record<string, number> = {}
  for (let n = 1; n <= maxN; n++) {
    const total = ids.length - n + 1
    if (total <= 0) {
      out[String(n)] = 0
      continue
    }
    const seen = new Set<string>()
    let repeated = 0
    for (let i = 0; i < total; i++) {
      const key = ids.slice(i, i + n).join(',')
      if (seen.has(key)) repeated++
      else seen.add(key)
    }
    out[String(n)] = repeated / total
  }
  return out
}

/** Raw bytes / raw-deflate bytes of the text's UTF-8 (ranting compresses well → high); 1 for an empty text. */
export function compressionRatio(text: string): number {
  const raw = Buffer.from(text, 'utf8')
  if (raw.length === 0) return 1
  return raw.length / deflateRawSync(raw, { level: 9 }).length
}

/** Distinct word bigrams / word bigrams (old rows' "fluency"; kept for reading them, no longer computed). */
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

/**
 * Metrics of the generated text. `shownText`: prompt + completion without any engineered prefix (recall counts only
 * what follows the prefix — one definition for every run). `reachable`: recall's denominator (reachableWords).
 */
export function textMetrics(
  completionIds: readonly number[],
  completion: string,
  shownText: string,
  reference: string | null | undefined,
  reachable?: number,
): RunMetrics {
  const byN = repetitionByN(completionIds)
  const m: RunMetrics = {
    repetition: byN[String(REPETITION_N)],
    repetitionByN: byN,
    compressionRatio: compressionRatio(completion),
    longestRepeat: longestRepeat(completion),
  }
  const r = recall(shownText, reference)
  if (r !== undefined) {
    m.recall = r
    if (reachable !== undefined) {
      m.recallOf = reachable
      m.recallShare = reachable > 0 ? Math.min(1, r / reachable) : 0
    }
  }
  return m
}

/**
 * Words of `phrase` reproduced, as a share of its words: the longest run of the phrase's opening words found, word
 * for word, starting at any word of `text` (a paraphrased prompt may carry the phrase's start anywhere in it).
 */
export function phraseRecallShare(text: string, phrase: string): number {
  const t = words(text).map(normWord)
  const p = words(phrase).map(normWord)
  if (!p.length) return 0
  let best = 0
  for (let i = 0; i < t.length; i++) {
    let k = 0
    while (k < p.length && i + k < t.length && t[i + k] === p[k]) k++
    best = Math.max(best, k)
  }
  return best / p.length
}

function normWord(w: string): string {
  return w.toLowerCase().replace(/[^\p{L}\p{N}']/gu, '')
}

/** Tokens of each probe's opening generated greedily for locality (EasyEdit: the unrelated prompts' outputs). */
export const LOCALITY_PROMPT_TOKENS = 8
export const LOCALITY_GEN_TOKENS = 16
export const GENERALISATION_EXTRA_TOKENS = 8

/**
 * Generalisation and locality as EasyEdit defines them, for every view against `base`:
 * - generalisation: for each paraphrased prompt, greedy completion under the view (phrase tokens + 8 new tokens);
 *   the share of the phrase's words reproduced (phraseRecallShare of prompt + completion); mean over prompts;
 * - locality: for each probe, its first LOCALITY_PROMPT_TOKENS tokens as a prompt, LOCALITY_GEN_TOKENS greedy tokens
 *   under the base and under the view; the share of positions where the view's token equals the base's; mean over
 *   probes (1 = the step left unrelated prompts untouched).
 */
export async function editMetrics(
  engine: Engine,
  a: { base: View; views: View[]; phrase: string | null; paraphrases: string[]; probes: Record<string, string>; maxSeq: number },
  opts?: CallOptions,
): Promise<RunMetrics[]> {
  const out: RunMetrics[] = a.views.map(() => ({}))
  if (a.phrase && a.paraphrases.length) {
    const need = engine.tokenize(a.phrase).length + GENERALISATION_EXTRA_TOKENS
    a.views.forEach((_, i) => (out[i].generalisationBy = {}))
    for (const p of a.paraphrases) {
      const ids = engine.withBos(p, 'paraphrased prompt')
      const maxNew = Math.min(need, a.maxSeq - ids.length)
      if (maxNew < 1) continue
      const gens = await engine.generate({ prompt: ids, views: a.views, maxNew, maxSeq: a.maxSeq }, opts)
      gens.forEach((g, i) => (out[i].generalisationBy![p] = phraseRecallShare(`${p} ${g.text}`, a.phrase!)))
    }
    for (const m of out) {
      const v = Object.values(m.generalisationBy!)
      if (v.length) m.generalisation = v.reduce((x, y) => x + y, 0) / v.length
    }
  }
  const probes = Object.entries(a.probes).filter(([, t]) => typeof t === 'string' && t.trim().length > 0)
  if (probes.length) {
    a.views.forEach((_, i) => (out[i].localityBy = {}))
    for (const [name, text] of probes) {
      const ids = engine.withBos(text, `probe "${name}"`).slice(0, LOCALITY_PROMPT_TOKENS + 1)
      const maxNew = Math.min(LOCALITY_GEN_TOKENS, a.maxSeq - ids.length)
      if (maxNew < 1) continue
      const gens = await engine.generate({ prompt: ids, views: [a.base, ...a.views], maxNew, maxSeq: a.maxSeq }, opts)
      const ref = gens[0].ids
      a.views.forEach((_, i) => {
        const got = gens[i + 1].ids
        const n = Math.max(ref.length, got.length)
        let same = 0
        for (let k = 0; k < n; k++) if (ref[k] !== undefined && ref[k] === got[k]) same++
        out[i].localityBy![name] = n ? same / n : 1
      })
    }
    for (const m of out) {
      const v = Object.values(m.localityBy!)
      if (v.length) m.locality = v.reduce((x, y) => x + y, 0) / v.length
    }
  }
  return out
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
