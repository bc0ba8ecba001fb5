// The studies' running state (issue 24): a study is an experiment kind (lab/kinds/study.ts validates the request
// and opens its experiment); this service runs it — embedded (cell after cell in this process, resumable) or on a
// queue (the cells as BullMQ jobs, followed until they come home) — and answers for it afterwards: its status per
// cell and per worker, collect, cancel. It belongs to the lab (lab.ts `studies()`), since the queues it holds and the
// studies it follows outlive one call.
import { hostname } from 'node:os'
import {
  CancelledError,
  InputError,
  type CallOptions,
} from '../../engine/engine'
import { cellResultSchema, type CellState, type StudyCell, type StudyRef, type StudyRequest, type StudyStatus } from '../../../shared/api'
import type { DB } from '../history/db'
import { OWNER } from '../history/owner'
import { nowIso } from '../history/clock'
import type { Target } from '../targets'
import { computeCell } from './cells'
import { expandGrid, type CellSettings, type GridCell, type StudyModel } from './grid'
import { CellQueue, checkReachable, type CellProgress } from './queue'
import { parseQueueUrl, redactCredentials } from './queueUrl'
import { clearNotes, noteCell, notedCells, recordCell, recordedCells, settleStudy, studyWindows } from './record'

/** What the lab lends the studies: its database and model resolution. */
export interface StudyHost {
  db: DB
  target(ref: unknown): Target
}

/** What a study's experiment keeps in its settings (never the queue's credentials). */
export interface StudySettings {
  key: string
  /** "embedded", or the queue's address without credentials */
  where: string
  models: StudyModel[]
  modelSettings: CellSettings[]
  phrases: string[]
  lrs: number[]
  restrict?: StudyRequest['restrict']
}

/** A study's experiment with its settings and its cells. */
export interface Loaded {
  id: number
  s: StudySettings
  cells: GridCell[]
}

/** How often a followed study asks the queue for its cells besides listening (a Redis restart can lose events). */
const RECONCILE_MS = 1000

function describe(e: unknown): string {
  return redactCredentials((e instanceof Error ? e.message : String(e)).split('\n')[0])
}

/** A refusal's or failure's reason as a worker gave it: "refused: …", "cancelled: …", else a failure. */
function noteOf(reason: string | undefined, host: string | null): { state: 'refused' | 'failed' | 'cancelled'; reason: string; host: string | null } {
  const r = reason ?? 'failed without a reason'
  if (r.startsWith('refused')) return { state: 'refused', reason: r, host }
  if (r.startsWith('cancelled')) return { state: 'cancelled', reason: r, host }
  return { state: 'failed', reason: r, host }
}

/** A study being followed on its queue: the cells still out, the workers running them. */
interface Following {
  queue: CellQueue
  pending: Set<string>
  running: Map<string, string>
  /** a running cell's phase as its worker last reported it */
  progress: Map<string, string>
  done: Promise<void>
  finish: () => void
  timer: NodeJS.Timeout
  busy: boolean
}

export class Studies {
  /** open queues by their full address (credentials only in this process's memory) */
  private readonly queues = new Map<string, CellQueue>()
  private readonly following = new Map<number, Following>()
  /** embedded: the cell this process is running per study */
  private readonly runningHere = new Map<number, string>()
  private readonly cancelledHere = new Set<number>()

  constructor(private readonly host: StudyHost) {}

  private get db(): DB {
    return this.host.db
  }

  // ---- the grid -------------------------------------------------------------------------------------------------

  private load(id: number): Loaded {
    const row = this.db.prepare(`SELECT kind, settings FROM experiments WHERE id = ?`).get(id) as { kind: string; settings: string } | undefined
    if (!row) throw new InputError(`no study ${id}`)
    if (row.kind !== 'study') throw new InputError(`experiment ${id} is a ${row.kind}, not a study`)
    const s = (JSON.parse(row.settings) as { study: StudySettings }).study
    const cells = expandGrid(s.models.map((m, i) => ({ model: m, settings: s.modelSettings[i] })), s.phrases, s.lrs, s.restrict)
    return { id, s, cells }
  }

  // ---- run --------------------------------------------------------------------------------------------------------

