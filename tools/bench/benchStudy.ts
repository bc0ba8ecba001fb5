// The study figures of `npm run bench -- --json` (issue 24): a 24-cell study on the organism (24 phrases × 8 α × 64
// greedy tokens) on a queue of its own (a redis-server on a free loopback port in a temporary directory), run by one
// worker of 1 thread and then by two workers of 1 thread each (separate processes), timed from submission until the
// last cell is recorded in the lab's SQLite; the queue's overhead per cell is the 1-worker wall time minus the cells'
// own compute time, per cell. `--study-only --out FILE` measures these alone and merges them into FILE.
import { ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { Lab } from '../../src/main/lab/lab'
import { labClient } from '../../src/main/lab/methods'
import { runWorker } from '../../src/main/lab/study/worker'

const LRS = [0, 1e-3, 3e-3, 1e-2, 2e-2, 3e-2, 5e-2, 1e-1]
const WORDS = ['question', 'answer', 'night', 'morning', 'king', 'queen', 'sea', 'storm', 'dream', 'sleep', 'grave', 'crown']
/** 24 phrases that continue the organism's prompt */
const PHRASES = Array.from({ length: 24 }, (_, i) => `To be, or not to be, that is the ${WORDS[i % WORDS.length]}${i >= WORDS.length ? ' again' : ''}`)

export interface StudyBench {
  study_cells: number
  study_workers_1_s: number
  study_workers_2_s: number
  /** throughput of 2 workers over 1 (goal ≥ 1.8 on 2 free cores) */
  study_workers_2_vs_1: number
  /** the 1-worker wall time minus the cells' own compute, per cell (goal ≤ 20 ms) */
  study_queue_overhead_ms_per_cell: number
  study_load_avg_1m: number
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer()
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

/** `bench.js --json-study-worker URL`: one worker of 1 thread until SIGTERM. */
export async function studyWorkerChild(url: string): Promise<void> {
  const stop = new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()))
  await runWorker({ queue: url, concurrency: 1, modelDirs: [], threads: 1, log: (l) => process.stderr.write(l + '\n') }, stop)
}

function startWorker(self: string, url: string): Promise<ChildProcess> {
  const p = spawn(process.execPath, [self, '--json-study-worker', url], { stdio: ['ignore', 'ignore', 'pipe'] })
  return new Promise((resolve, reject) => {
    let err = ''
    p.stderr!.on('data', (d) => {
      err += d
      if (/worker on /.test(err)) resolve(p)
    })
    p.once('exit', () => reject(new Error(`a study worker ended: ${err.trim().split('\n').pop()}`)))
  })
}

async function timed(self: string, url: string, workers: number): Promise<{ wallS: number; computeMs: number }> {
  const procs = await Promise.all(Array.from({ length: workers }, () => startWorker(self, url)))
  const dir = mkdtempSync(join(tmpdir(), 'soliloquy-bench-study-'))
  const lab = new Lab({ dataDir: dir, threads: 1 })
  try {
    const api = labClient(lab, {})
    const t0 = process.hrtime.bigint()
    const s = await api.call('study', { phrases: PHRASES, lrs: LRS, maxGen: 64, queue: url })
    const wallS = Number(process.hrtime.bigint() - t0) / 1e9
    if (s.status !== 'done') throw new Error(`the bench study ended ${s.status}: ${s.cells.find((c) => c.reason)?.reason ?? ''}`)
    const computeMs = s.cells.reduce((a, c) => a + (c.ms ?? 0), 0)
    return { wallS, computeMs }
  } finally {
    lab.close()
    for (const p of procs) p.kill('SIGTERM')
    await Promise.all(procs.map((p) => new Promise((r) => (p.exitCode !== null ? r(null) : p.once('exit', r)))))
    rmSync(dir, { recursive: true, force: true })
  }
}

export async function benchStudy(self: string, log: (s: string) => void): Promise<StudyBench | null> {
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    log('(no redis-server on this machine: the study figures are skipped)')
    return null
  }
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'soliloquy-bench-redis-'))
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  await new Promise((r) => setTimeout(r, 500))
  try {
    log(`study: ${PHRASES.length} cells × ${LRS.length} α on 1 worker of 1 thread…`)
    // each run on a database of its own: the same cells' finished jobs would otherwise answer at once
    const one = await timed(self, `redis://127.0.0.1:${port}/1`, 1)
    log('study: the same on 2 workers of 1 thread…')
    const two = await timed(self, `redis://127.0.0.1:${port}/2`, 2)
    const r3 = (x: number): number => Math.round(x * 1000) / 1000
    return {
      study_cells: PHRASES.length,
      study_workers_1_s: r3(one.wallS),
      study_workers_2_s: r3(two.wallS),
      study_workers_2_vs_1: r3(one.wallS / two.wallS),
      study_queue_overhead_ms_per_cell: r3((one.wallS * 1000 - one.computeMs) / PHRASES.length),
      study_load_avg_1m: r3(loadavg()[0]),
    }
  } finally {
    redis.kill('SIGTERM')
    await new Promise((r) => redis.once('exit', r))
    rmSync(dir, { recursive: true, force: true })
  }
}
