// The lab's jobs (issue 23): a long call given a job id belongs to the lab, not to the connection that made it.
// Closing or reloading a window leaves it running; any window lists the jobs (running, and finished a short while
// ago: JOB_RETENTION) and attaches to one — its progress from then on, then its result or its error; cancel is
// explicit and allowed from any client.
//
// Why here, in the lab host: the host is the one object every transport shares (Electron's IPC router, each
// WebSocket connection of `soliloquy serve`), it lives above the lab process (which may die and be restarted, taking
// its state with it) and below the connections (which come and go). The lab itself stays unaware of who watches.
import {
  JOB_RETENTION,
  methods,
  type CallError,
  type JobInfo,
  type JobOutcome,
  type JobState,
  type MethodName,
  type ProgressMessage,
} from '../../shared/api'
import { callError, LabCallError } from './errors'

export interface JobCallOptions {
  jobId?: string
  onProgress?: (p: ProgressMessage) => void
  /** the lab opened the experiment this call writes (eN) */
  onExperiment?: (experimentId: number) => void
}

/** What the registry runs jobs on: the lab process behind the host. */
export interface JobRunner {
  call(method: MethodName, args: unknown, opts: JobCallOptions): Promise<unknown>
  cancel(jobId: string): void
}

interface Job {
  jobId: string
  kind: MethodName
  request: Record<string, unknown>
  state: JobState
  startedAt: number
  finishedAt: number | null
  progress: { phase: string; done: number; total: number } | null
  /** when the current phase began (its rate gives the ETA) */
  phaseStartedAt: number
  experimentId: number | null
  /** the result as the method's schema gives it (done) */
  result?: unknown
  error: CallError | null
  /** whoever started or attached: progress goes to each */
  listeners: Set<(p: ProgressMessage) => void>
  /** attached calls waiting for the outcome */
  waiting: { resolve: (o: JobOutcome) => void; reject: (e: Error) => void }[]
}

export class JobRegistry {
  private readonly jobs = new Map<string, Job>()

  constructor(
    private readonly runner: JobRunner,
    private readonly now: () => number = Date.now,
  ) {}

  /** Answers the host's own methods (jobs, attachJob); every other call runs on the lab, as a job when it has an id. */
  call(method: MethodName, args: unknown, opts: { jobId?: string; onProgress?: (p: ProgressMessage) => void } = {}): Promise<unknown> {
    if (method === 'jobs') return Promise.resolve(this.list())
    if (method === 'attachJob') return this.attach(String((args as { jobId?: unknown } | null)?.jobId), opts.onProgress)
    if (!opts.jobId) return this.runner.call(method, args, opts)
    return this.start(method, args, opts.jobId, opts.onProgress)
  }

  cancel(jobId: string): void {
    if (this.jobs.get(jobId)?.state === 'running') this.runner.cancel(jobId)
  }

  /** Running jobs first (oldest first), then the finished ones still kept (newest first). */
  list(): JobInfo[] {
    this.prune()
    const all = [...this.jobs.values()]
    const running = all.filter((j) => j.state === 'running').sort((a, b) => a.startedAt - b.startedAt)
    const finished = all.filter((j) => j.state !== 'running').sort((a, b) => (b.finishedAt ?? 0) - (a.finishedAt ?? 0))
    return [...running, ...finished].map((j) => this.info(j))
  }

  /** The jobs still running (the app asks before quitting while there are any). */
  running(): JobInfo[] {
    return this.list().filter((j) => j.state === 'running')
  }

  private start(kind: MethodName, args: unknown, jobId: string, onProgress?: (p: ProgressMessage) => void): Promise<unknown> {
    if (this.jobs.get(jobId)?.state === 'running')
      return Promise.reject(new LabCallError('a job with this id is still running; give the new call another job id (or cancel the first)', 'input'))
    const t = this.now()
    const job: Job = {
      jobId,
      kind,
      request: args && typeof args === 'object' ? { ...(args as Record<string, unknown>) } : {},
      state: 'running',
      startedAt: t,
      finishedAt: null,
      progress: null,
      phaseStartedAt: t,
      experimentId: null,
      error: null,
      listeners: new Set(onProgress ? [onProgress] : []),
      waiting: [],
    }
    this.jobs.set(jobId, job)
    this.prune()
    const p = this.runner.call(kind, args, {
      jobId,
      onProgress: (m) => this.progressed(job, m),
      onExperiment: (id) => {
        job.experimentId ??= id
      },
    })
    p.then(
      (result) => this.settle(job, { result }),
      (e: unknown) => this.settle(job, { error: callError(e) }),
    )
    // the caller that started it gets the lab's answer as before (the router checks it against the contract)
    return p
  }

