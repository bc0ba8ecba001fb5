// Meta's original Llama release read natively: params.json + consolidated.NN.pth (torch.save zip archives) +
// tokenizer.model. Tensors are located inside the zip (STORED entries data/<key>) and handed to the engine as file
// offsets — a single-file checkpoint (7B/8B) runs in place, zero-copy, with q/k rows in Meta's interleaved RoPE order
// (the engine's ropeInterleaved). Model-parallel checkpoints (13B: 2 files, 70B: 8) split each matrix across files;
// mmap cannot concatenate, so they are merged once, exactly (a byte copy, no conversion), into a safetensors cache
// file beside the checkpoint (or in ~/.cache/soliloquy when the directory is read-only) and that file is mapped.
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readdirSync, readSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { homedir } from 'node:os'
import { basename, join } from 'node:path'
import { clipped, ModelFormatError, openModelFile, readJson } from '../../config'
import { unpickleTorch, PyValue, TensorRef } from './pickle'
import { DType, dtypeBytes, readSafetensorsHeader, safetensorsHeader, TensorEntry } from '../safetensors'
import { readStoredEntry, readZipEntries } from './zip'

/** A tensor inside one .pth file: Meta's name, where its bytes start, dtype and shape. */
export interface PthTensor {
  name: string
  offset: number
  dtype: DType
  shape: number[]
}

/** The tensors of a torch.save checkpoint (a dict of contiguous tensors), located in place. */
export function readPthTensors(path: string, label = basename(path)): PthTensor[] {
  const magic = Buffer.alloc(4)
  // a regular file only (a FIFO would block the open forever), through the model folder's one reader
  const fd = openModelFile(path, label)
  try {
    readSync(fd, magic, 0, 4, 0)
  } catch (e) {
    throw new ModelFormatError(`${label}: cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`)
  } finally {
    closeSync(fd)
  }
  if (magic[0] === 0x80)
    throw new ModelFormatError(`${label}: is in torch.save's legacy format (PyTorch < 1.6, a bare pickle stream); re-save it with torch.save from a current PyTorch`)
  if (magic.readUInt32LE(0) !== 0x04034b50)
    throw new ModelFormatError(`${label}: is not a torch.save checkpoint (not a zip archive)`)
  const entries = readZipEntries(path, label)
  const pkl = entries.find((e) => /(^|\/)data\.pkl$/.test(e.name))
  if (!pkl) throw new ModelFormatError(`${label}: not a torch.save checkpoint (no data.pkl in the archive)`)
  const prefix = pkl.name.slice(0, pkl.name.length - 'data.pkl'.length)
  const root = unpickleTorch(readStoredEntry(path, pkl, label), label)
  if (!(root instanceof Map)) throw new ModelFormatError(`${label}: data.pkl does not hold a dict of tensors`)
  const byName = new Map(entries.map((e) => [e.name, e]))
  const out: PthTensor[] = []
  for (const [key, v] of root as Map<string, PyValue>) {
    const name = clipped(key) // a name as errors show it (a 50 MB key made a 50 MB error line)
    const t = v as TensorRef
    if (!t || typeof t !== 'object' || (t as TensorRef).kind !== 'tensor')
      throw new ModelFormatError(`${label}: ${name} is not a tensor`)
    const entryName = `${prefix}data/${t.storage.key}`
    const shownEntry = clipped(entryName)
    const e = byName.get(entryName)
    if (!e) throw new ModelFormatError(`${label}: ${name}: its storage ${shownEntry} is missing from the archive`)
    if (e.method !== 0 || e.encrypted)
      throw new ModelFormatError(
        `${label}: ${shownEntry} is compressed (zip method ${e.method}); torch.save stores tensors uncompressed, so they can be memory-mapped — re-save with torch.save`,
      )
    const el = dtypeBytes(t.storage.dtype)
    if (e.size !== t.storage.numel * el)
      throw new ModelFormatError(`${label}: ${shownEntry} holds ${e.size} bytes, its storage declares ${t.storage.numel} × ${el}`)
    // contiguous row-major: stride[i] = Π shape[i+1..] (dimensions of size 1 may carry any stride)
    let expect = 1
    for (let i = t.shape.length - 1; i >= 0; i--) {
      if (t.shape[i] !== 1 && t.stride[i] !== expect)
        throw new ModelFormatError(
          `${label}: ${name} is not contiguous (stride [${t.stride.join(', ')}] for shape [${t.shape.join(', ')}]); save tensor.contiguous()`,
        )
      expect *= t.shape[i]
    }
    if (t.storageOffset < 0 || t.storageOffset + expect > t.storage.numel)
      throw new ModelFormatError(`${label}: ${name} reaches past the end of its storage`)
    out.push({ name: key, offset: e.dataOffset + t.storageOffset * el, dtype: t.storage.dtype, shape: t.shape })
  }
  return out
}

