// Benchmark (not a test): generation tokens/s, step (gradient) time and peak memory, on the embedded organism and
// on a synthetic TinyLlama-1.1B-shaped model with random BF16 weights. Numbers are measured side by side in one run
// and reported as ratios; nothing here asserts a timing.
//
//   npm run bench                 # organism + synthetic 1.1B (writes ~2.2 GB to a temp dir, removed afterwards)
//   npm run bench -- --organism   # organism only
//   npm run bench -- --keep DIR   # keep the synthetic model in DIR and reuse it next time
//   npm run bench -- --shape llama2-7b --keep DIR   # the seed's model's shape (13.5 GB of random F16 weights)
//   npm run bench -- --gguf-only  # only the GGUF Q4_K_M-shaped 1.1B line (ours vs llama.cpp on one file)
//   npm run bench -- --json [--seed7b] [--out FILE]   # issue 8's figures side by side, as JSON (benchJson.ts);
//                                 #   --out auto: docs/bench-<host class>.json (benchHost.ts)
//   npm run bench -- --json --moe30b-only --out FILE  # the Qwen3-30B-A3B shape, Q4_K_M (benchShapes.ts)
//   npm run bench -- --json --families2 --out FILE    # Gemma-3-1B / Qwen3-0.6B shapes at F16 and BF16 (benchShapes.ts)
//   npm run bench -- --iq-decode [--json]             # the IQ grid decoders' speed on every kernel path (iqDecode.ts)
//   npm run bench -- --products [--json] [--warm]     # the step's weight products alone, F16/BF16 (productBench.ts)
//   npm run bench -- --peer       # + node-llama-cpp 3.21.1 (prebuilt llama.cpp) on the same weights exported as
//                                 #   GGUF: token-for-token parity and the speed ratio. Installs the peer (~700 MB)
//                                 #   into a cache folder outside the project on first use.
import { spawnSync } from 'node:child_process'
import { closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Engine } from '../../src/main/engine/engine'
import { syntheticGgufTensors } from './benchSynthetic'
import { embeddedModelDir, loadAddon } from '../../src/main/engine/native'
import { safetensorsHeader } from '../../src/main/engine/formats/safetensors'
import { steppingOff } from '../../src/main/lab/experiment/common'
import { SEED_DEFAULTS } from '../../src/shared/api'
import { exportGguf, ggufHeader, Kv } from '../../src/main/engine/export/gguf'
import { SentencePieceTokenizer } from '../../src/main/engine/tokenizers/sentencepiece/tokenizer'
import { tokenizerGgufMetadata } from '../../src/main/engine/tokenizers/toGguf'
import { quantiseQ4K, quantiseQ6K } from './kquants'
import { loadPeer, peerGreedy, PEER_VERSION } from './peer'
import { existsSync } from 'node:fs'
import { benchJson } from './benchJson'
import { iqDecode } from './iqDecode'
import { productBench } from './productBench'
import { mixtureMatrixType } from '../../src/main/engine/export/ggufMixtures'

const PHRASE = SEED_DEFAULTS.phrase
const ORGANISM_LRS = [0, 1e-3, 3e-3, 1e-2, 2e-2, 3e-2, 5e-2, 1e-1]

function ms(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6
}

interface Measure {
  label: string
  loadMs: number
  stepMs: number
  singleTokS: number
  sweepTokS: number
  sweepColumns: number
  peakRssMB: number
  fileMB: number
}

async function measure(dir: string, label: string, lrs: number[], maxGen: number): Promise<Measure> {
  let t = process.hrtime.bigint()
  const engine = Engine.load(dir)
  const loadMs = ms(t)
  t = process.hrtime.bigint()
  const g = await engine.gradient(PHRASE)
  const stepMs = ms(t)
  t = process.hrtime.bigint()
  const [one] = await engine.generate({ prompt: SEED_DEFAULTS.prompt, views: [[{ gradient: g, lr: lrs[1] }]], maxNew: maxGen })
  const singleTokS = one.ids.length / (ms(t) / 1000)
  t = process.hrtime.bigint()
  const r = await steppingOff(engine, [], engine.withBos(SEED_DEFAULTS.prompt, 'prompt'), PHRASE, lrs, { ...SEED_DEFAULTS, maxGen, temperature: 0, topP: 1 })
  const sweepMs = ms(t)
  const tokens = r.generations.reduce((a, g) => a + g.ids.length, 0)
  return {
    label,
    loadMs,
    stepMs,
    singleTokS,
    sweepTokS: tokens / (sweepMs / 1000),
    sweepColumns: lrs.length,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    fileMB: engine.fileBytes / 2 ** 20,
  }
}

