// GGUF (llama.cpp's format) writer: the base model, or a stepped one, as a single .gguf file that llama.cpp-based
// tools (node-llama-cpp, the speed and parity peer of our benchmark) load. Layout (GGUF v3): magic, version, tensor
// count, metadata key/values, tensor infos, padding to 32, tensor data (each tensor 32-aligned).
// Streaming: TypeScript writes only the header; the native engine materialises each tensor of the view straight
// into the file at its offset (F32, F16, BF16, or Q8_0, Q4_0, Q5_0, Q4_K, Q6_K with ggml's reference quantisers,
// native/src/quantise.cpp; or llama.cpp's Q3_K_S/M/L, Q4_K_M, Q5_K_S/M mixtures of them with Q3_K, Q5_K and Q5_1,
// ggufMixtures.ts), one block of rows at a time,
// into a ".partial" file renamed at the end — any size, bounded memory, progress, cancel, nothing half-written.
// llama.cpp's "llama" architecture keeps q/k rows in Meta's interleaved RoPE order: the engine forms dense rows in
// HF's order (permuting back a model loaded interleaved) and they are reordered on the way out, as llama.cpp's
// converter does, so an interleaved model round-trips to its own row order.
import { CallOptions, Engine, InputError, View } from '../engine'
import { GGML_TYPE_ID } from '../formats/gguf/read'
import { ropeInverseFrequencies } from '../config'
import { normAddFor } from '../families'
import { INTERLEAVED_ARCHES, llama3RopeFactors, llamaCppGemmaQueryScalar } from '../formats/gguf/model'
import { GEMMA_ARCHES, ggufTensorName } from '../formats/gguf/names'
import { MaterialiseTensor } from '../native'
import { tokenizerGgufMetadata } from '../tokenizers/toGguf'
import { ggufFileTensors } from './fileTensors'
import { ggufMoeArch, ggufMoeKv } from '../formats/gguf/experts'
import { GgufDType, GgufMixture, isGgufMixture, MIXTURE_FILE_TYPE, mixtureMatrixType } from './ggufMixtures'

const GGUF_T = { UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9, UINT64: 10 } as const
const ALIGN = 32

export type { GgufDType }
/** the types one export can write every matrix in (Q5_1 is written only as Q5_K's fallback) */
export type GgufSingleDtype = Exclude<GgufDType, 'Q5_1'>
/** what an export can be asked for: one type for every matrix, or one of llama.cpp's mixtures (ggufMixtures.ts) */
export type GgufExportDtype = GgufSingleDtype | GgufMixture
/** llama.cpp's general.file_type (LLAMA_FTYPE_ALL_F32, MOSTLY_F16, MOSTLY_Q4_0, MOSTLY_Q8_0, MOSTLY_Q5_0,
 *  MOSTLY_Q3_K_S / Q4_K_S / Q5_K_S for every matrix Q3_K / Q4_K / Q5_K (the nearest of llama.cpp's mixtures),
 *  MOSTLY_Q6_K, MOSTLY_BF16; the mixtures') */
const FILE_TYPE: Record<GgufExportDtype, number> = {
  F32: 0, F16: 1, Q4_0: 2, Q8_0: 7, Q5_0: 8, Q3_K: 11, Q4_K: 14, Q5_K: 16, Q6_K: 18, BF16: 32, ...MIXTURE_FILE_TYPE,
}
/** weights per block of each written type (1: a float type) and bytes per block */
const BLOCK: Record<GgufDType, [number, number]> = {
  F32: [1, 4], F16: [1, 2], BF16: [1, 2], Q8_0: [32, 34], Q4_0: [32, 18], Q5_0: [32, 22], Q5_1: [32, 24],
  Q3_K: [256, 110], Q4_K: [256, 144], Q5_K: [256, 176], Q6_K: [256, 210],
}

