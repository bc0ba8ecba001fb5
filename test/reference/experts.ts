// The float64 reference of a mixture-of-experts block, written from transformers' modeling files and reading each
// family's own checkpoint layout (no code shared with the engine or with its name mapping):
//   mixtral     MixtralSparseMoeBlock: softmax(router) → top-k → ÷ their sum; experts.E.w1 (gate), w3 (up), w2 (down)
//   qwen3_moe   Qwen3MoeSparseMoeBlock / OlmoeSparseMoeBlock: softmax → top-k → ÷ their sum only with norm_topk_prob;
//   olmoe       mlp.gate, mlp.experts.E.{gate,up,down}_proj
//   granitemoe  GraniteMoeTopKGating: top-k of the logits → softmax over those k logits; input_linear [E, 2F, D]
//               (chunk 0 = gate, chunk 1 = up), output_linear [E, D, F]
//   gpt_oss     GptOssTopKRouter: logits = x·Wᵀ + b (mlp.router), top-k of the logits → softmax over those k;
//               GptOssExperts: gate_up = x·gate_up_proj[e] + gate_up_proj_bias[e] ([E, D, 2F]: gate the even columns,
//               up the odd ones), gate ≤ limit, −limit ≤ up ≤ limit, (up + 1)·gate·σ(alpha·gate), then
//               ·down_proj[e] ([E, F, D]) + down_proj_bias[e]
// out[t] = Σ over the token's k experts of weight · down(silu(gate(x))·up(x)).

export interface RefMoe {
  family: 'mixtral' | 'qwen3_moe' | 'olmoe' | 'granitemoe' | 'gpt_oss'
  /** gpt_oss: swiglu_limit and swiglu_alpha */
  limit?: number
  alpha?: number
  experts: number
  topk: number
  /** the experts' intermediate size */
  ffn: number
  normTopk: boolean
  /** per layer: a MoE block (else the dense MLP) */
  layers: boolean[]
  /** called with each token's chosen experts and weights (a test reads the routing from here) */
  onRoute?: (layerPrefix: string, t: number, chosen: number[], weights: number[]) => void
}

type W = Record<string, Float64Array>

function need(w: W, name: string): Float64Array {
  const v = w[name]
  if (!v) throw new Error(`reference: no tensor ${name}`)
  return v
}

/** y[out] = W[rows r0 … r0+out) · x, W with `cols` columns */
function matvec(W: Float64Array, r0: number, out: number, cols: number, x: Float64Array, x0: number): Float64Array {
  const y = new Float64Array(out)
  for (let o = 0; o < out; o++) {
    let s = 0
    for (let i = 0; i < cols; i++) s += W[(r0 + o) * cols + i] * x[x0 + i]
    y[o] = s
  }
  return y
}

