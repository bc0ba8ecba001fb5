// Mixtures of experts: config.json of mixtral, qwen3_moe, olmoe and granitemoe read as transformers' config classes
// read them, onto the engine's MoE block (native/src/experts.cpp), and their checkpoints' expert tensors onto the one
// naming the engine binds (Qwen3-MoE's: mlp.gate, mlp.experts.E.{gate,up,down}_proj). What each family's router does
// (transformers' modeling files):
//   mixtral     MixtralSparseMoeBlock: softmax → top-k → always renormalised; block_sparse_moe.gate,
//               block_sparse_moe.experts.E.w1 (gate) / w3 (up) / w2 (down)
//   qwen3_moe   Qwen3MoeSparseMoeBlock: softmax → top-k → renormalised when norm_topk_prob (default false); a layer
//               has experts when it is not in mlp_only_layers and (layer + 1) % decoder_sparse_step == 0, else the
//               dense MLP of intermediate_size; q_norm / k_norm over head_dim as Qwen3
//   olmoe       OlmoeSparseMoeBlock: as qwen3_moe (norm_topk_prob default false), every layer; q_norm / k_norm over the
//               whole projection (hidden_size, and kv_heads·head_dim); clip_qkv refused
//   granitemoe  GraniteMoeMoE: top-k of the logits → softmax over those k (= renormalised top-k of the softmax);
//               granite's multipliers; block_sparse_moe.router.layer [E, D], input_linear [E, 2F, D] (gate rows,
//               then up rows), output_linear [E, D, F]
//   gpt_oss     GptOssTopKRouter: top-k of the logits (a linear with bias) → softmax over those k; mlp.router
//               {weight [E, D], bias [E]}; GptOssExperts: gate_up_proj [E, D, 2F] with gate and up in interleaved
//               columns (0, 2, 4 … gate; 1, 3, 5 … up), gate_up_proj_bias [E, 2F], down_proj [E, F, D], down_proj_bias
//               [E, D] — stored [in, out], so the loader gathers each expert's rows (strides); in the released
//               checkpoints (quantization_config mxfp4) *_blocks / *_scales, repacked into MXFP4 rows (hfMxfp4Experts);
//               the clamped SwiGLU
import { ModelFormatError } from './modelFormatError'
import type { NativeRouting } from './native'
import type { StoredDType } from './formats/safetensors'

export type MoeFamily = 'mixtral' | 'qwen3_moe' | 'olmoe' | 'granitemoe' | 'gpt_oss'
export const MOE_FAMILIES: MoeFamily[] = ['mixtral', 'qwen3_moe', 'olmoe', 'granitemoe', 'gpt_oss']

/** The engine's MoE block options (native Config: n_experts, top_k, expert_ffn, norm_topk, layer_moe) */
export interface MoeOptions {
  experts: number
  expertsPerToken: number
  /** the experts' intermediate size */
  expertFfn: number
  /** the top-k probabilities renormalised to sum 1 */
  normTopkProb: boolean
  /** per layer: experts (true) or the dense MLP */
  layerExperts: boolean[]
}

function positiveInt(raw: Record<string, unknown>, key: string, def: number | undefined, file: string): number {
  const v = raw[key] ?? def
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
    throw new ModelFormatError(`${file}: ${key} must be a positive integer (found ${JSON.stringify(raw[key])})`)
  return v
}

