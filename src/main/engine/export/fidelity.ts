// Export fidelity: how much of a checkpoint an export keeps, measured on the written model itself (re-opened from
// disk) against the checkpoint's view in the lab: KL(checkpoint ‖ export) of the next-token distributions over the
// probes, the phrase loss of both (and of the plain model, so the step's size is known), and greedy agreement on the
// prompt. Rounding to a small dtype can erase a small step (a BF16 weight moves only by whole BF16 steps): the export
// keeps the step when its phrase-loss change is at least STEP_KEPT_MIN of the checkpoint's.
import type { CallOptions, Engine, View } from '../engine'

/** The share of the checkpoint's phrase-loss change an export must keep. */
export const STEP_KEPT_MIN = 0.9
/** Tokens of each probe compared (KL needs full distributions: T × vocab floats per model). */
export const FIDELITY_PROBE_TOKENS = 64
/** Greedy tokens compared after the prompt. */
export const FIDELITY_GREEDY_TOKENS = 16

export interface ExportFidelity {
  /** KL(checkpoint ‖ export) of the next-token distributions, mean over every position of every probe, and max */
  klMean: number
  klMax: number
  perProbe: Record<string, number>
  /** mean next-token CE of BOS + phrase: the plain model (no step), the checkpoint, the export (null: no phrase) */
  phraseLoss: { base: number; checkpoint: number; export: number } | null
  /** (base − export) / (base − checkpoint) of the phrase loss: 1 = the step fully kept (null: no step) */
  stepKept: number | null
  /** share of FIDELITY_GREEDY_TOKENS greedy tokens after the prompt that the export generates as the checkpoint does */
  greedyAgreement: number
  /** the export keeps the step (stepKept ≥ STEP_KEPT_MIN); null: nothing to keep (no step) */
  keepsStep: boolean | null
}

export interface FidelityTexts {
  probes: Record<string, string>
  /** the checkpoint's (last) phrase; null: the model as it is */
  phrase: string | null
  prompt: string
}

function logSoftmax(logits: Float32Array): Float64Array {
  let m = -Infinity
  for (const x of logits) if (x > m) m = x
  let s = 0
  for (const x of logits) s += Math.exp(x - m)
  const lse = m + Math.log(s)
  const out = new Float64Array(logits.length)
  for (let i = 0; i < logits.length; i++) out[i] = logits[i] - lse
  return out
}

/** KL(p ‖ q) from logits, in float64. */
function klFromLogits(p: Float32Array, q: Float32Array): number {
  const lp = logSoftmax(p)
  const lq = logSoftmax(q)
  let kl = 0
  for (let i = 0; i < lp.length; i++) kl += Math.exp(lp[i]) * (lp[i] - lq[i])
  return Math.max(0, kl)
}

function meanNll(rows: { nll: number[] }): number {
  return rows.nll.reduce((a, b) => a + b, 0) / rows.nll.length
}

/**
 * Measures `exported` (a model opened from the written files, at its plain view) against the checkpoint (`engine`
 * under `view`; `engine` at the empty view is the plain model). The two must share the tokenizer (an export does).
 */
