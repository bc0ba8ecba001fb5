// GGUF (llama.cpp's format) writer: the base model, or a stepped one, as a single .gguf file, so llama.cpp-based
// tools (node-llama-cpp, the speed and parity peer of our benchmark) can run exactly the weights we run.
// Layout (GGUF v3): magic, version, tensor count, metadata key/values, tensor infos, padding, tensor data.
// llama.cpp keeps q/k rows in Meta's interleaved RoPE order; HF checkpoints hold them permuted ("rotate_half"),
// so q_proj/k_proj rows are permuted back here, as llama.cpp's own converter does.
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CallOptions, Engine, View } from './engine'
import { readCheckpointFiles } from './safetensors'
import { tokenizerGgufMetadata } from './tokenizers/toGguf'

const GGUF_T = { UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9, UINT64: 10 } as const
const GGML_F32 = 0
const GGML_F16 = 1
const ALIGN = 32

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
  concat(): Buffer {
    return Buffer.concat(this.parts)
  }
}

type Kv = [string, 'u32' | 'f32' | 'str' | 'bool', number | string | boolean] | [string, 'strs', string[]] | [string, 'f32s' | 'i32s', number[]]

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

const GGUF_NAMES: [RegExp, string][] = [
  [/^model\.embed_tokens\.weight$/, 'token_embd.weight'],
  [/^lm_head\.weight$/, 'output.weight'],
  [/^model\.norm\.weight$/, 'output_norm.weight'],
  [/^model\.layers\.(\d+)\.self_attn\.q_proj\.weight$/, 'blk.$1.attn_q.weight'],
  [/^model\.layers\.(\d+)\.self_attn\.k_proj\.weight$/, 'blk.$1.attn_k.weight'],
  [/^model\.layers\.(\d+)\.self_attn\.v_proj\.weight$/, 'blk.$1.attn_v.weight'],
  [/^model\.layers\.(\d+)\.self_attn\.o_proj\.weight$/, 'blk.$1.attn_output.weight'],
  [/^model\.layers\.(\d+)\.mlp\.gate_proj\.weight$/, 'blk.$1.ffn_gate.weight'],
  [/^model\.layers\.(\d+)\.mlp\.up_proj\.weight$/, 'blk.$1.ffn_up.weight'],
  [/^model\.layers\.(\d+)\.mlp\.down_proj\.weight$/, 'blk.$1.ffn_down.weight'],
  [/^model\.layers\.(\d+)\.input_layernorm\.weight$/, 'blk.$1.attn_norm.weight'],
  [/^model\.layers\.(\d+)\.post_attention_layernorm\.weight$/, 'blk.$1.ffn_norm.weight'],
]

function ggufName(hf: string): string {
  for (const [re, to] of GGUF_NAMES) if (re.test(hf)) return hf.replace(re, to)
  throw new Error(`no GGUF name for ${hf}`)
}

/** Rows of a q/k projection from HF's rotate_half order back to the interleaved order: per head, row i of the
 *  first half and row i of the second half become rows 2i and 2i+1. */
function unpermuteRows(src: Float32Array, rows: number, cols: number, heads: number): Float32Array {
  const out = new Float32Array(src.length)
  const hd = rows / heads
  const half = hd / 2
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < half; i++)
      for (const [from, to] of [[h * hd + i, h * hd + 2 * i], [h * hd + half + i, h * hd + 2 * i + 1]])
        out.set(src.subarray(from * cols, (from + 1) * cols), to * cols)
  return out
}

function toF16(src: Float32Array): Buffer {
  const out = Buffer.alloc(src.length * 2)
  const f = new Float32Array(1)
  const u = new Uint32Array(f.buffer)
  for (let i = 0; i < src.length; i++) {
    f[0] = src[i]
    const x = u[0]
    const sign = (x >>> 16) & 0x8000
    const exp = ((x >>> 23) & 0xff) - 127 + 15
    const man = x & 0x7fffff
    let h: number
    if (((x >>> 23) & 0xff) === 0xff) h = sign | 0x7c00 | (man ? 0x200 : 0)
    else if (exp >= 31) h = sign | 0x7c00
    else if (exp <= 0) {
      if (exp < -10) h = sign
      else {
        const m = man | 0x800000
        const shift = 14 - exp
        let half = m >>> shift
        const rem = m & ((1 << shift) - 1)
        const mid = 1 << (shift - 1)
        if (rem > mid || (rem === mid && half & 1)) half++
        h = sign | half
      }
    } else {
      h = sign | (exp << 10) | (man >>> 13)
      const rem = man & 0x1fff
      if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++
    }
    out.writeUInt16LE(h, 2 * i)
  }
  return out
}

/**
 * Writes `view` of the engine's model as GGUF (matrices F16, norms F32). Goes through a temporary F32 safetensors
 * export, so the stepped weights are exactly those the engine materialises.
 */
