// The lab host: runs the lab services (and through them the native engine and SQLite) in a worker thread so neither
// the Electron main process nor the serve process ever waits on them. Used by both the window and `soliloquy serve`.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import type { LabEvent, MethodName, ProgressMessage } from '../../shared/api'
import type { LabBackend } from './dispatch'
import type { FromWorker, ToWorker, WorkerConfig } from './protocol'

interface Pending {
  resolve: (v: unknown) => void
  reject: (e: Error) => void
  jobId?: string
  onProgress?: (p: ProgressMessage) => void
}

/** The built worker: out/main/labWorker.js, beside the entry that loads it or one level up from a shared chunk. */
export function defaultWorkerPath(): string {
  const dirs = [__dirname, join(__dirname, '..')]
  // packaged app: workers load from the unpacked copy beside app.asar (build/electron-builder.yml asarUnpack)
  const unpacked = dirs.map((d) => d.replace(/app\.asar(?=[\\/]|$)/, 'app.asar.unpacked'))
  const candidates = [...unpacked.filter((d, i) => d !== dirs[i]), ...dirs].map((d) => join(d, 'labWorker.js'))
  return candidates.find((p) => existsSync(p)) ?? candidates[0]
}

export class LabHost implements LabBackend {
  private worker: Worker | null = null
  private nextId = 1
  private pending = new Map<number, Pending>()
  private closing = false
  private readonly listeners = new Set<(e: LabEvent) => void>()

  constructor(
    private readonly config: WorkerConfig,
    private readonly workerPath = defaultWorkerPath(),
  ) {}

  private ensure(): Worker {
    if (this.worker) return this.worker
    if (!existsSync(this.workerPath)) throw new Error(`the lab worker is not built (${this.workerPath}); run \`npm run build\``)
    const w = new Worker(this.workerPath, { workerData: this.config })
    w.on('message', (m: FromWorker) => this.onMessage(m))
    w.on('error', (e) => this.failAll(`the lab stopped: ${e.message.split('\n')[0]}`))
    w.on('exit', (code) => {
      if (this.worker === w) this.worker = null
      if (!this.closing) this.failAll(`the lab stopped unexpectedly (exit code ${code}); it restarts on the next call`)
    })
    this.worker = w
    return w
  }

  private onMessage(m: FromWorker): void {
    if (m.type === 'progress') {
      const p = this.pending.get(m.id)
      if (p?.jobId && p.onProgress) p.onProgress({ jobId: p.jobId, phase: m.phase, done: m.done, total: m.total })
    } else if (m.type === 'result') {
      const p = this.pending.get(m.id)
      if (!p) return
      this.pending.delete(m.id)
      if (m.ok) p.resolve(m.result)
      else p.reject(new Error(m.message))
    } else if (m.type === 'event') {
      for (const cb of this.listeners) cb(m.event)
    } else if (m.type === 'fatal') {
      this.failAll(m.message)
    }
  }

  private failAll(message: string): void {
    for (const p of this.pending.values()) p.reject(new Error(message))
    this.pending.clear()
  }

  call(method: MethodName, args: unknown, opts: { jobId?: string; onProgress?: (p: ProgressMessage) => void } = {}): Promise<unknown> {
    if (this.closing) return Promise.reject(new Error('the lab is shutting down'))
    const w = this.ensure()
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, jobId: opts.jobId, onProgress: opts.onProgress })
      const msg: ToWorker = { type: 'call', id, method, args, jobId: opts.jobId }
      w.postMessage(msg)
    })
  }

  /** Lab events (a run or an experiment changed), for every client; returns the unsubscribe. */
  onEvent(cb: (e: LabEvent) => void): () => void {
    this.listeners.add(cb)
    return () => this.listeners.delete(cb)
  }

  cancel(jobId: string): void {
    const msg: ToWorker = { type: 'cancel', jobId }
    this.worker?.postMessage(msg)
  }

  /** Closes the lab (database, engines) and stops the worker. */
  async close(timeoutMs = 5000): Promise<void> {
    this.closing = true
    const w = this.worker
    if (!w) return
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        void w.terminate().then(() => resolve())
      }, timeoutMs)
      w.once('exit', () => {
        clearTimeout(t)
        resolve()
      })
      const msg: ToWorker = { type: 'close' }
      w.postMessage(msg)
    })
    this.failAll('the lab was closed')
    this.worker = null
  }
}