  /**
   * Runs an opened study (kinds/study.ts): what an earlier submission left refused or failed is tried again; the cells
   * not yet recorded run here in order, or go to the queue at `queueUrl` (with its credentials, kept in memory only)
   * and are followed — until they are home when `follow`.
   */
  async run(st: Loaded, queueUrl: string | null, follow: boolean, opts?: CallOptions): Promise<StudyStatus> {
    const { id, cells } = st
    const recorded = recordedCells(this.db, id)
    const again = Object.keys(notedCells(this.db, id))
    if (again.length) clearNotes(this.db, id, again)
    settleStudy(this.db, id, cells.length)
    const todo = cells.filter((c) => !recorded.has(c.id))
    if (queueUrl === null) {
      await this.runEmbedded(st, todo, opts)
      return this.status({ id })
    }
    const q = this.queueFor(queueUrl)
    for (const c of again) await q.retry(c)
    await q.add(todo.map((c) => ({ id: c.id, job: c.job })))
    const f = this.follow(st, q)
    if (follow) await this.waitFollowing(id, f, cells.length, opts)
    return this.status({ id })
  }

  // ---- embedded -------------------------------------------------------------------------------------------------

  private async runEmbedded(st: Loaded, todo: GridCell[], opts?: CallOptions): Promise<void> {
    const total = st.cells.length
    let done = total - todo.length
    this.cancelledHere.delete(st.id)
    try {
      for (const cell of todo) {
        opts?.onProgress?.({ phase: 'study', done, total })
        if (opts?.signal?.aborted || this.cancelledHere.has(st.id)) throw new CancelledError()
        const model = st.s.models[cell.modelIndex]
        this.runningHere.set(st.id, cell.id)
        try {
          const t = this.host.target(model.checkpoint ? model.checkpoint.id : model.ref)
          const ctl = new AbortController()
          const onAbort = (): void => ctl.abort()
          opts?.signal?.addEventListener('abort', onAbort)
          const poll = setInterval(() => this.cancelledHere.has(st.id) && ctl.abort(), 100)
          try {
            const r = await computeCell(t.model.engine, t.base, cell.id, cell.job, hostname(), { signal: ctl.signal })
            recordCell(this.db, st.id, cell, model, r, 0, total)
          } finally {
            clearInterval(poll)
            opts?.signal?.removeEventListener('abort', onAbort)
          }
        } catch (e) {
          if (e instanceof CancelledError) {
            noteCell(this.db, st.id, cell.id, { state: 'cancelled', reason: 'cancelled', host: hostname() }, total)
            throw e
          }
          noteCell(this.db, st.id, cell.id, { state: 'failed', reason: describe(e), host: hostname() }, total)
        }
        done++
      }
      opts?.onProgress?.({ phase: 'study', done, total })
    } catch (e) {
      if (e instanceof CancelledError) this.markCancelled(st.id)
      throw e
    } finally {
      this.runningHere.delete(st.id)
    }
  }

  private markCancelled(id: number): void {
    this.db.prepare(`UPDATE experiments SET status = 'cancelled', finished_at = COALESCE(finished_at, ?), error = 'cancelled' WHERE id = ? AND status = 'running'`).run(nowIso(), id)
  }

  // ---- on a queue -----------------------------------------------------------------------------------------------

  private queueFor(url: string): CellQueue {
    let q = this.queues.get(url)
    if (!q) {
      q = new CellQueue(parseQueueUrl(url))
      this.queues.set(url, q)
    }
    return q
  }

