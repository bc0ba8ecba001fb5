// The lab host: runs the lab services (and through them the native engine and SQLite) away from the process that
// serves the UI — in a process of its own (`soliloquy serve`: child_process.fork; the desktop app: an Electron
// utility process, utilityLauncher.ts) or, where a fault may take everything down anyway, a worker thread. If the
// lab process dies (SIGKILL, a native abort), calls in flight are answered with what happened, its runs are marked
// failed with that reason, and a new lab process starts.
import { fork } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import type { LabEvent, MethodName, ProgressMessage } from '../../shared/api'
import type { LabBackend } from './dispatch'
import type { FromWorker, ToWorker, WorkerConfig } from './protocol'
import { frozenReason, labBudgetMs, Watchdog } from './watchdog'
import { LabCallError } from './errors'
import { JobRegistry, type JobCallOptions } from './jobs'

interface Pending {
  resolve: (v: unknown) => void
  reject: (e: Error) => void
  jobId?: string
  onProgress?: (p: ProgressMessage) => void
  onExperiment?: (experimentId: number) => void
  /** the call as posted (re-posted to a new lab if the stopped one never began it) */
  msg: ToWorker
  begun?: boolean
}

/** One running lab, however it is carried. */
export interface LabChannel {
  /** a process of its own (a fault there leaves this process running) or a thread of this one */
  readonly isolated: boolean
  /** the lab process's id (null: a thread, or not spawned yet) */
  readonly pid: number | null
  post(m: ToWorker): void
  onMessage(h: (m: FromWorker) => void): void
  /** the lab ended: exit code and/or signal (a thread has no signal) */
  onExit(h: (code: number | null, signal: string | null) => void): void
  kill(): void
}
export type LabLauncher = (config: WorkerConfig) => LabChannel

function builtEntry(file: string): string {
  const dirs = [__dirname, join(__dirname, '..')]
  // packaged app: workers load from the unpacked copy beside app.asar (build/electron-builder.yml asarUnpack)
  const unpacked = dirs.map((d) => d.replace(/app\.asar(?=[\\/]|$)/, 'app.asar.unpacked'))
  const candidates = [...unpacked.filter((d, i) => d !== dirs[i]), ...dirs].map((d) => join(d, file))
  return candidates.find((p) => existsSync(p)) ?? candidates[0]
}

/** The built worker: out/main/labWorker.js, beside the entry that loads it or one level up from a shared chunk. */
export function defaultWorkerPath(): string {
  return builtEntry('labWorker.js')
}
/** The built lab process entry: out/main/labProcess.js. */
export function defaultProcessPath(): string {
  return builtEntry('labProcess.js')
}

function requireBuilt(path: string): void {
  if (!existsSync(path)) throw new Error(`the lab is not built (${path}); run \`npm run build\``)
}

/** The lab in a worker thread of this process. */
export function threadLauncher(path = defaultWorkerPath()): LabLauncher {
  return (config) => {
    requireBuilt(path)
    const w = new Worker(path, { workerData: config })
    return {
      isolated: false,
      pid: null,
      post: (m) => w.postMessage(m),
      onMessage: (h) => w.on('message', h),
      onExit: (h) => {
        w.on('error', () => undefined) // reported through 'exit' (a thread cannot be signalled)
        w.on('exit', (code) => h(code, null))
      },
      kill: () => void w.terminate(),
    }
  }
}

