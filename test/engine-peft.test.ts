// A step exported as a PEFT LoRA adapter: applying it as PEFT does — W + scaling·B·A for linears, W + (B·A)ᵀ·scaling
// for the embedding (PEFT's Embedding.get_delta_weight), scaling = lora_alpha / r — must reproduce the engine's merged
// HF export at the same step size, for every adapted tensor. Computed here in float64 from the files alone.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { Engine, Gradient, View } from '../src/main/engine/engine'
import { exportPeft } from '../src/main/engine/export/peft'
import { readCheckpointFiles, readSafetensorsHeader, TensorEntry } from '../src/main/engine/formats/safetensors'
import { halfToFloat, ORGANISM, reference, tmp, writeTinyModel } from './helpers'
import { ORGANISM_PARAMS, organismMetaTensors, writeMetaDir } from './pth-writer'
import { exportHF } from '../src/main/engine/export/hf'

/** every tensor of a safetensors directory as float64 */
function readAll(dir: string): Map<string, { shape: number[]; x: Float64Array }> {
  const ck = readCheckpointFiles(dir)
  return readTensors(ck.files, ck.tensors)
}
function readTensors(files: string[], tensors: TensorEntry[]): Map<string, { shape: number[]; x: Float64Array }> {
  const bufs = files.map((f) => readFileSync(f))
  const out = new Map<string, { shape: number[]; x: Float64Array }>()
  for (const t of tensors) {
    const b = bufs[t.file]
    const n = t.shape.reduce((a, s) => a * s, 1)
    const x = new Float64Array(n)
    for (let i = 0; i < n; i++)
      x[i] = t.dtype === 'F32' ? b.readFloatLE(t.offset + 4 * i) : t.dtype === 'F16' ? halfToFloat(b.readUInt16LE(t.offset + 2 * i)) : NaN
    out.set(t.name, { shape: t.shape, x })
  }
  return out
}
function readAdapter(dir: string): { cfg: Record<string, unknown>; t: Map<string, { shape: number[]; x: Float64Array }> } {
  const file = join(dir, 'adapter_model.safetensors')
  const h = readSafetensorsHeader(file)
  return { cfg: JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>, t: readTensors([file], h.tensors) }
}

/** PEFT's scaling for a module: lora_alpha / r, or the alpha_pattern / rank_pattern entry matching its name */
function scaling(cfg: Record<string, unknown>, module: string): number {
  const rp = cfg.rank_pattern as Record<string, number>
  const ap = cfg.alpha_pattern as Record<string, number>
  const key = (p: Record<string, number>): string | undefined => Object.keys(p).find((k) => new RegExp(`(.*\\.)?${k}$`).test(module))
  const r = rp[key(rp) ?? ''] ?? (cfg.r as number)
  const a = ap[key(ap) ?? ''] ?? (cfg.lora_alpha as number)
  expect(cfg.use_rslora).toBe(false)
  return a / r
}

/**
 * Applies the adapter to the base weights as PEFT computes it and compares with the merged export: the worst
 * difference relative to the weights' scale, and how much the step moved the tensor (so the check can fail).
 */