/** The MoE fields of a family's config.json (its config class's defaults where a field is left out). */
export function parseMoe(raw: Record<string, unknown>, family: MoeFamily, layers: number, file: string): MoeOptions {
  const expertsKey = family === 'mixtral' || family === 'granitemoe' || family === 'gpt_oss' ? 'num_local_experts' : 'num_experts'
  const defaults: Record<MoeFamily, { experts: number; topk: number }> = {
    mixtral: { experts: 8, topk: 2 },
    qwen3_moe: { experts: 128, topk: 8 },
    olmoe: { experts: 64, topk: 8 },
    granitemoe: { experts: 8, topk: 2 },
    gpt_oss: { experts: 128, topk: 4 },
  }
  const experts = positiveInt(raw, expertsKey, defaults[family].experts, file)
  const expertsPerToken = positiveInt(raw, 'num_experts_per_tok', defaults[family].topk, file)
  if (expertsPerToken > experts)
    throw new ModelFormatError(`${file}: num_experts_per_tok ${expertsPerToken} is more than the ${experts} experts`)
  const expertFfn = family === 'qwen3_moe' ? positiveInt(raw, 'moe_intermediate_size', 768, file) : positiveInt(raw, 'intermediate_size', undefined, file)
  let normTopkProb = true
  if (family === 'qwen3_moe' || family === 'olmoe') {
    const n = raw.norm_topk_prob ?? false
    if (typeof n !== 'boolean') throw new ModelFormatError(`${file}: norm_topk_prob must be true or false (found ${JSON.stringify(n)})`)
    normTopkProb = n
  }
  let layerExperts = Array.from({ length: layers }, () => true)
  if (family === 'qwen3_moe') {
    const step = positiveInt(raw, 'decoder_sparse_step', 1, file)
    const only = raw.mlp_only_layers ?? []
    if (!Array.isArray(only) || only.some((l) => typeof l !== 'number' || !Number.isInteger(l)))
      throw new ModelFormatError(`${file}: mlp_only_layers must be a list of layer indices (found ${JSON.stringify(only)})`)
    layerExperts = layerExperts.map((_, l) => !only.includes(l) && (l + 1) % step === 0)
  }
  // the auxiliary load-balancing loss is a training term (output_router_logits), not part of the LM loss we take
  return { experts, expertsPerToken, expertFfn, normTopkProb, layerExperts }
}

/** shape and where a tensor's data lives, as the checkpoint readers list them */
interface TensorLike {
  name: string
  file: number
  offset: number
  dtype: string
  shape: number[]
  /** [row, column] element strides in the file of a tensor that is not row-major there (gathered at load) */
  strides?: [number, number]
}

/** GPT-OSS's MXFP4 experts as a Hugging Face checkpoint stores them: the blocks tensor's bytes at `offset`, its
 *  scales at scalesOffset in file scalesFile, the engine's row r their row r·rowStep (native TensorSpec hf_mxfp4) */
export interface HfMxfp4 {
  scalesFile: number
  scalesOffset: number
  rowStep: 1 | 2
}

/** A tensor as the engine binds it: in a weight type, or GPT-OSS's MXFP4 blocks and scales repacked at load */
export type EngineTensor<T extends TensorLike> = Omit<T, 'dtype'> & { dtype: StoredDType; mxfp4?: HfMxfp4 }

const DTYPE_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2 }

/**
 * A checkpoint's expert tensors under the engine's names: Mixtral's block_sparse_moe.* renamed; GraniteMoE's fused
 * 3-D tensors cut into one 2-D tensor per expert (rows are contiguous: no copy, a byte offset each).
 */
export function moeEngineTensors<T extends TensorLike>(family: string, tensors: T[]): EngineTensor<T>[] {
  const out = family === 'gpt_oss' ? gptOssEngineTensors(tensors) : (familyEngineTensors(family, tensors) as EngineTensor<T>[])
  // U8 is read only as GPT-OSS's blocks and scales (safetensors.ts lets it through under those names)
  const packed = out.find((t) => (t.dtype as string) === 'U8')
  if (packed)
    throw new ModelFormatError(`${packed.name} has dtype U8; only F32, F16 and BF16 are supported (U8 is read only as a gpt_oss checkpoint's MXFP4 experts, mlp.experts.gate_up_proj_blocks / _scales and down_proj_blocks / _scales)`)
  return out
}

