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

/** Tokens of each probe's opening used as the locality prompt, and of the base's greedy continuation after it. */
export const LOCALITY_PROMPT_TOKENS = 8
export const LOCALITY_GEN_TOKENS = 16
/** New tokens of the free-running paraphrase recall beyond the phrase's own length. */
export const GENERALISATION_EXTRA_TOKENS = 8

/**
 * What the paraphrased prompt `p` should be continued with: the phrase's text after the longest run of its opening
 * words that ends `p` (word for word, case and punctuation aside) — "To" → " be, or not to be, …", "Hamlet said, To be"
 * → ", or not to be, …" — or, when `p` ends with none of them, " " + the whole phrase.
 */
export function paraphraseTarget(p: string, phrase: string): string {
  const pw = words(p).map(normWord)
  const raw = [...phrase.matchAll(/\S+/g)]
  const fw = raw.map((m) => normWord(m[0]))
  for (let k = Math.min(pw.length, fw.length - 1); k > 0; k--) {
    let same = true
    for (let j = 0; j < k && same; j++) same = pw[pw.length - k + j] === fw[j]
    if (same) {
      // the rest of the phrase after its k-th word, keeping that word's trailing punctuation out of the way
      const m = raw[k - 1]
      const tail = phrase.slice(m.index! + m[0].length)
      const lead = /^[^\p{L}\p{N}\s]+/u.exec(m[0].slice(normWordEnd(m[0])))?.[0] ?? ''
      return lead + tail
    }
  }
  return ' ' + phrase.trim()
}