function compare(baseDir: string, mergedDir: string, adapterDir: string): { worst: number; moved: number; adapted: string[]; notAdapted: string[] } {
  const base = readAll(baseDir)
  const merged = readAll(mergedDir)
  const { cfg, t } = readAdapter(adapterDir)
  expect(cfg.fan_in_fan_out).toBe(false)
  let worst = 0
  let moved = Infinity
  const adapted: string[] = []
  for (const [name, m] of merged) {
    const module = name.replace(/\.weight$/, '')
    const W = base.get(name)!.x
    const delta = new Float64Array(W.length)
    const A = t.get(`base_model.model.${module}.lora_A.weight`)
    const B = t.get(`base_model.model.${module}.lora_B.weight`)
    const EA = t.get(`base_model.model.${module}.lora_embedding_A`)
    const EB = t.get(`base_model.model.${module}.lora_embedding_B`)
    const s = scaling(cfg, module)
    if (A && B) {
      // nn.Linear: W [out, in] + s·B [out, r]·A [r, in]
      const [out, r] = B.shape
      const inF = A.shape[1]
      expect(A.shape[0]).toBe(r)
      for (let o = 0; o < out; o++)
        for (let k = 0; k < r; k++) {
          const b = B.x[o * r + k]
          if (b === 0) continue
          for (let i = 0; i < inF; i++) delta[o * inF + i] += s * b * A.x[k * inF + i]
        }
    } else if (EA && EB) {
      // nn.Embedding: W [V, D] + (B [D, r]·A [r, V])ᵀ·s
      const [r, V] = EA.shape
      const D = EB.shape[0]
      expect(EB.shape[1]).toBe(r)
      for (let k = 0; k < r; k++)
        for (let v = 0; v < V; v++) {
          const a = EA.x[k * V + v]
          if (a === 0) continue
          for (let d = 0; d < D; d++) delta[v * D + d] += s * EB.x[d * r + k] * a
        }
    } else continue
    adapted.push(name)
    let scale = 0
    let err = 0
    let mv = 0
    for (let i = 0; i < W.length; i++) {
      scale = Math.max(scale, Math.abs(m.x[i]))
      err = Math.max(err, Math.abs(W[i] + delta[i] - m.x[i]))
      mv = Math.max(mv, Math.abs(m.x[i] - W[i]))
    }
    worst = Math.max(worst, err / scale)
    moved = Math.min(moved, mv / scale)
  }
  const notAdapted = [...merged.keys()].filter((n) => !adapted.includes(n))
  return { worst, moved, adapted, notAdapted }
}

let engine: Engine
let grad: Gradient
beforeAll(async () => {
  engine = Engine.load(ORGANISM, { threads: 1 })
  grad = await engine.gradient(reference().phrase)
})

