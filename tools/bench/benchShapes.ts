// The shapes of the models people run in 2026 (issue 21), as synthetic GGUF files of random valid weights
// (randomGguf.ts) in ~/.cache/soliloquy/bench, measured against llama.cpp (node-llama-cpp 3.21.1) on the same file
// with the same threads, the engines taking turns run by run in one process. Figures, never pass/fail.
//
//   npm run bench -- --json --moe30b [--out FILE]        the Qwen3-30B-A3B shape (qwen3moe: 48 layers, 128 experts,
//   npm run bench -- --json --moe30b-only --out FILE     top-8, hidden 2048, expert width 768, 32 q / 4 kv heads of
//                                                        128, vocab 151936) in Q4_K_M (~17 GiB, written once): the
//       seed experiment (load, step, 8 α × 64 tokens) in a process of its own for its peak RSS against the file,
//       then greedy generation ours vs llama.cpp with the fp32 floor of our exact products beside it.
//   npm run bench -- --json --families2 [--out FILE]     Gemma-3-1B and Qwen3-0.6B shapes at F16 and BF16:
//       generation ours vs llama.cpp, and the step against its roofline (the larger of bytes / bandwidth and
//       FLOPs / the FMA peak, as the 1.1B line computes it).
// Both merge into --out (moe30b, families2) keeping what is there. SOLILOQUY_BENCH_LAYERS=N writes and measures every
// shape here with N layers instead (files of their own, named so): for checking the bench code quickly.
//
// Q4_K_M is typed as llama-quantize types it for this shape (src/llama-quant.cpp without an importance matrix):
// Q6_K for output.weight and for attn_v / ffn_down_exps of the use_more_bits layers (its rule matches "ffn_down" in
// the experts' name too), Q4_K for every other matrix; the router (ffn_gate_inp) and the norms stay F32, as the
// converter writes them and the quantiser leaves them.
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs'
import { loadavg, totalmem } from 'node:os'
import { mergeOut } from './benchHost'
import { join } from 'node:path'
import { Engine } from '../../src/main/engine/engine'
import { mixtureMatrixType } from '../../src/main/engine/export/ggufMixtures'
import { Kv } from '../../src/main/engine/export/gguf'
import { loadAddon, WeightsMemory } from '../../src/main/engine/native'
import { BlockType, paddedTokenizerKv, RandomTensor, StoredType, writeRandomGguf } from './randomGguf'
import { PEER_VERSION } from './peer'
import { judgeFirstDifference, Judged } from './judge'
import { generationTurns, GreedyTurns, openPeer, sharedPrefix } from './turns'

const PHRASE = 'To be, or not to be, that is the question'
const LRS = [0, 1e-3, 3e-3, 1e-2, 2e-2, 3e-2, 5e-2, 1e-1]
const SEED_GEN = 64
const GEN = 32
const TURNS = 2

/** the sizes of a synthetic model: a GGUF architecture and its hyperparameters (experts: a mixture's) */
export interface Shape {
  label: string
  arch: 'qwen3' | 'qwen3moe' | 'gemma3'
  vocab: number
  dim: number
  layers: number
  heads: number
  kvHeads: number
  headDim: number
  ffn: number
  context: number
  theta: number
  tied: boolean
  experts?: { count: number; used: number; ffn: number }
  slidingWindow?: number
}

/** config.json of Qwen/Qwen3-30B-A3B */
const QWEN3_30B_A3B: Shape = {
  label: 'Qwen3-30B-A3B', arch: 'qwen3moe', vocab: 151936, dim: 2048, layers: 48, heads: 32, kvHeads: 4, headDim: 128, ffn: 6144,
  context: 40960, theta: 1e6, tied: false, experts: { count: 128, used: 8, ffn: 768 },
}
/** config.json of google/gemma-3-1b-pt and Qwen/Qwen3-0.6B */
export const SHAPES2: Shape[] = [
  { label: 'Gemma-3-1B', arch: 'gemma3', vocab: 262144, dim: 1152, layers: 26, heads: 4, kvHeads: 1, headDim: 256, ffn: 6912, context: 32768, theta: 1e6, tied: true, slidingWindow: 512 },
  { label: 'Qwen3-0.6B', arch: 'qwen3', vocab: 151936, dim: 1024, layers: 28, heads: 16, kvHeads: 8, headDim: 128, ffn: 3072, context: 40960, theta: 1e6, tied: true },
]