/** The lab in a child process of this one (`soliloquy serve`), messages over the IPC channel. */
export function processLauncher(path = defaultProcessPath(), env: NodeJS.ProcessEnv = process.env): LabLauncher {
  return (config) => {
    requireBuilt(path)
    const child = fork(path, [], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' })
    child.on('error', () => undefined) // a failed send to a dying child: 'exit' follows and says what happened
    child.send({ type: 'config', config })
    return {
      isolated: true,
      get pid() {
        return child.pid ?? null
      },
      post: (m) => {
        if (child.connected) child.send(m)
      },
      onMessage: (h) => child.on('message', (m) => h(m as FromWorker)),
      onExit: (h) => child.on('exit', (code, signal) => h(code, signal)),
      kill: () => void child.kill('SIGKILL'),
    }
  }
}

export class LabHost implements LabBackend {
  private lab: LabChannel | null = null
  private nextId = 1
  private pending = new Map<number, Pending>()
  private closing = false
  /** set when a lab process died: the next one marks its runs failed with this reason */
  private crashed: { pid: number; reason: string } | undefined
  /** how many times a lab process died and was restarted (tests, status) */
  restarts = 0
  private readonly listeners = new Set<(e: LabEvent) => void>()
  /** labs stopped by the watchdog: their exit is not reported again */
  private readonly abandoned = new WeakSet<LabChannel>()
  /** the method of the call the lab began last (named when it stops answering) */
  private lastBegun: string | undefined

  private readonly launch: LabLauncher
  /** the lab's jobs, whoever started them (jobs.ts): they outlive connections and lab processes' restarts */
  readonly jobs: JobRegistry = new JobRegistry({ call: (m, a, o) => this.callLab(m, a, o), cancel: (j) => this.cancelLab(j) })

  /** `launch`: how the lab runs (default a worker thread); a string is the path of a built worker (tests). */
  constructor(
    private readonly config: WorkerConfig,
    launch: LabLauncher | string = threadLauncher(),
  ) {
    this.launch = typeof launch === 'string' ? threadLauncher(launch) : launch
  }

  /** The lab's process id (null: a worker thread, or not started). */
  get pid(): number | null {
    return this.lab?.pid ?? null
  }

  private ensure(): LabChannel {
    if (this.lab) return this.lab
    const config: WorkerConfig = { ...this.config, crashed: this.crashed, generation: this.restarts }
    this.crashed = undefined
    const lab = this.launch(config)
    let ready = false
    // a lab of its own process that stops answering is stopped (watchdog.ts); a thread cannot be
    const busy = (): boolean => ready && !this.closing && this.lab === lab && this.pending.size > 0
    const dog: Watchdog | undefined = lab.isolated ? new Watchdog(labBudgetMs(), busy, () => this.frozen(lab, dog!)) : undefined
    lab.onMessage((m) => {
      if (this.abandoned.has(lab)) return // what a stopped lab had still queued
      dog?.alive()
      if (m.type === 'ready') ready = true
      this.onMessage(m)
    })
    lab.onExit((code, signal) => {
      dog?.stop()
      if (this.lab === lab) this.lab = null
      if (this.closing || this.abandoned.has(lab)) return
      if (!lab.isolated || lab.pid === null) {
        this.failAll(`the lab stopped unexpectedly (exit code ${code}); it restarts on the next call`)
        return
      }
      const how = signal ? `signal ${signal}` : `exit code ${code}`
      const reason = `the engine process stopped (${how}) — the run was marked failed`
      this.crashed = { pid: lab.pid, reason }
      this.failAll(reason)
      this.restarts++
      // a new lab process at once (it marks the dead one's runs failed as it opens the history) — unless this one
      // never got as far as opening the lab: then the next call starts it, so a lab that cannot start does not loop
      if (!ready) return
      try {
        this.ensure()
      } catch {
        /* not built any more: the next call says so */
      }
    })
    this.lab = lab
    return lab
  }

  private onMessage(m: FromWorker): void {
    if (m.type === 'begin') {
      const p = this.pending.get(m.id)
      if (p) p.begun = true
      if (p?.msg.type === 'call') this.lastBegun = p.msg.method
    } else if (m.type === 'progress') {
      const p = this.pending.get(m.id)
      if (p?.jobId && p.onProgress) p.onProgress({ jobId: p.jobId, phase: m.phase, done: m.done, total: m.total })
    } else if (m.type === 'experiment') {
      this.pending.get(m.id)?.onExperiment?.(m.experimentId)
    } else if (m.type === 'result') {
      const p = this.pending.get(m.id)
      if (!p) return
      this.pending.delete(m.id)
      if (m.ok) p.resolve(m.result)
      else p.reject(new LabCallError(m.message, m.kind, m.fields))
    } else if (m.type === 'event') {
      for (const cb of this.listeners) cb(m.event)
    } else if (m.type === 'fatal') {
      this.failAll(m.message)
    }
  }

  /**
   * The lab stopped answering with calls in flight: stop its process, answer the calls it had begun with the reason,
   * and give the ones it never began to a new lab process (its runs are marked failed as after a crash).
   */
  private frozen(lab: LabChannel, dog: Watchdog): void {
    const reason = frozenReason(dog.budgetMs, this.lastBegun)
    this.abandoned.add(lab)
    if (this.lab === lab) this.lab = null
    if (lab.pid !== null) this.crashed = { pid: lab.pid, reason }
    this.restarts++
    lab.kill()
    for (const [id, p] of this.pending) {
      if (!p.begun) continue
      this.pending.delete(id)
      p.reject(new Error(reason))
    }
    try {
      const next = this.ensure()
      for (const p of this.pending.values()) next.post(p.msg)
    } catch (e) {
      this.failAll(e instanceof Error ? e.message : String(e))
    }
  }

  private failAll(message: string): void {
    for (const p of this.pending.values()) p.reject(new Error(message))
    this.pending.clear()
  }

  /** A call from a router: the jobs methods are answered here, a call with a job id becomes one of the lab's jobs. */
  call(method: MethodName, args: unknown, opts: { jobId?: string; onProgress?: (p: ProgressMessage) => void } = {}): Promise<unknown> {
    return this.jobs.call(method, args, opts)
  }

  private callLab(method: MethodName, args: unknown, opts: JobCallOptions): Promise<unknown> {
    if (this.closing) return Promise.reject(new Error('the lab is shutting down'))
    let lab: LabChannel
    try {
      lab = this.ensure()
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)))
    }
    const id = this.nextId++
    const msg: ToWorker = { type: 'call', id, method, args, jobId: opts.jobId }
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, jobId: opts.jobId, onProgress: opts.onProgress, onExperiment: opts.onExperiment, msg })
      lab.post(msg)
    })
  }

  /** Lab events (a run or an experiment changed), for every client; returns the unsubscribe. */
  onEvent(cb: (e: LabEvent) => void): () => void {
    this.listeners.add(cb)
    return () => this.listeners.delete(cb)
  }

  /** Cancels one of the lab's jobs (any client may: cancel is explicit, closing a window is not a cancel). */
  cancel(jobId: string): void {
    this.jobs.cancel(jobId)
  }

  private cancelLab(jobId: string): void {
    this.lab?.post({ type: 'cancel', jobId })
  }

  /** Closes the lab (database, engines) and stops its thread or process. */
  async close(timeoutMs = 5000): Promise<void> {
    this.closing = true
    const lab = this.lab
    if (!lab) return
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        lab.kill()
        resolve()
      }, timeoutMs)
      lab.onExit(() => {
        clearTimeout(t)
        resolve()
      })
      lab.post({ type: 'close' })
    })
    this.failAll('the lab was closed')
    this.lab = null
  }
}
