// A tiny random GPT-OSS in transformers' checkpoint layout (config.json + model.safetensors): test/moeTiny.ts writes its
// tensors (q/k/v/o with biases, self_attn.sinks, mlp.router {weight, bias}, the experts fused as GptOssExperts stores
// them); this file gives GPT-OSS's shape of the description (every layer a mixture, untied) and its config.json.
import { moeTensors, writeMoe, type MoeTiny } from './moeTiny'
import type { TinyTensors } from './helpers'
import type { ModelConfig } from '../src/main/engine/families'
import type { StepFactors } from '../src/main/engine/native'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { encode, rng } from './helpers'
import { dequantiseMoePacked } from './reference/mxfp4'
import { denseGradients, factorDense } from './reference/check'
import type { RefWeights } from './reference/llama'

export interface GptOssTiny {
  vocab: number
  dim: number
  layers: number
  heads: number
  kvHeads: number
  headDim: number
  experts: number
  topk: number
  /** the experts' intermediate size (intermediate_size) */
  expertFfn: number
  seed: number
  configExtra: Record<string, unknown>
}

/** The same model as a test/moeTiny.ts description: every layer a mixture, untied, configExtra as config.json's. */
export function gptOssAsMoe(c: GptOssTiny): MoeTiny {
  return { ...c, family: 'gpt_oss', ffn: c.expertFfn, tied: false, moeLayers: Array(c.layers).fill(true), configExtra: gptOssConfig(c) }
}

export function gptOssTensors(c: GptOssTiny): TinyTensors {
  return moeTensors(gptOssAsMoe(c))
}

export function gptOssConfig(c: GptOssTiny): Record<string, unknown> {
  return {
    model_type: 'gpt_oss',
    architectures: ['GptOssForCausalLM'],
    num_local_experts: c.experts,
    num_experts_per_tok: c.topk,
    intermediate_size: c.expertFfn,
    head_dim: c.headDim,
    attention_bias: true,
    rms_norm_eps: 1e-5,
    ...c.configExtra,
  }
}

export function writeGptOss(c: GptOssTiny): string {
  return writeMoe(gptOssAsMoe(c))
}

/**
 * The step as dense gradients under GPT-OSS's own file names and layouts: the sinks follow the final norm (one per
 * layer); the router and each expert's gate/up/down follow the head (slot 7L + 1 on), their biases in biasGrads; the
 * experts' gradients are laid out as the fused [E, D, 2F] / [E, F, D] tensors.
 */