/** llama.cpp's file types (llama_ftype) */
const FILE_TYPE = { F16: 1, Q4_K_M: 15, BF16: 32 } as const
type Storage = keyof typeof FILE_TYPE

function shapeKv(c: Shape, storage: Storage): Kv[] {
  const a = c.arch
  return [
    ['general.architecture', 'str', a], ['general.alignment', 'u32', 32], ['general.file_type', 'u32', FILE_TYPE[storage]],
    [`${a}.context_length`, 'u32', c.context], [`${a}.embedding_length`, 'u32', c.dim], [`${a}.block_count`, 'u32', c.layers],
    [`${a}.feed_forward_length`, 'u32', c.ffn], [`${a}.attention.head_count`, 'u32', c.heads], [`${a}.attention.head_count_kv`, 'u32', c.kvHeads],
    [`${a}.attention.key_length`, 'u32', c.headDim], [`${a}.attention.value_length`, 'u32', c.headDim],
    [`${a}.rope.dimension_count`, 'u32', c.headDim], [`${a}.rope.freq_base`, 'f32', c.theta], [`${a}.attention.layer_norm_rms_epsilon`, 'f32', 1e-6],
    ...(c.experts ? ([[`${a}.expert_count`, 'u32', c.experts.count], [`${a}.expert_used_count`, 'u32', c.experts.used], [`${a}.expert_feed_forward_length`, 'u32', c.experts.ffn]] as Kv[]) : []),
    ...(c.slidingWindow ? ([[`${a}.attention.sliding_window`, 'u32', c.slidingWindow]] as Kv[]) : []),
    ...paddedTokenizerKv(c.vocab),
  ]
}

/** the shape's tensors in llama.cpp's names, row-major, typed for `storage` */
function shapeTensors(c: Shape, storage: Storage): RandomTensor[] {
  const q4km = (name: string, cols: number): BlockType =>
    // llama-quantize's "ffn_down" rule matches the experts' ffn_down_exps as well
    mixtureMatrixType('Q4_K_M', name.replace('ffn_down_exps', 'ffn_down'), cols, c.layers, !c.tied).type as BlockType
  const matrix = (name: string, shape: number[], scale: number): RandomTensor => {
    const cols = shape[shape.length - 1]
    const type: StoredType = storage === 'Q4_K_M' ? q4km(name, cols) : storage
    return { name, shape, type, scale }
  }
  const norm = (name: string, n: number): RandomTensor => ({ name, shape: [n], type: 'F32', scale: 0 })
  const s = 1 / Math.sqrt(c.dim)
  const q = c.heads * c.headDim
  const kv = c.kvHeads * c.headDim
  const out: RandomTensor[] = [matrix('token_embd.weight', [c.vocab, c.dim], s)]
  for (let l = 0; l < c.layers; l++) {
    const b = `blk.${l}.`
    out.push(
      norm(b + 'attn_norm.weight', c.dim),
      matrix(b + 'attn_q.weight', [q, c.dim], s), matrix(b + 'attn_k.weight', [kv, c.dim], s), matrix(b + 'attn_v.weight', [kv, c.dim], s),
      norm(b + 'attn_q_norm.weight', c.headDim), norm(b + 'attn_k_norm.weight', c.headDim),
      matrix(b + 'attn_output.weight', [c.dim, q], 1 / Math.sqrt(q)),
      norm(b + 'ffn_norm.weight', c.dim),
    )
    if (c.arch === 'gemma3') out.push(norm(b + 'post_attention_norm.weight', c.dim), norm(b + 'post_ffw_norm.weight', c.dim))
    if (c.experts) {
      const e = c.experts
      out.push(
        { name: b + 'ffn_gate_inp.weight', shape: [e.count, c.dim], type: 'F32', scale: s },
        matrix(b + 'ffn_gate_exps.weight', [e.count, e.ffn, c.dim], s), matrix(b + 'ffn_up_exps.weight', [e.count, e.ffn, c.dim], s),
        matrix(b + 'ffn_down_exps.weight', [e.count, c.dim, e.ffn], 1 / Math.sqrt(e.ffn)),
      )
    } else {
      out.push(matrix(b + 'ffn_gate.weight', [c.ffn, c.dim], s), matrix(b + 'ffn_up.weight', [c.ffn, c.dim], s), matrix(b + 'ffn_down.weight', [c.dim, c.ffn], 1 / Math.sqrt(c.ffn)))
    }
  }
  out.push(norm('output_norm.weight', c.dim))
  if (!c.tied) out.push(matrix('output.weight', [c.vocab, c.dim], s))
  return out
}