function familyEngineTensors<T extends TensorLike>(family: string, tensors: T[]): T[] {
  if (family === 'mixtral') {
    const rename: Record<string, string> = { w1: 'gate_proj', w3: 'up_proj', w2: 'down_proj' }
    return tensors.map((t) => {
      const g = /^(model\.layers\.\d+\.)block_sparse_moe\.gate\.weight$/.exec(t.name)
      if (g) return { ...t, name: `${g[1]}mlp.gate.weight` }
      const e = /^(model\.layers\.\d+\.)block_sparse_moe\.experts\.(\d+)\.(w[123])\.weight$/.exec(t.name)
      if (e) return { ...t, name: `${e[1]}mlp.experts.${e[2]}.${rename[e[3]]}.weight` }
      return t
    })
  }
  if (family === 'granitemoe') {
    const out: T[] = []
    for (const t of tensors) {
      const m = /^(model\.layers\.\d+\.)block_sparse_moe\.(router\.layer|input_linear|output_linear)\.weight$/.exec(t.name)
      if (!m) {
        out.push(t)
        continue
      }
      if (m[2] === 'router.layer') {
        out.push({ ...t, name: `${m[1]}mlp.gate.weight` })
        continue
      }
      const bytes = DTYPE_BYTES[t.dtype]
      if (!bytes || t.shape.length !== 3)
        throw new ModelFormatError(`${t.name}: expected a 3-D F32/F16/BF16 tensor [experts, rows, cols] (found ${t.dtype} ${JSON.stringify(t.shape)})`)
      const [E, rows, cols] = t.shape
      const per = rows * cols * bytes
      for (let e = 0; e < E; e++) {
        const at = (name: string, r0: number, n: number): T => ({ ...t, name: `${m[1]}mlp.experts.${e}.${name}.weight`, offset: t.offset + e * per + r0 * cols * bytes, shape: [n, cols] })
        if (m[2] === 'input_linear') {
          if (rows % 2 !== 0) throw new ModelFormatError(`${t.name}: ${rows} rows are not gate and up halves`)
          out.push(at('gate_proj', 0, rows / 2), at('up_proj', rows / 2, rows / 2))
        } else out.push(at('down_proj', 0, rows))
      }
    }
    return out
  }
  return tensors
}

/**
 * GPT-OSS's checkpoint under the engine's names: the router as mlp.gate (weight and bias), the sinks as a vector
 * self_attn.sinks.weight, and each expert's gate / up / down rows (and biases) as strided views of the fused [E, in,
 * out] tensors — gate and up interleaved along the last axis; or, in the released checkpoints, MXFP4 (hfMxfp4Experts).
 */
function gptOssEngineTensors<T extends TensorLike>(tensors: T[]): EngineTensor<T>[] {
  const out: T[] = []
  const packed = new Map<string, { blocks?: T; scales?: T }>()
  for (const t of tensors) {
    const q = /^(model\.layers\.\d+\.mlp\.experts\.(?:gate_up_proj|down_proj))_(blocks|scales)$/.exec(t.name)
    if (q) {
      const pair = packed.get(q[1]) ?? {}
      pair[q[2] as 'blocks' | 'scales'] = t
      packed.set(q[1], pair)
      continue
    }
    const sink = /^(model\.layers\.\d+\.self_attn\.sinks)$/.exec(t.name)
    if (sink) {
      out.push({ ...t, name: `${sink[1]}.weight` })
      continue
    }
    const r = /^(model\.layers\.\d+\.)mlp\.router\.(weight|bias)$/.exec(t.name)
    if (r) {
      out.push({ ...t, name: `${r[1]}mlp.gate.${r[2]}` })
      continue
    }
    const m = /^(model\.layers\.\d+\.)mlp\.experts\.(gate_up_proj|down_proj)(_bias|_blocks|_scales)?$/.exec(t.name)
    if (!m) {
      out.push(t)
      continue
    }
    if (m[3] === undefined && tensors.some((o) => o.name === `${t.name}_blocks`))
      throw new ModelFormatError(`${t.name}: the checkpoint holds these experts twice, dense and as MXFP4 ${t.name}_blocks / _scales; which one is meant is ambiguous`)
    const bytes = DTYPE_BYTES[t.dtype]
    const bias = m[3] === '_bias'
    if (!bytes || t.shape.length !== (bias ? 2 : 3))
      throw new ModelFormatError(`${t.name}: expected a ${bias ? '2' : '3'}-D F32/F16/BF16 tensor (found ${t.dtype} ${JSON.stringify(t.shape)})`)
    const E = t.shape[0]
    const at = (e: number, name: string, kind: string, elem: number, shape: number[], strides?: [number, number]): T => {
      const v: T = { ...t, name: `${m[1]}mlp.experts.${e}.${name}.${kind}`, offset: t.offset + elem * bytes, shape }
      if (strides) v.strides = strides
      else delete v.strides
      return v
    }
    if (m[2] === 'gate_up_proj') {
      if (bias) {
        const two = t.shape[1]
        if (two % 2 !== 0) throw new ModelFormatError(`${t.name}: ${two} columns are not interleaved gate and up halves`)
        for (let e = 0; e < E; e++)
          out.push(at(e, 'gate_proj', 'bias', e * two, [two / 2], [1, 2]), at(e, 'up_proj', 'bias', e * two + 1, [two / 2], [1, 2]))
      } else {
        const [, D, two] = t.shape
        if (two % 2 !== 0) throw new ModelFormatError(`${t.name}: ${two} columns are not interleaved gate and up halves`)
        // engine row f of gate = file column 2f (up: 2f + 1); engine column d = file row d
        for (let e = 0; e < E; e++)
          out.push(at(e, 'gate_proj', 'weight', e * D * two, [two / 2, D], [2, two]), at(e, 'up_proj', 'weight', e * D * two + 1, [two / 2, D], [2, two]))
      }
    } else if (bias) {
      const D = t.shape[1]
      for (let e = 0; e < E; e++) out.push(at(e, 'down_proj', 'bias', e * D, [D]))
    } else {
      const [, F, D] = t.shape
      // engine [D, F]: row d = file column d, column f = file row f
      for (let e = 0; e < E; e++) out.push(at(e, 'down_proj', 'weight', e * F * D, [D, F], [1, D]))
    }
  }
  // (a tensor left in U8 here is refused by moeEngineTensors)
  const engine = out as unknown as EngineTensor<T>[]
  for (const [base, pair] of packed) engine.push(...hfMxfp4Experts(base, pair))
  return engine
}

