// Studies on BullMQ workers (issue 24): each test starts its own redis-server (test/redis.ts) and `soliloquy worker`
// processes, and a Lab in this process submits and follows the study through the contract.
import { ChildProcess, spawn } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { Queue } from 'bullmq'
import { afterEach, describe, expect, it } from 'vitest'
import { Lab } from '../src/main/lab/lab'
import { labClient, type LabClient } from '../src/main/lab/methods'
import type { RunRecord, StudyRequest, StudyStatus } from '../src/shared/api'
import { ROOT, tmp, writeTinyModel } from './helpers'
import { haveRedis, startRedis, type TestRedis } from './redis'

const CLI = join(ROOT, 'bin', 'soliloquy.js')
const PHRASES = ['To be, or not to be, that is the question', 'To be, or not to be: I am', 'To be a king of infinite space']
const LRS = [0.001, 0.01, 0.03, 0.05]

interface TestWorker {
  proc: ChildProcess
  log: () => string
  exited: Promise<void>
}

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function redis(o: { password?: string } = {}): Promise<TestRedis> {
  const r = await startRedis(o)
  cleanups.push(() => r.stop())
  return r
}

function worker(url: string, extra: string[] = []): TestWorker {
  let out = ''
  const proc = spawn(process.execPath, [CLI, 'worker', '--queue', url, '--threads', '1', '--lock-ms', '2000', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] })
  proc.stdout!.on('data', (d) => (out += d))
  proc.stderr!.on('data', (d) => (out += d))
  const exited = new Promise<void>((res) => proc.once('exit', () => res()))
  cleanups.push(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM')
      await exited
    }
  })
  return { proc, log: () => out, exited }
}

function lab(): { lab: Lab; api: LabClient; dir: string } {
  const dir = tmp('soliloquy-study-')
  const l = new Lab({ dataDir: dir, threads: 1 })
  cleanups.push(() => l.close())
  return { lab: l, api: labClient(l, {}), dir }
}

