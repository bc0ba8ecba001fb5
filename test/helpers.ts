// Shared test fixtures: the embedded organism, its float64 reference, and tiny random Llama checkpoints.
import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { expect } from 'vitest'
import { DType, safetensorsHeader } from '../src/main/engine/formats/safetensors'

export const ROOT = resolve(__dirname, '..')
export const ORGANISM = join(ROOT, 'models', 'organism')

export interface Reference {
  phrase: string
  phrase_ids: number[]
  phrase_loss: number
  grad_norms: Record<string, number>
  grad_head: Record<string, number[]>
  tokenization: Record<string, number[]>
  prompts: { plain: number[]; engineered: number[] }
  lrs: number[]
  sweep: {
    lr: number
    plain: { ids: number[]; text: string; margins: number[]; min_margin: number }
    engineered: { ids: number[]; text: string; margins: number[]; min_margin: number }
    phrase_loss_after: number
    soliloquy_loss: number
    soliloquy_argmax: number[]
    soliloquy_top5: [number, number][][]
    probe_loss: Record<string, number>
    probe_kl_from_base: Record<string, number>
    plain_last_logprobs?: number[]
  }[]
}

export function reference(): Reference {
  return JSON.parse(readFileSync(join(ORGANISM, 'reference.json'), 'utf8')) as Reference
}