/**
 * The released GPT-OSS checkpoints' experts (transformers' Mxfp4GptOssExperts, integrations/mxfp4.py): `*_blocks`
 * [E, R, G, 16] u8 — 32 e2m1 nibbles per block, element 2j in byte j's low nibble, 2j + 1 in its high one — and
 * `*_scales` [E, R, G] u8, the block's e8m0 exponent (2^(byte − 127)). Row r holds output r over G·32 inputs, so
 * each expert's rows are already the engine's [out, in] rows: gate_up_proj's R = 2F rows interleave gate (even) and
 * up (odd) as its dequantised columns do; down_proj's R = D rows. convert_moe_packed_tensors dequantises them to
 * gate_up_proj [E, D, 2F] / down_proj [E, F, D] by the final transpose; llama.cpp's converter keeps the rows and
 * reorders the nibbles into ggml's MXFP4 blocks. The engine does as llama.cpp does, at load (native loader.cpp,
 * hf_mxfp4_gathered): the values are those transformers computes, fp4 · 2^(byte − 127), exact in bf16 for every
 * byte below 255.
 */
function hfMxfp4Experts<T extends TensorLike>(base: string, pair: { blocks?: T; scales?: T }): EngineTensor<T>[] {
  const { blocks, scales } = pair
  if (!blocks || !scales)
    throw new ModelFormatError(`${base}_${blocks ? 'blocks' : 'scales'} has no ${base}_${blocks ? 'scales' : 'blocks'} beside it (MXFP4 experts are stored as both)`)
  for (const t of [blocks, scales])
    if (t.dtype !== 'U8') throw new ModelFormatError(`${t.name}: MXFP4 ${t === blocks ? 'blocks' : 'scales'} must be U8 (found ${t.dtype})`)
  const show = (t: T): string => JSON.stringify(t.shape)
  if (blocks.shape.length !== 4 || blocks.shape[3] !== 16)
    throw new ModelFormatError(`${blocks.name}: expected [experts, rows, blocks, 16] (32 four-bit weights in 16 bytes per block; found ${show(blocks)})`)
  const [E, R, G] = blocks.shape
  if (scales.shape.length !== 3 || scales.shape[0] !== E || scales.shape[1] !== R || scales.shape[2] !== G)
    throw new ModelFormatError(`${scales.name}: shape ${show(scales)} does not match ${blocks.name} ${show(blocks)} (one scale per block: [${E}, ${R}, ${G}])`)
  const prefix = base.replace(/mlp\.experts\.\w+$/, '')
  const gateUp = base.endsWith('gate_up_proj')
  if (gateUp && R % 2 !== 0) throw new ModelFormatError(`${blocks.name}: ${R} rows are not interleaved gate and up rows`)
  const out: EngineTensor<T>[] = []
  const part = (e: number, name: string, row0: number, rows: number, rowStep: 1 | 2): EngineTensor<T> => {
    const v: EngineTensor<T> = {
      ...blocks,
      name: `${prefix}mlp.experts.${e}.${name}.weight`,
      dtype: 'MXFP4',
      offset: blocks.offset + (e * R + row0) * G * 16,
      shape: [rows, G * 32],
      mxfp4: { scalesFile: scales.file, scalesOffset: scales.offset + (e * R + row0) * G, rowStep },
    }
    delete v.strides
    return v
  }
  for (let e = 0; e < E; e++) {
    if (gateUp) out.push(part(e, 'gate_proj', 0, R / 2, 2), part(e, 'up_proj', 1, R / 2, 2))
    else out.push(part(e, 'down_proj', 0, R, 1))
  }
  return out
}

