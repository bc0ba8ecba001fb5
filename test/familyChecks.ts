// The checks every model family goes through, written once (engine-families, engine-llama-family, engine-experts,
// engine-gptoss, engine-phi3, engine-yarn, engine-gguf-families, engine-gguf-experts, engine-gguf-gptoss use them):
//   against the float64 reference (test/reference/llama.ts) on a tiny random checkpoint opened through the native
//   addon — log-probs at every position (and each feature of the family must matter), the exact gradient against
//   central differences of the float64 loss at every entry of every tensor, a stepped view, KV-cached greedy decoding;
//   for a mixture of experts, every token's routing;
//   through the whole Engine — a step file re-imports to the same step, the batched sweep equals each view generated
//   alone, the dense HF export of a stepped model is that model (its gradient there is the chain of two steps);
//   through GGUF — a base and a stepped model exported by our writer re-open with the HF model's ids and per-token
//   log-likelihoods, give llama.cpp's greedy ids, and (stepped) export back to an HF directory that is that model.
// Tolerances are the tests' own: log-probs 2e-5, loss 1e-5, stepped view 5e-5, greedy tokens up to the first near-tie
// (top-1 − top-2 < 1e-4); GGUF: |Δ nll| < 1e-4 and llama.cpp's ids up to the first margin < 1e-3.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect } from 'vitest'
import { readJson } from '../src/main/engine/config'
import { Engine, type Gradient, type View } from '../src/main/engine/engine'
import { moeEngineTensors } from '../src/main/engine/experts'
import { exportGguf } from '../src/main/engine/export/gguf'
import { exportHF } from '../src/main/engine/export/hf'
import { parseModelConfig, type ModelConfig } from '../src/main/engine/families'
import { readGguf, type GgufFile } from '../src/main/engine/formats/gguf/read'
import { readCheckpointFiles } from '../src/main/engine/formats/safetensors'
import { loadAddon, type NativeModel, type NativeStep } from '../src/main/engine/native'
import { readStepFile, writeStepFile } from '../src/main/lab/checkpoints/stepFile'
import { peerGreedy, type LlamaCppModule } from '../tools/bench/peer'
import { rng, tmp } from './helpers'
import { checkEveryEntry, stepped } from './reference/check'
import { refLogits, refLogProbs, refLoss, type RefConfig, type RefWeights } from './reference/llama'

export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]))
  return m
}

/** BOS (1) and T − 1 random ids of a vocabulary of `vocab` above the special ids 0‥2: the phrase of the reference tests */
export function phraseIds(seed: number, T: number, vocab: number): number[] {
  const r = rng(seed)
  return [1, ...Array.from({ length: T - 1 }, () => 3 + Math.floor(r() * (vocab - 3)))]
}

/** A mixture of experts' checkpoint opened natively, its expert tensors mapped as the engine maps them. */
export function openMoeNative(dir: string): { model: NativeModel; cfg: ModelConfig } {
  const cfg = parseModelConfig(readJson(`${dir}/config.json`, 'config.json'))
  const ck = readCheckpointFiles(dir)
  const model: NativeModel = new (loadAddon().Model)({ config: { ...cfg, raw: undefined, eosIds: undefined }, files: ck.files, tensors: moeEngineTensors(cfg.family, ck.tensors), threads: 1 })
  return { model, cfg }
}

/** A tiny checkpoint opened natively, its float64 weights and the reference's reading of its config. */
export interface ReferenceModel {
  model: NativeModel
  rc: RefConfig
  w: RefWeights
  /** BOS + the phrase's ids */
  ids: number[]
}

/** A reference that drops or changes one feature of the family (a config change, or other weights). */
export interface Without {
  label: string
  rc?: Partial<RefConfig>
  w?: RefWeights
}

/** The engine's log-probs at every position of `ids` are the reference's; each of `without` is far from them. */
export async function expectLogProbsAsReference(m: ReferenceModel, without: Without[]): Promise<void> {
  const V = m.rc.vocab
  const s = await m.model.score({ ids: m.ids, views: [[]], topk: 0, fullAt: m.ids.map((_, t) => t) })
  expect(maxDiff(s.full, refLogProbs(refLogits(m.rc, m.w, m.ids), V)), 'log-probs vs float64 reference').toBeLessThan(2e-5)
  for (const o of without)
    expect(maxDiff(s.full, refLogProbs(refLogits({ ...m.rc, ...o.rc }, o.w ?? m.w, m.ids), V)), `without ${o.label}`).toBeGreaterThan(1e-3)
}