/** Meta's parameter names → Hugging Face's (as convert_llama_weights_to_hf names them). null: not a weight we read. */
export function metaToHfName(name: string): string | null {
  if (name === 'rope.freqs') return null // a precomputed RoPE table of the first release; recomputed from rope_theta
  const fixed: Record<string, string> = {
    'tok_embeddings.weight': 'model.embed_tokens.weight',
    'norm.weight': 'model.norm.weight',
    'output.weight': 'lm_head.weight',
  }
  if (name in fixed) return fixed[name]
  const m = /^layers\.(\d+)\.(.+)$/.exec(name)
  if (m) {
    const rest: Record<string, string> = {
      'attention.wq.weight': 'self_attn.q_proj.weight',
      'attention.wk.weight': 'self_attn.k_proj.weight',
      'attention.wv.weight': 'self_attn.v_proj.weight',
      'attention.wo.weight': 'self_attn.o_proj.weight',
      'feed_forward.w1.weight': 'mlp.gate_proj.weight',
      'feed_forward.w3.weight': 'mlp.up_proj.weight',
      'feed_forward.w2.weight': 'mlp.down_proj.weight',
      'attention_norm.weight': 'input_layernorm.weight',
      'ffn_norm.weight': 'post_attention_layernorm.weight',
    }
    if (m[2] in rest) return `model.layers.${m[1]}.${rest[m[2]]}`
  }
  throw new ModelFormatError(`consolidated.*.pth: unknown tensor ${clipped(name)} (not part of a Llama checkpoint)`)
}

/**
 * How model-parallel shards split a tensor (Meta's model.py: ColumnParallelLinear splits outputs = dim 0,
 * RowParallelLinear and ParallelEmbedding split inputs / the embedding dimension = dim 1, norms are replicated).
 */
export function shardAxis(metaName: string): 0 | 1 | 'replicated' {
  if (/(^|\.)(wq|wk|wv|w1|w3)\.weight$/.test(metaName) || metaName === 'output.weight') return 0
  if (/(^|\.)(wo|w2)\.weight$/.test(metaName) || metaName === 'tok_embeddings.weight') return 1
  if (/norm\.weight$/.test(metaName) || metaName === 'rope.freqs') return 'replicated'
  throw new ModelFormatError(`consolidated.*.pth: do not know how ${clipped(metaName)} is split across model-parallel files`)
}

/** The FFN width as Meta's model.py computes it from dim, multiple_of and ffn_dim_multiplier. */
export function metaHiddenDim(dim: number, multipleOf: number, ffnDimMultiplier?: number | null): number {
  let hidden = 4 * dim
  hidden = Math.trunc((2 * hidden) / 3)
  if (ffnDimMultiplier !== undefined && ffnDimMultiplier !== null) hidden = Math.trunc(ffnDimMultiplier * hidden)
  return multipleOf * Math.floor((hidden + multipleOf - 1) / multipleOf)
}

/**
 * params.json → a transformers-style config dict (as convert_llama_weights_to_hf writes config.json), so one
 * validator (parseLlamaConfig) checks every format. `tokenizerVocab` replaces vocab_size −1 (Llama-2's params.json).
 */