/** Real models' shapes, filled with random weights (nothing can be downloaded here). */
const SHAPES = {
  tinyllama: { label: 'TinyLlama-1.1B', vocab: 32000, dim: 2048, ffn: 5632, layers: 22, heads: 32, kvHeads: 4, dtype: 'BF16' as const },
  'llama2-7b': { label: 'Llama-2-7b', vocab: 32000, dim: 4096, ffn: 11008, layers: 32, heads: 32, kvHeads: 32, dtype: 'F16' as const },
}
type ShapeName = keyof typeof SHAPES

/** A synthetic checkpoint of the given shape, random weights streamed to disk without holding them. */
function writeSynthetic(dir: string, shape: ShapeName): void {
  mkdirSync(dir, { recursive: true })
  const c = SHAPES[shape]
  const hd = c.dim / c.heads
  const shapes: [string, number[], number][] = [['model.embed_tokens.weight', [c.vocab, c.dim], 1]]
  for (let l = 0; l < c.layers; l++) {
    const p = `model.layers.${l}.`
    shapes.push(
      [p + 'self_attn.q_proj.weight', [c.heads * hd, c.dim], 1 / Math.sqrt(c.dim)],
      [p + 'self_attn.k_proj.weight', [c.kvHeads * hd, c.dim], 1 / Math.sqrt(c.dim)],
      [p + 'self_attn.v_proj.weight', [c.kvHeads * hd, c.dim], 1 / Math.sqrt(c.dim)],
      [p + 'self_attn.o_proj.weight', [c.dim, c.heads * hd], 1 / Math.sqrt(c.dim)],
      [p + 'mlp.gate_proj.weight', [c.ffn, c.dim], 1 / Math.sqrt(c.dim)],
      [p + 'mlp.up_proj.weight', [c.ffn, c.dim], 1 / Math.sqrt(c.dim)],
      [p + 'mlp.down_proj.weight', [c.dim, c.ffn], 1 / Math.sqrt(c.ffn)],
      [p + 'input_layernorm.weight', [c.dim], 0],
      [p + 'post_attention_layernorm.weight', [c.dim], 0],
    )
  }
  shapes.push(['model.norm.weight', [c.dim], 0], ['lm_head.weight', [c.vocab, c.dim], 1 / Math.sqrt(c.dim)])
  const { header } = safetensorsHeader(shapes.map(([name, sh]) => ({ name, dtype: c.dtype, shape: sh })))
  const fd = openSync(join(dir, 'model.safetensors'), 'w')
  const len = Buffer.alloc(8)
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(header)))
  writeSync(fd, len)
  writeSync(fd, header)
  let s = 12345
  const chunk = Buffer.alloc(1 << 22)
  const f = new Float32Array(1)
  const u = new Uint32Array(f.buffer)
  for (const [, sh, scale] of shapes) {
    let left = sh.reduce((a, b) => a * b, 1)
    while (left > 0) {
      const n = Math.min(left, chunk.length / 2)
      for (let i = 0; i < n; i++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0
        f[0] = scale === 0 ? 1 : ((s / 4294967296) * 2 - 1) * scale * 1.7
        const x = u[0]
        let h: number
        if (c.dtype === 'BF16') h = x >>> 16
        else {
          // fp32 → fp16 by truncation; values below fp16's normal range (|v| < 6e-5) become zero — fine for noise
          const e = (x >>> 23) & 0xff
          h = e < 113 ? (x >>> 16) & 0x8000 : ((x >>> 16) & 0x8000) | ((e - 112) << 10) | ((x >>> 13) & 0x3ff)
        }
        chunk.writeUInt16LE(h, 2 * i)
      }
      writeSync(fd, chunk, 0, 2 * n)
      left -= n
    }
  }
  closeSync(fd)
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      model_type: 'llama', vocab_size: c.vocab, hidden_size: c.dim, intermediate_size: c.ffn, num_hidden_layers: c.layers,
      num_attention_heads: c.heads, num_key_value_heads: c.kvHeads, rms_norm_eps: 1e-5, rope_theta: 10000,
      tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2, max_position_embeddings: 4096,
      torch_dtype: c.dtype === 'BF16' ? 'bfloat16' : 'float16',
    }),
  )
  // the organism's 4096-piece tokenizer is enough to drive a 32000-row vocabulary
  copyFileSync(join(embeddedModelDir(), 'tokenizer.model'), join(dir, 'tokenizer.model'))
}

