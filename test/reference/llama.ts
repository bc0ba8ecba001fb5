// An independent float64 Llama-family forward in plain TypeScript, written from the model's definition (HF's
// LlamaForCausalLM / MistralForCausalLM / Qwen2ForCausalLM / Qwen3ForCausalLM / GraniteForCausalLM) and sharing no
// code with the engine: token embeddings, RMSNorm, RoPE in HF's rotate_half layout or Meta's interleaved one with any
// inverse frequencies, grouped-query attention with an optional sliding window, optional biases on every linear,
// SwiGLU, a tied or separate head, and the mean next-token cross-entropy. Families: Qwen3's RMSNorm of each q and k
// head (q_norm, k_norm over head_dim, before RoPE); Granite's embedding, residual, attention and logit multipliers;
// Gemma 2 / 3 (Gemma2ForCausalLM, Gemma3ForCausalLM): norms as (1 + w), norms of the attention and MLP outputs,
// GeGLU with gelu's tanh approximation, attention and final soft-capping, per-layer sliding windows and local RoPE;
// GPT-OSS's attention sinks (GptOssForCausalLM; its MoE block in experts.ts).
// Slow and simple on purpose: it is the yardstick, not the product.

import { RefMoe, refMoeBlock } from './experts'

export interface RefConfig {
  vocab: number
  dim: number
  ffn: number
  layers: number
  heads: number
  kvHeads: number
  headDim: number
  eps: number
  /** inverse frequencies [headDim / 2] */
  invFreq: number[]
  /** q/k rows in Meta's interleaved order: frequency i rotates (2i, 2i+1) instead of (i, i + headDim/2) */
  interleaved: boolean
  /** keys at distance ≥ window are masked; 0 = no window */
  window: number
  tied: boolean
  /** Qwen3: self_attn.q_norm / k_norm [headDim] applied to each head of q and k after the projection, before RoPE */
  qkNorm?: boolean
  /** Granite: embeddings × embeddingMultiplier; branch outputs × residualMultiplier; scores = q·k × attentionScale
   *  (default 1/√headDim); logits ÷ logitsScaling */
  embeddingMultiplier?: number
  residualMultiplier?: number
  attentionScale?: number
  logitsScaling?: number
  /** Gemma: every norm multiplies by (normOffset + w) */
  normOffset?: number
  /** Gemma: post_attention_layernorm on the attention output, pre_feedforward_layernorm as the MLP input norm,
   *  post_feedforward_layernorm on the MLP output */
  postNorms?: boolean
  /** Gemma: gelu (tanh approximation) instead of SiLU on the gate */
  geluTanh?: boolean
  /** Gemma 2: cap·tanh(x / cap) on attention scores / logits */
  attnSoftcap?: number
  finalSoftcap?: number
  /** per layer: the window applies (Gemma's sliding layers); undefined = every layer */
  layerSliding?: boolean[]
  /** RoPE inverse frequencies of the sliding layers (Gemma 3) */
  invFreqLocal?: number[]
  /** cos and sin of the (global) RoPE × this (YaRN's / longrope's attention factor); default 1 */
  ropeScale?: number
  /** the (global) inverse frequencies that turn position t, where they differ by position: longrope in transformers'
   *  KV-cached generation, each position keeping the factors of the call that computed it; default invFreq */
  invFreqAt?: (t: number) => number[]
  /** Phi-3/4's partial rotary: only the first rotaryDims values of each head turn (pairs (i, i + rotaryDims/2));
   *  invFreq then has rotaryDims/2 entries. Default headDim. */
  rotaryDims?: number
  /** OLMoE: q_norm / k_norm over the whole projection [H·hd], [KVH·hd] instead of each head */
  qkNormFull?: boolean
  /** GPT-OSS: self_attn.sinks [heads], a logit per head that joins each row's softmax with no value */
  sinks?: boolean
  /** a mixture of experts' MoE blocks (experts.ts) */
  moe?: RefMoe
}

/** Weights by HF tensor name, row-major, as float64. Biases are optional: present names are used. */
export type RefWeights = Record<string, Float64Array>

/**
 * A weights object may also answer with some rows of a matrix (REF_ROWS: name, first row, row count), so the
 * embedding and output tables of a large file (151936 × 2048 float64 is 2.5 GB) are never held whole: the forward
 * reads the embedding rows of its tokens and walks the output table in blocks of rows. Without it, rows are views.
 */
export const REF_ROWS = Symbol('rows of a reference weight')
export type RefRowReader = (name: string, r0: number, n: number) => Float64Array | undefined

/** rows r0 … r0+n of the matrix `name` (cols columns) */
function rowsOf(w: RefWeights, name: string, r0: number, n: number, cols: number): Float64Array {
  const reader = (w as { [REF_ROWS]?: RefRowReader })[REF_ROWS]
  const rows = reader ? reader(name, r0, n) : w[name]?.subarray(r0 * cols, (r0 + n) * cols)
  if (!rows) throw new Error(`reference: no tensor ${name}`)
  return rows
}

