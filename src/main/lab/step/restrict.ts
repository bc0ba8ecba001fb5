// Restricted steps and the layer × module grid (docs/design.md, "Restricted steps"). A step's gradient is held as
// exact factors per linear layer (∇W = GᵀX), sparse embedding rows and norm vectors (native/src/model.h, Step).
// Restricting a step to some parameter groups is exact and costs no recomputation: the factors of every other
// parameter are zeroed and the step is imported again, so the view base − α·(restricted) changes exactly the kept
// tensors, each exactly as the full step changes it.
import { Engine, Gradient, InputError } from '../../engine/engine'
import type { StepFactors } from '../../engine/native'
import { ExpertSlot, expertSlots } from '../../engine/experts'
import { gridModules, type ParamGroup, type Restriction, type UpdateGrid } from '../../../shared/api'

/** Linear modules of a block in factor-slot order (slot = layer·7 + index; the head is the last slot). */
export const LINEAR_KINDS = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const
const PER_LAYER = LINEAR_KINDS.length

const EXPAND: Record<ParamGroup, string[]> = {
  embed: ['embed'],
  attn: ['q', 'k', 'v', 'o'],
  mlp: ['gate', 'up', 'down'],
  norm: ['norm'],
  head: ['head'],
  q: ['q'],
  k: ['k'],
  v: ['v'],
  o: ['o'],
  gate: ['gate'],
  up: ['up'],
  down: ['down'],
}

/** Which parts of a step a restriction keeps (per layer where the part lives inside a block). */
export interface Keep {
  embed: boolean
  head: boolean
  finalNorm: boolean
  /** linear[layer][kind] */
  linear: boolean[][]
  /** norms[layer] = [attn_norm, ffn_norm] */
  norms: boolean[]
}

/** Layers of a restriction, checked against the model: "layers 0–9 but the model has 6 layers (0–5)". */
export function checkRestriction(r: Restriction, layers: number): void {
  if (r.layers && r.layers.to >= layers)
    throw new InputError(
      `restrict.layers: the model has ${layers} layers (0–${layers - 1}); got ${r.layers.from}–${r.layers.to}`,
    )
}

export function keepOf(r: Restriction | null | undefined, layers: number): Keep {
  const parts = new Set((r?.groups ?? (Object.keys(EXPAND) as ParamGroup[])).flatMap((g) => EXPAND[g]))
  const inRange = (l: number): boolean => !r?.layers || (l >= r.layers.from && l <= r.layers.to)
  return {
    embed: parts.has('embed'),
    head: parts.has('head'),
    finalNorm: parts.has('norm'),
    linear: Array.from({ length: layers }, (_, l) => LINEAR_KINDS.map((k) => parts.has(k) && inRange(l))),
    norms: Array.from({ length: layers }, (_, l) => parts.has('norm') && inRange(l)),
  }
}

/** The step's factors with every part the restriction drops set to zero (shapes unchanged). A mixture of experts'
 *  routers and experts (slots after the head, `moe`) belong to their layer's MLP: gate, up, down as their kind, the
 *  router with gate. */
export function restrictFactors(f: StepFactors, keep: Keep, moe: ExpertSlot[] = []): StepFactors {
  const layers = keep.norms.length
  const headSlot = layers * PER_LAYER
  // after the 2·layers + 1 Llama norms come a family's per-layer norms (Qwen3's q_norm, k_norm), layer by layer
  const familyNorms = f.normGrads.length - (2 * layers + 1)
  if (f.linears.length !== headSlot + 1 + moe.length || familyNorms < 0 || familyNorms % layers !== 0)
    throw new Error(`restrictFactors: a step with ${f.linears.length} linear slots and ${f.normGrads.length} norms does not fit ${layers} layers`)
  const perLayer = familyNorms / layers
  const moeKind = (s: ExpertSlot): number => LINEAR_KINDS.indexOf(s.kind === 'router' ? 'gate' : s.kind)
  const keptSlot = (slot: number): boolean =>
    slot > headSlot ? keep.linear[moe[slot - headSlot - 1].layer][moeKind(moe[slot - headSlot - 1])]
      : slot === headSlot ? keep.head : keep.linear[Math.floor(slot / PER_LAYER)][slot % PER_LAYER]
  return {
    ids: f.ids,
    loss: f.loss,
    linears: f.linears.map((lin, slot) => (keptSlot(slot) ? lin : { ...lin, G: new Float32Array(lin.G.length) })),
    embRows: f.embRows,
    embGrad: keep.embed ? f.embGrad : new Float32Array(f.embGrad.length),
    normGrads: f.normGrads.map((g, i) => {
      const layer = i < 2 * layers ? Math.floor(i / 2) : Math.floor((i - 2 * layers - 1) / perLayer)
      const kept = i === 2 * layers ? keep.finalNorm : keep.norms[layer]
      return kept ? g : new Float32Array(g.length)
    }),
    biasGrads: f.biasGrads?.map((b, slot) => (keptSlot(slot) ? b : new Float32Array(b.length))),
  }
}

