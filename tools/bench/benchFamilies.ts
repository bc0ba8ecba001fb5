// `npm run bench -- --json --families [--out auto]`: one line per family of GGUF block types on the
// TinyLlama-1.1B shape, ours against llama.cpp (node-llama-cpp 3.21.1) on the same file with the same threads, the
// engines taking turns run by run in one process (as benchJson's pairs do), plus the step (ours: llama.cpp has none).
// Figures, never pass/fail; merged into --out under families_1b. The files hold random valid blocks (random bytes,
// each block's scale fields set so the weights have the 1/√fan-in magnitude of the F16 file's), in the types
// llama-quantize gives each tensor of this shape (src/llama-quant.cpp's rules without an importance matrix):
//   Q4_K_M    ggufMixtures.ts: Q4_K, with Q6_K for the output and attn_v / ffn_down of the use_more_bits layers
//   Q3_K_M    ggufMixtures.ts: Q3_K; output Q6_K; attn_v Q5_K in the first two layers, Q4_K after; ffn_down Q5_K
//             in the first sixteenth of the layers, Q4_K after; attn_output Q4_K
//   IQ4_XS    IQ4_XS; output Q6_K; attn_v Q5_K (8 query heads per KV head ≥ 4); ffn_down Q5_K in the first eighth
//   fallback  what the same quantiser writes where rows are not whole blocks of 256 (widths like 896 or 576):
//             Q4_K → Q5_0 (attention, gate, up, embedding), Q5_K → Q5_1 (ffn_down, as Q3_K_M / Q4_K_S / IQ4_XS put
//             Q5_K there), Q6_K → Q8_0 (attn_v, output)
// Cached in ~/.cache/soliloquy/bench beside the F16 file. Where our greedy ids and llama.cpp's part, the float64
// judge (judge.ts) says whose pick is right at the first difference, after the timed runs.
import { existsSync, statSync } from 'node:fs'
import { loadavg } from 'node:os'
import { mergeOut } from './benchHost'
import { join } from 'node:path'
import { Engine } from '../../src/main/engine/engine'
import { mixtureMatrixType } from '../../src/main/engine/export/ggufMixtures'
import { Kv } from '../../src/main/engine/export/gguf'
import { loadAddon } from '../../src/main/engine/native'
import { syntheticGgufTensors, SyntheticShape } from './benchSynthetic'
import { BlockType, writeRandomGguf } from './randomGguf'
import { PEER_VERSION } from './peer'
import { judgeFirstDifference, Judged } from './judge'
import { generationTurns, GreedyTurns, openPeer, sharedPrefix } from './turns'

const SHAPE_1B: SyntheticShape = { vocab: 32000, dim: 2048, ffn: 5632, layers: 22, heads: 32, kvHeads: 4 }
export const FAMILIES = ['Q4_K_M', 'Q3_K_M', 'IQ4_XS', 'fallback'] as const
type Family = (typeof FAMILIES)[number]
const FILE_TYPE: Record<Family, number> = { Q4_K_M: 15, Q3_K_M: 12, IQ4_XS: 30, fallback: 15 }

/** the type of a matrix (GGUF name, rows of `cols`) in each family, as llama-quantize chooses it for this shape */
function familyType(f: Family, name: string, cols: number): BlockType {
  const c = SHAPE_1B
  const layer = Number(/^blk\.(\d+)\./.exec(name)?.[1] ?? -1)
  const is = (kind: string): boolean => name.endsWith(`.${kind}.weight`)
  if (f === 'Q4_K_M' || f === 'Q3_K_M') return mixtureMatrixType(f, name, cols, c.layers, true).type as BlockType
  if (name === 'output.weight') return f === 'fallback' ? 'Q8_0' : 'Q6_K'
  if (f === 'IQ4_XS') {
    if (is('attn_v')) return 'Q5_K' // n_gqa = 32 / 4 ≥ 4
    if (is('ffn_down') && layer < Math.trunc(c.layers / 8)) return 'Q5_K'
    return 'IQ4_XS'
  }
  return is('attn_v') ? 'Q8_0' : is('ffn_down') ? 'Q5_1' : 'Q5_0'
}

/** The 1.1B shape as one GGUF file of `family`, random valid blocks written in bulk (randomGguf.ts). */
function writeFamilyFile(path: string, f: Family, kv: (fileType: number) => Kv[]): void {
  writeRandomGguf(path, kv(FILE_TYPE[f]), syntheticGgufTensors(SHAPE_1B).map((t) => ({ ...t, type: t.shape.length === 1 ? 'F32' : familyType(f, t.name, t.shape[1]) })))
}