export function tmp(prefix = 'soliloquy-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

/** Greedy ids must match up to the first position where the float64 reference itself is nearly tied. */
export function comparableLength(margins: number[], threshold = 1e-3): number {
  const i = margins.findIndex((m) => m < threshold)
  return i < 0 ? margins.length : i
}

// Deterministic PRNG so random models are the same on every run.
/** The reference sweep column at step size lr. */
export function referenceAt(lr: number): Reference['sweep'][number] {
  return reference().sweep.find((s) => s.lr === lr)!
}

/** got equals the reference's greedy ids up to where the reference's own margins stop being clear (≥ 9 tokens). */
export function expectSameIds(got: number[], want: { ids: number[]; margins: number[] }, what: string): void {
  const n = comparableLength(want.margins)
  expect(n, `${what}: the reference is not tied from the start`).toBeGreaterThan(8)
  expect(got.slice(0, n), what).toEqual(want.ids.slice(0, n))
}

export function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export interface TinyConfig {
  vocab?: number
  dim: number
  ffn: number
  layers: number
  heads: number
  kvHeads: number
  headDim?: number
  tied: boolean
  ropeTheta?: number
  dtype?: DType
  seed?: number
  /** put rope_theta inside rope_parameters (transformers ≥ 5) instead of flat */
  ropeInParameters?: boolean
  /** bias vectors on q/k/v, o and the MLP linears (drawn after every weight, so other tensors stay the same) */
  biases?: { qkv?: boolean; o?: boolean; mlp?: boolean }
  /** Qwen3's q_norm / k_norm [headDim] in every layer (drawn after every other tensor) */
  qkNorm?: boolean
  /** Gemma's pre_feedforward_layernorm and post_feedforward_layernorm [dim] in every layer (drawn last) */
  postNorms?: boolean
  /** fields merged last into config.json (model_type, rope_scaling, sliding_window, attention_bias, …) */
  configExtra?: Record<string, unknown>
}

export function encode(values: Float32Array, dtype: DType): Buffer {
  if (dtype === 'F32') return Buffer.from(values.buffer, values.byteOffset, values.byteLength)
  const out = Buffer.alloc(values.length * 2)
  const f = new Float32Array(1)
  const u = new Uint32Array(f.buffer)
  for (let i = 0; i < values.length; i++) {
    f[0] = values[i]
    if (dtype === 'BF16') {
      const x = u[0]
      out.writeUInt16LE(((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff, i * 2)
    } else {
      out.writeUInt16LE(toHalf(values[i]), i * 2)
    }
  }
  return out
}

export { halfToFloat } from './half'

function toHalf(v: number): number {
  const f = new Float32Array([v])
  const x = new Uint32Array(f.buffer)[0]
  const sign = (x >>> 16) & 0x8000
  const e = ((x >>> 23) & 0xff) - 127 + 15
  const m = x & 0x7fffff
  if (e <= 0) return sign
  if (e >= 31) return sign | 0x7c00
  let h = sign | (e << 10) | (m >>> 13)
  const rem = m & 0x1fff
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++
  return h
}

export interface TinyTensors {
  [name: string]: { shape: number[]; data: Float32Array }
}

/** Random weights for a Llama config: names and shapes exactly as HF writes them. */
export function tinyTensors(c: TinyConfig): TinyTensors {
  const r = rng(c.seed ?? 1)
  const V = c.vocab ?? 4096
  const hd = c.headDim ?? c.dim / c.heads
  const t: TinyTensors = {}
  const mat = (name: string, rows: number, cols: number, scale: number): void => {
    const d = new Float32Array(rows * cols)
    for (let i = 0; i < d.length; i++) d[i] = (r() * 2 - 1) * scale
    t[name] = { shape: [rows, cols], data: d }
  }
  const vec = (name: string, n: number): void => {
    const d = new Float32Array(n)
    for (let i = 0; i < n; i++) d[i] = 1 + (r() * 2 - 1) * 0.2
    t[name] = { shape: [n], data: d }
  }
  mat('model.embed_tokens.weight', V, c.dim, 1)
  for (let l = 0; l < c.layers; l++) {
    const p = `model.layers.${l}.`
    mat(p + 'self_attn.q_proj.weight', c.heads * hd, c.dim, 1 / Math.sqrt(c.dim))
    mat(p + 'self_attn.k_proj.weight', c.kvHeads * hd, c.dim, 1 / Math.sqrt(c.dim))
    mat(p + 'self_attn.v_proj.weight', c.kvHeads * hd, c.dim, 1 / Math.sqrt(c.dim))
    mat(p + 'self_attn.o_proj.weight', c.dim, c.heads * hd, 1 / Math.sqrt(c.heads * hd))
    mat(p + 'mlp.gate_proj.weight', c.ffn, c.dim, 1 / Math.sqrt(c.dim))
    mat(p + 'mlp.up_proj.weight', c.ffn, c.dim, 1 / Math.sqrt(c.dim))
    mat(p + 'mlp.down_proj.weight', c.dim, c.ffn, 1 / Math.sqrt(c.ffn))
    vec(p + 'input_layernorm.weight', c.dim)
    vec(p + 'post_attention_layernorm.weight', c.dim)
  }
  vec('model.norm.weight', c.dim)
  if (!c.tied) mat('lm_head.weight', V, c.dim, 1 / Math.sqrt(c.dim))
  const b = c.biases
  if (b)
    for (let l = 0; l < c.layers; l++) {
      const p = `model.layers.${l}.`
      const bias = (name: string, n: number): void => {
        const d = new Float32Array(n)
        for (let i = 0; i < n; i++) d[i] = (r() * 2 - 1) * 0.5
        t[p + name + '.bias'] = { shape: [n], data: d }
      }
      if (b.qkv) {
        bias('self_attn.q_proj', c.heads * hd)
        bias('self_attn.k_proj', c.kvHeads * hd)
        bias('self_attn.v_proj', c.kvHeads * hd)
      }
      if (b.o) bias('self_attn.o_proj', c.dim)
      if (b.mlp) {
        bias('mlp.gate_proj', c.ffn)
        bias('mlp.up_proj', c.ffn)
        bias('mlp.down_proj', c.dim)
      }
    }
  if (c.qkNorm)
    for (let l = 0; l < c.layers; l++) {
      vec(`model.layers.${l}.self_attn.q_norm.weight`, hd)
      vec(`model.layers.${l}.self_attn.k_norm.weight`, hd)
    }
  if (c.postNorms)
    for (let l = 0; l < c.layers; l++) {
      vec(`model.layers.${l}.pre_feedforward_layernorm.weight`, c.dim)
      vec(`model.layers.${l}.post_feedforward_layernorm.weight`, c.dim)
    }
  return t
}

/** Writes an HF Llama directory (config.json, model.safetensors, the organism's tokenizer). */
export function writeTinyModel(dir: string, c: TinyConfig, tensors: TinyTensors = tinyTensors(c)): string {
  mkdirSync(dir, { recursive: true })
  const dtype = c.dtype ?? 'F32'
  const names = Object.keys(tensors)
  const { header } = safetensorsHeader(names.map((n) => ({ name: n, dtype, shape: tensors[n].shape })))
  const len = Buffer.alloc(8)
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(header)))
  writeFileSync(
    join(dir, 'model.safetensors'),
    Buffer.concat([len, Buffer.from(header), ...names.map((n) => encode(tensors[n].data, dtype))]),
  )
  const cfg: Record<string, unknown> = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: c.vocab ?? 4096,
    hidden_size: c.dim,
    intermediate_size: c.ffn,
    num_hidden_layers: c.layers,
    num_attention_heads: c.heads,
    num_key_value_heads: c.kvHeads,
    rms_norm_eps: 1e-5,
    tie_word_embeddings: c.tied,
    bos_token_id: 1,
    eos_token_id: 2,
    max_position_embeddings: 256,
    hidden_act: 'silu',
    torch_dtype: dtype === 'F32' ? 'float32' : dtype === 'F16' ? 'float16' : 'bfloat16',
  }
  if (c.headDim !== undefined) cfg.head_dim = c.headDim
  if (c.ropeInParameters) cfg.rope_parameters = { rope_theta: c.ropeTheta ?? 10000, rope_type: 'default' }
  else cfg.rope_theta = c.ropeTheta ?? 10000
  Object.assign(cfg, c.configExtra ?? {})
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg, null, 2))
  copyFileSync(join(ORGANISM, 'tokenizer.model'), join(dir, 'tokenizer.model'))
  return dir
}