export function metaParamsToConfig(
  params: Record<string, unknown>,
  o: { tokenizerVocab: number; tied: boolean; bos?: number; eos?: number; dtype?: DType },
): Record<string, unknown> {
  const num = (key: string, dflt?: number): number => {
    const v = params[key] ?? dflt
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ModelFormatError(`params.json: ${key} must be a number (found ${JSON.stringify(v)})`)
    return v
  }
  const dim = num('dim')
  const heads = num('n_heads')
  const kvHeads = params.n_kv_heads === undefined || params.n_kv_heads === null ? heads : num('n_kv_heads')
  const vocabRaw = num('vocab_size', -1)
  const vocab = vocabRaw === -1 ? o.tokenizerVocab : vocabRaw
  const ffnMult = params.ffn_dim_multiplier
  if (ffnMult !== undefined && ffnMult !== null && typeof ffnMult !== 'number')
    throw new ModelFormatError('params.json: ffn_dim_multiplier must be a number')
  const ropeTheta = num('rope_theta', 10000)
  const scaled = params.use_scaled_rope === true
  const dtype = o.dtype ?? 'BF16'
  const cfg: Record<string, unknown> = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: dim,
    intermediate_size: metaHiddenDim(dim, num('multiple_of', 256), ffnMult as number | undefined),
    num_attention_heads: heads,
    num_hidden_layers: num('n_layers'),
    num_key_value_heads: kvHeads,
    rms_norm_eps: num('norm_eps', 1e-5),
    rope_theta: ropeTheta,
    vocab_size: vocab,
    // Meta's code has no position limit beyond max_seq_len; HF's converter writes these per release
    max_position_embeddings: scaled ? 131072 : ropeTheta >= 500000 ? 8192 : 4096,
    tie_word_embeddings: o.tied,
    hidden_act: 'silu',
    bos_token_id: o.bos ?? 1,
    eos_token_id: o.eos ?? 2,
    torch_dtype: dtype === 'F32' ? 'float32' : dtype === 'F16' ? 'float16' : 'bfloat16',
  }
  // Llama-3.1's factor 8. Llama-3.2's params.json does not state its factor (32: HF's converter takes it from a
  // --llama_version flag); a rope_scaling_factor in params.json, as later llama-models releases write, wins.
  const factor = typeof params.rope_scaling_factor === 'number' ? params.rope_scaling_factor : 8.0
  if (scaled)
    cfg.rope_scaling = {
      rope_type: 'llama3',
      factor,
      low_freq_factor: 1.0,
      high_freq_factor: 4.0,
      original_max_position_embeddings: 8192,
    }
  return cfg
}

/** consolidated.00.pth, consolidated.01.pth, … in a directory (sorted), or [] */
export function metaShardFiles(dir: string): string[] {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  return names.filter((f) => /^consolidated\.\d+\.pth$/.test(f)).sort()
}

/** Meta's layout: params.json beside consolidated.*.pth */
export function isMetaDirectory(dir: string): boolean {
  return existsSync(join(dir, 'params.json')) && metaShardFiles(dir).length > 0
}

export interface MetaCheckpoint {
  /** transformers-style config.json contents */
  raw: Record<string, unknown>
  files: string[]
  /** HF names, offsets into `files` */
  tensors: TensorEntry[]
  bytes: number
  shards: number
  /** the merged cache file of a model-parallel checkpoint, if one was used */
  mergedCache?: string
}

/**
 * Reads a Meta checkpoint directory. `tokenizerVocab` resolves vocab_size −1. Model-parallel checkpoints are merged
 * into `cacheDir` (default: the checkpoint's directory, else ~/.cache/soliloquy/meta) once and reused after.
 */
