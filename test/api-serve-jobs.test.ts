// Browser mode's jobs over WebSocket, on the real lab (worker host, SQLite, engine): cancelling a running sweep,
// cancelling it by closing the socket, and two connections kept apart (one cannot cancel or watch the other's job,
// even under the same job id).
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

  it('closing the socket cancels its running job', async () => {
    const a = await Client.open()
    const lrs = [0.0021, 0.0022]
    void a.call('sweep', { lrs, ...LONG }, 'job-2')
    await a.next(generating('job-2'))
    a.socket.close()
    // another connection waits for the lab to be free (calls are served in order), then reads the runs' status
    const b = await Client.open()
    let rows = await runsWith(b, lrs)
    while (rows.some((x) => x.status === 'running')) rows = await runsWith(b, lrs)
    expect(rows.map((x) => x.status)).toEqual(['cancelled', 'cancelled'])
    b.socket.close()
  })

  it('two connections are kept apart: the same job id on another connection neither cancels nor sees the job', async () => {
    const a = await Client.open()
    const b = await Client.open()
    const lrs = [0.0031, 0.0032]
    let aAnswered = false
    const reply = a.call('sweep', { lrs, maxGen: 64 }, 'shared-id').then((m) => ((aAnswered = true), m))
    await a.next(generating('shared-id'))
    b.cancel('shared-id')
    // a malformed call is answered by the server without the lab: once b has its answer, b's cancel was handled
    const bad = await b.call('sweep', { lrs: ['x'] })
    expect(bad.ok).toBe(false)
    expect(aAnswered, "a's sweep still running when b's cancel was handled").toBe(false)
    const r = await reply
    expect(r.ok, JSON.stringify(r.error)).toBe(true)
    expect((await runsWith(b, lrs)).map((x) => x.status)).toEqual(['done', 'done'])
    // b received only the answers to its own calls: none of a's progress, nor a's answer
    expect(b.messages.filter((m) => m.type === 'progress')).toEqual([])
    // (lab events are not a job's: every client gets them, see below)
    expect(b.messages.filter((m) => m.type !== 'event').map((m) => m.id)).toEqual(b.sentIds)
    expect(a.messages.filter((m) => m.type === 'progress' && m.jobId === 'shared-id').length).toBeGreaterThan(2)
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