/** the weights one token multiplies (2 FLOPs each): attention, the routed experts (or the MLP), the router, the output */
function activeParams(c: Shape): number {
  const q = c.heads * c.headDim
  const kv = c.kvHeads * c.headDim
  const attn = 2 * c.dim * q + 2 * c.dim * kv
  const mlp = c.experts ? c.experts.count * c.dim + c.experts.used * 3 * c.dim * c.experts.ffn : 3 * c.dim * c.ffn
  return c.layers * (attn + mlp) + c.vocab * c.dim
}

/** the shape, or with SOLILOQUY_BENCH_LAYERS=N the same shape with N layers (labelled so) */
function withLayers(c: Shape): Shape {
  const v = process.env.SOLILOQUY_BENCH_LAYERS
  if (v === undefined || v === '') return c
  const layers = Number(v)
  if (!(Number.isInteger(layers) && layers > 0)) throw new Error(`SOLILOQUY_BENCH_LAYERS must be a positive whole number (found ${v})`)
  return layers === c.layers ? c : { ...c, layers, label: `${c.label}-${layers}layers` }
}

function fileOf(dir: string, c: Shape, storage: Storage, log: (s: string) => void): string {
  const file = join(dir, `synthetic-${c.label}-${storage}.gguf`)
  if (!existsSync(file)) {
    const t = process.hrtime.bigint()
    writeRandomGguf(file, shapeKv(c, storage), shapeTensors(c, storage))
    log(`(wrote ${file}: ${(statSync(file).size / 2 ** 30).toFixed(2)} GiB in ${(Number(process.hrtime.bigint() - t) / 1e9).toFixed(1)} s)`)
  }
  return file
}

/** Reads a file once, untimed, so the timed runs meet the page cache and not the disk. */
function warmPageCache(path: string): void {
  const fd = openSync(path, 'r')
  const buf = Buffer.allocUnsafe(64 << 20)
  try {
    while (readSync(fd, buf, 0, buf.length, null) > 0);
  } finally {
    closeSync(fd)
  }
}

interface TurnsResult extends GreedyTurns {
  /** where the ids part: the float64 judge (judge.ts) on the file's weights, the experts decoded as routed */
  judged: Judged
  /** the step's best of five, timed alone (null when not asked), and its phrase's tokens */
  stepS: number | null
  phraseTokens: number
  fileBytes: number
  /** the file's matrix types, one entry per engine matrix (experts cut one by one) */
  types: string[]
  weightsMemory: WeightsMemory
}

/** our engine on `file`, its weights settled (copied or mapped) and warmed by 2 tokens, and the bench's prompt */
async function warmEngine(file: string): Promise<{ engine: Engine; prompt: number[] }> {
  const engine = Engine.load(file)
  const prompt = engine.withBos('To be', 'prompt')
  await engine.weightsSettled()
  await engine.generate({ prompt, views: [[]], maxNew: 2 })
  return { engine, prompt }
}

/** the 2-D tensors' stored types, as a line's `types` counts them */
const matrixTypes = (engine: Engine): string[] => engine.tensors.filter((x) => x.shape.length === 2).map((x) => x.dtype)

/** the step's rounds in `--json-turns` (the first also faults in its memory): the best is kept */
const STEP_ROUNDS = 5