/**
 * The type a matrix of rows of `cols` weights is written in when the export asks for `dtype`. Rows must be whole
 * blocks; where they are not, a quantised export falls back as llama.cpp's quantiser does (llama_tensor_get_type):
 * Q6_K → Q8_0, Q5_K → Q5_1, Q4_K → Q5_0, Q3_K → Q4_0; Q4_0, Q5_0, or rows not whole blocks of 32 either → F16.
 * F32/F16/BF16 need no blocks.
 * Q8_0 asked for directly is refused instead (the rule before the quantised types, kept).
 */
export function ggufMatrixType(dtype: GgufDType, cols: number): GgufDType {
  if (cols % BLOCK[dtype][0] === 0) return dtype
  if (dtype === 'Q6_K' && cols % 32 === 0) return 'Q8_0'
  if (dtype === 'Q4_K' && cols % 32 === 0) return 'Q5_0'
  if (dtype === 'Q5_K' && cols % 32 === 0) return 'Q5_1'
  if (dtype === 'Q3_K' && cols % 32 === 0) return 'Q4_0'
  return 'F16'
}

class Buf {
  private parts: Buffer[] = []
  length = 0
  push(b: Buffer): void {
    this.parts.push(b)
    this.length += b.length
  }
  u32(v: number): void {
    const b = Buffer.alloc(4)
    b.writeUInt32LE(v >>> 0)
    this.push(b)
  }
  i32(v: number): void {
    const b = Buffer.alloc(4)
    b.writeInt32LE(v)
    this.push(b)
  }
  u64(v: number): void {
    const b = Buffer.alloc(8)
    b.writeBigUInt64LE(BigInt(v))
    this.push(b)
  }
  f32(v: number): void {
    const b = Buffer.alloc(4)
    b.writeFloatLE(v)
    this.push(b)
  }
  str(s: string): void {
    const b = Buffer.from(s, 'utf8')
    this.u64(b.length)
    this.push(b)
  }
  pad(align: number): void {
    this.push(Buffer.alloc((align - (this.length % align)) % align))
  }
  concat(): Buffer {
    return Buffer.concat(this.parts)
  }
}

export type Kv = [string, 'u32' | 'f32' | 'str' | 'bool', number | string | boolean] | [string, 'strs', string[]] | [string, 'f32s' | 'i32s', number[]]

function writeKv(b: Buf, [key, type, value]: Kv): void {
  b.str(key)
  switch (type) {
    case 'u32': b.u32(GGUF_T.UINT32); b.u32(value as number); break
    case 'f32': b.u32(GGUF_T.FLOAT32); b.f32(value as number); break
    case 'str': b.u32(GGUF_T.STRING); b.str(value as string); break
    case 'bool': b.u32(GGUF_T.BOOL); b.push(Buffer.from([value ? 1 : 0])); break
    case 'strs': b.u32(GGUF_T.ARRAY); b.u32(GGUF_T.STRING); b.u64((value as string[]).length); for (const s of value as string[]) b.str(s); break
    case 'f32s': b.u32(GGUF_T.ARRAY); b.u32(GGUF_T.FLOAT32); b.u64((value as number[]).length); for (const v of value as number[]) b.f32(v); break
    case 'i32s': b.u32(GGUF_T.ARRAY); b.u32(GGUF_T.INT32); b.u64((value as number[]).length); for (const v of value as number[]) b.i32(v); break
  }
}

/** A GGUF v3 header (metadata, tensor infos 32-aligned in order, padding): the bytes and each tensor's absolute
 *  data offset. */
export function ggufHeader(kv: Kv[], infos: { name: string; dims: number[]; type: number; bytes: number }[]): { head: Buffer; offsets: number[] } {
  const head = new Buf()
  head.push(Buffer.from('GGUF'))
  head.u32(3)
  head.u64(infos.length)
  head.u64(kv.length)
  for (const k of kv) writeKv(head, k)
  const rel: number[] = []
  let r = 0
  for (const x of infos) {
    head.str(x.name)
    head.u32(x.dims.length)
    for (const d of x.dims) head.u64(d)
    head.u32(x.type)
    head.u64(r)
    rel.push(r)
    r += Math.ceil(x.bytes / ALIGN) * ALIGN
  }
  head.pad(ALIGN)
  return { head: head.concat(), offsets: rel.map((o) => head.length + o) }
}