  /** Follows the study's cells on its queue until each has come home (recorded, refused, failed or cancelled). */
  private follow(st: Loaded, q: CellQueue): Following {
    const old = this.following.get(st.id)
    if (old) return old
    const recorded = recordedCells(this.db, st.id)
    const noted = notedCells(this.db, st.id)
    const pending = new Set(st.cells.filter((c) => !recorded.has(c.id) && !noted[c.id]).map((c) => c.id))
    const byId = new Map(st.cells.map((c) => [c.id, c]))
    let finish = (): void => {}
    const done = new Promise<void>((resolve) => (finish = resolve))
    const f: Following = { queue: q, pending, running: new Map(), progress: new Map(), done, finish, timer: undefined as unknown as NodeJS.Timeout, busy: false }
    const look = async (cellId: string): Promise<void> => {
      if (!f.pending.has(cellId)) return
      const cell = byId.get(cellId)!
      const r = await q.look(cellId)
      if (r.state === 'completed') {
        const parsed = cellResultSchema.safeParse(r.result)
        if (!parsed.success || parsed.data.cell !== cellId) {
          noteCell(this.db, st.id, cellId, { state: 'failed', reason: 'the worker sent a result that does not follow the contract', host: null }, st.cells.length)
        } else recordCell(this.db, st.id, cell, st.s.models[cell.modelIndex], parsed.data, r.queuedMs ?? 0, st.cells.length)
        f.pending.delete(cellId)
        f.running.delete(cellId)
      } else if (r.state === 'failed') {
        noteCell(this.db, st.id, cellId, noteOf(r.reason, f.running.get(cellId) ?? null), st.cells.length)
        f.pending.delete(cellId)
        f.running.delete(cellId)
      } else if (r.state === 'active') {
        const p = r.progress as CellProgress | undefined
        if (p && typeof p.host === 'string') f.running.set(cellId, p.host.slice(0, 256))
        if (p && typeof p.phase === 'string')
          f.progress.set(cellId, `${p.phase.slice(0, 40)}${typeof p.done === 'number' && typeof p.total === 'number' ? ` ${p.done}/${p.total}` : ''}`)
      } else if (r.state === 'missing') {
        // lost (a Redis that restarted without persistence, a flush): added again — its id makes it the same job
        await q.add([{ id: cellId, job: cell.job }])
      } else f.running.delete(cellId)
    }
    const reconcile = async (): Promise<void> => {
      if (f.busy) return
      f.busy = true
      try {
        for (const c of [...f.pending]) await look(c)
      } catch {
        /* the queue is away (restarting): the next round asks again */
      } finally {
        f.busy = false
      }
      if (f.pending.size === 0) this.stopFollowing(st.id)
    }
    const onEvent = ({ jobId }: { jobId: string }): void => {
      const cellId = jobId.startsWith('cell-') ? jobId.slice(5) : ''
      if (f.pending.has(cellId)) look(cellId).catch(() => {}).finally(() => f.pending.size === 0 && this.stopFollowing(st.id))
    }
    q.events.on('completed', onEvent)
    q.events.on('failed', onEvent)
    q.events.on('progress', onEvent)
    f.finish = () => {
      q.events.off('completed', onEvent)
      q.events.off('failed', onEvent)
      q.events.off('progress', onEvent)
      finish()
    }
    f.timer = setInterval(() => void reconcile(), RECONCILE_MS)
    this.following.set(st.id, f)
    void reconcile()
    return f
  }

  private stopFollowing(id: number): void {
    const f = this.following.get(id)
    if (!f) return
    clearInterval(f.timer)
    this.following.delete(id)
    f.finish()
  }

  private async waitFollowing(id: number, f: Following, total: number, opts?: CallOptions): Promise<void> {
    const tick = setInterval(() => opts?.onProgress?.({ phase: 'study', done: total - f.pending.size, total }), 250)
    const aborted = new Promise<void>((resolve) => opts?.signal?.addEventListener('abort', () => resolve(), { once: true }))
    try {
      await Promise.race([f.done, aborted])
      if (opts?.signal?.aborted && this.following.has(id)) {
        await this.cancel({ id })
        throw new CancelledError()
      }
    } finally {
      clearInterval(tick)
    }
  }

  // ---- status, collect, cancel ----------------------------------------------------------------------------------