async function until<T>(what: string, f: () => T | Promise<T>, ms = 90_000): Promise<NonNullable<T>> {
  const t0 = Date.now()
  for (;;) {
    const v = await f()
    if (v) return v as NonNullable<T>
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

async function finished(api: LabClient, id: number): Promise<StudyStatus> {
  return until(`study ${id} to finish`, async () => {
    const s = await api.call('studyStatus', { id })
    return s.status !== 'running' ? s : null
  })
}

async function studyRuns(api: LabClient, id: number): Promise<RunRecord[]> {
  return (await api.call('experiment', { id })).runs
}

/** What a cell's run measured, without where and how long (those differ between machines). */
function comparable(r: RunRecord): unknown {
  const { study, timings, ...m } = r.metrics
  return { cell: study?.cell, learned: study?.learned, broken: study?.broken, prompt: r.prompt, phrase: r.phrase, lr: r.lr, ids: r.outputIds, text: r.fullText, m }
}

const request = (extra: Partial<StudyRequest> = {}): StudyRequest => ({ phrases: PHRASES, lrs: LRS, ...extra })

describe.skipIf(!haveRedis())('studies on BullMQ workers', () => {
  it('a 3 × 4 study on 2 workers records exactly the runs and cell ids of the same study run embedded', async () => {
    const r = await redis()
    const embedded = lab()
    const e = await embedded.api.call('study', request())
    expect(e.status).toBe('done')
    expect(e.where).toBe('embedded')
    const workers = [worker(r.url), worker(r.url)]
    const queued = lab()
    const q = await queued.api.call('study', request({ queue: r.url }))
    expect(q.status, JSON.stringify(q.cells.map((c) => c.reason))).toBe('done')
    expect(q.where).toBe(`redis://127.0.0.1:${r.port}/0`)
    expect(q.cells.map((c) => c.id)).toEqual(e.cells.map((c) => c.id))
    const er = (await studyRuns(embedded.api, e.id)).map(comparable)
    const qr = (await studyRuns(queued.api, q.id)).map(comparable)
    expect(qr).toHaveLength(PHRASES.length * LRS.length)
    expect(qr).toEqual(er)
    // the runs say which worker ran them, on which kernel path, after how long in the queue
    const runs = await studyRuns(queued.api, q.id)
    const hosts = new Set(runs.map((x) => x.metrics.study!.host))
    for (const h of hosts) expect(workers.map((w) => String(w.proc.pid)), h).toContain(h.split(':').pop())
    for (const x of runs) expect(x.metrics.study!.kernelPath).toMatch(/scalar|avx2|avx512|neon/)
    // the job ids are the cells' ids
    const queue = new Queue('cells', { connection: { host: '127.0.0.1', port: r.port }, prefix: 'soliloquy' })
    cleanups.push(() => queue.close())
    const jobs = await queue.getJobs(['completed'])
    expect(jobs.map((j) => j.id).sort()).toEqual(q.cells.map((c) => `cell-${c.id}`).sort())
  })

  it('the same study submitted twice adds no job and no run', async () => {
    const r = await redis()
    const { api } = lab()
    const a = await api.call('study', request({ queue: r.url, follow: false }))
    const b = await api.call('study', request({ queue: r.url, follow: false }))
    expect(b.id).toBe(a.id)
    const queue = new Queue('cells', { connection: { host: '127.0.0.1', port: r.port }, prefix: 'soliloquy' })
    cleanups.push(() => queue.close())
    const counts = await queue.getJobCounts('waiting', 'active', 'completed', 'failed')
    expect(counts.waiting + counts.active + counts.completed + counts.failed).toBe(PHRASES.length)
    worker(r.url)
    const done = await finished(api, a.id)
    expect(done.status).toBe('done')
    // submitted once more when done: still one experiment, the same runs
    const c = await api.call('study', request({ queue: r.url }))
    expect(c.id).toBe(a.id)
    expect(await studyRuns(api, a.id)).toHaveLength(PHRASES.length * LRS.length)
    expect((await api.call('experiments', { kind: 'study' })).experiments).toHaveLength(1)
    const after = await queue.getJobCounts('waiting', 'active', 'completed', 'failed')
    expect(after.completed).toBe(PHRASES.length)
  })

  it('kill -9 of a worker mid-cell: the cell is run again by another worker and recorded once', async () => {
    const r = await redis()
    const { api } = lab()
    // long enough cells to be killed in the middle of one
    const s = await api.call('study', request({ queue: r.url, follow: false, maxGen: 200, lrs: [0.001, 0.003, 0.01, 0.02, 0.03, 0.05, 0.07, 0.1] }))
    const first = worker(r.url)
    const started = await until('a cell to start', () => /cell ([0-9a-f]{12})… .* started/.exec(first.log())?.[1])
    // the submitter sees the cell running on that worker, with its progress
    const running = await until('the running cell in the study status', async () =>
      (await api.call('studyStatus', { id: s.id })).cells.find((c) => c.state === 'running' && c.progress && c.host?.endsWith(`:${first.proc.pid}`)))
    expect(running.id.startsWith(started)).toBe(true)
    first.proc.kill('SIGKILL')
    await first.exited
    expect(first.log()).not.toMatch(new RegExp(`cell ${started}… done`))
    const second = worker(r.url)
    const done = await finished(api, s.id)
    expect(done.status).toBe('done')
    expect(second.log()).toMatch(new RegExp(`cell ${started}… .* started`))
    const runs = await studyRuns(api, s.id)
    expect(runs).toHaveLength(PHRASES.length * 8)
    const killed = runs.filter((x) => x.metrics.study!.cell.startsWith(started))
    expect(killed).toHaveLength(8)
    expect(new Set(killed.map((x) => x.metrics.study!.host))).toEqual(new Set([done.cells.find((c) => c.id.startsWith(started))!.host]))
    expect(killed[0].metrics.study!.host).toMatch(new RegExp(`:${second.proc.pid}$`))
  })

  it('cancel: queued cells removed, the running one stopped at its next token; all recorded as cancelled', async () => {
    const r = await redis()
    const { api } = lab()
    const s = await api.call('study', request({ queue: r.url, follow: false, maxGen: 200, lrs: [0.001, 0.003, 0.01, 0.02, 0.03, 0.05, 0.07, 0.1] }))
    const w = worker(r.url)
    await until('a cell to start', () => /started/.test(w.log()))
    const c = await api.call('cancelStudy', { id: s.id })
    expect(c.counts.cancelled).toBe(PHRASES.length - 1)
    const done = await finished(api, s.id)
    expect(done.status).toBe('cancelled')
    expect(done.counts.cancelled).toBe(PHRASES.length)
    expect(done.cells.find((x) => x.host)?.reason).toMatch(/^cancelled on /)
    expect(w.log()).toMatch(/cancelled/)
    expect(await studyRuns(api, s.id)).toHaveLength(0)
  })

  it('Redis stopped and restarted in the middle of a study: the study completes', async () => {
    const r = await redis()
    const { api } = lab()
    const phrases = [...PHRASES, 'To sleep, perchance to dream', 'The undiscovered country']
    const s = await api.call('study', { phrases, lrs: LRS, maxGen: 100, queue: r.url, follow: false })
    const w = worker(r.url)
    await until('a first cell recorded', async () => (await api.call('studyStatus', { id: s.id })).counts.done >= 1)
    await r.stop()
    await new Promise((res) => setTimeout(res, 1500))
    await r.start()
    const done = await finished(api, s.id)
    expect(done.status, w.log()).toBe('done')
    expect(await studyRuns(api, s.id)).toHaveLength(phrases.length * LRS.length)
    expect(w.log()).toMatch(/unreachable/)
  })

  it('a worker without the model refuses its cells, in words the submitter sees; the study goes on', async () => {
    const r = await redis()
    const { api } = lab()
    const tiny = writeTinyModel(join(tmp(), 'tiny'), { dim: 32, ffn: 64, layers: 1, heads: 2, kvHeads: 2, tied: false, seed: 5 })
    const w = worker(r.url)
    const s = await api.call('study', { phrases: PHRASES.slice(0, 2), lrs: [0.01, 0.03], models: [null, tiny], queue: r.url })
    expect(s.counts.done).toBe(2)
    expect(s.counts.refused).toBe(2)
    expect(s.status).toBe('failed')
    for (const c of s.cells.filter((x) => x.state === 'refused')) {
      expect(c.model).toBe('tiny')
      expect(c.reason).toMatch(/^refused by .*: no model with fingerprint [0-9a-f]{12}… \("tiny"\)/)
    }
    expect(w.log()).toMatch(/done in/)
    // a worker that holds it takes the refused cells when the study is submitted again
    worker(r.url, ['--models', join(tiny, '..')])
    await w.proc.kill('SIGTERM')
    await w.exited
    const again = await api.call('study', { phrases: PHRASES.slice(0, 2), lrs: [0.01, 0.03], models: [null, tiny], queue: r.url })
    expect(again.id).toBe(s.id)
    expect(again.counts.done).toBe(4)
    expect(again.status).toBe('done')
  })

  it('credentials of the queue are never written to the database or the logs; an unreachable queue fails at once', async () => {
    const secret = 'sekrit-Pa55word'
    const r = await redis({ password: secret })
    const { api, dir, lab: l } = lab()
    const w = worker(r.url)
    const s = await api.call('study', { phrases: PHRASES.slice(0, 1), lrs: [0.01], queue: r.url })
    expect(s.status).toBe('done')
    expect(s.where).toBe(`redis://127.0.0.1:${r.port}/0`)
    // a wrong password and a port nobody listens on: refused at once, without the credentials
    const t0 = Date.now()
    await expect(api.call('study', { phrases: ['x y z'], lrs: [0.01], queue: `redis://:wrong-${secret}@127.0.0.1:${r.port}` })).rejects.toThrow(/refused the credentials/)
    await expect(api.call('study', { phrases: ['x y z'], lrs: [0.01], queue: `redis://:${secret}@127.0.0.1:1` })).rejects.toThrow(
      /^cannot reach the queue at redis:\/\/127\.0\.0\.1:1\/0: .*ECONNREFUSED/,
    )
    expect(Date.now() - t0).toBeLessThan(20_000)
    try {
      await api.call('study', { phrases: ['x y z'], lrs: [0.01], queue: `redis://:${secret}@127.0.0.1:1` })
    } catch (e) {
      expect((e as Error).message).not.toContain(secret)
    }
    l.close()
    for (const f of readdirSync(dir)) {
      if (!/history/.test(f)) continue
      expect(readFileSync(join(dir, f)).includes(secret), f).toBe(false)
    }
    expect(w.log()).not.toContain(secret)
    expect(w.log()).toMatch(/done in/)
  })
})