function tensorBytes(dtype: GgufDType, count: number): number {
  return (count / BLOCK[dtype][0]) * BLOCK[dtype][1]
}

/**
 * Writes `view` of the engine's model as GGUF: matrices in `dtype` (default F16; ggufMatrixType's fallback where
 * rows are not whole blocks), norm vectors in F32. Returns the file's size in bytes and, per fallback, a note naming
 * the tensors written in another type and why.
 */
export async function exportGguf(
  engine: Engine,
  view: View,
  outPath: string,
  opts?: CallOptions,
  o: { dtype?: GgufExportDtype; name?: string; extraKv?: Kv[] } = {},
): Promise<{ bytes: number; notes: string[] }> {
  const dtype: GgufExportDtype = o.dtype ?? 'F16'
  if (!(dtype in FILE_TYPE))
    throw new InputError(`GGUF export dtype must be one of ${Object.keys(FILE_TYPE).join(', ')} (got ${String(dtype)})`)
  const c = engine.config
  // llama.cpp's architecture of each family (Mistral runs as "llama")
  const arch = ggufMoeArch(c) ?? (c.family === 'gemma3_text' ? 'gemma3'
    : c.family === 'qwen2' || c.family === 'qwen3' || c.family === 'granite' || c.family === 'gemma2' || c.family === 'phi3' ? c.family : 'llama')
  const gemma = GEMMA_ARCHES.includes(arch)
  if (gemma) refuseGemmaDifferences(c, arch)
  if (arch === 'qwen3' && (c.biasQKV || c.biasO))
    throw new InputError('GGUF export: attention_bias cannot be carried (llama.cpp\'s qwen3 architecture has no biases); export as a Hugging Face directory')
  // What llama.cpp would run as another model is refused, naming it (everything else below is carried exactly).
  // Its "llama" architecture (Llama, Mistral) attends over the whole context: a sliding window would be dropped.
  if (!gemma && arch !== 'gpt-oss' && c.slidingWindow && c.slidingWindow < c.maxPos)
    throw new InputError(
      `GGUF export: sliding_window ${c.slidingWindow} cannot be carried (llama.cpp's llama architecture attends over the whole context, so past ${c.slidingWindow} tokens it would be another model); export as a Hugging Face directory`,
    )
  // The vocabulary as llama.cpp's converter writes it ("llama" or "gpt2"), refused before any work if it cannot be.
  const vocabKv = tokenizerGgufMetadata(engine.tokenizer, c.vocab).filter(([key]) => !/^tokenizer\.ggml\.(bos|eos)_token_id$/.test(key))
  const kv: Kv[] = [
    ['general.architecture', 'str', arch],
    ['general.name', 'str', o.name ?? 'soliloquy export'],
    ['general.alignment', 'u32', ALIGN],
    ['general.file_type', 'u32', FILE_TYPE[dtype]],
    [`${arch}.vocab_size`, 'u32', c.vocab],
    [`${arch}.context_length`, 'u32', c.maxPos],
    [`${arch}.embedding_length`, 'u32', c.dim],
    [`${arch}.block_count`, 'u32', c.layers],
    [`${arch}.feed_forward_length`, 'u32', c.ffn],
    [`${arch}.rope.dimension_count`, 'u32', c.ropeDims || c.headDim],
    [`${arch}.attention.head_count`, 'u32', c.heads],
    [`${arch}.attention.head_count_kv`, 'u32', c.kvHeads],
    [`${arch}.attention.key_length`, 'u32', c.headDim],
    [`${arch}.attention.value_length`, 'u32', c.headDim],
    [`${arch}.attention.layer_norm_rms_epsilon`, 'f32', c.eps],
    [`${arch}.rope.freq_base`, 'f32', c.ropeTheta],
    ...vocabKv, // BOS/EOS as the model's config says:
    ['tokenizer.ggml.bos_token_id', 'u32', c.bos],
    ['tokenizer.ggml.eos_token_id', 'u32', c.eos],
    // the caller's own keys (the lab's texts under soliloquy.*, which llama.cpp ignores)
    ...(o.extraKv ?? []),
  ]
  if (gemma) {
    kv.push([`${arch}.attention.sliding_window`, 'u32', c.slidingWindow])
    if (arch === 'gemma2')
      kv.push([`${arch}.attn_logit_softcapping`, 'f32', c.attnSoftcap], [`${arch}.final_logit_softcapping`, 'f32', c.finalSoftcap])
  }
  if (c.experts) kv.push(...ggufMoeKv(c, arch))
  if (arch === 'granite' || arch === 'granitemoe')
    kv.push(
      [`${arch}.embedding_scale`, 'f32', c.embeddingMultiplier],
      [`${arch}.residual_scale`, 'f32', c.residualMultiplier],
      [`${arch}.attention.scale`, 'f32', c.attentionMultiplier],
      [`${arch}.logit_scale`, 'f32', c.logitsScaling],
      // llama.cpp's granite graph applies RoPE only when this is set
      [`${arch}.rope.scaling.finetuned`, 'bool', true],
    )
  // RoPE as llama.cpp reads it: linear scaling as metadata (freq_scale = 1/factor); Llama-3.1's llama3 as the
  // rope_freqs.weight divisors convert_hf_to_gguf.py writes; dynamic NTK keeps the base frequencies at every length up
  // to max_position_embeddings (written as context_length), the only lengths the engine runs.
  let ropeFreqs: number[] | undefined
  // phi3: longrope's short / long factors as llama.cpp's rope_factors_short / _long, its attention factor as attn_factor
  const phi3Factors = arch === 'phi3' ? phi3RopeExport(c, kv) : undefined
  const rs = c.ropeScaling
  if (c.ropeType === 'linear') {
    kv.push([`${arch}.rope.scaling.type`, 'str', 'linear'], [`${arch}.rope.scaling.factor`, 'f32', rs.factor!])
  } else if (c.ropeType === 'yarn') {
    // llama.cpp's yarn: rope.scaling.factor and original_context_length; beta 32 / 1 and whole-dimension ramp bounds
    // are fixed in its llama / qwen2 / qwen3 graphs, and cos / sin are scaled by attn_factor · get_mscale(factor)
    if (rs.betaFast !== 32 || rs.betaSlow !== 1 || rs.truncate === false)
      throw new InputError(
        `GGUF export: rope_scaling yarn with beta_fast ${rs.betaFast}, beta_slow ${rs.betaSlow}, truncate ${rs.truncate !== false} cannot be carried (llama.cpp's ${arch} architecture uses beta_fast 32, beta_slow 1, truncate true); export as a Hugging Face directory`,
      )
    const mscale = rs.factor! <= 1 ? 1 : 0.1 * Math.log(rs.factor!) + 1
    kv.push(
      [`${arch}.rope.scaling.type`, 'str', 'yarn'],
      [`${arch}.rope.scaling.factor`, 'f32', rs.factor!],
      [`${arch}.rope.scaling.original_context_length`, 'u32', rs.originalMaxPositionEmbeddings!],
    )
    if (Math.fround(rs.attentionFactor!) !== Math.fround(mscale))
      kv.push([`${arch}.rope.scaling.attn_factor`, 'f32', rs.attentionFactor! / mscale])
  } else if (c.ropeType === 'llama3') {
    ropeFreqs = llama3RopeFactors(c.headDim, c.ropeTheta, {
      factor: rs.factor!,
      low_freq_factor: rs.lowFreqFactor!,
      high_freq_factor: rs.highFreqFactor!,
      original_max_position_embeddings: rs.originalMaxPositionEmbeddings!,
    })
  }

  const stored = new Set(engine.tensors.map((t) => t.name))
  const shapes = new Map(engine.tensors.map((t) => [t.name, t.shape]))
  const names = engine.tensorNames.filter((n) => stored.has(n))
  // the engine materialises rows in HF order (models loaded interleaved are permuted back): reorder for llama
  const interleave = INTERLEAVED_ARCHES.includes(arch)
  const infos: { name: string; dims: number[]; type: number; bytes: number }[] = []
  const add = (name: string, shape: number[], type: GgufDType): void => {
    const count = shape.reduce((a, b) => a * b, 1)
    if (type === 'Q8_0' && shape[shape.length - 1] % 32 !== 0)
      throw new InputError(`GGUF export to Q8_0: ${name} has rows of ${shape[shape.length - 1]} weights, not whole blocks of 32`)
    infos.push({ name, dims: [...shape].reverse(), type: GGML_TYPE_ID[type], bytes: tensorBytes(type, count) })
  }
  // tensors that are not model weights travel in the prefix, at the start of the data section
  const extra: [string, number[]][] = ropeFreqs ? [['rope_freqs.weight', ropeFreqs]] : phi3Factors ?? []
  for (const [name, values] of extra) add(name, [values.length], 'F32')
  const outTensors: { hf: string; dtype: GgufDType; index: number; part: number }[] = []
  // per fallback (planned type → written type), the matrices it took
  const fellBack = new Map<string, string[]>()
  // tensors written as one in GGUF, their parts one after the other: phi3's q/k/v and gate/up as attn_qkv / ffn_up
  // (phi3.ts exportUnits), a mixture of experts' experts as one tensor per layer (formats/gguf/experts.ts)
  const units = ggufFileTensors(c, names, (n) => shapes.get(n)!, (n) => ggufTensorName(n, arch))
  const hasOutput = units.some((u) => u.name === 'output.weight')
  for (const u of units) {
    const shape = u.shape
    const cols = shape[shape.length - 1]
    const name = u.name
    let planned: GgufDType = 'F32', t: GgufDType = 'F32'
    // (gpt-oss's fused expert biases are [E, rows] vectors: F32 as every bias)
    if (name.endsWith('.bias')) planned = t = 'F32'
    else if (shape.length > 1 && isGgufMixture(dtype))
      ({ chosen: planned, type: t } = mixtureMatrixType(dtype, name, cols, c.layers, hasOutput, { arch, experts: c.experts || 1, heads: c.heads, kvHeads: c.kvHeads }))
    else if (shape.length > 1 && !isGgufMixture(dtype)) {
      planned = dtype
      t = dtype === 'Q8_0' ? dtype : ggufMatrixType(dtype, cols)
    }
    if (t !== planned) fellBack.set(`${planned} ${t}`, [...(fellBack.get(`${planned} ${t}`) ?? []), `${name} (rows of ${cols})`])
    let part = 0
    for (const p of u.parts) {
      outTensors.push({ hf: p, dtype: t, index: infos.length, part })
      part += tensorBytes(t, shapes.get(p)!.reduce((a, b) => a * b, 1))
    }
    add(name, shape, t)
  }
  const notes = [...fellBack].map(([key, list]) => {
    const [planned, t] = key.split(' ') as [GgufDType, GgufDType]
    return `${list.length} of the matrices written as ${t}, not ${planned}: their rows are not whole ${planned} blocks of ${BLOCK[planned][0]} weights (as llama.cpp's quantiser falls back): ${list.join(', ')}`
  })

  const { head, offsets } = ggufHeader(kv, infos)
  let prefix = head
  extra.forEach(([, values], i) => {
    const b = Buffer.alloc(values.length * 4)
    values.forEach((v, j) => b.writeFloatLE(v, 4 * j))
    prefix = Buffer.concat([prefix, Buffer.alloc(offsets[i] - prefix.length), b])
  })
  const tensors: MaterialiseTensor[] = outTensors.map((t) => ({
    name: t.hf,
    dtype: t.dtype,
    offset: offsets[t.index] + t.part,
    // Gemma's norms: llama.cpp's files hold 1 + w
    normAdd: normAddFor(c, t.hf, 'gguf'),
    // q/k weight rows and their bias entries (applied before RoPE) follow llama.cpp's interleaved order
    permuteHeads: !interleave ? 0
      : /self_attn\.q_proj\.(weight|bias)$/.test(t.hf) ? c.heads
      : /self_attn\.k_proj\.(weight|bias)$/.test(t.hf) ? c.kvHeads : 0,
  }))
  await engine.writeTensors(view, outPath, prefix, tensors, opts)
  return { bytes: offsets[offsets.length - 1] + infos[infos.length - 1].bytes, notes }
}