/** The k largest entries' indices of v, largest first (ties: lower index first, as torch.topk on CPU). */
function topk(v: number[], k: number): number[] {
  return v.map((x, i) => [x, i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, k).map((p) => p[1])
}

/** The MoE block of the layer with prefix p (e.g. "model.layers.0.") on its input x [T, D]: output [T, D]. */
export function refMoeBlock(m: RefMoe, w: W, p: string, x: Float64Array, T: number, D: number): Float64Array {
  const E = m.experts, F = m.ffn
  const out = new Float64Array(T * D)
  if (m.family === 'gpt_oss') return refGptOssBlock(m, w, p, x, T, D)
  const router = m.family === 'mixtral' ? need(w, p + 'block_sparse_moe.gate.weight') : m.family === 'granitemoe' ? need(w, p + 'block_sparse_moe.router.layer.weight') : need(w, p + 'mlp.gate.weight')
  // every token's experts and weights first, then each chosen expert's matrices fetched once for all its tokens (a
  // large file's weights object decodes them on each fetch: only the experts the tokens select are ever decoded)
  const routes: { chosen: number[]; weights: number[] }[] = []
  for (let t = 0; t < T; t++) {
    const logits = Array.from(matvec(router, 0, E, D, x, t * D))
    let chosen: number[]
    let weights: number[]
    if (m.family === 'granitemoe') {
      chosen = topk(logits, m.topk)
      const mx = Math.max(...chosen.map((e) => logits[e]))
      const z = chosen.reduce((a, e) => a + Math.exp(logits[e] - mx), 0)
      weights = chosen.map((e) => Math.exp(logits[e] - mx) / z)
    } else {
      const mx = Math.max(...logits)
      const z = logits.reduce((a, l) => a + Math.exp(l - mx), 0)
      const probs = logits.map((l) => Math.exp(l - mx) / z)
      chosen = topk(probs, m.topk)
      weights = chosen.map((e) => probs[e])
      if (m.normTopk) {
        const s = weights.reduce((a, b) => a + b, 0)
        weights = weights.map((v) => v / s)
      }
    }
    m.onRoute?.(p, t, chosen, weights)
    routes.push({ chosen, weights })
  }
  // ys[t][k]: the output of token t's k-th expert
  const ys: Float64Array[][] = routes.map(() => [])
  for (let e = 0; e < E; e++) {
    const users: [number, number][] = []
    routes.forEach((r, t) => r.chosen.forEach((c, k) => c === e && users.push([t, k])))
    if (users.length === 0) continue
    let gate: (t: number) => Float64Array, up: (t: number) => Float64Array
    let down: (h: Float64Array) => Float64Array
    if (m.family === 'granitemoe') {
      const inp = need(w, p + 'block_sparse_moe.input_linear.weight')
      const outp = need(w, p + 'block_sparse_moe.output_linear.weight')
      gate = (t) => matvec(inp, e * 2 * F, F, D, x, t * D)
      up = (t) => matvec(inp, e * 2 * F + F, F, D, x, t * D)
      down = (h) => matvec(outp, e * D, D, F, h, 0)
    } else {
      const [gn, un, dn] = m.family === 'mixtral' ? ['w1', 'w3', 'w2'] : ['gate_proj', 'up_proj', 'down_proj']
      const q = m.family === 'mixtral' ? `${p}block_sparse_moe.experts.${e}.` : `${p}mlp.experts.${e}.`
      const Wg = need(w, q + gn + '.weight'), Wu = need(w, q + un + '.weight'), Wd = need(w, q + dn + '.weight')
      gate = (t) => matvec(Wg, 0, F, D, x, t * D)
      up = (t) => matvec(Wu, 0, F, D, x, t * D)
      down = (h) => matvec(Wd, 0, D, F, h, 0)
    }
    for (const [t, k] of users) {
      const g = gate(t), u = up(t)
      const h = new Float64Array(F)
      for (let i = 0; i < F; i++) h[i] = (g[i] / (1 + Math.exp(-g[i]))) * u[i]
      ys[t][k] = down(h)
    }
  }
  // summed in each token's order of its experts
  routes.forEach((r, t) =>
    r.weights.forEach((wk, k) => {
      for (let d = 0; d < D; d++) out[t * D + d] += wk * ys[t][k][d]
    }),
  )
  return out
}

function refGptOssBlock(m: RefMoe, w: W, p: string, x: Float64Array, T: number, D: number): Float64Array {
  const E = m.experts, F = m.ffn, limit = m.limit ?? 7, alpha = m.alpha ?? 1.702
  const Wr = need(w, p + 'mlp.router.weight'), br = need(w, p + 'mlp.router.bias')
  const gu = need(w, p + 'mlp.experts.gate_up_proj'), gub = need(w, p + 'mlp.experts.gate_up_proj_bias')
  const dn = need(w, p + 'mlp.experts.down_proj'), dnb = need(w, p + 'mlp.experts.down_proj_bias')
  const out = new Float64Array(T * D)
  for (let t = 0; t < T; t++) {
    const logits = Array.from(matvec(Wr, 0, E, D, x, t * D)).map((v, e) => v + br[e])
    const chosen = topk(logits, m.topk)
    const mx = Math.max(...chosen.map((e) => logits[e]))
    const z = chosen.reduce((a, e) => a + Math.exp(logits[e] - mx), 0)
    const weights = chosen.map((e) => Math.exp(logits[e] - mx) / z)
    m.onRoute?.(p, t, chosen, weights)
    chosen.forEach((e, k) => {
      // x [D] · gate_up_proj[e] [D, 2F]: column j of the expert's matrix
      const h = new Float64Array(F)
      for (let f = 0; f < F; f++) {
        let g = gub[e * 2 * F + 2 * f], u = gub[e * 2 * F + 2 * f + 1]
        for (let d = 0; d < D; d++) {
          g += x[t * D + d] * gu[(e * D + d) * 2 * F + 2 * f]
          u += x[t * D + d] * gu[(e * D + d) * 2 * F + 2 * f + 1]
        }
        g = Math.min(g, limit)
        u = Math.min(Math.max(u, -limit), limit)
        h[f] = (u + 1) * (g / (1 + Math.exp(-alpha * g)))
      }
      for (let d = 0; d < D; d++) {
        let y = dnb[e * D + d]
        for (let f = 0; f < F; f++) y += h[f] * dn[(e * F + f) * D + d]
        out[t * D + d] += weights[k] * y
      }
    })
  }
  return out
}