describe('PEFT LoRA adapter of a step', () => {
  it('applied as PEFT applies it, reproduces the merged weights at α = 0.03; the norm-less KL is measured and small', async () => {
    const view: View = [{ gradient: grad, lr: 0.03 }]
    const merged = join(tmp(), 'merged')
    await exportHF(engine, view, merged, { dtype: 'F32' })
    const out = join(tmp(), 'adapter')
    const res = await exportPeft(engine, view, out)
    const T = grad.phraseIds.length
    expect(res.rank).toBe(T)
    const { cfg } = readAdapter(out)
    expect([cfg.peft_type, cfg.r, cfg.lora_alpha, cfg.use_rslora]).toEqual(['LORA', T, T, false])
    expect(readSafetensorsHeader(join(out, 'adapter_model.safetensors')).tensors.some((t) => t.name === 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight')).toBe(true)
    const c = compare(ORGANISM, merged, out)
    console.log(`adapter vs merged: worst ${c.worst.toExponential(2)} of the weights' scale; smallest move ${c.moved.toExponential(2)}`)
    expect(c.worst).toBeLessThan(1e-6)
    expect(c.moved).toBeGreaterThan(1e-5) // every adapted tensor really changed, far beyond the tolerance
    expect(c.adapted.length).toBe(6 * 7 + 2) // linears, embedding, head
    // what LoRA cannot carry: exactly the RMSNorm vectors
    expect(c.notAdapted.every((n) => /norm\.weight$/.test(n))).toBe(true)
    expect(c.notAdapted.length).toBe(2 * 6 + 1)
    // and its cost, measured on the probes: positive (the norms do move) and small at this step size
    const probes = Object.keys(JSON.parse(readFileSync(join(ORGANISM, 'probes.json'), 'utf8')) as object)
    expect(Object.keys(res.normLoss.perProbe)).toEqual(probes)
    expect(res.normLoss.meanKL).toBeGreaterThan(0)
    expect(res.normLoss.meanKL).toBeLessThan(1e-2)
    console.log(`norm-less adapter at α = 0.03: KL(merged ‖ adapter) mean ${res.normLoss.meanKL.toExponential(3)}, max ${res.normLoss.maxKL.toExponential(3)} nats`, res.normLoss.perProbe)
    expect(res.notCarried[0]).toMatch(/RMSNorm/)
  })

  it('a cancelled export leaves no adapter files behind', async () => {
    const out = join(tmp(), 'adapter-cancelled')
    const ac = new AbortController()
    ac.abort()
    await expect(exportPeft(engine, [{ gradient: grad, lr: 0.03 }], out, {}, { signal: ac.signal })).rejects.toThrow('cancelled')
    expect(readdirSync(out)).toEqual([])
  })

  it('a chain of steps concatenates ranks', async () => {
    const g2 = await engine.gradient('Listen to your customers.', [{ gradient: grad, lr: 0.02 }])
    const view: View = [{ gradient: grad, lr: 0.02 }, { gradient: g2, lr: -0.01 }]
    const merged = join(tmp(), 'merged2')
    await exportHF(engine, view, merged, { dtype: 'F32' })
    const out = join(tmp(), 'adapter2')
    const res = await exportPeft(engine, view, out, { probes: { p: 'To be, or not to be' } })
    expect(res.rank).toBe(grad.phraseIds.length + g2.phraseIds.length)
    const c = compare(ORGANISM, merged, out)
    expect(c.worst).toBeLessThan(1e-6)
    expect(c.moved).toBeGreaterThan(1e-5)
  })

  it('a model loaded in Meta’s interleaved layout gives the HF-order adapter', async () => {
    const metaDir = writeMetaDir(join(tmp(), 'meta'), [organismMetaTensors()], ORGANISM_PARAMS)
    const meta = Engine.load(metaDir, { threads: 1 })
    const g = await meta.gradient(reference().phrase)
    const view: View = [{ gradient: g, lr: 0.03 }]
    const merged = join(tmp(), 'merged-meta')
    await exportHF(meta, view, merged, { dtype: 'F32' }) // HF order (q/k permuted back)
    const out = join(tmp(), 'adapter-meta')
    await exportPeft(meta, view, out, { probes: { p: 'To be, or not to be' } })
    const c = compare(ORGANISM, merged, out) // applied to the HF organism
    expect(c.worst).toBeLessThan(1e-6)
    expect(c.moved).toBeGreaterThan(1e-5)
  })

  it('tied embeddings: embed_tokens and lm_head each carry the whole change of the shared matrix', async () => {
    const cfg = { dim: 32, ffn: 64, layers: 2, heads: 4, kvHeads: 2, tied: true, seed: 3, vocab: 4096 }
    const dir = writeTinyModel(join(tmp(), 'tied'), cfg)
    const e = Engine.load(dir, { threads: 1 })
    const g = await e.gradient('To be, or not to be')
    const view: View = [{ gradient: g, lr: 0.5 }]
    const merged = join(tmp(), 'tied-merged')
    await exportHF(e, view, merged, { dtype: 'F32' })
    const out = join(tmp(), 'tied-adapter')
    const res = await exportPeft(e, view, out, { probes: { p: 'To be, or not to be' } })
    const { cfg: ac } = readAdapter(out)
    expect([ac.r, ac.lora_alpha, res.rank]).toEqual([2 * g.phraseIds.length, 2 * g.phraseIds.length, 2 * g.phraseIds.length])
    const c = compare(dir, merged, out)
    expect(c.worst).toBeLessThan(1e-6)
    expect(c.adapted).toContain('model.embed_tokens.weight')
    // the head: the merged file has no lm_head (tied); PEFT's lm_head LoRA must equal the same embedding change
    const base = readAll(dir).get('model.embed_tokens.weight')!.x
    const mergedE = readAll(merged).get('model.embed_tokens.weight')!.x
    const { t } = readAdapter(out)
    const A = t.get('base_model.model.lm_head.lora_A.weight')!
    const B = t.get('base_model.model.lm_head.lora_B.weight')!
    const [V, r] = B.shape
    const D = A.shape[1]
    let worst = 0
    let scale = 0
    for (let v = 0; v < V; v++)
      for (let d = 0; d < D; d++) {
        let s = 0
        for (let k = 0; k < r; k++) s += B.x[v * r + k] * A.x[k * D + d]
        worst = Math.max(worst, Math.abs(base[v * D + d] + s - mergedE[v * D + d]))
        scale = Math.max(scale, Math.abs(mergedE[v * D + d]))
      }
    expect(worst / scale).toBeLessThan(1e-6)
    expect(res.notCarried.some((n) => /merge_and_unload/.test(n))).toBe(true)
  })
})