/**
 * The same gradient restricted to `r`: the dropped factors zeroed and the step re-imported (no recomputation).
 * Returns the gradient itself when nothing is restricted.
 */
export function restrictGradient(engine: Engine, g: Gradient, r: Restriction | null | undefined, factors?: StepFactors): Gradient {
  if (!r || (!r.groups && !r.layers)) return g
  checkRestriction(r, engine.config.layers)
  const f = restrictFactors(factors ?? g.factors(), keepOf(r, engine.config.layers), expertSlots(engine.config))
  return engine.importGradient(f, g.phrase, g.at)
}

/** ‖GᵀX‖²_F = tr((GGᵀ)(XXᵀ)) = Σ_{s,t} (G_s·G_t)(X_s·X_t), in float64, from the factors [T, out] and [T, in]. */
export function lowRankNormSq(T: number, X: Float32Array, nIn: number, G: Float32Array, nOut: number): number {
  const dot = (a: Float32Array, n: number, s: number, t: number): number => {
    let d = 0
    for (let j = 0; j < n; j++) d += a[s * n + j] * a[t * n + j]
    return d
  }
  let sum = 0
  for (let s = 0; s < T; s++) {
    const gss = dot(G, nOut, s, s)
    if (gss === 0) continue
    sum += gss * dot(X, nIn, s, s)
    for (let t = s + 1; t < T; t++) sum += 2 * dot(G, nOut, s, t) * dot(X, nIn, s, t)
  }
  return Math.max(0, sum)
}

function sumSq(a: Float32Array): number {
  let s = 0
  for (let i = 0; i < a.length; i++) s += a[i] * a[i]
  return s
}

/**
 * ‖α∇W‖_F per layer × module (columns: gridModules — the seven linears with their biases, then the two norms), and
 * outside the blocks: the looked-up embedding rows, the head, the final norm.
 */
export function updateGrid(f: StepFactors, layers: number, lr: number): UpdateGrid {
  const a = Math.abs(lr)
  const lin = (slot: number): number => {
    const x = f.linears[slot]
    return lowRankNormSq(x.T, x.X, x.in, x.G, x.out) + (f.biasGrads?.[slot] ? sumSq(f.biasGrads[slot]) : 0)
  }
  const cells = Array.from({ length: layers }, (_, l) => [
    ...LINEAR_KINDS.map((_, k) => a * Math.sqrt(lin(l * PER_LAYER + k))),
    a * Math.sqrt(sumSq(f.normGrads[2 * l])),
    a * Math.sqrt(sumSq(f.normGrads[2 * l + 1])),
  ])
  return {
    modules: [...gridModules],
    cells,
    embed: a * Math.sqrt(sumSq(f.embGrad)),
    head: a * Math.sqrt(lin(layers * PER_LAYER)),
    finalNorm: a * Math.sqrt(sumSq(f.normGrads[2 * layers])),
  }
}

/** ‖α∇W‖_F over every part of the grid (the whole step's update norm). */
export function gridTotal(g: UpdateGrid): number {
  let s = g.embed ** 2 + g.head ** 2 + g.finalNorm ** 2
  for (const row of g.cells) for (const c of row) s += c * c
  return Math.sqrt(s)
}

/** "attn,mlp" → groups (checked), for the CLI's --groups. */
export function parseGroups(v: string): ParamGroup[] {
  const names = Object.keys(EXPAND)
  return v
    .split(/[,\s]+/)
    .filter(Boolean)
    .map((g) => {
      if (!names.includes(g)) throw new InputError(`--groups: "${g}" is not a parameter group (one of ${names.join(', ')})`)
      return g as ParamGroup
    })
}

/** "0-3" / "2" → { from, to }, for the CLI's --layers. */
export function parseLayers(v: string): { from: number; to: number } {
  const m = /^\s*(\d+)\s*(?:[-–]\s*(\d+))?\s*$/.exec(v)
  if (!m) throw new InputError(`--layers: "${v}" is not a layer or a range like 0-3`)
  const from = Number(m[1])
  const to = m[2] === undefined ? from : Number(m[2])
  if (to < from) throw new InputError(`--layers: ${v} runs backwards`)
  return { from, to }
}

/** A restriction in words: "attn, mlp in layers 0–3". */
export function describeRestriction(r: Restriction | null | undefined): string {
  if (!r || (!r.groups && !r.layers)) return 'full step'
  const g = r.groups ? r.groups.join(', ') : 'all groups'
  return r.layers ? `${g} in layers ${r.layers.from}–${r.layers.to}` : g
}