/** rows of the output table at a time (4096 × 2048 float64: 64 MB) */
const OUTPUT_ROWS = 4096

/** Default RoPE inverse frequencies θ^(−2i/hd), in float64. */
export function refDefaultInvFreq(theta: number, headDim: number): number[] {
  return Array.from({ length: headDim / 2 }, (_, i) => Math.pow(theta, -(2 * i) / headDim))
}

/** Llama 3.1 frequency scaling (Meta's apply_scaling), in float64. */
export function refLlama3InvFreq(
  theta: number,
  headDim: number,
  s: { factor: number; low: number; high: number; original: number },
): number[] {
  return refDefaultInvFreq(theta, headDim).map((f) => {
    const wavelen = (2 * Math.PI) / f
    if (wavelen < s.original / s.high) return f // high frequencies: untouched
    if (wavelen > s.original / s.low) return f / s.factor // low frequencies: interpolated by factor
    const smooth = (s.original / wavelen - s.low) / (s.high - s.low)
    return (1 - smooth) * (f / s.factor) + smooth * f
  })
}

/**
 * YaRN (Peng et al. 2023, as transformers' rope utils define it), in float64: the dimension pairs whose wavelength
 * turns more than betaFast times within the original context keep their frequency, those turning fewer than betaSlow
 * times are divided by factor, linearly mixed between (the bounds floored / ceiled when truncate).
 */
export function refYarnInvFreq(
  theta: number,
  headDim: number,
  s: { factor: number; original: number; betaFast: number; betaSlow: number; truncate: boolean },
): number[] {
  // the (fractional) dimension index at which the wavelength 2π·θ^(d/headDim) fits `turns` times into original
  const dimFor = (turns: number): number => (headDim * Math.log(s.original / (2 * Math.PI * turns))) / (2 * Math.log(theta))
  let lo = dimFor(s.betaFast)
  let hi = dimFor(s.betaSlow)
  if (s.truncate) [lo, hi] = [Math.floor(lo), Math.ceil(hi)]
  lo = Math.max(lo, 0)
  hi = Math.min(hi, headDim - 1)
  if (hi === lo) hi += 0.001
  return refDefaultInvFreq(theta, headDim).map((f, i) => {
    const toInterpolated = Math.min(1, Math.max(0, (i - lo) / (hi - lo)))
    return (1 - toInterpolated) * f + toInterpolated * (f / s.factor)
  })
}

/** YaRN's attention factor from factor (and DeepSeek's mscale / mscale_all_dim), in float64. */
export function refYarnAttentionFactor(factor: number, mscale?: number, mscaleAllDim?: number): number {
  const m = (k: number): number => (factor <= 1 ? 1 : 0.1 * k * Math.log(factor) + 1)
  return mscale && mscaleAllDim ? m(mscale) / m(mscaleAllDim) : m(1)
}

/** y[T, out] = x[T, in] · Wᵀ (+ b) */
function linear(x: Float64Array, T: number, inDim: number, W: Float64Array, outDim: number, b?: Float64Array): Float64Array {
  const y = new Float64Array(T * outDim)
  for (let t = 0; t < T; t++)
    for (let o = 0; o < outDim; o++) {
      let s = b ? b[o] : 0
      const wo = o * inDim
      const xt = t * inDim
      for (let i = 0; i < inDim; i++) s += x[xt + i] * W[wo + i]
      y[t * outDim + o] = s
    }
  return y
}

function rmsnorm(x: Float64Array, T: number, D: number, w: Float64Array, eps: number, offset = 0): Float64Array {
  const y = new Float64Array(T * D)
  for (let t = 0; t < T; t++) {
    let ss = 0
    for (let i = 0; i < D; i++) ss += x[t * D + i] ** 2
    const r = 1 / Math.sqrt(ss / D + eps)
    for (let i = 0; i < D; i++) y[t * D + i] = x[t * D + i] * r * (offset + w[i])
  }
  return y
}

/** Rotates each head of x [T, nh·hd] in place: position t, frequency i, angle t·invFreqAt(t)[i]. */
function rope(x: Float64Array, T: number, nh: number, c: RefConfig, invFreqAt: (t: number) => number[], scale: number): void {
  const hd = c.headDim
  const half = (c.rotaryDims ?? hd) / 2
  for (let t = 0; t < T; t++)
    for (let h = 0, invFreq = invFreqAt(t); h < nh; h++)
      for (let i = 0; i < half; i++) {
        const a = c.interleaved ? 2 * i : i
        const b = c.interleaved ? 2 * i + 1 : i + half
        const base = t * nh * hd + h * hd
        const cos = Math.cos(t * invFreq[i]) * scale
        const sin = Math.sin(t * invFreq[i]) * scale
        const x0 = x[base + a]
        const x1 = x[base + b]
        x[base + a] = x0 * cos - x1 * sin
        x[base + b] = x1 * cos + x0 * sin
      }
}

