// node-llama-cpp (prebuilt llama.cpp), the speed and parity peer of the benchmark and of the GGUF tests. It is
// installed on demand into a cache folder outside the project (~/.cache/soliloquy), never into package.json.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

export const PEER_VERSION = '3.21.1'

/** the sampler settings under which llama.cpp reports next-token probabilities (controlledEvaluate's generateNext) */
interface PeerSampling {
  temperature: number
  topK: number
  topP: number
  minP: number
}

export interface LlamaCppModule {
  getLlama(o: { gpu: false; build: 'never' }): Promise<{
    loadModel(o: { modelPath: string }): Promise<{
      createContext(o: { contextSize: number; threads: number }): Promise<{
        getSequence(): {
          evaluate(tokens: number[], o: { temperature: number }): AsyncIterable<number>
          controlledEvaluate(input: (number | [number, { generateNext: { probabilities: true; options: PeerSampling } }])[]): Promise<
            ({ next: { probabilities?: Map<number, number> } } | undefined)[]
          >
        }
        dispose(): Promise<void>
      }>
      dispose(): Promise<void>
    }>
  }>
}

/** The entry file of node-llama-cpp, installing it first when needed; throws with npm's own words on failure. */
export function peerModule(log: (s: string) => void = console.log): string {
  const dir = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'soliloquy', `node-llama-cpp-${PEER_VERSION}`)
  const entry = join(dir, 'node_modules', 'node-llama-cpp', 'dist', 'index.js')
  if (!existsSync(entry)) {
    log(`(installing node-llama-cpp@${PEER_VERSION} into ${dir} …)`)
    mkdirSync(dir, { recursive: true })
    const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--prefix', dir, `node-llama-cpp@${PEER_VERSION}`], {
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    })
    if (r.status !== 0 || !existsSync(entry)) {
      const why = (r.error?.message ?? `${r.stderr ?? ''}\n${r.stdout ?? ''}`).trim().split('\n').slice(-8).join('\n')
      throw new Error(`could not install node-llama-cpp@${PEER_VERSION} into ${dir} (the llama.cpp peer needs the npm registry once):\n${why}`)
    }
  }
  return entry
}

export async function loadPeer(log?: (s: string) => void): Promise<LlamaCppModule> {
  return (await import(pathToFileURL(peerModule(log)).href)) as LlamaCppModule
}

/** A model loaded once in llama.cpp, for several timed greedy runs (each in a fresh context). */
export interface PeerSession {
  /** greedy continuation of `prompt` (ids, BOS included); ms counts from the first prompt token to the last token */
  greedy(prompt: number[], maxNew: number): Promise<{ ids: number[]; ms: number }>
  /** llama.cpp's `topK` most likely next tokens after `ids` (BOS included; evaluated in one batch in a fresh context
   *  made as greedy's is), with their probabilities at temperature 1 renormalised over those K: the log of a ratio of
   *  two is the difference of their logits */
  nextProbabilities(ids: number[], topK: number): Promise<Map<number, number>>
  dispose(): Promise<void>
}

export async function peerSession(llamaCpp: LlamaCppModule, file: string, threads: number): Promise<PeerSession> {
  const llama = await llamaCpp.getLlama({ gpu: false, build: 'never' })
  const model = await llama.loadModel({ modelPath: file })
  return {
    async greedy(prompt, maxNew) {
      const ctx = await model.createContext({ contextSize: Math.max(128, prompt.length + maxNew + 8), threads })
      const ids: number[] = []
      const t = process.hrtime.bigint()
      try {
        for await (const tok of ctx.getSequence().evaluate(prompt, { temperature: 0 })) {
          ids.push(tok)
          if (ids.length >= maxNew) break
        }
      } finally {
        await ctx.dispose()
      }
      return { ids, ms: Number(process.hrtime.bigint() - t) / 1e6 }
    },
    async nextProbabilities(ids, topK) {
      const ctx = await model.createContext({ contextSize: Math.max(128, ids.length + 8), threads })
      try {
        const options = { temperature: 1, topK, topP: 1, minP: 0 }
        const out = await ctx.getSequence().controlledEvaluate(ids.map((id, i) => (i + 1 < ids.length ? id : [id, { generateNext: { probabilities: true, options } }])))
        const p = out[ids.length - 1]?.next.probabilities
        if (!p) throw new Error(`llama.cpp gave no next-token probabilities after ${ids.length} tokens`)
        return p
      } finally {
        await ctx.dispose()
      }
    },
    dispose: () => model.dispose(),
  }
}

/** llama.cpp's greedy continuation of `prompt` (ids, BOS included) on a GGUF file. */
export async function peerGreedy(
  llamaCpp: LlamaCppModule,
  file: string,
  prompt: number[],
  maxNew: number,
  threads: number,
): Promise<{ ids: number[]; ms: number }> {
  const session = await peerSession(llamaCpp, file, threads)
  try {
    return await session.greedy(prompt, maxNew)
  } finally {
    await session.dispose()
  }
}