export function readMetaCheckpoint(
  dir: string,
  o: { tokenizerVocab: number; bos?: number; eos?: number; cacheDir?: string },
): MetaCheckpoint {
  const params = readJson(join(dir, 'params.json'), 'params.json')
  const shardNames = metaShardFiles(dir)
  if (shardNames.length === 0) throw new ModelFormatError(`${dir}: no consolidated.NN.pth next to params.json`)
  shardNames.forEach((f, i) => {
    if (f !== `consolidated.${String(i).padStart(2, '0')}.pth`)
      throw new ModelFormatError(`${dir}: model-parallel files must be consolidated.00.pth … consolidated.${String(shardNames.length - 1).padStart(2, '0')}.pth (${f} is out of sequence)`)
  })
  const paths = shardNames.map((f) => join(dir, f))
  const shards = paths.map((p, i) => readPthTensors(p, shardNames[i]))
  const hasOutput = shards[0].some((t) => t.name === 'output.weight')
  const dtype = shards[0].find((t) => t.name === 'tok_embeddings.weight')?.dtype
  const raw = metaParamsToConfig(params, { tokenizerVocab: o.tokenizerVocab, tied: !hasOutput, bos: o.bos, eos: o.eos, dtype })
  if (shards.length === 1) {
    const tensors: TensorEntry[] = []
    for (const t of shards[0]) {
      const name = metaToHfName(t.name)
      if (name) tensors.push({ name, file: 0, offset: t.offset, dtype: t.dtype, shape: t.shape })
    }
    return { raw, files: paths, tensors, bytes: statSync(paths[0]).size, shards: 1 }
  }
  const cache = mergeShards(dir, paths, shards, o.cacheDir)
  const h = readSafetensorsHeader(cache, 0, basename(cache))
  return { raw, files: [cache], tensors: h.tensors, bytes: h.fileSize, shards: shards.length, mergedCache: cache }
}

/** The merged file's stamp: the shard files' names, sizes and modification times. */
function shardStamp(paths: string[]): string {
  return JSON.stringify(paths.map((p) => {
    const s = statSync(p)
    return [basename(p), s.size, Math.floor(s.mtimeMs)]
  }))
}

function writable(dir: string): boolean {
  const probe = join(dir, `.soliloquy-write-test-${process.pid}`)
  try {
    closeSync(openSync(probe, 'w'))
    unlinkSync(probe)
    return true
  } catch {
    return false
  }
}

const MERGED_NAME = 'consolidated.merged.safetensors'

/**
 * Concatenates model-parallel shards exactly as Meta's / HF's converters do: dim 0 for wq/wk/wv/w1/w3/output, dim 1
 * for wo/w2/tok_embeddings, norms taken from shard 0 (checked identical in all). Bytes are copied, never converted.
 * Written to a temporary name and renamed, so an interrupted merge leaves nothing that looks complete.
 */