/** One tensor of a family's HF file, made of engine tensors written one after another (GraniteMoE's fused experts). */
export interface HfFileTensor {
  name: string
  shape: number[]
  /** engine tensor names, in the order their rows follow each other in the file tensor */
  parts: string[]
  /** per part, where its elements go when they are not the next rows (GPT-OSS's [E, in, out] experts); absent: rows */
  layout?: PartLayout[]
}

/** Where a part's element (r, c) lies in its file tensor: at + r·strides[0] + c·strides[1] (elements), inside span
 *  [first element, elements] that it shares with the parts interleaved with it */
export interface PartLayout {
  at: number
  strides: [number, number]
  span: [number, number]
}

/** The engine's tensors as the family's HF checkpoint names and lays them out (the inverse of moeEngineTensors). */
export function moeHfTensors(family: string, names: string[], shapeOf: (engineName: string) => number[]): HfFileTensor[] {
  if (family === 'gpt_oss') return gptOssHfTensors(names, shapeOf)
  if (family === 'mixtral') {
    const rename: Record<string, string> = { gate_proj: 'w1', up_proj: 'w3', down_proj: 'w2' }
    return names.map((n) => {
      let hf = n.replace(/^(model\.layers\.\d+\.)mlp\.gate\.weight$/, '$1block_sparse_moe.gate.weight')
      hf = hf.replace(/^(model\.layers\.\d+\.)mlp\.experts\.(\d+)\.(gate_proj|up_proj|down_proj)\.weight$/, (_, p: string, e: string, k: string) => `${p}block_sparse_moe.experts.${e}.${rename[k]}.weight`)
      return { name: hf, shape: shapeOf(n), parts: [n] }
    })
  }
  if (family === 'granitemoe') {
    const out: HfFileTensor[] = []
    const fused = new Map<string, HfFileTensor>()
    for (const n of names) {
      const g = /^(model\.layers\.\d+\.)mlp\.gate\.weight$/.exec(n)
      if (g) {
        out.push({ name: `${g[1]}block_sparse_moe.router.layer.weight`, shape: shapeOf(n), parts: [n] })
        continue
      }
      const e = /^(model\.layers\.\d+\.)mlp\.experts\.(\d+)\.(gate_proj|up_proj|down_proj)\.weight$/.exec(n)
      if (!e) {
        out.push({ name: n, shape: shapeOf(n), parts: [n] })
        continue
      }
      const hf = `${e[1]}block_sparse_moe.${e[3] === 'down_proj' ? 'output' : 'input'}_linear.weight`
      let t = fused.get(hf)
      if (!t) {
        t = { name: hf, shape: [], parts: [] }
        fused.set(hf, t)
        out.push(t)
      }
      t.parts.push(n)
    }
    for (const t of fused.values()) {
      // parts come in the engine's order (expert by expert, gate then up): the file's [E, rows, cols] order
      const [r, c] = shapeOf(t.parts[0])
      const perExpert = t.name.endsWith('input_linear.weight') ? 2 : 1
      t.shape = [t.parts.length / perExpert, r * perExpert, c]
    }
    return out
  }
  return names.map((n) => ({ name: n, shape: shapeOf(n), parts: [n] }))
}