export interface FamilyFigures {
  file_gib: number
  /** the block types of the file's matrices, counted */
  types: Record<string, number>
  gen_tok_s: number
  llamacpp_tok_s: number | null
  gen_vs_llamacpp: number | null
  same_ids: boolean | null
  /** how many leading greedy ids agree, and our top-1/top-2 logit margin where they first differ (llama.cpp rounds
   *  activations to 8 bits: ~1 in logits on random weights, so a smaller margin is a near-tie, not a fault) */
  same_ids_prefix?: number | null
  margin_at_first_difference?: number | null
  /** where the ids part, which pick the float64 forward on the file's weights ranks higher, and its figures (judge.ts) */
  float64_prefers?: Judged['float64_prefers']
  float64_judge?: Judged['float64_judge']
  float64_judge_refused?: string
  step_s: number
  /** the most tokens/s an engine multiplying in fp32 at this machine's FMA peak could reach (2 FLOPs per weight) */
  fma_floor_tok_s: number
}

const TURNS = 2
const GEN = 32

interface FamilyResult extends GreedyTurns {
  judged: Judged
  stepS: number
  fileBytes: number
  types: string[]
}

/** In one process: ours and llama.cpp generate greedily in turn (TURNS runs each, best kept), then our step (best of
 *  2), then, where the ids part, the float64 judge of that position (judge.ts: after the timed runs, untimed). */
async function familyChild(file: string, threads: string): Promise<void> {
  const engine = Engine.load(file)
  const prompt = engine.withBos('To be', 'prompt')
  await engine.weightsSettled()
  await engine.generate({ prompt, views: [[]], maxNew: 2 })
  const session = await openPeer(file, Number(threads))
  const { ours, peer } = await generationTurns(engine, session, prompt, TURNS, GEN)
  let stepS = Infinity
  for (let i = 0; i < 2; i++) {
    const t = process.hrtime.bigint()
    await engine.gradient('To be, or not to be, that is the question')
    stepS = Math.min(stepS, Number(process.hrtime.bigint() - t) / 1e9)
  }
  const judged = await judgeFirstDifference(engine, session, file, prompt, ours.ids, peer?.ids ?? null, (x) => console.error(x))
  await session?.dispose()
  const r: FamilyResult = { ours, peer, judged, stepS, fileBytes: engine.fileBytes, types: engine.tensors.filter((x) => x.shape.length === 2).map((x) => x.dtype) }
  process.stdout.write('RESULT ' + JSON.stringify(r) + '\n')
}

export async function benchFamilies(
  args: string[],
  o: { cacheDir: () => string; kv: (fileType: number) => Kv[]; child: <T>(args: string[]) => T },
): Promise<void> {
  if (args[0] === '--json-family') return familyChild(args[1], args[2])
  const addon = loadAddon()
  const threads = addon.threads()
  const log = (x: string): boolean => process.stderr.write(x + '\n')
  const flops = addon.measureFlops(threads)
  const c = SHAPE_1B
  const hd = c.dim / c.heads
  const linearParams = c.layers * (c.dim * c.heads * hd * 2 + 2 * c.dim * c.kvHeads * hd + 3 * c.dim * c.ffn) + c.vocab * c.dim
  const r3 = (x: number): number => Math.round(x * 1000) / 1000
  const families: Record<string, FamilyFigures> = {}
  for (const f of FAMILIES) {
    const file = join(o.cacheDir(), `synthetic-1b-${f}.gguf`)
    if (!existsSync(file)) {
      const t = process.hrtime.bigint()
      writeFamilyFile(file, f, o.kv)
      log(`(wrote ${file}: ${(statSync(file).size / 2 ** 30).toFixed(2)} GiB in ${(Number(process.hrtime.bigint() - t) / 1e9).toFixed(1)} s)`)
    }
    log(`${f}: ours and llama.cpp (node-llama-cpp ${PEER_VERSION}) in turn, ${TURNS} runs of ${GEN} tokens each, then the step…`)
    const r = o.child<FamilyResult>(['--json-family', file, String(threads)])
    const types: Record<string, number> = {}
    for (const t of r.types) types[t] = (types[t] ?? 0) + 1
    families[f] = {
      file_gib: r3(r.fileBytes / 2 ** 30),
      types,
      gen_tok_s: r3(r.ours.tokS),
      llamacpp_tok_s: r.peer ? r3(r.peer.tokS) : null,
      gen_vs_llamacpp: r.peer ? r3(r.ours.tokS / r.peer.tokS) : null,
      same_ids: r.peer ? JSON.stringify(r.peer.ids) === JSON.stringify(r.ours.ids) : null,
      same_ids_prefix: r.peer ? sharedPrefix(r.peer.ids, r.ours.ids) : null,
      margin_at_first_difference: r.peer && sharedPrefix(r.peer.ids, r.ours.ids) < r.ours.ids.length ? r3(r.ours.margins[sharedPrefix(r.peer.ids, r.ours.ids)]) : null,
      ...r.judged,
      step_s: r3(r.stepS),
      fma_floor_tok_s: r3((flops * 1e9) / (2 * linearParams)),
    }
    log(JSON.stringify(families[f]))
  }
  mergeOut(args, { families_1b: families, families_threads: threads, families_gen_tokens: GEN, families_turns: TURNS, families_load_avg_1m: r3(loadavg()[0]) })
  console.log(JSON.stringify({ families_1b: families }, null, 2))
}