/** Index just past the last letter/digit of a word ("be," → 2). */
function normWordEnd(w: string): number {
  let e = w.length
  while (e > 0 && !/[\p{L}\p{N}']/u.test(w[e - 1])) e--
  return e
}

/** Positions t (predicting ids[t+1]) of a scored sequence whose next token is part of the continuation from `from`. */
function continuationPositions(from: number, length: number): number[] {
  const out: number[] = []
  for (let t = Math.max(0, from - 1); t < length - 1; t++) out.push(t)
  return out
}

function meanOf(m: Record<string, number>): number | undefined {
  const v = Object.values(m)
  return v.length ? v.reduce((x, y) => x + y, 0) / v.length : undefined
}

/**
 * Generalisation and locality as EasyEdit defines them (teacher-forced), for every view against `base`, with the
 * free-running measures kept beside them under their own names:
 * - generalisation (EasyEdit's rephrase accuracy): for each paraphrased prompt p, BOS + p + paraphraseTarget(p) is
 *   scored under the view; the share of the target's tokens the view predicts as its top-1 next token, position by
 *   position, given the true tokens before it; mean over paraphrases (generalisationBy);
 * - paraphraseRecall (free-running): greedy completion (phrase tokens + 8) after p; the share of the phrase's words
 *   reproduced (phraseRecallShare of p + completion); mean over paraphrases (paraphraseRecallBy);
 * - locality (EasyEdit's locality): each probe's first LOCALITY_PROMPT_TOKENS tokens, continued greedily by the base
 *   for LOCALITY_GEN_TOKENS tokens; that sequence is scored under the base and the view, and locality is the share of
 *   the continuation's positions where the view's top-1 next token equals the base's (the base's own continuation is
 *   fed to both, so one changed token does not change every later position); mean over probes (localityBy);
 *   localityKl: KL(base ‖ view) averaged over the same positions, mean over probes (localityKlBy);
 * - continuationUnchanged (free-running): the view's own greedy continuation of the same opening compared position by
 *   position with the base's (a flip at a near-tie changes everything after it); continuationUnchangedBy per probe;
 *   baseMinMargin: the smallest top-1 − top-2 logit margin of the base's continuations (baseMarginBy per probe), the
 *   near-tie that makes the free-running measure fragile.
 * What cannot be measured is said in `unmeasured` (metric → why).
 */
export async function editMetrics(
  engine: Engine,
  a: { base: View; views: View[]; phrase: string | null; paraphrases: string[]; probes: Record<string, string>; maxSeq: number },
  opts?: CallOptions,
): Promise<RunMetrics[]> {
  const out: RunMetrics[] = a.views.map(() => ({}))
  const why: Record<string, string> = {}
  const maxLen = Math.min(a.maxSeq, engine.config.maxPos)
  if (!a.phrase) why.generalisation = 'no phrase was learnt (generalisation measures the phrase after paraphrased prompts)'
  else if (!a.paraphrases.length) why.generalisation = 'the model has no paraphrased prompts (set some with soliloquy texts set, or in Models → texts)'
  if (a.phrase && a.paraphrases.length) {
    const need = engine.tokenize(a.phrase).length + GENERALISATION_EXTRA_TOKENS
    a.views.forEach((_, i) => {
      out[i].generalisationBy = {}
      out[i].paraphraseRecallBy = {}
    })
    for (const p of a.paraphrases) {
      const ids = engine.withBos(p, 'paraphrased prompt')
      // teacher-forced: the target's tokens after the paraphrase, each predicted from the true ones before it
      const all = engine.withBos(p + paraphraseTarget(p, a.phrase), 'paraphrased prompt + phrase').slice(0, maxLen)
      let from = 0
      while (from < ids.length && from < all.length && all[from] === ids[from]) from++
      const at = continuationPositions(from, all.length)
      if (at.length) {
        const rows = await engine.score({ ids: all, views: a.views }, opts)
        a.views.forEach((_, i) => {
          out[i].generalisationBy![p] = at.filter((t) => rows[i].argmax[t] === all[t + 1]).length / at.length
        })
      }
      const maxNew = Math.min(need, a.maxSeq - ids.length)
      if (maxNew < 1) continue
      const gens = await engine.generate({ prompt: ids, views: a.views, maxNew, maxSeq: a.maxSeq }, opts)
      gens.forEach((g, i) => (out[i].paraphraseRecallBy![p] = phraseRecallShare(`${p} ${g.text}`, a.phrase!)))
    }
    for (const m of out) {
      m.generalisation = meanOf(m.generalisationBy!)
      m.paraphraseRecall = meanOf(m.paraphraseRecallBy!)
      if (m.generalisation === undefined) delete m.generalisation
      if (m.paraphraseRecall === undefined) delete m.paraphraseRecall
    }
    if (out[0] && out[0].generalisation === undefined)
      why.generalisation = `no paraphrased prompt leaves room for the phrase within max_seq_len ${maxLen}`
  }
  const probes = Object.entries(a.probes).filter(([, t]) => typeof t === 'string' && t.trim().length > 0)
  if (!probes.length) why.locality = 'the model has no probe texts (set some with soliloquy texts set, or in Models → texts)'
  else {
    a.views.forEach((_, i) => {
      out[i].localityBy = {}
      out[i].localityKlBy = {}
      out[i].continuationUnchangedBy = {}
      out[i].baseMarginBy = {}
    })
    for (const [name, text] of probes) {
      const ids = engine.withBos(text, `probe "${name}"`).slice(0, LOCALITY_PROMPT_TOKENS + 1)
      const maxNew = Math.min(LOCALITY_GEN_TOKENS, maxLen - ids.length)
      if (maxNew < 1) continue
      const gens = await engine.generate({ prompt: ids, views: [a.base, ...a.views], maxNew, maxSeq: a.maxSeq }, opts)
      const ref = gens[0].ids
      const margin = gens[0].margins.length ? Math.min(...gens[0].margins) : undefined
      // teacher-forced on the base's own continuation
      const seq = [...ids, ...ref]
      const at = continuationPositions(ids.length, seq.length)
      const rows = at.length ? await engine.score({ ids: seq, views: [a.base, ...a.views] }, opts) : []
      a.views.forEach((_, i) => {
        if (at.length) {
          const r = rows[i + 1]
          out[i].localityBy![name] = at.filter((t) => r.argmax[t] === rows[0].argmax[t]).length / at.length
          out[i].localityKlBy![name] = at.reduce((s, t) => s + r.kl[t], 0) / at.length
        }
        const got = gens[i + 1].ids
        const n = Math.max(ref.length, got.length)
        let same = 0
        for (let k = 0; k < n; k++) if (ref[k] !== undefined && ref[k] === got[k]) same++
        out[i].continuationUnchangedBy![name] = n ? same / n : 1
        if (margin !== undefined) out[i].baseMarginBy![name] = margin
      })
    }
    for (const m of out) {
      const l = meanOf(m.localityBy!)
      if (l !== undefined) {
        m.locality = l
        m.localityKl = meanOf(m.localityKlBy!)
      }
      const c = meanOf(m.continuationUnchangedBy!)
      if (c !== undefined) m.continuationUnchanged = c
      const margins = Object.values(m.baseMarginBy!)
      if (margins.length) m.baseMinMargin = Math.min(...margins)
    }
    if (out[0] && out[0].locality === undefined) why.locality = `no probe leaves room for a continuation within max_seq_len ${maxLen}`
  }
  if (Object.keys(why).length) for (const m of out) m.unmeasured = { ...why }
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
    const ids = engine.withBos(a.reference, 'reference text').slice(0, Math.min(REFERENCE_TOKENS, maxLen))
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