export function gradientsByFileName(f: StepFactors, t: GptOssTiny, cfg: ModelConfig, fileNames: string[]): RefWeights {
  const dense = fileNames.filter((n) => !/mlp\.|self_attn\.sinks/.test(n))
  const g = denseGradients(f, cfg, dense)
  const { dim: D, experts: E, expertFfn: F, layers: L } = t
  let slot = 7 * L + 1
  const bias = (s: number): Float64Array => Float64Array.from(f.biasGrads![s])
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}.`
    g[p + 'self_attn.sinks'] = Float64Array.from(f.normGrads[2 * L + 1 + l])
    g[p + 'mlp.router.weight'] = factorDense(f.linears[slot])
    g[p + 'mlp.router.bias'] = bias(slot++)
    const gu = new Float64Array(E * D * 2 * F), gub = new Float64Array(E * 2 * F), dn = new Float64Array(E * F * D), dnb = new Float64Array(E * D)
    for (let e = 0; e < E; e++) {
      const [ga, up, down] = [0, 1, 2].map((j) => factorDense(f.linears[slot + j]))
      const [bg, bu, bd] = [0, 1, 2].map((j) => bias(slot + j))
      slot += 3
      for (let ff = 0; ff < F; ff++) {
        gub[e * 2 * F + 2 * ff] = bg[ff]
        gub[e * 2 * F + 2 * ff + 1] = bu[ff]
        for (let d = 0; d < D; d++) {
          gu[(e * D + d) * 2 * F + 2 * ff] = ga[ff * D + d]
          gu[(e * D + d) * 2 * F + 2 * ff + 1] = up[ff * D + d]
          dn[(e * F + ff) * D + d] = down[d * F + ff]
        }
      }
      dnb.set(bd, e * D)
    }
    g[p + 'mlp.experts.gate_up_proj'] = gu
    g[p + 'mlp.experts.gate_up_proj_bias'] = gub
    g[p + 'mlp.experts.down_proj'] = dn
    g[p + 'mlp.experts.down_proj_bias'] = dnb
  }
  for (const n of fileNames) if (!g[n]) throw new Error(`no gradient for ${n}`)
  return g
}

/** One tensor of a hand-written safetensors file (the MXFP4 checkpoint mixes U8 with BF16) */
export interface RawEntry {
  dtype: 'F32' | 'BF16' | 'U8'
  shape: number[]
  bytes: Buffer
}

export function writeSafetensors(file: string, entries: Record<string, RawEntry>): void {
  const header: Record<string, unknown> = {}
  let off = 0
  for (const [name, t] of Object.entries(entries)) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.bytes.length] }
    off += t.bytes.length
  }
  let h = JSON.stringify(header)
  h += ' '.repeat((8 - (Buffer.byteLength(h) % 8)) % 8)
  const len = Buffer.alloc(8)
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(h)))
  writeFileSync(file, Buffer.concat([len, Buffer.from(h), ...Object.values(entries).map((t) => t.bytes)]))
}

/**
 * The same tiny GPT-OSS in the released checkpoints' layout (openai/gpt-oss-20b): config.json with
 * quantization_config {quant_method "mxfp4", modules_to_not_convert}, the experts as Mxfp4GptOssExperts stores them —
 * gate_up_proj_blocks [E, 2F, D/32, 16] and _scales [E, 2F, D/32], down_proj_blocks [E, D, F/32, 16] and _scales
 * [E, D, F/32], u8 — every other tensor BF16. The blocks are random bytes (every nibble pattern), the scales
 * 2^-8 … 2^-3 with a few 0 and 1 bytes (2^-127, 2^-126: the smallest scales). `edit` may alter the entries first.
 */
export function writeGptOssMxfp4(c: GptOssTiny, edit?: (entries: Record<string, RawEntry>) => void): string {
  const dir = writeGptOss(c)
  const r = rng(c.seed + 1000)
  const { dim: D, experts: E, expertFfn: F } = c
  const entries: Record<string, RawEntry> = {}
  const dense = gptOssTensors(c)
  const random = (n: number, scales: boolean): Buffer => {
    const b = Buffer.alloc(n)
    for (let i = 0; i < n; i++) b[i] = scales ? (r() < 0.02 ? Math.floor(r() * 2) : 119 + Math.floor(r() * 6)) : Math.floor(r() * 256)
    return b
  }
  for (const [name, t] of Object.entries(dense)) {
    const m = /^(.*mlp\.experts\.(gate_up_proj|down_proj))$/.exec(name)
    if (!m) {
      entries[name] = { dtype: 'BF16', shape: t.shape, bytes: encode(t.data, 'BF16') }
      continue
    }
    const [R, C] = m[2] === 'gate_up_proj' ? [2 * F, D] : [D, F]
    entries[`${name}_blocks`] = { dtype: 'U8', shape: [E, R, C / 32, 16], bytes: random(E * R * (C / 32) * 16, false) }
    entries[`${name}_scales`] = { dtype: 'U8', shape: [E, R, C / 32], bytes: random(E * R * (C / 32), true) }
  }
  edit?.(entries)
  writeSafetensors(join(dir, 'model.safetensors'), entries)
  const cfgFile = join(dir, 'config.json')
  const cfg = JSON.parse(readFileSync(cfgFile, 'utf8')) as Record<string, unknown>
  cfg.quantization_config = { quant_method: 'mxfp4', modules_to_not_convert: ['model.layers.*.self_attn', 'model.layers.*.mlp.router', 'model.embed_tokens', 'lm_head'] }
  writeFileSync(cfgFile, JSON.stringify(cfg, null, 2))
  return dir
}

/** A safetensors file's entries as written (for re-sharding a checkpoint) */
export function readMxfp4Entries(file: string): Record<string, RawEntry> {
  const buf = readFileSync(file)
  const n = Number(buf.readBigUInt64LE(0))
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: RawEntry['dtype']; shape: number[]; data_offsets: [number, number] }>
  return Object.fromEntries(Object.entries(header).map(([name, t]) => [name, { dtype: t.dtype, shape: t.shape, bytes: Buffer.from(buf.subarray(8 + n + t.data_offsets[0], 8 + n + t.data_offsets[1])) }]))
}

/**
 * The checkpoint's weights in float64 as transformers holds them after loading on a machine without the MXFP4
 * kernels: BF16 decoded, the experts dequantised by test/reference/mxfp4.ts into gate_up_proj / down_proj.
 */
export function readMxfp4Weights(dir: string, order: 'transformers' | 'ggml' = 'transformers'): RefWeights {
  const buf = readFileSync(join(dir, 'model.safetensors'))
  const n = Number(buf.readBigUInt64LE(0))
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>
  const data = (name: string): Buffer => buf.subarray(8 + n + header[name].data_offsets[0], 8 + n + header[name].data_offsets[1])
  const out: RefWeights = {}
  for (const [name, t] of Object.entries(header)) {
    if (t.dtype === 'U8') {
      const m = /^(.*)_blocks$/.exec(name)
      if (!m) continue
      const [E, R, G] = t.shape
      out[m[1]] = dequantiseMoePacked(data(name), data(`${m[1]}_scales`), E, R, G, order)
      continue
    }
    const b = data(name)
    const v = new Float64Array(t.shape.reduce((a, s) => a * s, 1))
    const f = new Float32Array(1), u = new Uint32Array(f.buffer)
    for (let i = 0; i < v.length; i++) {
      if (t.dtype === 'F32') v[i] = b.readFloatLE(4 * i)
      else {
        u[0] = b.readUInt16LE(2 * i) << 16
        v[i] = f[0]
      }
    }
    out[name] = v
  }
  return out
}
