// Loads the N-API addon built by `npm install` (node-gyp → native/build/Release). The same binary serves Node and
// Electron because it only uses N-API.
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

export interface NativeStep {
  readonly loss: number
  readonly ids: Int32Array
  readonly bytes: number
  gradNorms(): Float64Array
  export(): StepFactors
  /** gives the step's memory back to the engine now (a view still using it keeps it); later uses are refused */
  release(): void
}

export interface StepFactors {
  ids: Int32Array
  loss: number
  linears: { T: number; in: number; out: number; X: Float32Array; G: Float32Array }[]
  embRows: Int32Array
  embGrad: Float32Array
  normGrads: Float32Array[]
  /**
   * ∂L/∂b per linear slot (the order of `linears`, head last), an empty array where the layer has no bias.
   * Always present in an export; importStep requires it exactly when the model has biases.
   */
  biasGrads?: Float32Array[]
}

export interface NativeRouting {
  T: number
  E: number
  K: number
  layers: Int32Array
  sel: Int32Array[]
  w: Float32Array[]
  probs: Float32Array[]
}

export interface NativeTerm {
  step: NativeStep
  lr: number
}

export interface NativeCallOptions {
  onProgress?: (phase: string, done: number, total: number) => void
  cancel?: Int32Array
}

export interface NativeScore {
  T: number
  k: number
  nll: Float32Array
  argmax: Int32Array
  topIds: Int32Array
  topLogprobs: Float32Array
  kl: Float32Array
  full: Float32Array
}

export interface NativeModel {
  gradient(ids: number[], at: NativeTerm[], opts?: NativeCallOptions): Promise<NativeStep>
  generate(
    args: { prompt: number[]; views: NativeTerm[][]; maxNew: number; maxSeq: number; temperature: number; topP: number; seed: number; eos?: number[] },
    opts?: NativeCallOptions,
  ): Promise<{ tokens: Int32Array[]; margins: Float32Array[]; /** cancelled mid-way: tokens so far */ cancelled?: boolean }>
  score(args: { ids: number[]; views: NativeTerm[][]; topk: number; fullAt?: number[] }, opts?: NativeCallOptions): Promise<NativeScore>
  /** Writes `prefix` (a format's header) then each tensor's dense weights under `view` at its absolute offset;
   *  permuteHeads > 0 writes q/k rows in Meta's interleaved order from HF order. Written as path + ".partial",
   *  renamed at the end. */
  materialise(
    args: { view: NativeTerm[]; path: string; prefix: Uint8Array; tensors: MaterialiseTensor[] },
    opts?: NativeCallOptions,
  ): Promise<void>
  /** A mixture of experts' router choices on `ids` under each view: one entry per view × MoE layer (view-major) of
   *  sel [T·K] (most probable first), w [T·K] combination weights, probs [T·E] the router's softmax */
  routing(args: { ids: number[]; views: NativeTerm[][] }, opts?: NativeCallOptions): Promise<NativeRouting>
  importStep(f: StepFactors): NativeStep
  tensorNames(): string[]
  weightsMemory(): WeightsMemory
}

/** How a model's weights are held (native/src/loader.cpp, $SOLILOQUY_WEIGHTS): 'mapped' — the page cache;
 *  'copying' — a copy onto 2 MiB pages is being made in the background (Linux); 'ready' — made, the next operation
 *  switches to it; 'copied' — the products read the copy. */
export type WeightsMemory = 'mapped' | 'copying' | 'ready' | 'copied'

export interface MaterialiseTensor {
  name: string
  dtype: string
  offset: number
  permuteHeads?: number
  /** added to a norm vector on write (Gemma: HF stores w, GGUF stores 1 + w) */
  normAdd?: number
  /** a tensor the file holds transposed or interleaved (GPT-OSS's experts): element (r, c) at offset + (r·strides[0]
   *  + c·strides[1])·element size, inside span [byte offset, bytes] shared with the tensors interleaved with it */
  strides?: [number, number]
  span?: [number, number]
}