/** `--json-turns FILE THREADS STEP`: ours and llama.cpp generate greedily in turn (TURNS runs of GEN each, best
 *  kept), then the judge of the first difference if the ids part, then (STEP = 1) our step alone, best of
 *  STEP_ROUNDS (the first also faults in the step's memory). */
async function turnsChild(file: string, threads: string, step: string): Promise<void> {
  const { engine, prompt } = await warmEngine(file)
  const session = await openPeer(file, Number(threads))
  const { ours, peer } = await generationTurns(engine, session, prompt, TURNS, GEN)
  const judged = await judgeFirstDifference(engine, session, file, prompt, ours.ids, peer?.ids ?? null, (x) => console.error(x))
  // the step is timed alone: llama.cpp's session (its model, its thread pool) closed first, as a lab's step runs
  await session?.dispose()
  let stepS: number | null = null
  let phraseTokens = 0
  if (step === '1')
    for (let i = 0; i < STEP_ROUNDS; i++) {
      const t = process.hrtime.bigint()
      const g = await engine.gradient(PHRASE)
      const s = Number(process.hrtime.bigint() - t) / 1e9
      stepS = Math.min(stepS ?? Infinity, s)
      phraseTokens = g.phraseIds.length
      g.release()  // its memory goes to the next step (as a lab dropping a step it no longer needs)
    }
  const r: TurnsResult = { ours, peer, judged, stepS, phraseTokens, fileBytes: engine.fileBytes, types: matrixTypes(engine), weightsMemory: engine.weightsMemory }
  process.stdout.write('RESULT ' + JSON.stringify(r) + '\n')
}

/**
 * `--json-alone FILE THREADS ours|peer`: one engine's greedy run (after a 2-token warm-up) in a process of its own.
 * For files the machine cannot hold twice: in one process llama.cpp's own resident memory for the weights leaves our
 * memory-mapped pages too little room, and every token reads them back from disk (measured on the 17.3 GiB 30B-A3B
 * file on 24 GiB: 0.94 tok/s against 5.3; alone, 7.1).
 */
/** our run alone, with what the line reports of our engine */
type OursAlone = GreedyTurns['ours'] & { weightsMemory: WeightsMemory; types: string[] }

async function aloneChild(file: string, threads: string, who: string): Promise<void> {
  let r: OursAlone | GreedyTurns['peer'] = null
  if (who === 'ours') {
    const { engine, prompt } = await warmEngine(file)
    r = { ...(await generationTurns(engine, null, prompt, 1, GEN)).ours, weightsMemory: engine.weightsMemory, types: matrixTypes(engine) }
  } else {
    const prompt = Engine.load(file).withBos('To be', 'prompt')
    const session = await openPeer(file, Number(threads))
    if (session) {
      await session.greedy(prompt, 2)
      const g = await session.greedy(prompt, GEN)
      r = { tokS: g.ids.length / (g.ms / 1000), ids: g.ids }
      await session.dispose()
    }
  }
  process.stdout.write('RESULT ' + JSON.stringify(r) + '\n')
}

/** `--json-judge FILE THREADS OURS PEER` (ids as JSON): the float64 judge of where two runs' ids part (judge.ts) */
async function judgeChild(file: string, threads: string, ours: string, theirs: string): Promise<void> {
  const engine = Engine.load(file)
  const prompt = engine.withBos('To be', 'prompt')
  const session = await openPeer(file, Number(threads))
  const judged = await judgeFirstDifference(engine, session, file, prompt, JSON.parse(ours), JSON.parse(theirs), (x) => console.error(x))
  await session?.dispose()
  process.stdout.write('RESULT ' + JSON.stringify(judged) + '\n')
}