function mergeShards(dir: string, paths: string[], shards: PthTensor[][], cacheDir?: string): string {
  const stamp = shardStamp(paths)
  let outDir = cacheDir
  if (!outDir) {
    outDir = writable(dir)
      ? dir
      : join(homedir(), '.cache', 'soliloquy', 'meta', createHash('sha256').update(dir).digest('hex').slice(0, 16))
  }
  mkdirSync(outDir, { recursive: true })
  const out = join(outDir, MERGED_NAME)
  if (existsSync(out)) {
    try {
      if (readSafetensorsHeader(out, 0, MERGED_NAME).metadata.soliloquy_merged_from === stamp) return out
    } catch {
      /* stale or damaged: rebuilt below */
    }
  }
  const byName = shards.map((s) => new Map(s.map((t) => [t.name, t])))
  const plan: { hf: string; meta: string; axis: 0 | 1 | 'replicated'; dtype: DType; shape: number[] }[] = []
  for (const t of shards[0]) {
    const hf = metaToHfName(t.name)
    if (!hf) continue
    const axis = shardAxis(t.name)
    const parts = byName.map((m, i) => {
      const p = m.get(t.name)
      if (!p) throw new ModelFormatError(`${basename(paths[i])}: has no ${t.name} (model-parallel files disagree)`)
      if (p.dtype !== t.dtype || p.shape.length !== t.shape.length)
        throw new ModelFormatError(`${basename(paths[i])}: ${t.name} differs in dtype or rank from consolidated.00.pth`)
      return p
    })
    const shape = [...t.shape]
    if (axis !== 'replicated') {
      if (t.shape.length !== 2) throw new ModelFormatError(`consolidated.00.pth: ${t.name} should be a matrix`)
      const other = 1 - axis
      for (const p of parts)
        if (p.shape[other] !== t.shape[other])
          throw new ModelFormatError(`${t.name}: model-parallel parts have different shapes along dim ${other}`)
      shape[axis] = parts.reduce((a, p) => a + p.shape[axis], 0)
    }
    plan.push({ hf, meta: t.name, axis, dtype: t.dtype, shape })
  }
  const { header } = safetensorsHeader(
    plan.map((p) => ({ name: p.hf, dtype: p.dtype, shape: p.shape })),
    { format: 'pt', soliloquy_merged_from: stamp },
  )
  const tmpPath = `${out}.partial-${process.pid}`
  const fds = paths.map((p) => openSync(p, 'r'))
  const wfd = openSync(tmpPath, 'w')
  try {
    let pos = 0
    const write = (b: Buffer): void => {
      let done = 0
      while (done < b.length) done += writeSync(wfd, b, done, b.length - done, pos + done)
      pos += b.length
    }
    const read = (fd: number, at: number, n: number): Buffer => {
      const b = Buffer.alloc(n)
      let done = 0
      while (done < n) {
        const k = readSync(fd, b, done, n - done, at + done)
        if (k === 0) throw new ModelFormatError('a consolidated.*.pth file ended early (truncated?)')
        done += k
      }
      return b
    }
    const len = Buffer.alloc(8)
    len.writeBigUInt64LE(BigInt(Buffer.byteLength(header)))
    write(len)
    write(Buffer.from(header, 'utf8'))
    const CHUNK = 16 << 20
    for (const p of plan) {
      const el = dtypeBytes(p.dtype)
      const parts = byName.map((m) => m.get(p.meta)!)
      if (p.axis === 'replicated') {
        const n = p.shape.reduce((a, s) => a * s, 1) * el
        const first = read(fds[0], parts[0].offset, n)
        for (let i = 1; i < parts.length; i++)
          if (!read(fds[i], parts[i].offset, n).equals(first))
            throw new ModelFormatError(`${basename(paths[i])}: ${p.meta} differs from consolidated.00.pth (it should be replicated)`)
        write(first)
      } else if (p.axis === 0) {
        // row blocks of each part, one part after the other
        parts.forEach((part, i) => {
          const n = part.shape[0] * part.shape[1] * el
          for (let at = 0; at < n; at += CHUNK) write(read(fds[i], part.offset + at, Math.min(CHUNK, n - at)))
        })
      } else {
        // each output row is the concatenation of that row of every part
        const rows = p.shape[0]
        const rowBytes = p.shape[1] * el
        const block = Math.max(1, Math.floor(CHUNK / rowBytes))
        for (let r0 = 0; r0 < rows; r0 += block) {
          const nr = Math.min(block, rows - r0)
          const bufs = parts.map((part, i) => read(fds[i], part.offset + r0 * part.shape[1] * el, nr * part.shape[1] * el))
          const outBuf = Buffer.alloc(nr * rowBytes)
          for (let r = 0; r < nr; r++) {
            let o = r * rowBytes
            parts.forEach((part, i) => {
              const w = part.shape[1] * el
              bufs[i].copy(outBuf, o, r * w, (r + 1) * w)
              o += w
            })
          }
          write(outBuf)
        }
      }
    }
    if (fstatSync(wfd).size !== pos) throw new ModelFormatError(`${tmpPath}: short write`)
  } catch (e) {
    closeSync(wfd)
    fds.forEach((fd) => closeSync(fd))
    try {
      unlinkSync(tmpPath)
    } catch {
      /* already gone */
    }
    throw e
  }
  closeSync(wfd)
  fds.forEach((fd) => closeSync(fd))
  renameSync(tmpPath, out)
  return out
}