/** llama.cpp's Q4_K_M recipe (mixtures.ts): Q6_K for the output and for attn_v / ffn_down of its "more bits" layers,
 *  Q4_K else (this shape's rows are whole blocks of 256: no fallback) */
function q4kmType(name: string, layers: number): 'Q4_K' | 'Q6_K' {
  return mixtureMatrixType('Q4_K_M', name, 256, layers, true).type as 'Q4_K' | 'Q6_K'
}

/** The synthetic shape as a Q4_K_M-shaped GGUF file: random weights quantised row block by row block as written. */
function writeSyntheticGguf(path: string, shape: ShapeName): number {
  const c = SHAPES[shape]
  const hd = c.dim / c.heads
  const tensors = syntheticGgufTensors(c)
  const typeOf = (t: { name: string; shape: number[] }): 'F32' | 'Q4_K' | 'Q6_K' => (t.shape.length === 1 ? 'F32' : q4kmType(t.name, c.layers))
  const blockBytes = { F32: 4, Q4_K: 144, Q6_K: 210 }
  const blockElems = { F32: 1, Q4_K: 256, Q6_K: 256 }
  const bytesOf = (t: { name: string; shape: number[] }): number => {
    const ty = typeOf(t)
    return (t.shape.reduce((a, b) => a * b, 1) / blockElems[ty]) * blockBytes[ty]
  }
  const tok = SentencePieceTokenizer.fromFile(join(embeddedModelDir(), 'tokenizer.model'))
  const kv: Kv[] = [
    ['general.architecture', 'str', 'llama'], ['general.alignment', 'u32', 32], ['general.file_type', 'u32', 15],
    ['llama.context_length', 'u32', 4096], ['llama.embedding_length', 'u32', c.dim], ['llama.block_count', 'u32', c.layers],
    ['llama.feed_forward_length', 'u32', c.ffn], ['llama.rope.dimension_count', 'u32', hd], ['llama.attention.head_count', 'u32', c.heads],
    ['llama.attention.head_count_kv', 'u32', c.kvHeads], ['llama.attention.layer_norm_rms_epsilon', 'f32', 1e-5], ['llama.rope.freq_base', 'f32', 10000],
    ...tokenizerGgufMetadata(tok, c.vocab),
  ]
  const typeId = { F32: 0, Q4_K: 12, Q6_K: 14 }
  const { head, offsets } = ggufHeader(kv, tensors.map((t) => ({ name: t.name, dims: [...t.shape].reverse(), type: typeId[typeOf(t)], bytes: bytesOf(t) })))
  const fd = openSync(path, 'w')
  let pos = 0
  const put = (b: Uint8Array): void => {
    writeSync(fd, b)
    pos += b.length
  }
  put(head)
  let s = 12345
  try {
    tensors.forEach((t, ti) => {
      put(new Uint8Array(offsets[ti] - pos))
      const ty = typeOf(t)
      const cols = t.shape[t.shape.length - 1]
      const rows = t.shape.length === 1 ? 1 : t.shape[0]
      const RB = Math.max(1, Math.floor((1 << 20) / cols))
      const x = new Float32Array(RB * cols)
      for (let r0 = 0; r0 < rows; r0 += RB) {
        const n = Math.min(RB, rows - r0) * cols
        for (let i = 0; i < n; i++) {
          s = (Math.imul(s, 1664525) + 1013904223) >>> 0
          x[i] = t.scale === 0 ? 1 : ((s / 4294967296) * 2 - 1) * t.scale * 1.7
        }
        if (ty === 'F32') {
          put(new Uint8Array(x.buffer, 0, n * 4))
          continue
        }
        const out = new Uint8Array((n / 256) * blockBytes[ty])
        for (let b = 0; b < n / 256; b++)
          if (ty === 'Q4_K') quantiseQ4K(x, 256 * b, out, 144 * b)
          else quantiseQ6K(x, 256 * b, out, 210 * b)
        put(out)
      }
    })
  } finally {
    closeSync(fd)
  }
  return pos
}

