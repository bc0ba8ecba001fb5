// llama.cpp's next-token distribution read through node-llama-cpp (teacher-forced over a text), and our logits held
// against it: for the GGUF tests where greedy ids cannot be compared (llama.cpp rounds activations to 8 bits for its
// quantised products) or where logits themselves are the check (engine-gguf-lowbit, engine-gguf-gptoss).
import type { Engine } from '../src/main/engine/engine'
import { loadAddon } from '../src/main/engine/native'
import type { LlamaCppModule } from '../tools/bench/peer'

export type PeerProbs = Map<number, number>

/** llama.cpp's next-token probabilities after every token of `ids` (top 40 at temperature 1: ratios are exp of logit
 *  differences), most probable first */
export async function peerProbabilities(llamaCpp: LlamaCppModule, file: string, ids: number[]): Promise<PeerProbs[]> {
  const llama = await llamaCpp.getLlama({ gpu: false, build: 'never' })
  const model = await llama.loadModel({ modelPath: file })
  try {
    const ctx = await model.createContext({ contextSize: 128, threads: Math.min(2, loadAddon().threads()) })
    try {
      const seq = ctx.getSequence() as unknown as {
        controlledEvaluate(input: unknown[]): Promise<({ next: { probabilities?: PeerProbs } } | undefined)[]>
      }
      const opts = { generateNext: { probabilities: true, options: { temperature: 1, topK: 40, topP: 1, minP: 0 } } }
      const out = await seq.controlledEvaluate(ids.map((id) => [id, opts]))
      return ids.map((_, i) => out[i]!.next.probabilities!)
    } finally {
      await ctx.dispose()
    }
  } finally {
    await model.dispose()
  }
}

/** Our logit differences to each position's top token (llama.cpp's top) against llama.cpp's log-probability ratios,
 *  over the tokens whose probability is at least `floor` × the top one's (below it, the ratio's logarithm is at
 *  float32 resolution): the worst and mean difference and how many were compared. */
export async function logitGapsAgainstPeer(ours: Engine, ids: number[], probs: PeerProbs[], floor: number): Promise<{ worst: number; mean: number; compared: number }> {
  const [row] = await ours.score({ ids, views: [[]], fullAt: ids.map((_, i) => i) })
  let worst = 0, sum = 0, compared = 0
  for (let i = 0; i < ids.length; i++) {
    const top = probs[i].entries().next().value as [number, number]
    for (const [id, p] of probs[i]) {
      if (p < floor * top[1]) continue
      const d = Math.abs(Math.log(p / top[1]) - (row.full[i][id] - row.full[i][top[0]]))
      worst = Math.max(worst, d)
      sum += d
      compared++
    }
  }
  return { worst, mean: sum / compared, compared }
}