/** ours and llama.cpp each alone in a process, in turn (`turns` runs each, the fastest kept), then the judge */
function turnsApart(o: Options, file: string, threads: number, log: (s: string) => boolean | void): TurnsResult {
  let ours: GreedyTurns['ours'] = { tokS: 0, ids: [], margins: [] }
  let peer: GreedyTurns['peer'] = null
  let weightsMemory: WeightsMemory = 'mapped'
  let types: string[] = []
  for (let turn = 0; turn < TURNS; turn++) {
    warmPageCache(file)
    const a = o.child<OursAlone>(['--json-alone', file, String(threads), 'ours'])
    if (a.tokS > ours.tokS) ({ weightsMemory, types, ...ours } = a)
    const b = o.child<GreedyTurns['peer']>(['--json-alone', file, String(threads), 'peer'])
    if (b && (!peer || b.tokS > peer.tokS)) peer = b
    log(`turn ${turn + 1}: ours ${a.tokS.toFixed(3)} tok/s, llama.cpp ${b ? b.tokS.toFixed(3) : '–'} tok/s`)
  }
  warmPageCache(file)
  const judged =
    peer && sharedPrefix(ours.ids, peer.ids) < Math.min(ours.ids.length, peer.ids.length)
      ? o.child<Judged>(['--json-judge', file, String(threads), JSON.stringify(ours.ids), JSON.stringify(peer.ids)])
      : { float64_prefers: null, float64_judge: null }
  return { ours, peer, judged, stepS: null, phraseTokens: 0, fileBytes: statSync(file).size, types, weightsMemory }
}

interface SeedResult {
  loadS: number
  stepS: number
  sweepS: number
  wallS: number
  peakRssGiB: number
  fileGiB: number
  weightsMemory: WeightsMemory
}

/** `--json-moe-seed FILE`: the seed's experiment — load, one step on the phrase, 8 step sizes × 64 greedy tokens. */
async function seedChild(file: string): Promise<void> {
  const t0 = process.hrtime.bigint()
  const since = (t: bigint): number => Number(process.hrtime.bigint() - t) / 1e9
  const engine = Engine.load(file)
  const loadS = since(t0)
  let t = process.hrtime.bigint()
  const g = await engine.gradient(PHRASE)
  const stepS = since(t)
  t = process.hrtime.bigint()
  await engine.generate({ prompt: 'To be', views: LRS.map((lr) => (lr === 0 ? [] : [{ gradient: g, lr }])), maxNew: SEED_GEN })
  const sweepS = since(t)
  const r: SeedResult = { loadS, stepS, sweepS, wallS: since(t0), peakRssGiB: process.resourceUsage().maxRSS / 2 ** 20, fileGiB: engine.fileBytes / 2 ** 30, weightsMemory: engine.weightsMemory }
  process.stdout.write('RESULT ' + JSON.stringify(r) + '\n')
}

const r3 = (x: number): number => Math.round(x * 1000) / 1000

/** ids compared: identical, or the agreeing prefix and our top-1/top-2 margin where they part (llama.cpp rounds
 *  activations to 8 bits for its quantised products: ~1 in logits on random weights, so a smaller margin is a
 *  near-tie, not a fault), and the float64 judge of that position */
function idsCompared(r: TurnsResult): IdsCompared {
  if (!r.peer) return { same_ids: null, same_ids_prefix: null, margin_at_first_difference: null, ...r.judged }
  const p = sharedPrefix(r.peer.ids, r.ours.ids)
  return { same_ids: JSON.stringify(r.peer.ids) === JSON.stringify(r.ours.ids), same_ids_prefix: p, margin_at_first_difference: p < r.ours.ids.length ? r3(r.ours.margins[p]) : null, ...r.judged }
}

/** the ids' comparison a line reports */
interface IdsCompared extends Judged {
  same_ids: boolean | null
  same_ids_prefix: number | null
  margin_at_first_difference: number | null
}

function countTypes(types: string[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const t of types) out[t] = (out[t] ?? 0) + 1
  return out
}

