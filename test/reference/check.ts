// Glue between the engine and the float64 reference for the Llama-family tests: open a tiny checkpoint through
// parseLlamaConfig and the native addon, read its weights as float64 (bf16 decoded), turn a factored step into dense
// per-tensor gradients, and check every entry against central differences of the reference loss.
import { readFileSync } from 'node:fs'
import { expect } from 'vitest'
import { readJson } from '../../src/main/engine/config'
import { ModelConfig, parseModelConfig } from '../../src/main/engine/families'
import { loadAddon, NativeModel, StepFactors } from '../../src/main/engine/native'
import { readCheckpointFiles } from '../../src/main/engine/formats/safetensors'
import { RefConfig, RefWeights, refLoss } from './llama'

export const LIN = ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj']

export function openNative(dir: string, over: Record<string, unknown> = {}): { cfg: ModelConfig; model: NativeModel } {
  const cfg = parseModelConfig(readJson(`${dir}/config.json`, 'config.json'))
  const ck = readCheckpointFiles(dir)
  const model: NativeModel = new (loadAddon().Model)({
    config: { ...cfg, raw: undefined, eosIds: undefined, ...over },
    files: ck.files,
    tensors: ck.tensors,
    threads: 1,
  })
  return { cfg, model }
}

/** The checkpoint's tensors as float64, decoded from the file (so bf16 models give their bf16 values). */
export function readWeights(dir: string): RefWeights {
  const ck = readCheckpointFiles(dir)
  const out: RefWeights = {}
  const bufs = ck.files.map((f) => readFileSync(f))
  for (const t of ck.tensors) {
    const buf = bufs[t.file]
    const n = t.shape.reduce((a, s) => a * s, 1)
    const d = new Float64Array(n)
    for (let i = 0; i < n; i++) {
      if (t.dtype === 'F32') d[i] = buf.readFloatLE(t.offset + 4 * i)
      else if (t.dtype === 'BF16') {
        const b = Buffer.alloc(4)
        b.writeUInt32LE((buf.readUInt16LE(t.offset + 2 * i) << 16) >>> 0)
        d[i] = b.readFloatLE(0)
      } else throw new Error('F16 not used here')
    }
    out[t.name] = d
  }
  return out
}

/** Dense ∂L/∂(tensor) by HF name, from the engine's factored step (tied heads add into the embedding). */
/** Dense ∂L/∂W of one linear's factors (Gᵀ X) as [out, in] */
export function factorDense(lf: StepFactors['linears'][number]): Float64Array {
  const d = new Float64Array(lf.out * lf.in)
  for (let t = 0; t < lf.T; t++)
    for (let o = 0; o < lf.out; o++) {
      const a = lf.G[t * lf.out + o]
      if (a === 0) continue
      for (let i = 0; i < lf.in; i++) d[o * lf.in + i] += a * lf.X[t * lf.in + i]
    }
  return d
}

export function denseGradients(f: StepFactors, cfg: ModelConfig, names: string[]): RefWeights {
  const { dim: D, layers: L } = cfg
  const g: RefWeights = {}
  const emb = cfg.tied ? factorDense(f.linears[L * 7]) : new Float64Array(cfg.vocab * D)
  f.embRows.forEach((r, j) => {
    for (let i = 0; i < D; i++) emb[r * D + i] += f.embGrad[j * D + i]
  })
  g['model.embed_tokens.weight'] = emb
  if (!cfg.tied) g['lm_head.weight'] = factorDense(f.linears[L * 7])
  g['model.norm.weight'] = Float64Array.from(f.normGrads[2 * L])
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}.`
    g[p + 'input_layernorm.weight'] = Float64Array.from(f.normGrads[2 * l])
    g[p + (cfg.postNorms ? 'pre_feedforward_layernorm.weight' : 'post_attention_layernorm.weight')] = Float64Array.from(f.normGrads[2 * l + 1])
    // the family's norms follow the final norm, layer by layer in the engine's order: q_norm, k_norm, then the
    // attention and MLP output norms
    const family = [
      ...(cfg.qkNorm ? ['self_attn.q_norm.weight', 'self_attn.k_norm.weight'] : []),
      ...(cfg.postNorms ? ['post_attention_layernorm.weight', 'post_feedforward_layernorm.weight'] : []),
    ]
    family.forEach((n, k) => (g[p + n] = Float64Array.from(f.normGrads[2 * L + 1 + family.length * l + k])))
    LIN.forEach((n, j) => {
      g[p + n + '.weight'] = factorDense(f.linears[l * 7 + j])
      const bg = f.biasGrads?.[l * 7 + j]
      if (bg && bg.length) g[p + n + '.bias'] = Float64Array.from(bg)
    })
  }
  for (const n of names) if (!g[n]) throw new Error(`no gradient for ${n}`)
  return g
}

/** Weights after a step of size lr: w − lr·∇w for every tensor. */
export function stepped(w: RefWeights, g: RefWeights, lr: number): RefWeights {
  const out: RefWeights = {}
  for (const [n, v] of Object.entries(w)) out[n] = v.map((x, i) => x - lr * g[n][i])
  return out
}

/**
 * Every entry of every tensor: the engine's gradient against (L(w + ε) − L(w − ε)) / 2ε of the float64 reference.
 * Returns the worst error relative to the tensor's largest gradient entry, per tensor.
 */
export function checkEveryEntry(
  rc: RefConfig,
  w: RefWeights,
  ids: number[],
  grads: RefWeights,
  onlyRows?: (name: string) => number[] | undefined,
): { entries: number; worst: Record<string, number> } {
  const EPS = 1e-5
  let entries = 0
  const worst: Record<string, number> = {}
  for (const [name, v] of Object.entries(w)) {
    const g = grads[name]
    expect(g, `gradient of ${name}`).toBeDefined()
    const rows = onlyRows?.(name)
    const cols = name.endsWith('embed_tokens.weight') || name === 'lm_head.weight' ? rc.dim : v.length
    const idx: number[] = []
    if (rows) for (const r of rows) for (let j = 0; j < cols; j++) idx.push(r * cols + j)
    else for (let i = 0; i < v.length; i++) idx.push(i)
    let scale = 0
    for (const i of idx) scale = Math.max(scale, Math.abs(g[i]))
    let bad = 0
    for (const i of idx) {
      const orig = v[i]
      v[i] = orig + EPS
      const lp = refLoss(rc, w, ids)
      v[i] = orig - EPS
      const lm = refLoss(rc, w, ids)
      v[i] = orig
      const fd = (lp - lm) / (2 * EPS)
      const err = Math.abs(fd - g[i])
      bad = Math.max(bad, err / Math.max(scale, 1e-6))
      // fp32 engine vs float64 reference: within 2e-5 of the tensor's gradient scale, entry by entry (measured: ≤ 7e-7)
      if (err > 2e-5 * scale + 1e-8)
        expect.fail(`${name}[${i}]: engine ${g[i]} vs finite difference ${fd} (tensor scale ${scale})`)
      entries++
    }
    worst[name] = bad
  }
  return { entries, worst }
}