export async function exportGguf(engine: Engine, view: View, outPath: string, opts?: CallOptions): Promise<void> {
  const c = engine.config
  // this writer only knows llama's default-RoPE, bias-free, windowless layout: refuse rather than write a file that
  // llama.cpp would run as a different model
  const unsupported = [
    c.ropeType !== 'default' && c.ropeType !== 'dynamic' ? `rope_type ${c.ropeType}` : '',
    c.slidingWindow ? 'sliding_window' : '',
    c.biasQKV || c.biasO || c.biasMLP ? 'linear biases' : '',
  ].filter(Boolean)
  if (unsupported.length) throw new Error(`GGUF export does not carry ${unsupported.join(', ')} yet; export as a Hugging Face directory`)
  // The vocabulary as llama.cpp's converter writes it ("llama" or "gpt2"), refused before any work if it cannot be.
  const vocabKv = tokenizerGgufMetadata(engine.tokenizer, c.vocab).filter(([key]) => !/^tokenizer\.ggml\.(bos|eos)_token_id$/.test(key))
  const tmp = join(tmpdir(), `soliloquy-gguf-${process.pid}-${Date.now()}`)
  await engine.exportHF(view, tmp, { dtype: 'F32' }, opts)
  const ck = readCheckpointFiles(tmp)
  const kv: Kv[] = [
    ['general.architecture', 'str', 'llama'],
    ['general.name', 'str', 'soliloquy export'],
    ['general.alignment', 'u32', ALIGN],
    ['general.file_type', 'u32', 1],
    ['llama.vocab_size', 'u32', c.vocab],
    ['llama.context_length', 'u32', c.maxPos],
    ['llama.embedding_length', 'u32', c.dim],
    ['llama.block_count', 'u32', c.layers],
    ['llama.feed_forward_length', 'u32', c.ffn],
    ['llama.rope.dimension_count', 'u32', c.headDim],
    ['llama.attention.head_count', 'u32', c.heads],
    ['llama.attention.head_count_kv', 'u32', c.kvHeads],
    ['llama.attention.key_length', 'u32', c.headDim],
    ['llama.attention.value_length', 'u32', c.headDim],
    ['llama.attention.layer_norm_rms_epsilon', 'f32', c.eps],
    ['llama.rope.freq_base', 'f32', c.ropeTheta],
    ...vocabKv, // BOS/EOS as the model's config says:
    ['tokenizer.ggml.bos_token_id', 'u32', c.bos],
    ['tokenizer.ggml.eos_token_id', 'u32', c.eos],
  ]
  const tensors = ck.tensors.map((t) => {
    const is1d = t.shape.length === 1
    const count = t.shape.reduce((a, b) => a * b, 1)
    return { t, name: ggufName(t.name), type: is1d ? GGML_F32 : GGML_F16, bytes: count * (is1d ? 4 : 2) }
  })
  const head = new Buf()
  head.push(Buffer.from('GGUF'))
  head.u32(3)
  head.u64(tensors.length)
  head.u64(kv.length)
  for (const k of kv) writeKv(head, k)
  let offset = 0
  for (const x of tensors) {
    head.str(x.name)
    const dims = [...x.t.shape].reverse() // ggml order: fastest-varying first
    head.u32(dims.length)
    for (const d of dims) head.u64(d)
    head.u32(x.type)
    head.u64(offset)
    offset += Math.ceil(x.bytes / ALIGN) * ALIGN
  }
  const fd = openSync(outPath, 'w')
  try {
    const hb = head.concat()
    writeSync(fd, hb)
    writeSync(fd, Buffer.alloc((ALIGN - (hb.length % ALIGN)) % ALIGN))
    const files = new Map<number, Buffer>()
    for (const x of tensors) {
      if (!files.has(x.t.file)) files.set(x.t.file, readFileSync(ck.files[x.t.file]))
      const buf = files.get(x.t.file)!
      const count = x.bytes / (x.type === GGML_F32 ? 4 : 2)
      let data = new Float32Array(buf.buffer.slice(buf.byteOffset + x.t.offset, buf.byteOffset + x.t.offset + count * 4))
      if (x.t.name.endsWith('q_proj.weight')) data = unpermuteRows(data, x.t.shape[0], x.t.shape[1], c.heads)
      if (x.t.name.endsWith('k_proj.weight')) data = unpermuteRows(data, x.t.shape[0], x.t.shape[1], c.kvHeads)
      const out = x.type === GGML_F32 ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : toF16(data)
      writeSync(fd, out)
      writeSync(fd, Buffer.alloc((ALIGN - (out.length % ALIGN)) % ALIGN))
    }
  } finally {
    closeSync(fd)
    rmSync(tmp, { recursive: true, force: true })
  }
}
