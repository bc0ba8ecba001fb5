// Who is right where our greedy ids and llama.cpp's part. llama.cpp rounds activations to 8 bits in its quantised
// products and we keep fp32, so on random weights the two may pick different tokens where the top two are close; the
// project's standard allows that only at a near-tie of the reference. The judge takes the common prefix (prompt and the
// ids both generated), and at the first position where the picks differ computes both candidates' logits with the
// independent float64 forward (test/reference/llama.ts, the mixtures' blocks in experts.ts) on the file's own
// weights, each block decoded by the test-side ggml formulas (test/reference/gguf.ts): the candidate float64 ranks
// higher is the right pick, the float64 difference between the two says how near the tie is, and each engine's
// difference (teacher-forced on the same prefix) against float64's is its error. "llama" (the 1.1B type-mix lines),
// "qwen3", "gemma3" (the families2 lines) and "qwen3moe" (the 30B-A3B line) files are judged; others are refused by
// name. The float64 forward decodes lazily (only the matrices it multiplies, of each MoE layer only the experts its
// tokens are routed to, the embedding and output tables by rows), so a 30B-A3B position fits in a few GB.
import { Engine } from '../../src/main/engine/engine'
import { RefGguf, refGguf } from '../../test/reference/gguf'
import { refLogits, refLogProbs } from '../../test/reference/llama'
import { PeerSession } from './peer'
import { sharedPrefix } from './turns'

/** llama.cpp's next-token list the judge asks for: wide enough to hold both picks (each engine's top one or two) */
const PEER_TOP_K = 40

export interface JudgeFigures {
  /** the generated position where the ids first part (0 = the first new token), and each engine's pick there */
  position: number
  ours_id: number
  llamacpp_id: number
  /** float64 logit of our pick minus that of llama.cpp's, teacher-forced on the common prefix: > 0 ours is right */
  float64_margin: number
  /** float64's most likely token there (a third token when neither engine picked it) */
  float64_top_id: number
  /** the same difference as our engine computes it teacher-forced on the prefix, and minus float64's */
  ours_margin: number
  ours_margin_error: number
  /** our log-probabilities of [our pick, llama.cpp's pick] minus float64's */
  ours_logprob_error: [number, number]
  /** the same difference as llama.cpp computes it (the log of its probability ratio, teacher-forced on the prefix),
   *  and minus float64's; null when a pick is not among its 40 most likely */
  llamacpp_margin: number | null
  llamacpp_margin_error: number | null
  /** seconds the float64 forward took */
  float64_s: number
}

/** what the bench line reports: the verdict, its figures, or why there is none */
export interface Judged {
  float64_prefers: 'ours' | 'llama.cpp' | null
  float64_judge: JudgeFigures | null
  /** why there is no judge where the ids differ (a file the float64 reference does not read) */
  float64_judge_refused?: string
}

const r6 = (x: number): number => Math.round(x * 1e6) / 1e6

/** the float64 log-probabilities of the next token after `ids`, from a GGUF file's weights (refGguf) */
export function float64NextLogProbs(ref: RefGguf, ids: number[]): Float64Array {
  return refLogProbs(refLogits(ref.config, ref.weights, ids, ids.length - 1), ref.config.vocab)
}

/** The verdict from float64 log-probabilities of the two picks (logits up to softmax's constant). */
export function verdict(float64Ours: number, float64Theirs: number): 'ours' | 'llama.cpp' {
  return float64Ours >= float64Theirs ? 'ours' : 'llama.cpp'
}

/**
 * Judges the first difference between our greedy ids and llama.cpp's (both continuing `prompt`): nothing to judge
 * (all null) when they agree or when one stops before they part.
 */
export async function judgeFirstDifference(
  engine: Engine,
  session: PeerSession | null,
  file: string,
  prompt: number[],
  ours: number[],
  theirs: number[] | null,
  log: (s: string) => void,
): Promise<Judged> {
  const none: Judged = { float64_prefers: null, float64_judge: null }
  if (!theirs) return none
  const p = sharedPrefix(ours, theirs)
  if (p >= ours.length || p >= theirs.length) return none
  let ref: RefGguf
  try {
    ref = refGguf(file)
  } catch (e) {
    return { ...none, float64_judge_refused: (e as Error).message }
  }
  try {
    return await judgeAt(engine, session, ref, [...prompt, ...ours.slice(0, p)], p, ours[p], theirs[p], log)
  } finally {
    ref.close()
  }
}

/** the judge at generated position `p`, teacher-forced on `ids` (the prompt and the shared prefix): our pick `a`,
 *  llama.cpp's `b` */
async function judgeAt(engine: Engine, session: PeerSession | null, ref: RefGguf, ids: number[], p: number, a: number, b: number, log: (s: string) => void): Promise<Judged> {
  const [row] = await engine.score({ ids, views: [[]], fullAt: [ids.length - 1] })
  const oursLp = row.full[0]
  let peerMargin: number | null = null
  if (session) {
    const probs = await session.nextProbabilities(ids, PEER_TOP_K)
    const pa = probs.get(a)
    const pb = probs.get(b)
    if (pa !== undefined && pb !== undefined && pa > 0 && pb > 0) peerMargin = Math.log(pa / pb)
  }
  log(`the ids part at generated token ${p} (ours ${a}, llama.cpp ${b}): the float64 forward on ${ids.length} tokens…`)
  const t = process.hrtime.bigint()
  const lp = float64NextLogProbs(ref, ids)
  const seconds = Number(process.hrtime.bigint() - t) / 1e9
  let top = 0
  for (let i = 1; i < lp.length; i++) if (lp[i] > lp[top]) top = i
  const margin = lp[a] - lp[b]
  const oursMargin = oursLp[a] - oursLp[b]
  return {
    float64_prefers: verdict(lp[a], lp[b]),
    float64_judge: {
      position: p,
      ours_id: a,
      llamacpp_id: b,
      float64_margin: r6(margin),
      float64_top_id: top,
      ours_margin: r6(oursMargin),
      ours_margin_error: r6(oursMargin - margin),
      ours_logprob_error: [r6(oursLp[a] - lp[a]), r6(oursLp[b] - lp[b])],
      llamacpp_margin: peerMargin === null ? null : r6(peerMargin),
      llamacpp_margin_error: peerMargin === null ? null : r6(peerMargin - margin),
      float64_s: Math.round(seconds * 10) / 10,
    },
  }
}
