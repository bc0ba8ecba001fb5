// Meta's checkpoints and GGUF files keep q/k rows in the interleaved RoPE order (pairs 2i, 2i+1 of a head); HF's
// converter permutes them to rotate_half order (pairs i, i + hd/2). The engine runs either layout in place: the same
// weights, rows interleaved and ropeInterleaved set, must give the same logits and the same gradient (rows permuted).
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Engine } from '../src/main/engine/engine'
import { loadAddon, NativeModel } from '../src/main/engine/native'
import { readCheckpointFiles } from '../src/main/engine/formats/safetensors'
import { TinyConfig, TinyTensors, tinyTensors, tmp, writeTinyModel } from './helpers'

/** HF row of a q/k projection → the interleaved row that holds the same values (per head: i → 2i, i + hd/2 → 2i + 1). */
function interleavedRow(row: number, hd: number): number {
  const h = Math.floor(row / hd)
  const r = row % hd
  const half = hd / 2
  return h * hd + (r < half ? 2 * r : 2 * (r - half) + 1)
}

function interleave(t: TinyTensors, hd: number): TinyTensors {
  const out: TinyTensors = {}
  for (const [name, v] of Object.entries(t)) {
    if (!/(q_proj|k_proj)\.weight$/.test(name)) {
      out[name] = v
      continue
    }
    const [rows, cols] = v.shape
    const d = new Float32Array(rows * cols)
    for (let r = 0; r < rows; r++) d.set(v.data.subarray(r * cols, (r + 1) * cols), interleavedRow(r, hd) * cols)
    out[name] = { shape: v.shape, data: d }
  }
  return out
}

describe('interleaved (Meta / GGUF) RoPE layout', () => {
  const c: TinyConfig = { dim: 48, ffn: 96, layers: 2, heads: 4, kvHeads: 2, headDim: 16, tied: false, seed: 7 }
  const hd = c.headDim!
  const base = tinyTensors(c)
  const hfDir = writeTinyModel(join(tmp(), 'hf'), c, base)
  const metaDir = writeTinyModel(join(tmp(), 'meta'), c, interleave(base, hd))

  it('scores and differentiates exactly as the HF layout does', async () => {
    const hf = Engine.load(hfDir, { threads: 1 })
    const ckpt = readCheckpointFiles(metaDir)
    const meta: NativeModel = new (loadAddon().Model)({
      config: { ...hf.config, raw: undefined, eosIds: undefined, ropeInterleaved: true },
      files: ckpt.files,
      tensors: ckpt.tensors,
      threads: 1,
    })
    const ids = hf.withBos('To be, or not to be, that is the question', 'phrase')
    const [a] = await hf.score({ ids, views: [[]] })
    const b = await meta.score({ ids, views: [[]], topk: 0 })
    const worst = a.nll.reduce((m, x, i) => Math.max(m, Math.abs(x - b.nll[i]) / Math.max(1, Math.abs(x))), 0)
    expect(worst).toBeLessThan(1e-5)

    // the same interleaved model with the flag off is a different model: the flag is what makes it right
    const wrong: NativeModel = new (loadAddon().Model)({
      config: { ...hf.config, raw: undefined, eosIds: undefined, ropeInterleaved: false },
      files: ckpt.files,
      tensors: ckpt.tensors,
      threads: 1,
    })
    const w = await wrong.score({ ids, views: [[]], topk: 0 })
    expect(w.nll.some((x, i) => Math.abs(x - a.nll[i]) > 1e-3)).toBe(true)

    const ga = (await hf.gradient('To be, or not to be, that is the question')).factors()
    const gb = (await meta.gradient(ids, [])).export()
    expect(Math.abs(ga.loss - gb.loss)).toBeLessThan(1e-5 * ga.loss)
    // q of layer 0 (slot 0) and k of layer 1 (slot 8): G columns are the projection's output rows, permuted
    for (const slot of [0, 8]) {
      const fa = ga.linears[slot]
      const fb = gb.linears[slot]
      let worstG = 0
      for (let t = 0; t < fa.T; t++)
        for (let r = 0; r < fa.out; r++) {
          const x = fa.G[t * fa.out + r]
          const y = fb.G[t * fb.out + interleavedRow(r, hd)]
          worstG = Math.max(worstG, Math.abs(x - y))
        }
      const scale = fa.G.reduce((m, x) => Math.max(m, Math.abs(x)), 0)
      expect(worstG).toBeLessThan(1e-4 * scale)
    }
  })
})
