// The knowledge areas of a mixture of experts (issue 21, item 8): on a text, which experts each token is routed to in
// each MoE layer and the routing mass per layer × expert, before the step and after it at each α; ‖α∇W‖ per expert
// (its gate, up and down matrices together); and steps restricted to chosen experts ("L:E,…"). A restriction is
// exact as the group restriction is (groups.ts): every other factor of the step is zeroed and the step re-imported,
// so base − α·(restricted) changes exactly the chosen experts' matrices, each as the full step changes it — the
// chosen experts alone, to test whether they recall the passage.
import { CallOptions, Engine, Gradient, InputError, View } from '../engine/engine'
import type { StepFactors } from '../engine/native'
import { ExpertSlot, expertSlots, Routing } from '../engine/experts'
import { lowRankNormSq } from './step/restrict'

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

export interface ExpertsAnalysis {
  layers: number[]
  experts: number
  expertsPerToken: number
  /** the routed text's tokens (BOS first) */
  tokens: string[]
  /** per α (0 = the base, first): the routing on the text */
  views: ({ lr: number } & Routing)[]
  /** ‖∇W‖ per MoE layer × expert at α = 1 (× α for a step of size α) and of each router */
  gradNorm: number[][]
  routerGradNorm: number[]
  /** with chosen experts: the same α's routing under the step restricted to them */
  restricted?: { experts: ExpertRef[]; views: ({ lr: number } & Routing)[] }
}

/**
 * The routing of `text` under the base and under base − α·∇(phrase) for each α, ‖∇W‖ per expert, and, with `chosen`,
 * the routing under the step restricted to those experts.
 */
export async function analyseExperts(
  engine: Engine,
  a: { base: View; phrase: string; text: string; lrs: number[]; chosen?: ExpertRef[] },
  opts?: CallOptions,
): Promise<ExpertsAnalysis> {
  const c = engine.config
  if (!c.experts) throw new InputError(`the model is not a mixture of experts (model_type ${c.family}): it has no experts to show`)
  const g = await engine.gradient(a.phrase, a.base, opts)
  const f = g.factors()
  const slots = expertSlots(c)
  const ids = engine.withBos(a.text, 'text')
  const lrs = [0, ...a.lrs.filter((x) => x !== 0)]
  const viewsOf = (gr: Gradient): View[] => lrs.map((lr) => (lr === 0 ? a.base : [...a.base, { gradient: gr, lr }]))
  const routed = await engine.routing(ids, viewsOf(g), opts)
  const norms = expertGradNorms(f, slots, routed[0].layers, c.experts)
  const out: ExpertsAnalysis = {
    layers: routed[0].layers,
    experts: c.experts,
    expertsPerToken: c.expertsPerToken ?? 0,
    tokens: ids.map((id) => engine.tokenizer.piece(id)),
    views: routed.map((r, i) => ({ lr: lrs[i], ...r })),
    gradNorm: norms.experts,
    routerGradNorm: norms.router,
  }
  if (a.chosen) {
    const rg = restrictGradientToExperts(engine, g, a.chosen, f)
    const rr = await engine.routing(ids, viewsOf(rg), opts)
    out.restricted = { experts: a.chosen, views: rr.map((r, i) => ({ lr: lrs[i], ...r })) }
  }
  return out
}