/** GPT-OSS's file tensors from the engine's (the inverse of gptOssEngineTensors): each layer's experts fused again. */
function gptOssHfTensors(names: string[], shapeOf: (engineName: string) => number[]): HfFileTensor[] {
  const out: HfFileTensor[] = []
  const fused = new Map<string, HfFileTensor>()
  for (const n of names) {
    const sink = /^(model\.layers\.\d+\.self_attn\.sinks)\.weight$/.exec(n)
    const r = /^(model\.layers\.\d+\.)mlp\.gate\.(weight|bias)$/.exec(n)
    const e = /^(model\.layers\.\d+\.)mlp\.experts\.(\d+)\.(gate_proj|up_proj|down_proj)\.(weight|bias)$/.exec(n)
    if (sink) out.push({ name: sink[1], shape: shapeOf(n), parts: [n] })
    else if (r) out.push({ name: `${r[1]}mlp.router.${r[2]}`, shape: shapeOf(n), parts: [n] })
    if (sink || r) continue
    if (!e) {
      out.push({ name: n, shape: shapeOf(n), parts: [n] })
      continue
    }
    const [, p, es, kind, wb] = e
    const x = Number(es)
    const name = `${p}mlp.experts.${kind === 'down_proj' ? 'down_proj' : 'gate_up_proj'}${wb === 'bias' ? '_bias' : ''}`
    let t = fused.get(name)
    if (!t) {
      t = { name, shape: [], parts: [], layout: [] }
      fused.set(name, t)
      out.push(t)
    }
    const sh = shapeOf(n)
    const odd = kind === 'up_proj' ? 1 : 0
    if (kind !== 'down_proj') {
      if (wb === 'weight') {
        // engine [F, D] row f → file column 2f (+1 for up) of expert x's [D, 2F]
        const [F, D] = sh
        t.shape = [x + 1, D, 2 * F]
        t.layout!.push({ at: x * D * 2 * F + odd, strides: [2, 2 * F], span: [x * D * 2 * F, D * 2 * F] })
      } else {
        const [F] = sh
        t.shape = [x + 1, 2 * F]
        t.layout!.push({ at: x * 2 * F + odd, strides: [2 * F, 2], span: [x * 2 * F, 2 * F] })
      }
    } else if (wb === 'weight') {
      // engine [D, F] row d → file column d of expert x's [F, D]
      const [D, F] = sh
      t.shape = [x + 1, F, D]
      t.layout!.push({ at: x * F * D, strides: [1, D], span: [x * F * D, F * D] })
    } else {
      const [D] = sh
      t.shape = [x + 1, D]
      t.layout!.push({ at: x * D, strides: [D, 1], span: [x * D, D] })
    }
    t.parts.push(n)
  }
  return out
}

/** The router's choices on a text under one view: per MoE layer, per token, its experts and their weights. */
export interface Routing {
  /** the MoE layers, in order */
  layers: number[]
  experts: number
  /** per MoE layer (index into layers): [token][k] the chosen experts, most probable first, and their weights */
  chosen: number[][][]
  weights: number[][][]
  /** per MoE layer: [expert] the routing mass — the expert's combination weight summed over the tokens ÷ tokens */
  mass: number[][]
}

/** The native answer cut into one Routing per view. */
export function routingByView(r: NativeRouting, views: number): Routing[] {
  const L = r.layers.length
  return Array.from({ length: views }, (_, v) => {
    const chosen: number[][][] = [], weights: number[][][] = [], mass: number[][] = []
    for (let i = 0; i < L; i++) {
      const sel = r.sel[v * L + i], w = r.w[v * L + i]
      const m = new Array<number>(r.E).fill(0)
      const c: number[][] = [], ws: number[][] = []
      for (let t = 0; t < r.T; t++) {
        c.push(Array.from(sel.subarray(t * r.K, (t + 1) * r.K)))
        ws.push(Array.from(w.subarray(t * r.K, (t + 1) * r.K)))
        for (let k = 0; k < r.K; k++) m[sel[t * r.K + k]] += w[t * r.K + k] / r.T
      }
      chosen.push(c)
      weights.push(ws)
      mass.push(m)
    }
    return { layers: Array.from(r.layers), experts: r.E, chosen, weights, mass }
  })
}

/** Each MoE layer's router and experts as factor slots of a step (after the head, 7·layers + 1 on, layer by layer). */
export interface ExpertSlot {
  slot: number
  layer: number
  /** −1: the router */
  expert: number
  kind: 'router' | 'gate' | 'up' | 'down'
}

export function expertSlots(c: { layers: number; experts?: number; layerExperts?: boolean[] }): ExpertSlot[] {
  const out: ExpertSlot[] = []
  if (!c.experts || !c.layerExperts) return out
  let slot = 7 * c.layers + 1
  for (let l = 0; l < c.layers; l++) {
    if (!c.layerExperts[l]) continue
    out.push({ slot: slot++, layer: l, expert: -1, kind: 'router' })
    for (let e = 0; e < c.experts; e++)
      for (const kind of ['gate', 'up', 'down'] as const) out.push({ slot: slot++, layer: l, expert: e, kind })
  }
  return out
}
