// The instruments of issue 10 on the real engine and the organism: restricted steps (exact, tensor by tensor), the
// layer × module grid (against the float64 reference's gradient norms), the layer study, the plasticity window,
// the emerge heatmap (against engine.score and the reference's soliloquy loss), the HTML report and the run diff.
// Each claim is checked by an independent computation: a separate generation, a separate score, a dense export.
import { closeSync, openSync, readFileSync, readSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Engine, Gradient } from '../src/main/engine/engine'
import { Lab } from '../src/main/lab/lab'
import { keepOf, restrictGradient, updateGrid, LINEAR_KINDS } from '../src/main/lab/step/restrict'
import { continuationIds, learned, crossing } from '../src/main/lab/experiment/plasticity'
import { repetitionByN } from '../src/main/lab/metrics'
import { phraseRecall, wordCount } from '../src/main/lab/experiment/recall'
import { alignTokens } from '../src/shared/diff'
import type { EmergeResult, LayerStudyResult, Restriction, WindowResult } from '../src/shared/api'
import { ORGANISM, reference, tmp } from './helpers'
import { exportHF } from '../src/main/engine/export/hf'

const ref = reference()
const PHRASE = ref.phrase
let engine: Engine
let full: Gradient
let lab: Lab

beforeAll(async () => {
  engine = Engine.load(ORGANISM)
  full = await engine.gradient(PHRASE)
  lab = new Lab({ dataDir: tmp('soliloquy-instruments-') })
})
afterAll(() => lab?.close())

/** Every tensor of a single-file F32 safetensors export, by name. */
function readTensors(dir: string): Map<string, Float32Array> {
  const path = join(dir, 'model.safetensors')
  const fd = openSync(path, 'r')
  const len = Buffer.alloc(8)
  readSync(fd, len, 0, 8, 0)
  closeSync(fd)
  const n = Number(len.readBigUInt64LE(0))
  const buf = readFileSync(path)
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; data_offsets: [number, number] }>
  const out = new Map<string, Float32Array>()
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue
    expect(t.dtype).toBe('F32')
    const bytes = buf.subarray(8 + n + t.data_offsets[0], 8 + n + t.data_offsets[1])
    out.set(name, new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)))
  }
  return out
}

