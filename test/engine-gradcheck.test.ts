// Finite-difference check of the exact gradient on tiny random Llama models, including grouped-query attention,
// tied embeddings, a head_dim that differs from hidden/heads, rope_theta inside rope_parameters, and a gradient
// taken at an already-stepped model (a chain), whose dense weights come from the engine's own export.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Engine, Gradient, View } from '../src/main/engine/engine'
import { readCheckpointFiles } from '../src/main/engine/formats/safetensors'
import { TinyConfig, TinyTensors, tinyTensors, tmp, writeTinyModel } from './helpers'
import { exportHF } from '../src/main/engine/export/hf'

const PHRASE = 'To be, or not to be'
const EPS = 1e-2

const LIN = ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj']

/** The gradient entry (row, col) of a tensor, read off the factors. */
function gradEntry(engine: Engine, g: Gradient, name: string, row: number, col: number): number {
  const f = g.factors()
  const D = engine.config.dim
  const L = engine.config.layers
  const head = f.linears[L * 7]
  const factorEntry = (slot: number): number => {
    const lf = f.linears[slot]
    let s = 0
    for (let t = 0; t < lf.T; t++) s += lf.G[t * lf.out + row] * lf.X[t * lf.in + col]
    return s
  }
  if (name === 'model.embed_tokens.weight') {
    const j = Array.from(f.embRows).indexOf(row)
    let v = j < 0 ? 0 : f.embGrad[j * D + col]
    if (engine.config.tied) {
      for (let t = 0; t < head.T; t++) v += head.G[t * head.out + row] * head.X[t * head.in + col]
    }
    return v
  }
  if (name === 'lm_head.weight') return factorEntry(L * 7)
  if (name === 'model.norm.weight') return f.normGrads[2 * L][col]
  const m = /^model\.layers\.(\d+)\.(.+)\.weight$/.exec(name)!
  const l = Number(m[1])
  if (m[2] === 'input_layernorm') return f.normGrads[2 * l][col]
  if (m[2] === 'post_attention_layernorm') return f.normGrads[2 * l + 1][col]
  return factorEntry(l * 7 + LIN.indexOf(m[2]))
}

async function lossOf(dir: string, ids: number[]): Promise<number> {
  const e = Engine.load(dir, { threads: 1 })
  const [row] = await e.score({ ids, views: [[]] })
  return row.nll.reduce((a, b) => a + b, 0) / row.nll.length
}

/** Checks the largest-gradient entry of every tensor (and a few chosen ones) against central differences. */
async function checkAgainstFiniteDifferences(c: TinyConfig, tensors: TinyTensors, engine: Engine, g: Gradient): Promise<number> {
  const ids = g.phraseIds
  let checked = 0
  for (const [name, t] of Object.entries(tensors)) {
    const cols = t.shape.length === 2 ? t.shape[1] : t.shape[0]
    const rows = t.shape.length === 2 ? t.shape[0] : 1
    const candidates: [number, number][] = []
    let best = -1
    let bestAt: [number, number] = [0, 0]
    // scan a bounded set of rows (phrase-token rows for embeddings/heads, all rows otherwise)
    const rowSet = rows > 64 ? [...new Set([...ids, 3, 100, 4000])] : Array.from({ length: rows }, (_, i) => i)
    for (const r of rowSet)
      for (let j = 0; j < cols; j++) {
        const v = Math.abs(gradEntry(engine, g, name, r, j))
        if (v > best) {
          best = v
          bestAt = [r, j]
        }
      }
    candidates.push(bestAt)
    if (name === 'model.embed_tokens.weight' && c.tied) candidates.push([4000, 1]) // a row only the tied head touches
    for (const [r, j] of candidates) {
      const analytic = gradEntry(engine, g, name, r, j)
      const idx = r * cols + j
      const orig = t.data[idx]
      const dirP = tmp()
      const dirM = tmp()
      t.data[idx] = orig + EPS
      writeTinyModel(dirP, c, tensors)
      t.data[idx] = orig - EPS
      writeTinyModel(dirM, c, tensors)
      t.data[idx] = orig
      const fd = ((await lossOf(dirP, ids)) - (await lossOf(dirM, ids))) / (2 * EPS)
      expect(Math.abs(fd - analytic), `${name}[${r},${j}] fd=${fd} analytic=${analytic}`).toBeLessThan(2e-4 + 2e-2 * Math.abs(analytic))
      checked++
    }
  }
  return checked
}

function readTensors(dir: string): TinyTensors {
  const ck = readCheckpointFiles(dir)
  const out: TinyTensors = {}
  for (const t of ck.tensors) {
    const buf = readFileSync(ck.files[t.file])
    const n = t.shape.reduce((a, s) => a * s, 1)
    const data = new Float32Array(n)
    for (let i = 0; i < n; i++) data[i] = buf.readFloatLE(t.offset + 4 * i)
    out[t.name] = { shape: t.shape, data }
  }
  return out
}

const configs: [string, TinyConfig][] = [
  ['GQA + tied embeddings + rope_parameters + head_dim ≠ hidden/heads', { dim: 24, ffn: 40, layers: 2, heads: 4, kvHeads: 2, headDim: 8, tied: true, ropeTheta: 500000, ropeInParameters: true, seed: 7 }],
  ['multi-head, untied head', { dim: 16, ffn: 32, layers: 2, heads: 2, kvHeads: 2, tied: false, seed: 3 }],
]

describe('finite-difference gradient check on tiny random Llamas', () => {
  for (const [label, c] of configs) {
    it(label, async () => {
      const tensors = tinyTensors(c)
      const dir = writeTinyModel(tmp(), c, tensors)
      const engine = Engine.load(dir, { threads: 1 })
      const g = await engine.gradient(PHRASE)
      expect(Math.abs(g.loss - (await lossOf(dir, g.phraseIds)))).toBeLessThan(1e-5 * g.loss)
      const checked = await checkAgainstFiniteDifferences(c, tensors, engine, g)
      expect(checked).toBeGreaterThanOrEqual(Object.keys(tensors).length)
    })
  }

  it('a gradient taken at a stepped model (chain) equals the gradient of the exported dense model', async () => {
    const c = configs[0][1]
    const dir = writeTinyModel(tmp(), c)
    const engine = Engine.load(dir, { threads: 1 })
    const g1 = await engine.gradient(PHRASE)
    const view: View = [{ gradient: g1, lr: 0.5 }]
    const g2 = await engine.gradient('Customers are the heart of every business', view)
    // export the stepped model densely (F32), load it as a plain model, and check g2 against it
    const out = tmp()
    await exportHF(engine, view, out, { dtype: 'F32' })
    const dense = Engine.load(out, { threads: 1 })
    const g2dense = await dense.gradient('Customers are the heart of every business')
    expect(Math.abs(g2.loss - g2dense.loss) / g2dense.loss).toBeLessThan(1e-5)
    const a = g2.gradNorms()
    const b = g2dense.gradNorms()
    for (const k of Object.keys(b)) expect(Math.abs(a[k] - b[k]) / b[k], k).toBeLessThan(1e-4)
    // and finite differences on the dense stepped weights
    const tensors = readTensors(out)
    const checked = await checkAgainstFiniteDifferences(c, tensors, engine, g2)
    expect(checked).toBeGreaterThan(10)
    // the exported directory is a complete HF model
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).tie_word_embeddings).toBe(true)
  })
})