/**
 * llama.cpp's phi3 RoPE keys for a Phi-3 model (rope.scaling.original_context_length; with longrope, attn_factor and
 * the rope_factors_short / rope_factors_long tensors it returns). Its graph projects to q of width hidden_size and
 * runs without Phi's sliding window: other models are refused.
 */
function phi3RopeExport(c: Engine['config'], kv: Kv[]): [string, number[]][] | undefined {
  if (c.heads * c.headDim !== c.dim)
    throw new InputError(`GGUF export: num_attention_heads × head_dim (${c.heads} × ${c.headDim}) ≠ hidden_size ${c.dim} cannot be carried (llama.cpp's phi3 architecture assumes them equal); export as a Hugging Face directory`)
  const raw = c.raw
  const rope = { ...((raw.rope_scaling as Record<string, unknown> | undefined) ?? {}), ...((raw.rope_parameters as Record<string, unknown> | undefined) ?? {}) }
  const type = rope.rope_type ?? rope.type
  const original = (raw.original_max_position_embeddings as number | undefined) ?? 4096
  kv.push(['phi3.rope.scaling.original_context_length', 'u32', original])
  if (type !== 'longrope' && type !== 'su') {
    if (c.ropeType !== 'default') throw new InputError(`GGUF export: rope_type "${c.ropeType}" on a Phi-3 model cannot be carried (llama.cpp's phi3 reads longrope factors only); export as a Hugging Face directory`)
    return undefined
  }
  kv.push(['phi3.rope.scaling.attn_factor', 'f32', c.ropeScale])
  return [['rope_factors_long.weight', rope.long_factor as number[]], ['rope_factors_short.weight', rope.short_factor as number[]]]
}