/** `without` entries for config changes, labelled by their JSON. */
export function withoutConfigs(cs: Partial<RefConfig>[]): Without[] {
  return cs.map((rc) => ({ label: JSON.stringify(rc).slice(0, 80), rc }))
}

/**
 * The exact gradient at the base: the loss is the reference's, and every entry of every tensor of the checkpoint
 * (as `dense` names them from the engine's step) equals central differences of the float64 loss. `sameTensors`: the
 * gradients name exactly the checkpoint's tensors (a mixture of experts' also hold the dense MLP slots its MoE layers
 * leave empty).
 */
export async function expectGradientAsReference(
  m: ReferenceModel,
  dense: (step: NativeStep) => RefWeights,
  o: { sameTensors: boolean } = { sameTensors: true },
): Promise<{ step: NativeStep; grads: RefWeights }> {
  const step = await m.model.gradient(m.ids, [])
  expect(Math.abs(step.loss - refLoss(m.rc, m.w, m.ids))).toBeLessThan(1e-5)
  const grads = dense(step)
  if (o.sameTensors) expect(new Set(Object.keys(grads))).toEqual(new Set(Object.keys(m.w)))
  const { entries } = checkEveryEntry(m.rc, m.w, m.ids, grads)
  expect(entries).toBe(Object.values(m.w).reduce((a, v) => a + v.length, 0))
  return { step, grads }
}

/** The step's norm per tensor (in `names` order, as the engine lists its tensors) is ‖dense gradient‖. */
export function expectGradNormsAsDense(step: NativeStep, names: string[], grads: RefWeights): void {
  const norms = step.gradNorms()
  names.forEach((n, i) => {
    const ref = Math.sqrt(grads[n].reduce((a, x) => a + x * x, 0))
    expect(Math.abs(norms[i] - ref), `gradNorm of ${n}`).toBeLessThan(1e-4 * ref + 1e-9)
  })
}

/**
 * A stepped view scores as the dense model w − α∇w; with `roundTrip`, the step exported and imported again scores
 * identically. Returns the stepped reference weights and the engine's log-probs at the stepped view.
 */
export async function expectSteppedViewAsReference(
  m: ReferenceModel,
  step: NativeStep,
  grads: RefWeights,
  lr: number,
  o: { roundTrip: boolean },
): Promise<{ weights: RefWeights; logProbs: Float32Array }> {
  const V = m.rc.vocab
  const ws = stepped(m.w, grads, lr)
  const fullAt = m.ids.map((_, t) => t)
  const sv = await m.model.score({ ids: m.ids, views: [[], [{ step, lr }]], topk: 0, fullAt })
  const n = m.ids.length * V
  expect(maxDiff(sv.full.subarray(n, 2 * n), refLogProbs(refLogits(m.rc, ws, m.ids), V)), 'stepped view').toBeLessThan(5e-5)
  if (o.roundTrip) {
    const imported = m.model.importStep(step.export())
    const si = await m.model.score({ ids: m.ids, views: [[{ step: imported, lr }]], topk: 0, fullAt })
    expect(maxDiff(si.full, sv.full.subarray(n, 2 * n)), 'export → importStep round trip').toBe(0)
  }
  return { weights: ws, logProbs: sv.full.subarray(n, 2 * n) }
}

/**
 * A mixture of experts' routing: at the base and at the stepped view (`stepped`: its dense weights), every token's
 * chosen experts in each MoE layer (`layers`, in order) are the reference's, and their weights within 1e-5.
 */
export async function expectRoutingAsReference(m: ReferenceModel, step: NativeStep, lr: number, stepped: RefWeights, layers: number[]): Promise<void> {
  const k = m.rc.moe!.topk
  for (const [v, weights] of [[0, m.w], [1, stepped]] as const) {
    const want: Record<string, { chosen: number[]; weights: number[] }[]> = {}
    refLogits({ ...m.rc, moe: { ...m.rc.moe!, onRoute: (p, tok, chosen, wts) => ((want[p] ??= [])[tok] = { chosen, weights: wts }) } }, weights, m.ids)
    const r = await m.model.routing({ ids: m.ids, views: [v === 0 ? [] : [{ step, lr }]] })
    expect(Array.from(r.layers)).toEqual(layers)
    Array.from(r.layers).forEach((l, i) => {
      want[`model.layers.${l}.`].forEach((x, tok) => {
        expect(Array.from(r.sel[i].subarray(tok * k, tok * k + k)), `view ${v} layer ${l} token ${tok}`).toEqual(x.chosen)
        expect(maxDiff(r.w[i].subarray(tok * k, tok * k + k), x.weights)).toBeLessThan(1e-5)
      })
    })
  }
}