  status(ref: StudyRef): StudyStatus {
    const st = this.load(ref.id)
    const recorded = recordedCells(this.db, st.id)
    const noted = notedCells(this.db, st.id)
    const f = this.following.get(st.id)
    const here = this.runningHere.get(st.id)
    const cells: StudyCell[] = st.cells.map((c) => {
      const r = recorded.get(c.id)
      const n = noted[c.id]
      const runningOn = f?.running.get(c.id) ?? (here === c.id ? hostname() : undefined)
      const state: CellState = r ? 'done' : n ? n.state : runningOn ? 'running' : 'queued'
      return {
        id: c.id,
        index: c.index,
        model: st.s.models[c.modelIndex].name,
        fingerprint: c.job.model.fingerprint,
        prompt: c.job.prompt,
        phrase: c.job.phrase,
        state,
        host: r?.host ?? n?.host ?? runningOn ?? null,
        reason: n?.reason ?? null,
        ms: r?.ms ?? null,
        progress: state === 'running' ? (f?.progress.get(c.id) ?? null) : null,
      }
    })
    const counts = { queued: 0, running: 0, done: 0, refused: 0, failed: 0, cancelled: 0 } as Record<CellState, number>
    for (const c of cells) counts[c.state]++
    const hosts = new Map<string, { host: string; done: number; running: number; refused: number; ms: number[] }>()
    for (const c of cells) {
      if (!c.host) continue
      const h = hosts.get(c.host) ?? { host: c.host, done: 0, running: 0, refused: 0, ms: [] }
      if (c.state === 'done') {
        h.done++
        if (c.ms !== null) h.ms.push(c.ms)
      } else if (c.state === 'running') h.running++
      else if (c.state === 'refused') h.refused++
      hosts.set(c.host, h)
    }
    let status = (this.db.prepare('SELECT status FROM experiments WHERE id = ?').get(st.id) as { status: string }).status
    // cells without an outcome: a lab that ended mid-study left it settled from the runs it had (history/settle.ts);
    // on a queue the workers may still be at it, here nothing is until the study is started again
    if (counts.queued + counts.running > 0 && status !== 'running' && status !== 'cancelled') status = st.s.where === 'embedded' ? 'interrupted' : 'running'
    return {
      id: st.id,
      status,
      where: st.s.where,
      lrs: st.s.lrs,
      total: cells.length,
      counts,
      cells,
      workers: [...hosts.values()].map((h) => ({ host: h.host, done: h.done, running: h.running, refused: h.refused, meanMs: h.ms.length ? h.ms.reduce((a, b) => a + b, 0) / h.ms.length : null })),
      windows: studyWindows(this.db, st.id),
    }
  }

  /** Cells finished while the lab was not listening are fetched and recorded; then followed (until done if asked). */
  async collect(ref: StudyRef, opts?: CallOptions): Promise<StudyStatus> {
    const st = this.load(ref.id)
    if (st.s.where === 'embedded') return this.status(ref)
    if (!ref.queue) throw new InputError(`study ${st.id} ran on the queue at ${st.s.where}: give its address (with credentials, if any) to collect it`)
    const address = parseQueueUrl(ref.queue)
    if (address.redacted !== st.s.where) throw new InputError(`study ${st.id} ran on the queue at ${st.s.where}, not ${address.redacted}`)
    await checkReachable(address)
    const f = this.follow(st, this.queueFor(ref.queue))
    // one round of asking, then return what came home (the lab keeps listening while it is open)
    await new Promise((r) => setTimeout(r, 50))
    while (f.busy) await new Promise((r) => setTimeout(r, 50))
    if (opts?.signal?.aborted) throw new CancelledError()
    return this.status(ref)
  }

  async cancel(ref: StudyRef): Promise<StudyStatus> {
    const st = this.load(ref.id)
    if (st.s.where === 'embedded') {
      this.cancelledHere.add(st.id)
      if (!this.runningHere.has(st.id)) this.markCancelled(st.id)
      return this.status(ref)
    }
    const f = this.following.get(st.id)
    const q = f?.queue ?? (ref.queue ? this.queueFor(ref.queue) : null)
    if (!q) throw new InputError(`study ${st.id} runs on the queue at ${st.s.where}: give its address to cancel it`)
    const recorded = recordedCells(this.db, st.id)
    const noted = notedCells(this.db, st.id)
    const out = st.cells.filter((c) => !recorded.has(c.id) && !noted[c.id]).map((c) => c.id)
    const removed = await q.cancel(out)
    for (const c of removed) {
      noteCell(this.db, st.id, c, { state: 'cancelled', reason: 'cancelled while queued', host: null }, st.cells.length)
      f?.pending.delete(c)
    }
    // running cells stop at their next token; their workers report "cancelled", which the listener records
    if (f && f.pending.size === 0) this.stopFollowing(st.id)
    return this.status(ref)
  }

  async close(): Promise<void> {
    for (const id of [...this.following.keys()]) this.stopFollowing(id)
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()))
    this.queues.clear()
  }
}
