// The lab's side of the host protocol, whatever carries it: a worker thread (worker.ts), a child process of
// `soliloquy serve` or an Electron utility process (labProcess.ts). Receives validated calls, answers with plain
// JSON, pushes progress (throttled) and honours cancellation per job.
import { AsyncLocalStorage } from 'node:async_hooks'
import { errorMessage } from '../../shared/api'
import { callError } from './errors'
import { createLabAdapter, LabAdapter } from './labAdapter'
import type { FromWorker, ToWorker, WorkerConfig } from './protocol'
import { startHeartbeat } from './watchdog'

export interface LabPort {
  post(m: FromWorker): void
  onMessage(handler: (m: ToWorker) => void): void
  /** ends this thread or process once the lab is closed */
  exit(): void
}

/**
 * Test hook, honoured only in the separate lab process (labProcess.ts): SOLILOQUY_TEST_ABORT_AFTER=N calls
 * process.abort() — a native abort, SIGABRT, as a failed assertion in the engine would — at the N-th progress event,
 * in a host's first lab process only (so the restarted one can show the recovery). test/lab-isolation.test.ts uses
 * it to show that the server survives its lab process dying mid-sweep. Unset, it does nothing.
 */
export function testAbortHook(env: NodeJS.ProcessEnv, config: WorkerConfig): (() => void) | undefined {
  const n = Number(env.SOLILOQUY_TEST_ABORT_AFTER)
  if (!Number.isInteger(n) || n <= 0 || (config.generation ?? 0) > 0) return undefined
  let seen = 0
  return () => {
    if (++seen >= n) process.abort()
  }
}

/**
 * Test hook, honoured only in the separate lab process (labProcess.ts): SOLILOQUY_TEST_BLOCK=METHOD blocks the lab's
 * thread for ever when a call of METHOD begins — as a read of a FIFO nobody writes would — in a host's first lab
 * process only. test/lab-budget.test.ts uses it to show the host's watchdog stopping a lab that stopped answering.
 */
export function testBlockHook(env: NodeJS.ProcessEnv, config: WorkerConfig): ((method: string) => void) | undefined {
  const method = env.SOLILOQUY_TEST_BLOCK
  if (!method || (config.generation ?? 0) > 0) return undefined
  return (m) => {
    if (m === method) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0)
  }
}

export function runLab(port: LabPort, config: WorkerConfig, onProgressEvent?: () => void, beforeCall?: (method: string) => void): void {
  const post = port.post
  const jobs = new Map<string, AbortController>()
  let lab: LabAdapter | null = null
  let fatal: string | null = null

  /** the call whose work is running now: an experiment created inside it is the one its job writes */
  const callOf = new AsyncLocalStorage<number>()
  try {
    lab = createLabAdapter(config)
    // lab events (a run or an experiment changed) go to every client through the host
    lab.onEvent((event) => {
      const id = callOf.getStore()
      if (id !== undefined && event.type === 'experiment' && event.change === 'created') post({ type: 'experiment', id, experimentId: event.id })
      post({ type: 'event', event })
    })
    post({ type: 'ready' })
    startHeartbeat(post)
  } catch (e) {
    fatal = errorMessage(e)
    post({ type: 'fatal', message: fatal })
  }

  /** Progress from the native engine can come per token: forward at most every 50 ms, plus every phase change. */
  const throttled = (id: number): ((p: { phase: string; done: number; total: number }) => void) => {
    let last = 0
    let lastPhase = ''
    return (p) => {
      onProgressEvent?.()
      const now = Date.now()
      if (p.phase !== lastPhase || p.done >= p.total || now - last >= 50) {
        last = now
        lastPhase = p.phase
        post({ type: 'progress', id, phase: p.phase, done: p.done, total: p.total })
      }
    }
  }

  port.onMessage((m: ToWorker) => {
    if (m.type === 'cancel') {
      jobs.get(m.jobId)?.abort()
      return
    }
    if (m.type === 'close') {
      for (const c of jobs.values()) c.abort()
      Promise.resolve(lab?.close())
        .catch(() => undefined)
        .finally(() => {
          post({ type: 'closed' })
          port.exit()
        })
      return
    }
    if (m.type !== 'call') return
    const { id, method, args, jobId } = m
    if (!lab) {
      post({ type: 'result', id, ok: false, message: fatal ?? 'the lab is not available', kind: 'internal' })
      return
    }
    // a job id names one running job: reusing it must not cancel (or hide) the first one
    if (jobId && jobs.has(jobId)) {
      post({ type: 'result', id, ok: false, message: 'a job with this id is still running; give the new call another job id (or cancel the first)', kind: 'input' })
      return
    }
    const ctl = new AbortController()
    if (jobId) jobs.set(jobId, ctl)
    post({ type: 'begin', id })
    beforeCall?.(method)
    const adapter = lab
    callOf
      .run(id, () => adapter.call(method, args, { signal: ctl.signal, onProgress: jobId ? throttled(id) : undefined }))
      .then(
        (result) => post({ type: 'result', id, ok: true, result: JSON.parse(JSON.stringify(result ?? null)) as unknown }),
        (e: unknown) => post({ type: 'result', id, ok: false, ...callError(e) }),
      )
      .finally(() => {
        if (jobId && jobs.get(jobId) === ctl) jobs.delete(jobId)
      })
  })
}