interface GgufMeasure {
  fileMB: number
  loadMs: number
  stepMs: number
  tokS: number
  steppedTokS: number
  peakRssMB: number
  ids: number[]
}

/** Ours on a GGUF file: load, 32 greedy tokens on the base model, one step, 32 tokens on the stepped view. */
async function ggufChild(file: string): Promise<void> {
  let t = process.hrtime.bigint()
  const engine = Engine.load(file)
  const loadMs = ms(t)
  const prompt = engine.withBos(SEED_DEFAULTS.prompt, 'prompt')
  t = process.hrtime.bigint()
  const [base] = await engine.generate({ prompt, views: [[]], maxNew: 32 })
  const tokS = base.ids.length / (ms(t) / 1000)
  t = process.hrtime.bigint()
  const g = await engine.gradient(PHRASE)
  const stepMs = ms(t)
  t = process.hrtime.bigint()
  const [stepped] = await engine.generate({ prompt, views: [[{ gradient: g, lr: 1e-3 }]], maxNew: 32 })
  const steppedTokS = stepped.ids.length / (ms(t) / 1000)
  const m: GgufMeasure = {
    fileMB: engine.fileBytes / 2 ** 20, loadMs, stepMs, tokS, steppedTokS, peakRssMB: process.resourceUsage().maxRSS / 1024, ids: base.ids,
  }
  process.stdout.write('RESULT ' + JSON.stringify(m) + '\n')
}

/** llama.cpp on the same file: 32 greedy tokens, and its process's peak RSS. */
async function ggufPeerChild(file: string, promptJson: string): Promise<void> {
  const llamaCpp = await loadPeer()
  const r = await peerGreedy(llamaCpp, file, JSON.parse(promptJson) as number[], 32, loadAddon().threads())
  process.stdout.write('RESULT ' + JSON.stringify({ tokS: r.ids.length / (r.ms / 1000), ids: r.ids, peakRssMB: process.resourceUsage().maxRSS / 1024 }) + '\n')
}

/** The GGUF Q4_K_M line: ours vs llama.cpp on one synthetic file, peak RSS against the file size. */
function ggufLine(shape: ShapeName, keep: string | undefined): void {
  const dir = keep ?? mkdtempSync(join(tmpdir(), 'soliloquy-bench-gguf-'))
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `synthetic-${shape}-Q4_K_M.gguf`)
  try {
    if (!existsSync(file)) {
      const t = process.hrtime.bigint()
      const bytes = writeSyntheticGguf(file, shape)
      console.log(`\n(wrote synthetic ${SHAPES[shape].label} Q4_K_M-shaped GGUF: ${(bytes / 2 ** 30).toFixed(2)} GiB in ${(ms(t) / 1000).toFixed(1)} s)`)
    }
    const child = (args: string[]): Record<string, unknown> => {
      const r = spawnSync(process.execPath, [__filename, ...args], { encoding: 'utf8', maxBuffer: 1 << 24 })
      const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '))
      if (!line) throw new Error(`benchmark child ${args[0]} failed: ${r.stderr}`)
      return JSON.parse(line.slice(7)) as Record<string, unknown>
    }
    const ours = child(['--gguf-child', file]) as unknown as GgufMeasure
    console.log(`\n## GGUF Q4_K_M-shaped synthetic ${SHAPES[shape].label} (Q4_K + Q6_K, random weights)`)
    console.log(`weights file          ${ours.fileMB.toFixed(1)} MB`)
    console.log(`load (mmap)           ${ours.loadMs.toFixed(0)} ms`)
    console.log(`step (exact gradient) ${ours.stepMs.toFixed(0)} ms`)
    console.log(`generation, base      ${ours.tokS.toFixed(2)} tokens/s (ours)`)
    console.log(`generation, stepped   ${ours.steppedTokS.toFixed(2)} tokens/s (ours)`)
    console.log(`peak RSS              ${ours.peakRssMB.toFixed(0)} MB = ${(ours.peakRssMB / ours.fileMB).toFixed(3)}× the file (budget 1.2)`)
    try {
      const prompt = JSON.stringify(SentencePieceTokenizer.fromFile(join(embeddedModelDir(), 'tokenizer.model')).encode(SEED_DEFAULTS.prompt))
      const theirs = child(['--gguf-peer-child', file, JSON.stringify([1, ...(JSON.parse(prompt) as number[])])]) as { tokS: number; ids: number[]; peakRssMB: number }
      const same = JSON.stringify(theirs.ids) === JSON.stringify(ours.ids)
      console.log(`llama.cpp ${PEER_VERSION}         ${theirs.tokS.toFixed(2)} tokens/s, peak RSS ${theirs.peakRssMB.toFixed(0)} MB — ours/llama.cpp ${(ours.tokS / theirs.tokS).toFixed(2)}; greedy ids ${same ? 'identical' : 'differ (random weights: near-ties everywhere)'}`)
    } catch (e) {
      console.log(`(llama.cpp comparison failed: ${(e as Error).message.split('\n')[0]})`)
    }
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true })
  }
}