/** Logits [T − from, V] of positions from … T−1 of the sequence (causal, position t sees tokens 0 … t); from = 0: the
 *  whole sequence. */
export function refLogits(c: RefConfig, w: RefWeights, ids: number[], from = 0): Float64Array {
  const T = ids.length
  const { dim: D, ffn: F, heads: H, kvHeads: KVH, headDim: hd, vocab: V } = c
  const get = (name: string): Float64Array => {
    const v = w[name]
    if (!v) throw new Error(`reference: no tensor ${name}`)
    return v
  }
  const x = new Float64Array(T * D)
  ids.forEach((id, t) => x.set(rowsOf(w, 'model.embed_tokens.weight', id, 1, D), t * D))
  const em = c.embeddingMultiplier ?? 1
  const rm = c.residualMultiplier ?? 1
  const scale = c.attentionScale ?? 1 / Math.sqrt(hd)
  for (let i = 0; i < x.length; i++) x[i] *= em
  const group = H / KVH
  const off = c.normOffset ?? 0
  for (let l = 0; l < c.layers; l++) {
    const p = `model.layers.${l}.`
    const sliding = c.layerSliding ? c.layerSliding[l] : true
    const window = sliding ? c.window : 0
    const local = sliding && c.invFreqLocal !== undefined
    const invFreqAt = (t: number): number[] => (local ? c.invFreqLocal! : c.invFreqAt ? c.invFreqAt(t) : c.invFreq)
    const ropeScale = local ? 1 : c.ropeScale ?? 1
    const xn = rmsnorm(x, T, D, get(p + 'input_layernorm.weight'), c.eps, off)
    let q: Float64Array, k: Float64Array, v: Float64Array
    const qkv = w[p + 'self_attn.qkv_proj.weight']
    if (qkv) {
      // Phi-3: one projection to [q | k | v] per token, split along its last axis
      const all = linear(xn, T, D, qkv, (H + 2 * KVH) * hd)
      const cut = (from: number, n: number): Float64Array => {
        const out = new Float64Array(T * n)
        for (let t = 0; t < T; t++) out.set(all.subarray(t * (H + 2 * KVH) * hd + from, t * (H + 2 * KVH) * hd + from + n), t * n)
        return out
      }
      q = cut(0, H * hd)
      k = cut(H * hd, KVH * hd)
      v = cut((H + KVH) * hd, KVH * hd)
    } else {
      q = linear(xn, T, D, get(p + 'self_attn.q_proj.weight'), H * hd, w[p + 'self_attn.q_proj.bias'])
      k = linear(xn, T, D, get(p + 'self_attn.k_proj.weight'), KVH * hd, w[p + 'self_attn.k_proj.bias'])
      v = linear(xn, T, D, get(p + 'self_attn.v_proj.weight'), KVH * hd, w[p + 'self_attn.v_proj.bias'])
    }
    if (c.qkNormFull) {
      q.set(rmsnorm(q, T, H * hd, get(p + 'self_attn.q_norm.weight'), c.eps, off))
      k.set(rmsnorm(k, T, KVH * hd, get(p + 'self_attn.k_norm.weight'), c.eps, off))
    } else if (c.qkNorm) {
      // q.view(T, H, hd) normalised over its last axis: each head of each token is one row of hd values
      q.set(rmsnorm(q, T * H, hd, get(p + 'self_attn.q_norm.weight'), c.eps, off))
      k.set(rmsnorm(k, T * KVH, hd, get(p + 'self_attn.k_norm.weight'), c.eps, off))
    }
    rope(q, T, H, c, invFreqAt, ropeScale)
    rope(k, T, KVH, c, invFreqAt, ropeScale)
    const att = new Float64Array(T * H * hd)
    const scores = new Float64Array(T)
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / group)
      for (let t = 0; t < T; t++) {
        const u0 = window > 0 ? Math.max(0, t - window + 1) : 0
        let mx = -Infinity
        for (let u = u0; u <= t; u++) {
          let s = 0
          for (let i = 0; i < hd; i++) s += q[t * H * hd + h * hd + i] * k[u * KVH * hd + g * hd + i]
          scores[u] = s * scale
          if (c.attnSoftcap) scores[u] = c.attnSoftcap * Math.tanh(scores[u] / c.attnSoftcap)
          mx = Math.max(mx, scores[u])
        }
        // GPT-OSS: the sink's logit is one more column of the softmax, dropped from the weighted sum
        const sink = c.sinks ? get(p + 'self_attn.sinks')[h] : -Infinity
        mx = Math.max(mx, sink)
        let z = c.sinks ? Math.exp(sink - mx) : 0
        for (let u = u0; u <= t; u++) z += Math.exp(scores[u] - mx)
        for (let u = u0; u <= t; u++) {
          const pr = Math.exp(scores[u] - mx) / z
          for (let i = 0; i < hd; i++) att[t * H * hd + h * hd + i] += pr * v[u * KVH * hd + g * hd + i]
        }
      }
    }
    let o = linear(att, T, H * hd, get(p + 'self_attn.o_proj.weight'), D, w[p + 'self_attn.o_proj.bias'])
    if (c.postNorms) o = rmsnorm(o, T, D, get(p + 'post_attention_layernorm.weight'), c.eps, off)
    for (let i = 0; i < x.length; i++) x[i] += o[i] * rm
    const ffnNorm = c.postNorms ? 'pre_feedforward_layernorm.weight' : 'post_attention_layernorm.weight'
    const xn2 = rmsnorm(x, T, D, get(p + ffnNorm), c.eps, off)
    if (c.moe?.layers[l]) {
      const moe = refMoeBlock(c.moe, w, p, xn2, T, D)
      for (let i = 0; i < x.length; i++) x[i] += moe[i] * rm
      continue
    }
    let gate: Float64Array, up: Float64Array
    const gateUp = w[p + 'mlp.gate_up_proj.weight']
    if (gateUp) {
      // Phi-3: [gate | up] per token, chunked in two along the last axis
      const all = linear(xn2, T, D, gateUp, 2 * F)
      gate = new Float64Array(T * F)
      up = new Float64Array(T * F)
      for (let t = 0; t < T; t++) {
        gate.set(all.subarray(t * 2 * F, t * 2 * F + F), t * F)
        up.set(all.subarray(t * 2 * F + F, (t + 1) * 2 * F), t * F)
      }
    } else {
      gate = linear(xn2, T, D, get(p + 'mlp.gate_proj.weight'), F, w[p + 'mlp.gate_proj.bias'])
      up = linear(xn2, T, D, get(p + 'mlp.up_proj.weight'), F, w[p + 'mlp.up_proj.bias'])
    }
    const gelu = (z: number): number => 0.5 * z * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (z + 0.044715 * z ** 3)))
    for (let i = 0; i < gate.length; i++) gate[i] = (c.geluTanh ? gelu(gate[i]) : gate[i] / (1 + Math.exp(-gate[i]))) * up[i]
    let down = linear(gate, T, F, get(p + 'mlp.down_proj.weight'), D, w[p + 'mlp.down_proj.bias'])
    if (c.postNorms) down = rmsnorm(down, T, D, get(p + 'post_feedforward_layernorm.weight'), c.eps, off)
    for (let i = 0; i < x.length; i++) x[i] += down[i] * rm
  }
  const xf = rmsnorm(x.subarray(from * D), T - from, D, get('model.norm.weight'), c.eps, off)
  const head = c.tied ? 'model.embed_tokens.weight' : 'lm_head.weight'
  const logits = new Float64Array((T - from) * V)
  for (let r0 = 0; r0 < V; r0 += OUTPUT_ROWS) {
    const n = Math.min(OUTPUT_ROWS, V - r0)
    const part = linear(xf, T - from, D, rowsOf(w, head, r0, n, D), n)
    for (let t = 0; t < T - from; t++) logits.set(part.subarray(t * n, (t + 1) * n), t * V + r0)
  }
  const ls = c.logitsScaling ?? 1
  for (let i = 0; i < logits.length; i++) logits[i] /= ls
  if (c.finalSoftcap) for (let i = 0; i < logits.length; i++) logits[i] = c.finalSoftcap * Math.tanh(logits[i] / c.finalSoftcap)
  return logits
}

/** log-softmax of each row of logits [T, V] */
export function refLogProbs(logits: Float64Array, V: number): Float64Array {
  const out = new Float64Array(logits.length)
  for (let t = 0; t < logits.length / V; t++) {
    let mx = -Infinity
    for (let i = 0; i < V; i++) mx = Math.max(mx, logits[t * V + i])
    let z = 0
    for (let i = 0; i < V; i++) z += Math.exp(logits[t * V + i] - mx)
    const lse = mx + Math.log(z)
    for (let i = 0; i < V; i++) out[t * V + i] = logits[t * V + i] - lse
  }
  return out
}

/** Mean next-token cross-entropy over ids (BOS + phrase): the loss whose gradient the engine takes. */
export function refLoss(c: RefConfig, w: RefWeights, ids: number[]): number {
  const lp = refLogProbs(refLogits(c, w, ids), c.vocab)
  let s = 0
  for (let t = 0; t + 1 < ids.length; t++) s -= lp[t * c.vocab + ids[t + 1]]
  return s / (ids.length - 1)
}
