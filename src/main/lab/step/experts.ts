// Steps restricted to chosen experts of a mixture of experts ("L:E,…", issue 21 item 8), and ‖∇W‖ per expert. A
// restriction is exact as the group restriction is (restrict.ts): every other factor of the step is zeroed and the
// step re-imported, so base − α·(restricted) changes exactly the chosen experts' matrices, each as the full step
// changes it — the chosen experts alone.
import { Engine, Gradient, InputError } from '../../engine/engine'
import type { StepFactors } from '../../engine/native'
import { ExpertSlot, expertSlots } from '../../engine/experts'
import { lowRankNormSq } from './restrict'

export interface ExpertRef {
  layer: number
  expert: number
}

/** "L:E,L:E" (layer:expert pairs; "L:E1+E2" chooses several experts of one layer) → the pairs, checked against the model. */
export function parseExpertList(s: string, c: { layers: number; experts?: number; layerExperts?: boolean[] }): ExpertRef[] {
  if (!c.experts || !c.layerExperts) throw new InputError('the model is not a mixture of experts: --experts does not apply')
  const out: ExpertRef[] = []
  for (const part of s.split(',').map((p) => p.trim()).filter((p) => p)) {
    const m = /^(\d+):(\d+(?:\+\d+)*)$/.exec(part)
    if (!m) throw new InputError(`--experts: "${part}" is not layer:expert (e.g. 3:17 or 3:17+40)`)
    const layer = Number(m[1])
    if (layer >= c.layers) throw new InputError(`--experts: layer ${layer} — the model has ${c.layers} layers (0–${c.layers - 1})`)
    if (!c.layerExperts[layer]) throw new InputError(`--experts: layer ${layer} has a dense MLP, no experts`)
    for (const e of m[2].split('+').map(Number)) {
      if (e >= c.experts) throw new InputError(`--experts: expert ${e} — the model has ${c.experts} experts per layer (0–${c.experts - 1})`)
      if (!out.some((x) => x.layer === layer && x.expert === e)) out.push({ layer, expert: e })
    }
  }
  if (out.length === 0) throw new InputError('--experts: no layer:expert given')
  return out
}

/** The pairs written back as "L:E,…" (one entry per layer, its experts joined by "+"). */
export function formatExpertList(refs: ExpertRef[]): string {
  const byLayer = new Map<number, number[]>()
  for (const r of refs) byLayer.set(r.layer, [...(byLayer.get(r.layer) ?? []), r.expert])
  return [...byLayer].map(([l, es]) => `${l}:${es.join('+')}`).join(',')
}

/** The step's factors with everything but the chosen experts' gate / up / down zeroed (shapes unchanged). */
export function restrictToExperts(f: StepFactors, slots: ExpertSlot[], chosen: ExpertRef[]): StepFactors {
  const kept = new Set(slots.filter((s) => s.expert >= 0 && chosen.some((c) => c.layer === s.layer && c.expert === s.expert)).map((s) => s.slot))
  const zero = (a: Float32Array): Float32Array => new Float32Array(a.length)
  return {
    ids: f.ids,
    loss: f.loss,
    linears: f.linears.map((lin, slot) => (kept.has(slot) ? lin : { ...lin, G: zero(lin.G) })),
    embRows: f.embRows,
    embGrad: zero(f.embGrad),
    normGrads: f.normGrads.map(zero),
    // (GPT-OSS's experts have biases: a chosen expert's move with it)
    biasGrads: f.biasGrads?.map((b, slot) => (kept.has(slot) ? b : zero(b))),
  }
}

/** The gradient restricted to the chosen experts (no recomputation). */
export function restrictGradientToExperts(engine: Engine, g: Gradient, chosen: ExpertRef[], factors?: StepFactors): Gradient {
  const f = restrictToExperts(factors ?? g.factors(), expertSlots(engine.config), chosen)
  return engine.importGradient(f, g.phrase, g.at)
}

/** ‖∇W‖_F per MoE layer × expert (gate, up and down together) and of each layer's router, from the step's factors. */
export function expertGradNorms(f: StepFactors, slots: ExpertSlot[], layers: number[], experts: number): { experts: number[][]; router: number[] } {
  const sq = (slot: number): number => {
    const x = f.linears[slot]
    return x.T === 0 ? 0 : lowRankNormSq(x.T, x.X, x.in, x.G, x.out)
  }
  const out = layers.map(() => new Array<number>(experts).fill(0))
  const router = layers.map(() => 0)
  for (const s of slots) {
    const i = layers.indexOf(s.layer)
    if (s.expert < 0) router[i] = Math.sqrt(sq(s.slot))
    else out[i][s.expert] += sq(s.slot)
  }
  return { experts: out.map((row) => row.map(Math.sqrt)), router }
}