function equal(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Which HF tensors a restriction keeps, by name (the organism is untied, without biases). */
function keptTensor(name: string, r: Restriction, layers: number): boolean {
  const k = keepOf(r, layers)
  if (name === 'model.embed_tokens.weight') return k.embed
  if (name === 'lm_head.weight') return k.head
  if (name === 'model.norm.weight') return k.finalNorm
  const m = /^model\.layers\.(\d+)\.(.*)\.weight$/.exec(name)!
  const l = Number(m[1])
  if (m[2] === 'input_layernorm' || m[2] === 'post_attention_layernorm') return k.norms[l]
  const kind = m[2].split('.')[1].replace('_proj', '')
  return k.linear[l][LINEAR_KINDS.indexOf(kind as (typeof LINEAR_KINDS)[number])]
}

describe('restricted steps', () => {
  const LR = 0.03
  const cases: Restriction[] = [{ groups: ['attn', 'norm'], layers: { from: 0, to: 1 } }, { groups: ['mlp', 'embed', 'head'] }]
  it.each(cases)('a restricted step changes exactly the kept tensors, each as the full step does (%j)', async (r) => {
    const restricted = restrictGradient(engine, full, r)
    expect(restricted).not.toBe(full)
    const dirs = { base: tmp('exp-base-'), full: tmp('exp-full-'), restricted: tmp('exp-restr-') }
    await exportHF(engine, [], dirs.base, { dtype: 'F32' })
    await exportHF(engine, [{ gradient: full, lr: LR }], dirs.full, { dtype: 'F32' })
    await exportHF(engine, [{ gradient: restricted, lr: LR }], dirs.restricted, { dtype: 'F32' })
    const base = readTensors(dirs.base)
    const fullW = readTensors(dirs.full)
    const restrW = readTensors(dirs.restricted)
    expect([...restrW.keys()].sort()).toEqual([...base.keys()].sort())
    let kept = 0
    let dropped = 0
    for (const [name, w] of restrW) {
      // the full step moves every tensor (else the comparison could not tell kept from dropped)
      expect(equal(fullW.get(name)!, base.get(name)!), `${name} moved by the full step`).toBe(false)
      if (keptTensor(name, r, engine.config.layers)) {
        kept++
        expect(equal(w, fullW.get(name)!), `${name} kept: as the full step changes it`).toBe(true)
      } else {
        dropped++
        expect(equal(w, base.get(name)!), `${name} dropped: equal to base`).toBe(true)
      }
    }
    expect(kept).toBeGreaterThan(0)
    expect(dropped).toBeGreaterThan(0)
  })

  it('the restricted step through the lab records its restriction and zero grid cells where dropped', async () => {
    const r = await lab.sweep({ lrs: [0.03], maxGen: 8, restrict: { groups: ['mlp'], layers: { from: 2, to: 3 } } })
    const m = r.runs[0].metrics
    expect(m.restriction).toEqual({ groups: ['mlp'], layers: { from: 2, to: 3 } })
    const g = m.updateGrid!
    for (let l = 0; l < g.cells.length; l++)
      g.modules.forEach((mod, j) => {
        const on = ['gate', 'up', 'down'].includes(mod) && l >= 2 && l <= 3
        if (on) expect(g.cells[l][j]).toBeGreaterThan(0)
        else expect(g.cells[l][j]).toBe(0)
      })
    expect([g.embed, g.head, g.finalNorm]).toEqual([0, 0, 0])
    await expect(lab.sweep({ lrs: [0.03], restrict: { layers: { from: 0, to: 9 } } })).rejects.toThrow(/6 layers \(0–5\)/)
  })

  it('a restricted run saved as a checkpoint after a restart (step recomputed, then restricted) generates as the run did', async () => {
    const dir = tmp('soliloquy-restricted-ckpt-')
    const first = new Lab({ dataDir: dir })
    const r = await first.sweep({ lrs: [0.1], maxGen: 24, restrict: { groups: ['attn', 'mlp'], layers: { from: 0, to: 3 } } })
    first.close()
    const again = new Lab({ dataDir: dir }) // no remembered steps: the save recomputes the gradient
    try {
      await again.saveCheckpoint({ runId: r.runs[0].id, name: 'attn+mlp 0-3' })
      const g = await again.generate({ model: 'ckpt:attn+mlp 0-3', maxGen: 24 })
      expect(g.run.outputIds).toEqual(r.runs[0].outputIds)
      const full = await again.sweep({ lrs: [0.1], maxGen: 24 })
      expect(full.runs[0].outputIds).not.toEqual(r.runs[0].outputIds)
    } finally {
      again.close()
    }
  })
})

describe('the layer × module grid', () => {
  it('‖GᵀX‖_F from the factors equals the float64 reference gradient norm of every tensor', () => {
    const g = updateGrid(full.factors(), engine.config.layers, -2)
    const names: Record<string, string> = {
      q: 'self_attn.q_proj', k: 'self_attn.k_proj', v: 'self_attn.v_proj', o: 'self_attn.o_proj',
      gate: 'mlp.gate_proj', up: 'mlp.up_proj', down: 'mlp.down_proj', attn_norm: 'input_layernorm', ffn_norm: 'post_attention_layernorm',
    }
    for (let l = 0; l < engine.config.layers; l++)
      g.modules.forEach((mod, j) => {
        const want = 2 * ref.grad_norms[`model.layers.${l}.${names[mod]}.weight`]
        expect(Math.abs(g.cells[l][j] - want) / want, `layer ${l} ${mod}`).toBeLessThan(2e-3)
      })
    expect(Math.abs(g.head - 2 * ref.grad_norms['lm_head.weight']) / (2 * ref.grad_norms['lm_head.weight'])).toBeLessThan(2e-3)
    expect(Math.abs(g.finalNorm - 2 * ref.grad_norms['model.norm.weight']) / (2 * ref.grad_norms['model.norm.weight'])).toBeLessThan(2e-3)
    expect(Math.abs(g.embed - 2 * ref.grad_norms['model.embed_tokens.weight']) / (2 * ref.grad_norms['model.embed_tokens.weight'])).toBeLessThan(2e-3)
  })
})

describe('the layer study', () => {
  let study: LayerStudyResult
  beforeAll(async () => {
    study = await lab.layerStudy({ lr: 0.03 })
  })
  it('is one recorded experiment of runs: the full step, every group alone, every layer alone', () => {
    expect(study.experiment.kind).toBe('layers')
    expect(study.experiment.status).toBe('done')
    expect(study.runs.every((r) => r.kind === 'layers' && r.status === 'done')).toBe(true)
    expect(study.cells.map((c) => c.label)).toEqual([
      'full', 'embed', 'attn', 'mlp', 'norm', 'head', 'q', 'k', 'v', 'o', 'gate', 'up', 'down',
      ...Array.from({ length: engine.config.layers }, (_, l) => `layer ${l}`),
    ])
    // the full step at 0.03 recalls (the organism's preset: "the soliloquy appears at 3e-2")
    expect(study.cells[0].recalls).toBe(true)
    console.log('layer study at α = 0.03:', study.cells.map((c) => `${c.label}: ${c.recalls ? 'RECALLS' : `no (${c.phraseRecall}/${study.phraseWords})`}`).join('; '))
  })
  it("each cell's verdict agrees with an independent generation of that restricted view", async () => {
    // one that recalls (a restriction if any does, else the full step) and one that does not
    const picks = [study.cells.find((c) => c.label !== 'full' && c.recalls) ?? study.cells[0], study.cells.find((c) => !c.recalls)].filter(Boolean)
    expect(picks.length).toBe(2)
    const g = await engine.gradient(PHRASE) // a fresh gradient: nothing shared with the study
    for (const c of picks) {
      const r = restrictGradient(engine, g, c!.restrict)
      const [gen] = await engine.generate({ prompt: 'To be', views: [[{ gradient: r, lr: 0.03 }]], maxNew: 64, maxSeq: 128 })
      const text = engine.decode([...engine.tokenize('To be'), ...gen.ids])
      expect(phraseRecall(text, PHRASE) === wordCount(PHRASE), c!.label).toBe(c!.recalls)
      expect(text, c!.label).toBe(c!.text)
    }
  })
})

describe('the layer study where single groups do recall (α = 0.06)', () => {
  it('attn alone recalls and embed alone does not, as separate generations of those views confirm', async () => {
    const st = await lab.layerStudy({ lr: 0.06, groups: ['attn', 'embed'], band: 0 })
    expect(st.cells.map((c) => c.label)).toEqual(['full', 'attn', 'embed'])
    const g = await engine.gradient(PHRASE)
    for (const c of st.cells) {
      const [gen] = await engine.generate({ prompt: 'To be', views: [[{ gradient: restrictGradient(engine, g, c.restrict), lr: 0.06 }]], maxNew: 64, maxSeq: 128 })
      const text = engine.decode([...engine.tokenize('To be'), ...gen.ids])
      expect(phraseRecall(text, PHRASE) === wordCount(PHRASE), c.label).toBe(c.recalls)
    }
    expect(st.cells.map((c) => c.recalls)).toEqual([true, true, false])
  })
})

describe('the plasticity window', () => {
  let w: WindowResult
  beforeAll(async () => {
    w = await lab.window({})
  })
  it('pieces', () => {
    expect(learned([5, 6, 7, 9], [5, 6, 7])).toBe(true)
    expect(learned([5, 6, 8], [5, 6, 7])).toBe(false)
    expect(continuationIds([1, 5, 6], [1, 5, 6, 7, 8])).toEqual([7, 8])
    expect(() => continuationIds([1, 5, 9], [1, 5, 6, 7])).toThrow(/continues the prompt/)
    expect(phraseRecall('To be, or not to be, that is the question:\nWhether', PHRASE)).toBe(10)
    expect(phraseRecall('To be, or not to be, that is the answer', PHRASE)).toBe(9)
    expect(phraseRecall('To be, or not, or not', PHRASE)).toBe(3)
    expect(crossing([{ lr: 1, yes: true }, { lr: 0.1, yes: false }, { lr: 0.01, yes: false }])).toEqual({ at: 1, below: 0.1 })
  })
  it('finds α_learn and α_break on the organism, recorded as a window experiment', async () => {
    const bp = w.probes.find((p) => p.lr === w.alphaBreak)!
    console.log(`window at α_break: repetition ${bp.repetition}, KL ${bp.stabilityKl}; below: ${JSON.stringify(w.probes.find((p) => p.lr === w.alphaBreakBelow))}`)
    console.log(`window: α_learn ${w.alphaLearn} (not at ${w.alphaLearnBelow}), α_break ${w.alphaBreak} (not at ${w.alphaBreakBelow}), width ${w.widthDecades} decades, ${w.probes.length} α tried`)
    expect(w.experiment.kind).toBe('window')
    expect(w.experiment.status).toBe('done')
    // an experiment of its kind: History lists it, holding every run the search made, done with the search
    const e = (await lab.experiments({ kind: 'window' })).experiments.find((x) => x.id === w.experimentId)!
    expect(e).toMatchObject({ kind: 'window', status: 'done', id: w.experimentId, runCount: w.probes.length })
    expect(e.result).toMatchObject({ alphaLearn: w.alphaLearn, alphaBreak: w.alphaBreak })
    // the break criterion is the run's own repetition metric
    for (const p of w.probes) expect(p.repetition).toBe(w.runs.find((r) => r.id === p.runId)!.metrics.repetition)
    expect(w.runs.length).toBe(w.probes.length)
    expect(w.alphaLearn).not.toBeNull()
    expect(w.alphaBreak).not.toBeNull()
    expect(w.widthDecades).toBeCloseTo(Math.log10(w.alphaBreak! / w.alphaLearn!), 10)
    // the bisection converged: below each crossing within 0.1 decade
    expect(Math.log10(w.alphaLearn! / w.alphaLearnBelow!)).toBeLessThan(0.1)
    expect(Math.log10(w.alphaBreak! / w.alphaBreakBelow!)).toBeLessThan(0.1)
  })
  it('α_learn really continues the prompt with the phrase, and α_learn/2 does not (separate generations)', async () => {
    const g = await engine.gradient(PHRASE)
    const promptIds = engine.withBos('To be', 'prompt')
    const cont = continuationIds(promptIds, engine.withBos(PHRASE, 'phrase'))
    const gens = await engine.generate({ prompt: promptIds, views: [[{ gradient: g, lr: w.alphaLearn! }]], maxNew: 64, maxSeq: 128 })
    const half = await engine.generate({ prompt: promptIds, views: [[{ gradient: g, lr: w.alphaLearn! / 2 }]], maxNew: 64, maxSeq: 128 })
    expect(learned(gens[0].ids, cont)).toBe(true)
    expect(learned(half[0].ids, cont)).toBe(false)
    // and α_break is broken by the stated measure: repetition or probe KL over the threshold
    const b = w.probes.find((p) => p.lr === w.alphaBreak)!
    const [bg] = await engine.generate({ prompt: promptIds, views: [[{ gradient: g, lr: w.alphaBreak! }]], maxNew: 64, maxSeq: 128 })
    expect(repetitionByN(bg.ids)['4']).toBeCloseTo(b.repetition, 12)
    expect(b.repetition >= w.thresholds.repetitionMax || (b.stabilityKl ?? 0) >= w.thresholds.klMax).toBe(true)
  })
})

describe('watching it emerge', () => {
  let e: EmergeResult
  const LRS = [0, 0.01, 0.03, 0.1]
  beforeAll(async () => {
    e = await lab.emerge({ lrs: LRS, topk: 5 })
  })
  it('positions × α of log p(next reference token), equal to a separate engine.score at α = 0.03', async () => {
    expect(e.experiment.kind).toBe('emerge')
    expect(e.tokens.length).toBe(96)
    expect(e.logprob.length).toBe(LRS.length)
    expect(e.logprob[0].length).toBe(95)
    expect(e.promptTokens).toBe(engine.withBos('To be', 'prompt').length)
    const g = await engine.gradient(PHRASE)
    const [row] = await engine.score({ ids: e.tokens.map((t) => t.id), views: [[{ gradient: g, lr: 0.03 }]], topk: 5 })
    const a = LRS.indexOf(0.03)
    row.nll.forEach((x, t) => expect(Math.abs(e.logprob[a][t] + x), `position ${t}`).toBeLessThan(1e-4))
    expect(e.top[a][10].map((x) => x.id)).toEqual(row.top[10].map((x) => x.id))
  })
  it("the mean over positions is the float64 reference's soliloquy loss at every α it has", () => {
    LRS.forEach((lr, a) => {
      const want = ref.sweep.find((s) => s.lr === lr)!.soliloquy_loss
      const got = -e.logprob[a].reduce((s, x) => s + x, 0) / e.logprob[a].length
      expect(Math.abs(got - want) / want, `α=${lr}`).toBeLessThan(1e-3)
    })
  })
  it('top-k alternatives carry ids, text and log-probs, best first', () => {
    const cell = e.top[2][20]
    expect(cell.length).toBe(5)
    expect(cell[0].logprob).toBeGreaterThanOrEqual(cell[4].logprob)
    expect(cell[0].text).toBe(engine.decodeTokens([cell[0].id])[0])
  })
})

describe('report and diff', () => {
  it('the HTML report is self-contained and holds the seed table and the metrics', async () => {
    const s = await lab.sweep({ lrs: [0, 0.03, 0.1], maxGen: 16 })
    const { html } = await lab.report({ id: s.runs[0].experimentId! })
    expect(html).toContain(s.table.split('\n')[0].replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'))
    expect(html).toContain('<svg')
    expect(html).not.toMatch(/https?:\/\//)
    expect(html).not.toMatch(/<script|<link|src=/i)
    for (const r of s.runs) expect(html).toContain(`<td>${r.id}</td>`)
    const layers = await lab.report({ id: (await lab.history({ kind: 'layers' })).runs[0].experimentId! })
    expect(layers.html).toContain('Which parameters alone recall the phrase')
    const c = await lab.compare({ lrs: [0.03], maxGen: 8 })
    const ch = (await lab.report({ id: c.runs[0].experimentId! })).html
    expect(ch).toContain('prefix 3.0E-02')
    expect(ch).toContain('plain 0.0')
    expect(ch).not.toMatch(/https?:\/\//)
    const l = await lab.lesson({ steps: [{ phrase: PHRASE, lr: 0.03 }, { phrase: 'Whether tis nobler', lr: 0.01 }], maxGen: 8 })
    const lh = (await lab.report({ id: l.runs[0].experimentId! })).html
    expect(lh).toContain('Forgetting')
    expect(lh).not.toMatch(/https?:\/\//)
  })
  it('diffRuns aligns two completions token by token and shows metrics side by side', async () => {
    const s = await lab.sweep({ lrs: [0, 0.03], maxGen: 24 })
    const d = await lab.diffRuns({ a: s.runs[0].id, b: s.runs[1].id })
    expect(d.tokens.filter((o) => o.op !== 'ins').map((o) => o.id)).toEqual(s.runs[0].outputIds)
    expect(d.tokens.filter((o) => o.op !== 'del').map((o) => o.id)).toEqual(s.runs[1].outputIds)
    expect(d.sameFraction).toBe(d.common / Math.max(s.runs[0].outputIds.length, s.runs[1].outputIds.length))
    expect(d.settings.find((m) => m.key === 'lr')).toMatchObject({ a: 0, b: 0.03, same: false })
    expect(alignTokens([1, 2, 3], [1, 3]).map((o) => o.op)).toEqual(['same', 'a', 'same'])
  })
})