/**
 * KV-cached greedy decoding after `prompt`, at the base and at the stepped view, is the reference's argmax token by
 * token up to the first near-tie (float32 may pick either there); more than `minCompared` tokens must be compared.
 */
export async function expectGreedyAsReference(
  model: NativeModel,
  rc: RefConfig,
  prompt: number[],
  base: RefWeights,
  step: { step: NativeStep; lr: number; weights: RefWeights },
  o: { maxNew: number; maxSeq: number; minCompared: number; label?: string },
): Promise<void> {
  const V = rc.vocab
  const gen = await model.generate({ prompt, views: [[], [{ step: step.step, lr: step.lr }]], maxNew: o.maxNew, maxSeq: o.maxSeq, temperature: 0, topP: 1, seed: 0, eos: [] })
  const what = o.label ? `${o.label}: ` : ''
  for (const [k, weights] of [[0, base], [1, step.weights]] as const) {
    const seq = [...prompt]
    let compared = 0
    for (const tok of Array.from(gen.tokens[k])) {
      const lg = refLogits(rc, weights, seq)
      const last = Array.from(lg.subarray((seq.length - 1) * V, seq.length * V))
      const sorted = [...last].sort((a, b) => b - a)
      if (sorted[0] - sorted[1] < 1e-4) break // a near-tie: float32 may pick either
      expect(tok, `${what}token ${seq.length} of view ${k}`).toBe(last.indexOf(sorted[0]))
      seq.push(tok)
      compared++
    }
    expect(compared, `${what}view ${k}: greedy tokens compared`).toBeGreaterThan(o.minCompared)
  }
}

/**
 * The batched sweep (one generation of every α's view) equals each view generated alone, token for token, and the
 * view at `lrs[changed]` completes otherwise than the base.
 */
export async function expectBatchedSweepAsSingles(engine: Engine, g: Gradient, o: { prompt: string; lrs: number[]; maxNew: number; changed: number }): Promise<void> {
  const views: View[] = o.lrs.map((lr) => (lr === 0 ? [] : [{ gradient: g, lr }]))
  const batched = await engine.generate({ prompt: o.prompt, views, maxNew: o.maxNew })
  for (let i = 0; i < views.length; i++) {
    const [single] = await engine.generate({ prompt: o.prompt, views: [views[i]], maxNew: o.maxNew })
    expect(batched[i].ids, `α = ${o.lrs[i]}`).toEqual(single.ids)
  }
  expect(batched[o.changed].ids, 'the step changes the completion').not.toEqual(batched[0].ids)
}

/** A step saved as a step file and read back is the same step: the phrase scores identically through both (α 0.7). */
export async function expectStepFileRoundTrip(engine: Engine, g: Gradient): Promise<void> {
  const file = join(tmp(), 'step.safetensors')
  const meta = { phrase: g.phrase, lr: 0.7, loss: g.loss, baseFingerprint: 'x', baseFiles: {}, parentSha256: '', parentName: '', created: '', name: 'a' }
  writeStepFile(file, g.factors(), meta)
  const back = engine.importGradient(readStepFile(file).factors, g.phrase)
  const ids = engine.withBos(g.phrase, 'text')
  const [a] = await engine.score({ ids, views: [[{ gradient: g, lr: 0.7 }]] })
  const [b] = await engine.score({ ids, views: [[{ gradient: back, lr: 0.7 }]] })
  expect(b.nll).toEqual(a.nll)
}

/**
 * The dense HF export (F32) of `engine` at `view` is the stepped model: its config.json names `family`; re-opened, the
 * gradient of another phrase there equals the one taken at the view (the chain of two steps: loss within 1e-5
 * relative, the same tensors, each norm within 1e-4 · norm + `normFloor`) and greedy decoding gives the view's ids.
 * Returns the export's folder and the re-opened model.
 */
export async function expectDenseExportAsStepped(engine: Engine, view: View, o: { family: string; maxNew: number; normFloor: number }): Promise<{ dir: string; dense: Engine }> {
  const dir = tmp()
  await exportHF(engine, view, dir, { dtype: 'F32' })
  expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).model_type).toBe(o.family)
  const dense = Engine.load(dir, { threads: 1 })
  const phrase = 'Customers are the heart of every business'
  const g2 = await engine.gradient(phrase, view)
  const g2dense = await dense.gradient(phrase)
  expect(Math.abs(g2.loss - g2dense.loss) / g2dense.loss).toBeLessThan(1e-5)
  const n1 = g2.gradNorms()
  const n2 = g2dense.gradNorms()
  expect(Object.keys(n1)).toEqual(Object.keys(n2))
  for (const k of Object.keys(n2)) expect(Math.abs(n1[k] - n2[k]), k).toBeLessThan(1e-4 * n2[k] + o.normFloor)
  const [gv] = await engine.generate({ prompt: 'To be', views: [view], maxNew: o.maxNew })
  const [gd] = await dense.generate({ prompt: 'To be', views: [[]], maxNew: o.maxNew })
  expect(gd.ids, 'the dense export generates as the stepped view').toEqual(gv.ids)
  return { dir, dense }
}