export interface NativeAddon {
  Model: new (spec: unknown) => NativeModel
  Step: unknown
  /** the engine's decoding of `count` weights stored in a ggml block type (format tests) */
  dequantise(dtype: string, bytes: Uint8Array, count: number): Float32Array
  /** the export's quantiser (native/src/quantise.cpp) for Q8_0, Q4_0, Q5_0, Q5_1, Q3_K, Q4_K, Q5_K or Q6_K: weights (whole blocks) → blocks */
  quantise(dtype: string, weights: Float32Array): Uint8Array
  threads(): number
  /** the cache of the steps' memory (native/src/step_memory.h): bytes held by live steps and by the cache, slabs
   *  mapped and slabs handed out again since the process started (tests, bench) */
  stepMemory(): { liveBytes: number; cachedBytes: number; slabsMapped: number; slabsReused: number }
  /** the kernel path in use (scalar / avx2 / avx512 / neon), the paths this CPU runs, its features, worker threads */
  kernelInfo(): KernelInfo
  /** switch the kernel path ('' = the best this CPU runs); throws, in words, for a path the CPU lacks */
  setKernelPath(name: string): string
  /** switch the tuning ('' = this CPU's); throws, in words, for an unknown name. The results are the same bits. */
  setKernelTuning(name: string): string
  /** read bandwidth in GB/s: `threads` threads streaming a `gib`-GiB buffer (benchmark only; blocks) */
  measureBandwidth(gib: number, threads: number): number
  /** fp32 FMA peak in GFLOP/s on the active kernel path (benchmark only; blocks) */
  measureFlops(threads: number): number
  /** best seconds of the forward y = x·Wᵀ and backward dx += dy·W of random [rows, cols] weights at R rows on the active
   *  path, each call after evicting the caches when `cold` (benchmark only; blocks) */
  timeProducts(dtype: string, rows: number, cols: number, R: number, reps: number, cold: boolean): { forward: number; backward: number }
  /** the engine's products on the active path: y = x·Wᵀ [R, rows] and dx = dy·W [R, cols] (kernel tests) */
  matmul(dtype: string, weights: Uint8Array, rows: number, cols: number, x: Float32Array, dy: Float32Array, R: number): {
    y: Float32Array
    dx: Float32Array
  }
}

export interface KernelInfo {
  path: string
  available: string[]
  features: string[]
  /** how the products block and split their work for this class of core (kernel_paths.h); the same bits in every one */
  tuning: string
  tunings: string[]
  threads: number
  /** the CPU as cpuid names it (kernel_paths.h CpuHost): 0 / '' where unknown (arm64, a leaf a VM leaves empty) */
  cpu: CpuHost
}

export interface CpuHost {
  /** cpuid's vendor string: 'GenuineIntel', 'AuthenticAMD', … */
  vendor: string
  brand: string
  /** family and model with the extended fields folded in as the vendor defines them (as /proc/cpuinfo prints them) */
  family: number
  model: number
  stepping: number
  /** the data caches one core sees, in bytes (L3: the slice that core shares) */
  l1dBytes: number
  l2Bytes: number
  l3Bytes: number
}

/** The project root: the nearest folder above this file whose package.json is Soliloquy's. */
export function appRoot(): string {
  let d = __dirname
  for (let i = 0; i < 8; i++) {
    const p = join(d, 'package.json')
    if (existsSync(p)) {
      try {
        if ((JSON.parse(readFileSync(p, 'utf8')) as { name?: string }).name === 'soliloquy') return d
      } catch {
        /* keep looking */
      }
    }
    const up = dirname(d)
    if (up === d) break
    d = up
  }
  return process.cwd()
}

/**
 * Where files that must be real files live (the addon, the embedded model): in a packaged app they are unpacked
 * beside app.asar, because neither dlopen nor mmap can read inside the archive.
 */
export function unpackedRoot(): string {
  return appRoot().replace(/app\.asar$/, 'app.asar.unpacked')
}

/** The organism shipped with the app: the model every experiment uses when none is given. */
export function embeddedModelDir(): string {
  return join(unpackedRoot(), 'models', 'organism')
}

let addon: NativeAddon | undefined

export function loadAddon(): NativeAddon {
  if (addon) return addon
  const candidates = [
    process.env.SOLILOQUY_ENGINE,
    join(appRoot(), 'native', 'build', 'Release', 'soliloquy_engine.node'),
    // packaged app: the addon sits unpacked beside the asar archive
    join(unpackedRoot(), 'native', 'build', 'Release', 'soliloquy_engine.node'),
  ].filter((p): p is string => !!p)
  for (const p of candidates) {
    if (existsSync(p)) {
      addon = createRequire(__filename)(p) as NativeAddon
      return addon
    }
  }
  throw new Error(
    `the native engine is not built (looked for ${candidates.join(', ')}); run \`npm run build:native\``,
  )
}
