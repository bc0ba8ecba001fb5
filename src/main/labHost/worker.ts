// The lab worker: owns the lab services (SQLite history, checkpoints, engines) on its own thread. Receives validated
// calls from the host, answers with plain JSON, pushes progress (throttled) and honours cancellation per job.
import { parentPort, workerData } from 'node:worker_threads'
import { errorMessage } from '../../shared/api'
import { createLabAdapter, LabAdapter } from './labAdapter'
import type { FromWorker, ToWorker, WorkerConfig } from './protocol'

const port = parentPort
if (!port) throw new Error('labWorker must run in a worker thread')

const post = (m: FromWorker): void => port.postMessage(m)
const jobs = new Map<string, AbortController>()
let lab: LabAdapter | null = null
let fatal: string | null = null

try {
  lab = createLabAdapter(workerData as WorkerConfig)
  lab.onEvent((event) => post({ type: 'event', event }))
  post({ type: 'ready' })
} catch (e) {
  fatal = errorMessage(e)
  post({ type: 'fatal', message: fatal })
}

/** Progress from the native engine can come per token: forward at most every 50 ms, plus every phase change. */
function throttled(id: number): (p: { phase: string; done: number; total: number }) => void {
  let last = 0
  let lastPhase = ''
  return (p) => {
    const now = Date.now()
    if (p.phase !== lastPhase || p.done >= p.total || now - last >= 50) {
      last = now
      lastPhase = p.phase
      post({ type: 'progress', id, phase: p.phase, done: p.done, total: p.total })
    }
  }
}

port.on('message', (m: ToWorker) => {
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
        process.exit(0)
      })
    return
  }
  if (m.type !== 'call') return
  const { id, method, args, jobId } = m
  if (!lab) {
    post({ type: 'result', id, ok: false, message: fatal ?? 'the lab is not available' })
    return
  }
  const ctl = new AbortController()
  if (jobId) jobs.get(jobId)?.abort()
  if (jobId) jobs.set(jobId, ctl)
  lab
    .call(method, args, { signal: ctl.signal, onProgress: jobId ? throttled(id) : undefined })
    .then(
      (result) => post({ type: 'result', id, ok: true, result: JSON.parse(JSON.stringify(result ?? null)) as unknown }),
      (e: unknown) => post({ type: 'result', id, ok: false, message: errorMessage(e) }),
    )
    .finally(() => {
      if (jobId && jobs.get(jobId) === ctl) jobs.delete(jobId)
    })
})
