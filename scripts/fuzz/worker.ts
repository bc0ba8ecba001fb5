// Runs one fuzz target inside a worker thread (so the parent can stop a hang): mutates the corpus for the given
// time, keeps inputs whose outcome (error message with numbers blanked) is new as further seeds, and stops at the
// first finding. Before each input it publishes the bytes to shared memory, so the parent can save the reproducer
// of a hang or a crash that kills the worker.
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { parentPort, workerData } from 'node:worker_threads'
import { mutate, prng } from './mutate'
import { TARGETS } from './targets'

export interface WorkerArgs {
  target: string
  seconds: number
  seed: number
  corpus: string
  findings: string
  scratch: string
  /** Int32 [0] = inputs started, [1] = byte length of the current input; then the bytes */
  shared: SharedArrayBuffer
  replay?: string
  /** the resident-set cap in MiB: an input after which the process is above it is a finding */
  rssMb?: number
}

export const SHARED_HEADER = 8
export const MAX_INPUT = 1 << 20

function corpusFiles(dir: string): string[] {
  const out: string[] = []
  const walk = (d: string): void => {
    for (const f of readdirSync(d)) {
      const p = join(d, f)
      if (statSync(p).isDirectory()) walk(p)
      else out.push(p)
    }
  }
  walk(dir)
  return out.sort()
}

function main(a: WorkerArgs): void {
  const target = TARGETS.find((t) => t.name === a.target)
  if (!target) throw new Error(`no fuzz target ${a.target}`)
  const counters = new Int32Array(a.shared, 0, 2)
  const bytes = new Uint8Array(a.shared, SHARED_HEADER)
  mkdirSync(a.scratch, { recursive: true })
  const outcome = (input: Buffer): { sig: string; finding?: string; rssMb?: number } => {
    const n = Math.min(input.length, MAX_INPUT)
    bytes.set(input.subarray(0, n))
    Atomics.store(counters, 1, n)
    Atomics.add(counters, 0, 1)
    const overCap = (): { sig: string; finding: string; rssMb: number } | undefined => {
      const rss = process.memoryUsage.rss() / (1 << 20)
      if (!a.rssMb || rss <= a.rssMb) return undefined
      return { sig: 'finding', finding: `the process is at ${rss.toFixed(0)} MB resident after this input, above the cap of ${a.rssMb} MB`, rssMb: rss }
    }
    try {
      const what = target.run(input, a.scratch)
      const over = overCap()
      if (over) return over
      return { sig: `ok${what ? `: ${what}` : ''}` }
    } catch (e) {
      const over = overCap()
      if (over) return over
      const own = target.expected.some((c) => e instanceof c)
      const msg = e instanceof Error ? `${e.name}: ${e.message}` : `thrown ${String(e)}`
      if (own) return { sig: msg.replace(/\d+/g, '#').replace(/"[^"]*"|\([^)]*\)|\[[^\]]*\]/g, '_').slice(0, 120) }
      return { sig: 'finding', finding: e instanceof Error ? (e.stack ?? msg) : msg }
    }
  }
  const report = (input: Buffer, finding: string, rssMb?: number): void => {
    mkdirSync(a.findings, { recursive: true })
    const p = join(a.findings, `${a.target}-${createHash('sha1').update(input).digest('hex').slice(0, 12)}`)
    writeFileSync(p, input)
    parentPort!.postMessage({ kind: 'finding', path: p, finding, rssMb })
  }

  if (a.replay) {
    const input = readFileSync(a.replay)
    const r = outcome(input)
    parentPort!.postMessage(r.finding ? { kind: 'finding', path: a.replay, finding: r.finding, rssMb: r.rssMb } : { kind: 'done', runs: 1, seeds: 1, outcomes: [r.sig] })
    return
  }
  const pool: Buffer[] = corpusFiles(a.corpus).map((p) => readFileSync(p))
  const seen = new Set<string>()
  for (const input of pool) {
    const r = outcome(input)
    if (r.finding) return report(input, r.finding, r.rssMb)
    seen.add(r.sig)
  }
  if (!pool.length) pool.push(Buffer.alloc(0))
  const rand = prng(a.seed)
  const until = Date.now() + a.seconds * 1000
  let runs = pool.length
  while (Date.now() < until) {
    const base = pool[Math.floor(rand() * pool.length)]
    const other = pool[Math.floor(rand() * pool.length)]
    const input = mutate(rand, base, other, target.format)
    if (input.length > MAX_INPUT) continue
    const r = outcome(input)
    runs++
    if (r.finding) return report(input, r.finding, r.rssMb)
    if (!seen.has(r.sig)) {
      seen.add(r.sig)
      pool.push(input) // a new outcome: mutate it further
    }
  }
  if (process.env.FUZZ_TRACE) console.log([...seen].join('\n'))
  parentPort!.postMessage({ kind: 'done', runs, seeds: pool.length, outcomes: [...seen] })
}

main(workerData as WorkerArgs)