export interface Moe30bFigures {
  shape: string
  layers: number
  file_gib: number
  types: Record<string, number>
  weights_memory: WeightsMemory
  /** the generation runs: each engine alone in a process of its own (the file is more than half the memory), or
   *  both in one */
  engines_apart: boolean
  seed_wall_s: number
  seed_load_s: number
  seed_step_s: number
  seed_sweep_s: number
  seed_peak_rss_gib: number
  /** the seed experiment's peak RSS over the file's size (goal ≤ 1.1) */
  seed_rss_vs_file: number
  gen_tok_s: number
  llamacpp_tok_s: number | null
  gen_vs_llamacpp: number | null
  same_ids: boolean | null
  same_ids_prefix: number | null
  margin_at_first_difference: number | null
  /** where the ids part: the float64 judge (judge.ts) — which pick float64 on the file's weights ranks higher, the
   *  margin, each engine's error in it */
  float64_prefers?: Judged['float64_prefers']
  float64_judge?: Judged['float64_judge']
  float64_judge_refused?: string
  /** weights one token multiplies: attention, router, 8 of 128 experts, output */
  active_params: number
  /** the most tokens/s an engine multiplying in fp32 at this machine's FMA peak could reach (2 FLOPs per active weight) */
  fma_floor_tok_s: number
  threads: number
  gen_tokens: number
  turns: number
  load_avg_1m: number
}

export interface Family2Figures {
  file_gib: number
  types: Record<string, number>
  weights_memory: WeightsMemory
  gen_tok_s: number
  llamacpp_tok_s: number | null
  gen_vs_llamacpp: number | null
  same_ids: boolean | null
  same_ids_prefix: number | null
  margin_at_first_difference: number | null
  float64_prefers?: Judged['float64_prefers']
  float64_judge?: Judged['float64_judge']
  float64_judge_refused?: string
  /** one token's bytes (every weight but the embedding rows not read; tied: the table is the output too) over bandwidth */
  gen_vs_roofline: number
  step_s: number
  step_roofline_s: number
  /** goal ≤ 2 */
  step_vs_roofline: number
  phrase_tokens: number
  /** how the step was timed: the best of this many, alone in the process (llama.cpp's session closed) */
  step_best_of_alone?: number
}

export interface Options {
  cacheDir: () => string
  child: <T>(args: string[]) => T
}

function merge(args: string[], key: Record<string, unknown>): void {
  mergeOut(args, key)
  console.log(JSON.stringify(key, null, 2))
}

export async function moe30b(o: Options, log: (s: string) => boolean | void): Promise<Moe30bFigures> {
  const addon = loadAddon()
  const threads = addon.threads()
  const c = withLayers(QWEN3_30B_A3B)
  const layers = c.layers
  const file = fileOf(o.cacheDir(), c, 'Q4_K_M', log)
  warmPageCache(file)
  log(`${c.label} (${layers} layers) Q4_K_M: the seed experiment (load, step, ${LRS.length} α × ${SEED_GEN} tokens) in a process of its own…`)
  const seed = o.child<SeedResult>(['--json-moe-seed', file])
  log(JSON.stringify(seed))
  // both engines hold the weights in one process only when the machine can hold the file twice
  const apart = 2 * statSync(file).size > totalmem()
  log(`ours and llama.cpp (node-llama-cpp ${PEER_VERSION}) in turn${apart ? ', each alone in a process of its own' : ''}, ${TURNS} runs of ${GEN} tokens each…`)
  const r = apart ? turnsApart(o, file, threads, log) : o.child<TurnsResult>(['--json-turns', file, String(threads), '0'])
  const flops = addon.measureFlops(threads)
  const active = activeParams(c)
  return {
    shape: c.label,
    layers,
    file_gib: r3(r.fileBytes / 2 ** 30),
    types: countTypes(r.types),
    weights_memory: seed.weightsMemory,
    seed_wall_s: r3(seed.wallS),
    seed_load_s: r3(seed.loadS),
    seed_step_s: r3(seed.stepS),
    seed_sweep_s: r3(seed.sweepS),
    seed_peak_rss_gib: r3(seed.peakRssGiB),
    seed_rss_vs_file: r3(seed.peakRssGiB / seed.fileGiB),
    gen_tok_s: r3(r.ours.tokS),
    llamacpp_tok_s: r.peer ? r3(r.peer.tokS) : null,
    gen_vs_llamacpp: r.peer ? r3(r.ours.tokS / r.peer.tokS) : null,
    ...idsCompared(r),
    active_params: active,
    fma_floor_tok_s: r3((flops * 1e9) / (2 * active)),
    threads,
    gen_tokens: GEN,
    turns: TURNS,
    engines_apart: apart,
    load_avg_1m: r3(loadavg()[0]),
  }
}