function report(m: Measure): void {
  console.log(`\n## ${m.label}`)
  console.log(`weights file          ${m.fileMB.toFixed(1)} MB`)
  console.log(`load (mmap)           ${m.loadMs.toFixed(0)} ms`)
  console.log(`step (exact gradient) ${m.stepMs.toFixed(0)} ms`)
  console.log(`generation, 1 column  ${m.singleTokS.toFixed(1)} tokens/s`)
  console.log(`sweep, ${m.sweepColumns} columns      ${m.sweepTokS.toFixed(1)} tokens/s (gradient included)  = ${(m.sweepTokS / m.singleTokS).toFixed(2)}× one column`)
  console.log(`peak RSS              ${m.peakRssMB.toFixed(0)} MB = ${(m.peakRssMB / m.fileMB).toFixed(3)}× the weights file`)
}

async function child(kind: string, dir: string): Promise<void> {
  const shape = SHAPES[kind as ShapeName]
  const m = shape
    ? await measure(dir, `synthetic ${shape.label} shape (random ${shape.dtype} weights)`, ORGANISM_LRS, 32)
    : await measure(dir, 'organism (7.2 M params, F16)', ORGANISM_LRS, SEED_DEFAULTS.maxGen)
  process.stdout.write('RESULT ' + JSON.stringify(m) + '\n')
}

