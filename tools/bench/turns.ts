// Greedy generation of ours and of llama.cpp on the same weights, measured in one process with the engines taking
// turns run by run: this VM's memory bandwidth flips between two levels (for seconds or minutes), and with each engine
// in its own process the comparison read whatever level each one met (0.86–1.46× across a dozen full runs). Used by
// every line of the benchmark that sets the two side by side (benchJson.ts, benchFamilies.ts, benchShapes.ts).
import { Engine } from '../../src/main/engine/engine'
import { loadPeer, PeerSession, peerSession } from './peer'

/** one engine's best run: tokens per second and its ids (ours: with our top-1 − top-2 logit margin at each) */
export interface GreedyTurns {
  ours: { tokS: number; ids: number[]; margins: number[] }
  /** null when llama.cpp could not run (not installable, or the file refused) */
  peer: { tokS: number; ids: number[] } | null
}

/** llama.cpp on `file` with `threads`, or null (said on stderr) when it cannot run */
export async function openPeer(file: string, threads: number): Promise<PeerSession | null> {
  try {
    return await peerSession(await loadPeer((x) => console.error(x)), file, threads)
  } catch (e) {
    console.error(`(llama.cpp could not run: ${(e as Error).message})`)
    return null
  }
}

/**
 * Ours and llama.cpp (when `session` is given) continue `prompt` greedily by `maxNew` tokens in turn, `turns` runs
 * each, each engine keeping its fastest run. A llama.cpp run that fails stops llama.cpp's runs (said on stderr); the
 * session stays the caller's to dispose.
 */
export async function generationTurns(engine: Engine, session: PeerSession | null, prompt: number[], turns: number, maxNew: number): Promise<GreedyTurns> {
  let ours: GreedyTurns['ours'] = { tokS: 0, ids: [], margins: [] }
  let peer: GreedyTurns['peer'] = null
  let peerRuns = session !== null
  for (let turn = 0; turn < turns; turn++) {
    const t = process.hrtime.bigint()
    const [g] = await engine.generate({ prompt, views: [[]], maxNew })
    const tokS = g.ids.length / (Number(process.hrtime.bigint() - t) / 1e9)
    if (tokS > ours.tokS) ours = { tokS, ids: g.ids, margins: g.margins }
    if (session && peerRuns) {
      try {
        const r = await session.greedy(prompt, maxNew)
        const theirs = r.ids.length / (r.ms / 1000)
        if (!peer || theirs > peer.tokS) peer = { tokS: theirs, ids: r.ids }
      } catch (e) {
        console.error(`(llama.cpp failed: ${(e as Error).message})`)
        peerRuns = false
      }
    }
  }
  return { ours, peer }
}

/** the number of leading entries two id lists share */
export function sharedPrefix(a: number[], b: number[]): number {
  let i = 0
  while (i < a.length && i < b.length && a[i] === b[i]) i++
  return i
}