async function families2(o: Options, log: (s: string) => void): Promise<Record<string, Family2Figures>> {
  const addon = loadAddon()
  const threads = addon.threads()
  // bandwidth probed before, between and after the runs, the best kept (as the 1.1B line does: on a shared VM it
  // swings between two levels, and a roofline from a slow moment would flatter every ratio)
  let bw = 0
  const probe = (): void => {
    bw = Math.max(bw, addon.measureBandwidth(2, threads))
  }
  probe()
  const flops = addon.measureFlops(threads)
  const runs: { key: string; c: Shape; r: TurnsResult }[] = []
  for (const c of SHAPES2.map(withLayers))
    for (const storage of ['F16', 'BF16'] as const) {
      const file = fileOf(o.cacheDir(), c, storage, log)
      warmPageCache(file)
      log(`${c.label} ${storage}: ours and llama.cpp (node-llama-cpp ${PEER_VERSION}) in turn, ${TURNS} runs of ${GEN} tokens each, then the step…`)
      runs.push({ key: `${c.label} ${storage}`, c, r: o.child<TurnsResult>(['--json-turns', file, String(threads), '1']) })
      probe()
    }
  const out: Record<string, Family2Figures> = {}
  for (const { key, c, r } of runs) {
    // the step reads every weight twice (forward, and dx = dy·W backward), 2 FLOPs per weight and token each way
    const linear = activeParams(c)
    const roof = Math.max((2 * r.fileBytes) / (bw * 1e9), (4 * linear * r.phraseTokens) / (flops * 1e9))
    // a token reads every matrix once; a tied table is read whole as the output, an untied one for one row only
    const tokenBytes = r.fileBytes - (c.tied ? 0 : 2 * c.vocab * c.dim)
    out[key] = {
      file_gib: r3(r.fileBytes / 2 ** 30),
      types: countTypes(r.types),
      weights_memory: r.weightsMemory,
      gen_tok_s: r3(r.ours.tokS),
      llamacpp_tok_s: r.peer ? r3(r.peer.tokS) : null,
      gen_vs_llamacpp: r.peer ? r3(r.ours.tokS / r.peer.tokS) : null,
      ...idsCompared(r),
      gen_vs_roofline: r3(r.ours.tokS / ((bw * 1e9) / tokenBytes)),
      step_s: r3(r.stepS!),
      step_roofline_s: r3(roof),
      step_vs_roofline: r3(r.stepS! / roof),
      phrase_tokens: r.phraseTokens,
      step_best_of_alone: STEP_ROUNDS,
    }
    log(`${key}: ${JSON.stringify(out[key])}`)
  }
  return out
}

/** `--moe30b-only` / `--families2` (each measured alone and merged into --out) and the children; returns false when
 *  none of them is asked (`--moe30b` adds the mixture's figures to the full run: benchJson.ts). */
export async function benchShapes(args: string[], o: Options): Promise<boolean> {
  if (args[0] === '--json-turns') return turnsChild(args[1], args[2], args[3]).then(() => true)
  if (args[0] === '--json-moe-seed') return seedChild(args[1]).then(() => true)
  if (args[0] === '--json-alone') return aloneChild(args[1], args[2], args[3]).then(() => true)
  if (args[0] === '--json-judge') return judgeChild(args[1], args[2], args[3], args[4]).then(() => true)
  const log = (s: string): boolean => process.stderr.write(s + '\n')
  const doMoe = args.includes('--moe30b-only')
  const doFamilies = args.includes('--families2')
  if (!doMoe && !doFamilies) return false
  const r: Record<string, unknown> = {}
  if (doFamilies) r.families2 = await families2(o, log)
  if (doFamilies) r.families2_threads = loadAddon().threads()
  if (doFamilies) r.families2_load_avg_1m = r3(loadavg()[0])
  if (doMoe) r.moe30b = await moe30b(o, log)
  merge(args, r)
  return true
}