/** Greedy generation on the base model and at α = 0.03 by both engines: parity and tokens/s, side by side. */
async function peer(): Promise<void> {
  const llamaCpp = await loadPeer()
  const engine = Engine.load(embeddedModelDir())
  const g = await engine.gradient(PHRASE)
  const dir = mkdtempSync(join(tmpdir(), 'soliloquy-peer-'))
  const llama = await llamaCpp.getLlama({ gpu: false, build: 'never' })
  const threads = loadAddon().threads()
  console.log(`\n## parity and speed against node-llama-cpp ${PEER_VERSION} (organism exported as GGUF F16, ${threads} threads each)`)
  try {
    for (const lr of [0, 0.03]) {
      const view = lr === 0 ? [] : [{ gradient: g, lr }]
      const file = join(dir, `organism-${lr}.gguf`)
      await exportGguf(engine, view, file)
      const prompt = engine.withBos(SEED_DEFAULTS.prompt, 'prompt')
      let t = process.hrtime.bigint()
      const [ours] = await engine.generate({ prompt, views: [view], maxNew: SEED_DEFAULTS.maxGen })
      const oursTokS = ours.ids.length / (ms(t) / 1000)
      const model = await llama.loadModel({ modelPath: file })
      const ctx = await model.createContext({ contextSize: SEED_DEFAULTS.maxSeq, threads })
      const theirs: number[] = []
      t = process.hrtime.bigint()
      for await (const tok of ctx.getSequence().evaluate(prompt, { temperature: 0 })) {
        theirs.push(tok)
        if (theirs.length >= SEED_DEFAULTS.maxGen) break
      }
      const theirTokS = theirs.length / (ms(t) / 1000)
      await ctx.dispose()
      await model.dispose()
      const same = JSON.stringify(theirs) === JSON.stringify(ours.ids)
      console.log(`α = ${lr}: greedy ids ${same ? 'identical' : 'DIFFER'} (${ours.ids.length} tokens) — ours ${oursTokS.toFixed(0)} tok/s, llama.cpp ${theirTokS.toFixed(0)} tok/s, ratio ${(oursTokS / theirTokS).toFixed(2)}`)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** SentencePiece encoding speed on ~10k characters of text, emoji, accents and CJK (best of three, after a warm-up). */
function tokenizerSpeed(): void {
  const dir = embeddedModelDir()
  const tok = Engine.load(dir).tokenizer
  const text = readFileSync(join(dir, 'soliloquy.txt'), 'utf8').repeat(8) + ' 🙂 naïve 日本語'.repeat(40)
  tok.encode(text)
  let best = Infinity
  let n = 0
  for (let i = 0; i < 3; i++) {
    const t = process.hrtime.bigint()
    n = tok.encode(text).length
    best = Math.min(best, ms(t))
  }
  console.log(`tokenizer encode      ${best.toFixed(1)} ms for ${text.length} characters → ${n} tokens (${((text.length / best) * 1000).toFixed(0)} chars/s)`)
}

async function main(): Promise<void> {
  const args = process.argv.slice(2)
  if (args[0] === '--child') return child(args[1], args[2])
  if (args[0] === '--peer-child') return peer()
  if (args[0] === '--gguf-child') return ggufChild(args[1])
  if (args[0] === '--gguf-peer-child') return ggufPeerChild(args[1], args[2])
  // the IQ grid decoders on every kernel path, side by side (iqDecode.ts)
  if (args.includes('--iq-decode')) return void iqDecode(args.includes('--json'))
  if (args.includes('--products')) return void (await productBench(args))
  // the side-by-side figures of issue 8 as JSON (benchJson.ts)
  if (args.includes('--json') || args[0]?.startsWith('--json-')) return benchJson(args, __filename)
  console.log(`# Soliloquy engine benchmark — ${loadAddon().threads()} threads, node ${process.version}`)
  if (args.includes('--gguf-only')) {
    const at = args.indexOf('--keep')
    return ggufLine('tinyllama', at >= 0 ? args[at + 1] : undefined)
  }
  // each model is measured in a fresh process so peak RSS belongs to that model alone
  const run = (kind: string, dir: string): Measure => {
    const r = spawnSync(process.execPath, [__filename, '--child', kind, dir], { encoding: 'utf8', maxBuffer: 1 << 24 })
    const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '))
    if (!line) throw new Error(`benchmark of ${kind} failed: ${r.stderr}`)
    return JSON.parse(line.slice(7)) as Measure
  }
  report(run('organism', embeddedModelDir()))
  tokenizerSpeed()
  if (args.includes('--peer')) {
    const r = spawnSync(process.execPath, [__filename, '--peer-child'], { stdio: 'inherit' })
    if (r.status !== 0) console.log('(peer comparison failed)')
  }
  if (args.includes('--organism')) return
  // --keep DIR: write the synthetic model there once and reuse it on later runs
  const keepAt = args.indexOf('--keep')
  const keep = keepAt >= 0 ? args[keepAt + 1] : undefined
  // --shape tinyllama (default) | llama2-7b
  const shapeAt = args.indexOf('--shape')
  const shape = (shapeAt >= 0 ? args[shapeAt + 1] : 'tinyllama') as ShapeName
  if (!(shape in SHAPES)) throw new Error(`--shape: one of ${Object.keys(SHAPES).join(', ')}`)
  const dir = keep ?? mkdtempSync(join(tmpdir(), 'soliloquy-bench-'))
  try {
    if (!existsSync(join(dir, 'model.safetensors'))) {
      const t = process.hrtime.bigint()
      writeSynthetic(dir, shape)
      console.log(`\n(wrote synthetic ${SHAPES[shape].label}: ${(statSync(join(dir, 'model.safetensors')).size / 2 ** 30).toFixed(2)} GiB in ${(ms(t) / 1000).toFixed(1)} s)`)
    }
    const m = run(shape, dir)
    report(m)
    console.log(`\npeak RSS / file size: ${(m.peakRssMB / m.fileMB).toFixed(3)} (budget 1.2: weights are mmap'd, never copied to fp32)`)
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true })
  }
  if (shape === 'tinyllama') ggufLine(shape, keep)
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e))
  process.exit(1)
})
