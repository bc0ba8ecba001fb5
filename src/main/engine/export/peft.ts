// A stepped model as a PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors, as PEFT's
// save_pretrained writes them). A step on one phrase of T tokens (BOS included) changes each linear by exactly
// ΔW = −α·Gᵀ X, rank ≤ T, so the adapter is exact, not an approximation:
//   lora_B [out, r] = −α·Gᵀ, lora_A [r, in] = X, r = T, lora_alpha = r  (PEFT's scaling = lora_alpha / r = 1)
// A view of several steps concatenates their ranks (r = Σ T). The embedding's change is a few rows (the phrase's
// distinct tokens, ≤ T of them): PEFT's embedding LoRA computes ΔE = (B·A)ᵀ·scaling with A [r, vocab] and B [dim, r],
// so column k of A is one-hot at a changed row and column k of B is that row's −α·∂L/∂E (zero-padded to rank T).
// Tied embeddings (one matrix for lookup and head): the head's factors change that same matrix, so embed_tokens
// and lm_head each get the full change (rank 2T: the dense Gᵀ X part plus the rows). PEFT applies each adapter on
// its own path, which is exact while unmerged — merge_and_unload() would add it to the shared matrix twice. Every
// module then uses r = 2T (the linears zero-padded) rather than a rank_pattern, whose key matching differs between
// PEFT versions for a top-level module such as lm_head. RMSNorm weight vectors cannot be carried by LoRA at all; their effect is measured at export as
// KL(merged ‖ adapter-applied) on probe texts and returned.
import { closeSync, existsSync, mkdirSync, openSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import type { CallOptions, Engine, View } from '../engine'
import { CancelledError, InputError } from '../engine'
import type { StepFactors } from '../native'
import { DType, safetensorsHeader } from '../formats/safetensors'
import { readModelJson } from '../modelFiles'

const LINEAR_MODULES = ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj']

export interface NormLoss {
  /** mean over probe positions of KL(merged ‖ adapter-applied) of the next-token distributions, in nats */
  meanKL: number
  maxKL: number
  perProbe: Record<string, number>
}

export interface PeftExport {
  dir: string
  files: string[]
  /** PEFT's r: Σ T over the view's steps (2·Σ T for tied embeddings) */
  rank: number
  tensors: number
  bytes: number
  /** what a LoRA adapter cannot carry, in words (also in the README) */
  notCarried: string[]
  /** the measured cost of what is not carried */
  normLoss: NormLoss
  /** the adapter as a view of the engine (the steps with their norm changes dropped): what PEFT applies */
  adapterView: View
}

export interface PeftOptions {
  /** dtype of the adapter tensors (default F32: the factors' own precision) */
  dtype?: DType
  /** base_model_name_or_path written into adapter_config.json (default: the model directory) */
  baseModel?: string
  /** texts on which the norm-less adapter is compared with the merged model (default: the model's probes.json, else the view's phrases) */
  probes?: Record<string, string>
}

/** HF row r of a q/k projection → the row of a model loaded in Meta's interleaved RoPE layout holding it. */
function sourceRow(row: number, hd: number): number {
  const h = Math.floor(row / hd)
  const r = row % hd
  const half = hd / 2
  return h * hd + (r < half ? 2 * r : 2 * (r - half) + 1)
}

interface AdapterTensor {
  name: string
  shape: [number, number]
  fill: (out: Float32Array) => void
}

function encode(x: Float32Array, dtype: DType): Buffer {
  if (dtype === 'F32') return Buffer.from(x.buffer, x.byteOffset, x.byteLength)
  const out = Buffer.alloc(x.length * 2)
  const f = new Float32Array(1)
  const u = new Uint32Array(f.buffer)
  for (let i = 0; i < x.length; i++) {
    f[0] = x[i]
    const bits = u[0]
    let h: number
    if (dtype === 'BF16') {
      // round to nearest even, NaN kept quiet
      h = (bits & 0x7fffffff) > 0x7f800000 ? (bits >>> 16) | 0x40 : (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16
    } else {
      h = f32ToF16(bits)
    }
    out.writeUInt16LE(h & 0xffff, 2 * i)
  }
  return out
}

function f32ToF16(bits: number): number {
  const sign = (bits >>> 16) & 0x8000
  const exp = (bits >>> 23) & 0xff
  let mant = bits & 0x7fffff
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0)
  let e = exp - 127 + 15
  if (e >= 0x1f) return sign | 0x7c00
  if (e <= 0) {
    if (e < -10) return sign
    mant |= 0x800000
    const shift = 14 - e
    let h = mant >>> shift
    const rem = mant & ((1 << shift) - 1)
    const halfway = 1 << (shift - 1)
    if (rem > halfway || (rem === halfway && h & 1)) h++
    return sign | h
  }
  let h = (e << 10) | (mant >>> 13)
  const rem = mant & 0x1fff
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++ // a carry into the exponent rounds up to the next power / ∞
  return sign | h
}

/**
 * Writes the model under `view` (base − Σ lr·gradient) as a PEFT LoRA adapter in `outDir` and measures what the
 * adapter leaves out (the RMSNorm weights). Nothing is written to the final names until every byte is ready.
 */
export async function exportPeft(engine: Engine, view: View, outDir: string, o: PeftOptions = {}, opts?: CallOptions): Promise<PeftExport> {
  if (view.length === 0) throw new InputError('the adapter of the base model is empty: take a step first')
  // PEFT's LoRA targets nn.Linear modules by name; transformers keeps a mixture's experts as 3-D parameters
  // (GraniteMoE always; Mixtral, Qwen3-MoE and OLMoE from transformers 5), reachable only through PEFT's
  // target_parameters, whose adapter layout depends on the transformers version that loads it (docs/bad-inputs.md 160)
  if (engine.config.experts)
    throw new InputError(
      `a PEFT adapter of a mixture of experts (${engine.config.family}) is not supported: transformers keeps its experts as 3-D parameters, which PEFT's LoRA reaches only through target_parameters, a layout this export does not write; export as a Hugging Face directory or GGUF`,
    )
  const dtype = o.dtype ?? 'F32'
  if (!['F32', 'F16', 'BF16'].includes(dtype)) throw new InputError(`unsupported adapter dtype ${String(dtype)}`)
  const c = engine.config
  // PEFT's LoRA on Phi-3 targets the fused qkv_proj / gate_up_proj modules, which this writer does not form yet
  if (c.family === 'phi3')
    throw new InputError('PEFT export of a phi3 model is not supported (its qkv_proj and gate_up_proj are fused modules); export the stepped model as a Hugging Face directory or GGUF')
  const terms = view.map((t) => ({ f: t.gradient.factors(), lr: t.lr, phrase: t.gradient.phrase }))
  const nLin = c.layers * LINEAR_MODULES.length
  const steps = terms.reduce((a, t) => a + t.f.linears[0].T, 0)
  const r = c.tied ? 2 * steps : steps // PEFT's r for every module; columns past the factors' are zero
  const hd = c.headDim

  // lora_A = X rows, lora_B = −lr·Gᵀ columns, for linear slot `slot` (head = nLin); rows of q/k in HF order
  const linearPair = (slot: number, prefix: string): AdapterTensor[] => {
    const { in: inF, out: outF } = terms[0].f.linears[slot]
    const qk = c.ropeInterleaved && slot < nLin && slot % LINEAR_MODULES.length < 2
    return [
      {
        name: `${prefix}.lora_A.weight`,
        shape: [r, inF],
        fill: (a) => {
          let k0 = 0
          for (const t of terms) {
            const L = t.f.linears[slot]
            a.set(L.X, k0 * inF)
            k0 += L.T
          }
        },
      },
      {
        name: `${prefix}.lora_B.weight`,
        shape: [outF, r],
        fill: (b) => {
          let k0 = 0
          for (const t of terms) {
            const L = t.f.linears[slot]
            for (let row = 0; row < outF; row++) {
              const src = qk ? sourceRow(row, hd) : row
              for (let k = 0; k < L.T; k++) b[row * r + k0 + k] = -t.lr * L.G[k * L.out + src]
            }
            k0 += L.T
          }
        },
      },
    ]
  }

  const tensors: AdapterTensor[] = []
  for (let l = 0; l < c.layers; l++)
    LINEAR_MODULES.forEach((m, j) => tensors.push(...linearPair(l * LINEAR_MODULES.length + j, `base_model.model.model.layers.${l}.${m}`)))

  // embedding LoRA: ΔE[v, :] = Σ_k A[k, v]·B[:, k] (scaling 1). Blocks per step: the changed rows (n ≤ T, padded to
  // T), then for tied models the head's Gᵀ X (T more: A = G, B = −lr·Xᵀ).
  const V = c.vocab
  const D = c.dim
  const embRank = r
  tensors.push(
    {
      name: 'base_model.model.model.embed_tokens.lora_embedding_A',
      shape: [embRank, V],
      fill: (a) => {
        let k0 = 0
        for (const t of terms) {
          const T = t.f.linears[0].T
          t.f.embRows.forEach((row, k) => (a[(k0 + k) * V + row] = 1))
          k0 += T
          if (c.tied) {
            const H = t.f.linears[nLin]
            a.set(H.G, k0 * V) // G [T, V]: row k of A
            k0 += T
          }
        }
      },
    },
    {
      name: 'base_model.model.model.embed_tokens.lora_embedding_B',
      shape: [D, embRank],
      fill: (b) => {
        let k0 = 0
        for (const t of terms) {
          const T = t.f.linears[0].T
          t.f.embRows.forEach((_, k) => {
            for (let d = 0; d < D; d++) b[d * embRank + k0 + k] = -t.lr * t.f.embGrad[k * D + d]
          })
          k0 += T
          if (c.tied) {
            const H = t.f.linears[nLin]
            for (let k = 0; k < T; k++) for (let d = 0; d < D; d++) b[d * embRank + k0 + k] = -t.lr * H.X[k * D + d]
            k0 += T
          }
        }
      },
    },
  )
  if (!c.tied) {
    tensors.push(...linearPair(nLin, 'base_model.model.lm_head'))
  } else {
    // the tied head as a linear LoRA on lm_head: ΔW = B·A with B [V, 2r], A [2r, D], the same change as the embedding
    tensors.push(
      {
        name: 'base_model.model.lm_head.lora_A.weight',
        shape: [r, D],
        fill: (a) => {
          let k0 = 0
          for (const t of terms) {
            const T = t.f.linears[0].T
            a.set(t.f.embGrad, k0 * D) // rows' gradients (n ≤ T rows, rest zero)
            k0 += T
            a.set(t.f.linears[nLin].X, k0 * D)
            k0 += T
          }
        },
      },
      {
        name: 'base_model.model.lm_head.lora_B.weight',
        shape: [V, r],
        fill: (b) => {
          let k0 = 0
          for (const t of terms) {
            const T = t.f.linears[0].T
            t.f.embRows.forEach((row, k) => (b[row * r + k0 + k] = -t.lr))
            k0 += T
            const H = t.f.linears[nLin]
            for (let v = 0; v < V; v++) for (let k = 0; k < T; k++) b[v * r + k0 + k] = -t.lr * H.G[k * V + v]
            k0 += T
          }
        },
      },
    )
  }

  try {
    mkdirSync(outDir, { recursive: true })
  } catch (e) {
    throw new InputError(`cannot create ${outDir}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`)
  }
  const file = join(outDir, 'adapter_model.safetensors')
  const partial = `${file}.partial-${process.pid}`
  const { header, dataBytes } = safetensorsHeader(
    tensors.map((t) => ({ name: t.name, dtype, shape: t.shape })),
    { format: 'pt' },
  )
  const fd = openSync(partial, 'w')
  try {
    const len = Buffer.alloc(8)
    len.writeBigUInt64LE(BigInt(Buffer.byteLength(header)))
    writeSync(fd, len)
    writeSync(fd, Buffer.from(header, 'utf8'))
    for (let i = 0; i < tensors.length; i++) {
      if (opts?.signal?.aborted) throw new CancelledError()
      const t = tensors[i]
      const x = new Float32Array(t.shape[0] * t.shape[1])
      t.fill(x)
      const b = encode(x, dtype)
      let done = 0
      while (done < b.length) done += writeSync(fd, b, done, b.length - done)
      opts?.onProgress?.({ phase: 'adapter', done: i + 1, total: tensors.length })
    }
    closeSync(fd)
  } catch (e) {
    closeSync(fd)
    unlinkSync(partial)
    throw e
  }

  const targets = [...LINEAR_MODULES.map((m) => m.split('.')[1]), 'embed_tokens', 'lm_head']
  const config = {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: o.baseModel ?? engine.dir,
    revision: null,
    inference_mode: true,
    r,
    lora_alpha: r, // scaling = lora_alpha / r = 1: PEFT adds B·A exactly
    lora_dropout: 0.0,
    target_modules: targets,
    fan_in_fan_out: false, // nn.Linear weights [out, in], as Llama's
    bias: 'none',
    use_rslora: false, // rsLoRA would scale by lora_alpha / √r instead
    use_dora: false,
    init_lora_weights: true,
    modules_to_save: null,
    layers_to_transform: null,
    layers_pattern: null,
    rank_pattern: {},
    alpha_pattern: {},
  }
  const cfgPartial = join(outDir, `adapter_config.json.partial-${process.pid}`)
  writeFileSync(cfgPartial, JSON.stringify(config, null, 2))

  // what the adapter leaves out, measured: the same steps with their norm gradients zeroed, against the merged model
  let normLoss: NormLoss
  try {
    normLoss = await measureNormLoss(engine, view, terms.map((t) => t.f), o.probes ?? defaultProbes(engine, view), opts)
  } catch (e) {
    unlinkSync(partial)
    unlinkSync(cfgPartial)
    throw e
  }
  renameSync(partial, file)
  renameSync(cfgPartial, join(outDir, 'adapter_config.json'))
  const notCarried = [
    `RMSNorm weights (${engine.tensorNames.filter((n) => /norm\.weight$/.test(n)).length} vectors, q/k and post-norms of a family included): LoRA has no form for them; measured KL(merged ‖ adapter) mean ${normLoss.meanKL.toExponential(2)} nats, max ${normLoss.maxKL.toExponential(2)}`,
  ]
  if (c.tied)
    notCarried.push('tied embeddings: embed_tokens and lm_head each carry the full change; exact unmerged, but merge_and_unload() would apply it twice to the shared matrix')
  return { dir: outDir, files: ['adapter_config.json', 'adapter_model.safetensors'], rank: r, tensors: tensors.length, bytes: dataBytes, notCarried, normLoss, adapterView: adapterViewOf(engine, view, terms.map((t) => t.f)) }
}

function defaultProbes(engine: Engine, view: View): Record<string, string> {
  const p = join(engine.dir, 'probes.json')
  if (existsSync(p)) {
    try {
      const v = readModelJson(p, 'probes.json')
      if (v && typeof v === 'object' && Object.values(v).every((x) => typeof x === 'string')) return v as Record<string, string>
    } catch {
      /* fall back to the phrases */
    }
  }
  const out: Record<string, string> = {}
  view.forEach((t, i) => (out[`phrase ${i + 1}`] = t.gradient.phrase))
  return out
}

/** The steps of `view` as the adapter carries them: the same factors with the norm gradients zeroed. */
export function adapterViewOf(engine: Engine, view: View, factors: StepFactors[]): View {
  return view.map((t, i) => {
    const f = factors[i]
    const g = engine.importGradient({ ...f, normGrads: f.normGrads.map((n) => new Float32Array(n.length)) }, t.gradient.phrase, t.gradient.at)
    return { gradient: g, lr: t.lr }
  })
}

/** KL(merged ‖ merged without the norm changes) over every next-token position of every probe. */
export async function measureNormLoss(
  engine: Engine,
  view: View,
  factors: StepFactors[],
  probes: Record<string, string>,
  opts?: CallOptions,
): Promise<NormLoss> {
  const adapterView = adapterViewOf(engine, view, factors)
  const perProbe: Record<string, number> = {}
  let sum = 0
  let count = 0
  let max = 0
  for (const [name, text] of Object.entries(probes)) {
    const ids = engine.withBos(text, `probe ${name}`).slice(0, engine.config.maxPos)
    const [, adapted] = await engine.score({ ids, views: [view, adapterView] }, opts)
    const kl = adapted.kl
    const mean = kl.reduce((a, x) => a + x, 0) / kl.length
    perProbe[name] = mean
    sum += kl.reduce((a, x) => a + x, 0)
    count += kl.length
    max = Math.max(max, ...kl)
  }
  return { meanKL: count ? sum / count : 0, maxKL: max, perProbe }
}