/**
 * What llama.cpp's gemma2 / gemma3 graphs assume instead of reading it from the file: a model that differs is refused,
 * naming the setting, rather than exported as another model.
 */
function refuseGemmaDifferences(c: Engine['config'], arch: string): void {
  const why = (what: string): InputError =>
    new InputError(`GGUF export: ${what}; llama.cpp's ${arch} architecture would run another model — export as a Hugging Face directory`)
  const qpas = llamaCppGemmaQueryScalar(arch, c.layers, c.dim, c.heads, c.headDim)
  if (c.attentionMultiplier !== Math.fround(Math.pow(qpas, -0.5)))
    throw why(`query_pre_attn_scalar gives a q·k scale of ${c.attentionMultiplier}, llama.cpp uses ${qpas}^−½`)
  const pattern = arch === 'gemma2' ? 2 : 6
  const sliding = Array.from({ length: c.layers }, (_, i) => i % pattern < pattern - 1)
  if (!c.layerSliding || c.layerSliding.some((s, i) => s !== sliding[i]))
    throw why(`its sliding layers (layer_types) are not llama.cpp's fixed pattern of ${pattern - 1} sliding layers then one global`)
  if (arch === 'gemma3') {
    if (c.attnSoftcap || c.finalSoftcap) throw why('soft-capping is set')
    const local = ropeInverseFrequencies({ headDim: c.headDim, ropeTheta: 10000, ropeType: 'default', ropeScaling: {} })
    if (!c.ropeInvFreqLocal || c.ropeInvFreqLocal.some((f, i) => f !== local[i]))
      throw why('rope_local_base_freq is not 10000 (llama.cpp fixes the sliding layers\' RoPE base at 10000)')
  }
}
