// Benchmark (not a test): generation tokens/s, step (gradient) time and peak memory, on the embedded organism and
// on a synthetic TinyLlama-1.1B-shaped model with random BF16 weights. Numbers are measured side by side in one run
// and reported as ratios; nothing here asserts a timing.
//
//   npm run bench                 # organism + synthetic 1.1B (writes ~2.2 GB to a temp dir, removed afterwards)
//   npm run bench -- --organism   # organism only
//   npm run bench -- --keep DIR   # keep the synthetic model in DIR and reuse it next time
//   npm run bench -- --shape llama2-7b --keep DIR   # the seed's model's shape (13.5 GB of random F16 weights)
//   npm run bench -- --peer       # + node-llama-cpp 3.21.1 (prebuilt llama.cpp) on the same weights exported as
//                                 #   GGUF: token-for-token parity and the speed ratio. Installs the peer (~700 MB)
//                                 #   into a cache folder outside the project on first use.
import { spawnSync } from 'node:child_process'
import { closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Engine } from './engine/engine'
import { embeddedModelDir, loadAddon } from './engine/native'
import { safetensorsHeader } from './engine/safetensors'
import { sweep } from './lab/sweep'
import { exportGguf } from './engine/gguf'
import { loadPeer, PEER_VERSION } from './peer'
import { existsSync } from 'node:fs'

const PHRASE = 'To be, or not to be, that is the question'
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
  const [one] = await engine.generate({ prompt: 'To be', views: [[{ gradient: g, lr: lrs[1] }]], maxNew: maxGen })
  const singleTokS = one.ids.length / (ms(t) / 1000)
  t = process.hrtime.bigint()
  const r = await sweep(engine, { prompt: 'To be', phrase: PHRASE, lrs, maxGen })
  const sweepMs = ms(t) - 0
  const tokens = r.rows.reduce((a, row) => a + row.ids.length, 0)
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
    : await measure(dir, 'organism (7.2 M params, F16)', ORGANISM_LRS, 64)
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
      const prompt = engine.withBos('To be', 'prompt')
      let t = process.hrtime.bigint()
      const [ours] = await engine.generate({ prompt, views: [view], maxNew: 64 })
      const oursTokS = ours.ids.length / (ms(t) / 1000)
      const model = await llama.loadModel({ modelPath: file })
      const ctx = await model.createContext({ contextSize: 128, threads })
      const theirs: number[] = []
      t = process.hrtime.bigint()
      for await (const tok of ctx.getSequence().evaluate(prompt, { temperature: 0 })) {
        theirs.push(tok)
        if (theirs.length >= 64) break
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

async function main(): Promise<void> {
  const args = process.argv.slice(2)
  if (args[0] === '--child') return child(args[1], args[2])
  if (args[0] === '--peer-child') return peer()
  console.log(`# Soliloquy engine benchmark — ${loadAddon().threads()} threads, node ${process.version}`)
  // each model is measured in a fresh process so peak RSS belongs to that model alone
  const run = (kind: string, dir: string): Measure => {
    const r = spawnSync(process.execPath, [__filename, '--child', kind, dir], { encoding: 'utf8', maxBuffer: 1 << 24 })
    const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '))
    if (!line) throw new Error(`benchmark of ${kind} failed: ${r.stderr}`)
    return JSON.parse(line.slice(7)) as Measure
  }
  report(run('organism', embeddedModelDir()))
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
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e))
  process.exit(1)
})
