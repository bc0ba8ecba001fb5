// Browser mode's jobs over WebSocket, on the real lab (worker host, SQLite, engine): cancelling a running sweep; a
// job outliving the socket that started it (closing cancels nothing; a new connection lists it, attaches and gets its
// result); job ids are the lab's (not taken twice, cancel allowed from any connection, progress only to whoever
// started or attached).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { WebSocket } from 'ws'
import { LabHost } from '../src/main/host/host'
import { RunningServer, startServer } from '../src/main/server/server'
import { ensureCurrentBuild, ROOT, tmp } from './helpers'

let host: LabHost
let srv: RunningServer

beforeAll(async () => {
  ensureCurrentBuild() // the worker is out/main/labWorker.js
  host = new LabHost({ dataDir: tmp('soliloquy-ws-jobs-') }, join(ROOT, 'out', 'main', 'labWorker.js'))
  srv = await startServer({ backend: host, rendererDir: join(ROOT, 'out', 'renderer'), port: 0 })
}, 300_000)
afterAll(async () => {
  await srv?.close()
  await host?.close()
})

interface Msg {
  id?: number | string | null
  type?: string
  jobId?: string
  ok?: boolean
  result?: unknown
  error?: { message: string; kind?: string }
  phase?: string
  done?: number
}
interface RunRow {
  lr: number
  status: string
  kind: string
}

/** One client connection: every message it received, and calls answered by id. */
class Client {
  readonly messages: Msg[] = []
  private waiters: { pred: (m: Msg) => boolean; resolve: (m: Msg) => void }[] = []
  private nextId = 1
  readonly sentIds: number[] = []
  private constructor(readonly socket: WebSocket) {
    socket.on('message', (d) => {
      const m = JSON.parse(d.toString()) as Msg
      this.messages.push(m)
      this.waiters = this.waiters.filter((w) => (w.pred(m) ? (w.resolve(m), false) : true))
    })
  }
  static open(): Promise<Client> {
    const s = new WebSocket(`ws://127.0.0.1:${srv.port}/api?token=${srv.token}`)
    return new Promise((resolve, reject) => {
      s.once('open', () => resolve(new Client(s)))
      s.once('error', reject)
    })
  }
  next(pred: (m: Msg) => boolean): Promise<Msg> {
    const seen = this.messages.find(pred)
    if (seen) return Promise.resolve(seen)
    return new Promise((resolve) => this.waiters.push({ pred, resolve }))
  }
  /** sends a call; resolves with its reply */
  call(method: string, args: unknown, jobId?: string): Promise<Msg> {
    const id = this.nextId++
    this.sentIds.push(id)
    this.socket.send(JSON.stringify(jobId ? { id, method, args, jobId } : { id, method, args }))
    return this.next((m) => m.id === id)
  }
  cancel(jobId: string): void {
    this.socket.send(JSON.stringify({ type: 'cancel', jobId }))
  }
}

const LONG = { maxGen: 400, maxSeq: 512 } // 400 tokens per row: long enough to be cancelled part-way
const generating = (jobId: string) => (m: Msg): boolean => m.type === 'progress' && m.jobId === jobId && m.phase === 'generate' && (m.done ?? 0) > 2

async function runsWith(c: Client, lrs: number[]): Promise<RunRow[]> {
  const r = await c.call('history', { kind: ['sweep'], limit: 200 })
  expect(r.ok, JSON.stringify(r)).toBe(true)
  return (r.result as { runs: RunRow[] }).runs.filter((x) => lrs.includes(x.lr))
}