export async function measureFidelity(
  engine: Engine,
  view: View,
  exported: { engine: Engine; view: View },
  t: FidelityTexts,
  opts?: CallOptions,
): Promise<ExportFidelity> {
  const perProbe: Record<string, number> = {}
  let sum = 0
  let count = 0
  let max = 0
  const maxLen = Math.min(FIDELITY_PROBE_TOKENS, engine.config.maxPos, exported.engine.config.maxPos)
  for (const [name, text] of Object.entries(t.probes)) {
    if (typeof text !== 'string' || !text.trim()) continue
    const ids = engine.withBos(text, `probe "${name}"`).slice(0, maxLen)
    if (ids.length < 2) continue
    const at = ids.map((_, i) => i)
    const [a] = await engine.score({ ids, views: [view], fullAt: at }, opts)
    const [b] = await exported.engine.score({ ids, views: [exported.view], fullAt: at }, opts)
    let s = 0
    for (let i = 0; i < at.length; i++) {
      const kl = klFromLogits(a.full[i], b.full[i])
      s += kl
      max = Math.max(max, kl)
    }
    perProbe[name] = s / at.length
    sum += s
    count += at.length
  }
  let phraseLoss: ExportFidelity['phraseLoss'] = null
  let stepKept: number | null = null
  if (t.phrase) {
    const ids = engine.withBos(t.phrase, 'phrase').slice(0, Math.min(engine.config.maxPos, exported.engine.config.maxPos))
    if (ids.length >= 2) {
      const [base, ckpt] = await engine.score({ ids, views: [[], view] }, opts)
      const [exp] = await exported.engine.score({ ids, views: [exported.view] }, opts)
      phraseLoss = { base: meanNll(base), checkpoint: meanNll(ckpt), export: meanNll(exp) }
      const step = phraseLoss.base - phraseLoss.checkpoint
      if (view.length > 0 && step !== 0) stepKept = (phraseLoss.base - phraseLoss.export) / step
    }
  }
  const prompt = engine.withBos(t.prompt, 'prompt')
  const maxNew = Math.max(0, Math.min(FIDELITY_GREEDY_TOKENS, engine.config.maxPos - prompt.length, exported.engine.config.maxPos - prompt.length))
  let greedyAgreement = 1
  if (maxNew > 0) {
    const [ga] = await engine.generate({ prompt, views: [view], maxNew }, opts)
    const [gb] = await exported.engine.generate({ prompt, views: [exported.view], maxNew }, opts)
    const n = Math.max(ga.ids.length, gb.ids.length)
    let same = 0
    for (let i = 0; i < n; i++) if (ga.ids[i] !== undefined && ga.ids[i] === gb.ids[i]) same++
    greedyAgreement = n ? same / n : 1
  }
  return {
    klMean: count ? sum / count : 0,
    klMax: max,
    perProbe,
    phraseLoss,
    stepKept,
    greedyAgreement,
    keepsStep: stepKept === null ? null : stepKept >= STEP_KEPT_MIN,
  }
}

/** The fidelity in words: what a researcher reads under the export (and the warning when the step is lost). */
export function fidelityWords(f: ExportFidelity, dtype: string): string {
  const kl = `KL(checkpoint ‖ export) ${f.klMean.toExponential(2)} nats (max ${f.klMax.toExponential(2)})`
  const greedy = `greedy agreement ${(100 * f.greedyAgreement).toFixed(0)} %`
  if (!f.phraseLoss) return `${kl}; ${greedy}`
  const pl = `phrase loss ${f.phraseLoss.checkpoint.toFixed(6)} (checkpoint) vs ${f.phraseLoss.export.toFixed(6)} (export, ${dtype})`
  const kept = f.stepKept === null ? '' : `; the export keeps ${(100 * f.stepKept).toFixed(1)} % of the step's phrase-loss change`
  return `${pl}${kept}; ${kl}; ${greedy}`
}

/** The warning when rounding to `dtype` loses more than (1 − STEP_KEPT_MIN) of the step, else null. */
export function stepLostWarning(f: ExportFidelity, dtype: string): string | null {
  if (f.keepsStep !== false || !f.phraseLoss || f.stepKept === null) return null
  return (
    `rounding to ${dtype} loses the step: the export keeps ${(100 * f.stepKept).toFixed(1)} % of its phrase-loss change ` +
    `(phrase loss ${f.phraseLoss.base.toFixed(6)} before the step, ${f.phraseLoss.checkpoint.toFixed(6)} after it, ` +
    `${f.phraseLoss.export.toFixed(6)} exported; under ${(100 * STEP_KEPT_MIN).toFixed(0)} % counts as lost)`
  )
}