  private progressed(job: Job, m: ProgressMessage): void {
    const t = this.now()
    const prev = job.progress
    if (!prev || prev.phase !== m.phase || m.done < prev.done) job.phaseStartedAt = t
    job.progress = { phase: m.phase, done: m.done, total: m.total }
    for (const l of job.listeners) l({ ...m, jobId: job.jobId })
  }

  private settle(job: Job, o: { result: unknown } | { error: CallError }): void {
    job.finishedAt = this.now()
    job.listeners.clear()
    if ('result' in o) {
      // kept as the method's schema gives it, so an attached window gets exactly what the starter got
      const r = methods[job.kind].res.safeParse(o.result)
      if (r.success) {
        job.state = 'done'
        job.result = r.data
      } else {
        job.state = 'failed'
        job.error = { message: `${job.kind}: the lab answered in an unexpected shape`, kind: 'internal' }
      }
    } else {
      job.state = o.error.kind === 'cancelled' ? 'cancelled' : 'failed'
      job.error = o.error
    }
    const waiting = job.waiting.splice(0)
    for (const w of waiting) this.answer(job, w)
  }

  private answer(job: Job, w: Job['waiting'][number]): void {
    if (job.state === 'done') w.resolve({ jobId: job.jobId, kind: job.kind, result: job.result })
    else if (job.error) w.reject(new LabCallError(job.error.message, job.error.kind, job.error.fields))
  }

  private attach(jobId: string, onProgress?: (p: ProgressMessage) => void): Promise<JobOutcome> {
    this.prune()
    const job = this.jobs.get(jobId)
    if (!job)
      return Promise.reject(
        new LabCallError(`no job ${jobId} in the lab: it never ran here, or it finished more than ${JOB_RETENTION.ms / 60_000} minutes ago (its runs are in History)`, 'input', ['jobId']),
      )
    return new Promise<JobOutcome>((resolve, reject) => {
      if (job.state !== 'running') return this.answer(job, { resolve, reject })
      if (onProgress) {
        job.listeners.add(onProgress)
        // where it is now, at once: a reattaching window shows the bar before the next report
        if (job.progress) onProgress({ jobId, ...job.progress })
      }
      job.waiting.push({ resolve, reject })
    })
  }

  private info(j: Job): JobInfo {
    const t = this.now()
    const p = j.progress
    const running = j.state === 'running'
    const phaseMs = t - j.phaseStartedAt
    const etaMs = running && p && p.done > 0 && p.total > p.done && phaseMs > 0 ? Math.round((phaseMs * (p.total - p.done)) / p.done) : null
    const model = j.request.model
    return {
      jobId: j.jobId,
      kind: j.kind,
      model: typeof model === 'string' ? model : null,
      request: j.request,
      state: j.state,
      startedAt: new Date(j.startedAt).toISOString(),
      elapsedMs: (j.finishedAt ?? t) - j.startedAt,
      progress: p,
      etaMs,
      experimentId: j.experimentId,
      finishedAt: j.finishedAt === null ? null : new Date(j.finishedAt).toISOString(),
      error: j.error,
    }
  }

  /** Drops finished jobs older than JOB_RETENTION.ms, and beyond the newest JOB_RETENTION.count. */
  private prune(): void {
    const t = this.now()
    const finished = [...this.jobs.values()].filter((j) => j.finishedAt !== null).sort((a, b) => (b.finishedAt ?? 0) - (a.finishedAt ?? 0))
    finished.forEach((j, i) => {
      if (i >= JOB_RETENTION.count || t - (j.finishedAt ?? t) > JOB_RETENTION.ms) this.jobs.delete(j.jobId)
    })
  }
}