describe('WebSocket jobs on the real lab', () => {
  it('cancel of a running sweep: the call answers "cancelled" and its runs are recorded as cancelled', async () => {
    const a = await Client.open()
    const lrs = [0.0011, 0.0012]
    const reply = a.call('sweep', { lrs, ...LONG }, 'job-1')
    await a.next(generating('job-1'))
    a.cancel('job-1')
    const r = await reply
    expect(r.ok).toBe(false)
    expect(r.error?.message).toMatch(/cancelled/)
    // the kind crossed the lab process and the WebSocket: no caller matches on the words
    expect(r.error?.kind).toBe('cancelled')
    const rows = await runsWith(a, lrs)
    expect(rows.map((x) => x.status)).toEqual(['cancelled', 'cancelled'])
    a.socket.close()
  })

  it("closing the socket cancels nothing: the job runs on; another connection lists it, attaches to its progress and gets its result", async () => {
    const a = await Client.open()
    const lrs = [0.0021, 0.0022]
    void a.call('sweep', { lrs, ...LONG }, 'job-2')
    await a.next(generating('job-2'))
    a.socket.close()
    // a reloaded page: a new connection sees the job running, with its settings, progress and experiment
    const b = await Client.open()
    const listed = await b.call('jobs', {})
    expect(listed.ok, JSON.stringify(listed.error)).toBe(true)
    const job = (listed.result as { jobId: string; kind: string; state: string; request: { lrs: number[] }; progress: { phase: string; total: number } | null; experimentId: number | null }[]).find((j) => j.jobId === 'job-2')
    expect(job).toMatchObject({ kind: 'sweep', state: 'running', request: { lrs } })
    // its progress as the lab last reported it: generating, or already in a later phase (scoring the probes) on a fast machine
    expect(job?.progress?.phase).toMatch(/^\w+$/)
    expect(job?.progress?.total).toBeGreaterThan(0)
    expect(job?.experimentId).toBeGreaterThan(0)
    const attached = await b.call('attachJob', { jobId: 'job-2' }, 'job-2')
    expect(attached.ok, JSON.stringify(attached.error)).toBe(true)
    const outcome = attached.result as { kind: string; result: { runs: { lr: number; status: string; experimentId: number }[] } }
    expect(outcome.kind).toBe('sweep')
    expect(outcome.result.runs.map((r) => [r.lr, r.status])).toEqual([[0.0021, 'done'], [0.0022, 'done']])
    expect(outcome.result.runs[0].experimentId).toBe(job?.experimentId)
    // the attached connection got the job's progress under its id
    expect(b.messages.filter((m) => m.type === 'progress' && m.jobId === 'job-2').length).toBeGreaterThan(0)
    expect((await runsWith(b, lrs)).map((x) => x.status)).toEqual(['done', 'done'])
    // finished, it stays listed a while, its result retrievable
    const again = await b.call('attachJob', { jobId: 'job-2' })
    expect((again.result as { result: { runs: unknown[] } }).result.runs).toHaveLength(2)
    b.socket.close()
  })

  it('job ids are the lab\'s: another connection cannot take a running one, sees none of its progress unless it attaches, and may cancel it', async () => {
    const a = await Client.open()
    const b = await Client.open()
    const lrs = [0.0031, 0.0032]
    const reply = a.call('sweep', { lrs, ...LONG }, 'shared-id')
    await a.next(generating('shared-id'))
    const taken = await b.call('sweep', { lrs: [0.5] }, 'shared-id')
    expect(taken.ok).toBe(false)
    expect(taken.error?.kind).toBe('input')
    expect(b.messages.filter((m) => m.type === 'progress')).toEqual([])
    // cancel is explicit and allowed from any client
    b.cancel('shared-id')
    const r = await reply
    expect(r.ok).toBe(false)
    expect(r.error?.kind).toBe('cancelled')
    expect((await runsWith(b, lrs)).map((x) => x.status)).toEqual(['cancelled', 'cancelled'])
    expect((await runsWith(b, [0.5])).length).toBe(0)
    // b received only the answers to its own calls (lab events are every client's, see below)
    expect(b.messages.filter((m) => m.type !== 'event').map((m) => m.id)).toEqual(b.sentIds)
    a.socket.close()
    b.socket.close()
  })

  it('lab events reach every authenticated connection, also one that made no call', async () => {
    const a = await Client.open()
    const b = await Client.open()
    const r = await a.call('step', { lr: 0.01, maxGen: 4 })
    expect(r.ok).toBe(true)
    const run = (r.result as { run: { id: number; experimentId: number } }).run
    type Ev = { type: string; id: number; change: string; status: string }
    const events = (c: Client): Ev[] => c.messages.filter((m) => m.type === 'event').map((m) => (m as unknown as { event: Ev }).event)
    // the experiment's finish is announced after the run's: once b has it, b has them all
    await b.next((m) => m.type === 'event' && (m as unknown as { event: Ev }).event.type === 'experiment' && (m as unknown as { event: Ev }).event.change === 'finished' && (m as unknown as { event: Ev }).event.id === run.experimentId)
    for (const c of [a, b]) {
      const mine = events(c).filter((e) => (e.type === 'run' && e.id === run.id) || (e.type === 'experiment' && e.id === run.experimentId))
      expect(mine.map((e) => [e.type, e.change, e.status])).toEqual([
        ['experiment', 'created', 'running'],
        ['run', 'created', 'running'],
        ['run', 'finished', 'done'],
        ['experiment', 'finished', 'done'],
      ])
    }
    a.socket.close()
    b.socket.close()
  })
})