// ---- GGUF ---------------------------------------------------------------------------------------------------------

export const GGUF_PHRASE = 'To be, or not to be, that is the question'
export const GGUF_PROMPT = 'To be'
export const GGUF_N = 32

/** greedy ids of `e` under `view` and the first position where the top-1/top-2 margin is below 1e-3 */
export async function greedyUntilTie(e: Engine, view: View): Promise<{ ids: number[]; n: number }> {
  const [g] = await e.generate({ prompt: e.withBos(GGUF_PROMPT, 'prompt'), views: [view], maxNew: GGUF_N })
  const tie = g.margins.findIndex((m) => m < 1e-3)
  return { ids: Array.from(g.ids), n: tie < 0 ? g.ids.length : tie }
}

/** per-token negative log-likelihoods of the phrase and its continuation under `view` */
export async function nlls(e: Engine, view: View): Promise<number[]> {
  const [row] = await e.score({ ids: e.withBos(`${GGUF_PHRASE}: Whether 'tis nobler in the mind to suffer`, 'text'), views: [view] })
  return row.nll
}

export function expectSameGreedy(a: { ids: number[]; n: number }, b: { ids: number[]; n: number }, what: string): void {
  const n = Math.min(a.n, b.n)
  expect(n, `${what}: comparable tokens`).toBeGreaterThan(8)
  expect(b.ids.slice(0, n), what).toEqual(a.ids.slice(0, n))
}

export function expectSameNll(a: number[], b: number[], what: string): void {
  expect(b.length, what).toBe(a.length)
  expect(Math.max(...a.map((x, i) => Math.abs(x - b[i]))), `${what}: largest |Δ nll|`).toBeLessThan(1e-4)
}

/**
 * For each α of `lrs` (0 first): the HF model `hf` stepped by `g` at α, exported as an F32 GGUF file named after
 * `name`, is checked by `meta`; the file re-opens in our engine as family `family` with the same greedy ids and
 * per-token log-likelihoods; llama.cpp's greedy ids are ours; a stepped model's GGUF exports back to an HF directory
 * that is again that model. `comparable`: also require the HF and GGUF greedy runs to share more than 8 tokens before
 * a near-tie.
 */
export async function expectGgufRoundTrip(
  llamaCpp: LlamaCppModule,
  hf: Engine,
  g: Gradient,
  o: { name: string; family: string; lrs: number[]; meta: (file: GgufFile) => void; comparable?: boolean },
): Promise<void> {
  const threads = Math.min(2, loadAddon().threads())
  for (const lr of o.lrs) {
    const view: View = lr === 0 ? [] : [{ gradient: g, lr }]
    const want = await greedyUntilTie(hf, view)
    if (lr !== 0) expect(want.ids, 'the step changes the completion').not.toEqual((await greedyUntilTie(hf, [])).ids)
    const file = join(tmp(), `${o.name}-${lr}.gguf`)
    await exportGguf(hf, view, file, undefined, { dtype: 'F32' })
    o.meta(readGguf(file))

    const gg = Engine.load(file)
    expect(gg.config.family).toBe(o.family)
    const ours = await greedyUntilTie(gg, [])
    if (o.comparable) expectSameGreedy(want, ours, `α = ${lr}: GGUF in our engine`)
    expect(ours.ids, `α = ${lr}: the GGUF file re-opens with identical ids`).toEqual(want.ids)
    const nllWant = await nlls(hf, view)
    expectSameNll(nllWant, await nlls(gg, []), `α = ${lr}: GGUF in our engine`)

    const theirs = await peerGreedy(llamaCpp, file, gg.withBos(GGUF_PROMPT, 'prompt'), GGUF_N, threads)
    expectSameGreedy(ours, { ids: theirs.ids, n: theirs.ids.length }, `α = ${lr}: GGUF in llama.cpp`)

    if (lr !== 0) {
      const back = join(tmp(), 'back')
      await exportHF(gg, [], back)
      const again = Engine.load(back)
      expect(again.config.family).toBe(o.family)
      expectSameGreedy(want, await greedyUntilTie(again, []), 'GGUF → HF directory')
      expectSameNll(nllWant, await nlls(again, []), 'GGUF → HF directory')
    }
  }
}