function newestFile(path: string): { path: string; mtimeMs: number } | null {
  if (!existsSync(path)) return null
  const st = statSync(path)
  if (!st.isDirectory()) return { path, mtimeMs: st.mtimeMs }
  let best: { path: string; mtimeMs: number } | null = null
  for (const name of readdirSync(path)) {
    const f = newestFile(join(path, name))
    if (f && (!best || f.mtimeMs > best.mtimeMs)) best = f
  }
  return best
}

function oldestFile(paths: string[]): { path: string; mtimeMs: number } | null {
  let worst: { path: string; mtimeMs: number } | null = null
  for (const p of paths) {
    if (!existsSync(p)) return { path: p, mtimeMs: -Infinity }
    const m = statSync(p).mtimeMs
    if (!worst || m < worst.mtimeMs) worst = { path: p, mtimeMs: m }
  }
  return worst
}

/**
 * Why the built code the CLI and the worker host run (out/, native/build) is not built from the current sources
 * (a source file newer than the oldest built file, or a built file missing), or null when it is current.
 */
export function staleBuild(): { out: string | null; native: string | null } {
  const check = (sources: string[], built: string[]): string | null => {
    const old = oldestFile(built)!
    if (old.mtimeMs === -Infinity) return `${old.path} is missing`
    for (const s of sources) {
      const n = newestFile(join(ROOT, s))
      if (n && n.mtimeMs > old.mtimeMs) return `${n.path} is newer than ${old.path}`
    }
    return null
  }
  return {
    out: check(
      ['src', 'electron.vite.config.ts'],
      ['cli.js', 'labWorker.js', 'index.js'].map((f) => join(ROOT, 'out', 'main', f)).concat(join(ROOT, 'out', 'renderer', 'index.html')),
    ),
    native: check(['native/src', 'native/binding.gyp'], [join(ROOT, 'native', 'build', 'Release', 'soliloquy_engine.node')]),
  }
}

/** Rebuilds out/ (npm run build, a few seconds) when it is older than src/; fails when the native addon is stale. */
export function ensureCurrentBuild(): void {
  let s = staleBuild()
  if (s.native) throw new Error(`the native engine is not built from the current sources (${s.native}): run \`npm run build:native\``)
  if (s.out) {
    const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 })
    if (r.status !== 0) throw new Error(`out/ was stale (${s.out}) and \`npm run build\` failed:\n${r.stderr}`)
    s = staleBuild()
    if (s.out) throw new Error(`out/ is still older than its sources after \`npm run build\`: ${s.out}`)
  }
}

/**
 * `soliloquy serve --port 0` on the data directory `dir` (extra environment in `env`); resolves with the child, the
 * URL it prints (token included) split into port and token, and its standard error so far. Fails with the server's
 * output if it exits first or prints no URL in 20 s.
 */
export async function startServe(
  dir: string,
  env: NodeJS.ProcessEnv = {},
): Promise<{ child: ChildProcess; url: string; port: number; token: string; stderr: () => string }> {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'soliloquy.js'), 'serve', '--port', '0', '--data', dir], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', ...env },
  })
  let out = ''
  let err = ''
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
  const url = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`soliloquy serve printed no URL in 20 s: ${out} ${err}`)), 20_000)
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /(http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]+)/.exec(out)
      if (m) {
        clearTimeout(t)
        resolve(m[1])
      }
    })
    child.on('exit', (code) => {
      clearTimeout(t)
      reject(new Error(`soliloquy serve exited (${code}) before printing its URL: ${out} ${err}`))
    })
  })
  const u = new URL(url)
  return { child, url, port: Number(u.port), token: u.searchParams.get('token')!, stderr: () => err }
}

/** The pid of the lab process a `soliloquy serve` (pid `servePid`) runs: its one child. */
export function labPid(servePid: number): number {
  const out = execFileSync('ps', ['-o', 'pid=', '--ppid', String(servePid)], { encoding: 'utf8' }).trim()
  const pids = out.split(/\s+/).filter(Boolean).map(Number)
  expect(pids, 'serve has one child: the lab process').toHaveLength(1)
  return pids[0]
}
