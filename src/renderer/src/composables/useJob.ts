// One job's state in the renderer, for every store and view that runs a long call (the Lab's sweep, Compare, the
// instruments, an export): whether it runs, its progress and ETA, its cancel, its outcome, and its error with the
// contract's kind (decide on the kind, never on the words). A job belongs to the lab, not to this page (issue 23):
// a reloaded page attaches to a running one (attach) and gets its progress and result as if it had started it.
import { computed, ref, shallowRef } from 'vue'
import type { ApiRequest, ApiResponse, ErrorKind, JobInfo, MethodName, ProgressMessage } from '@shared/api'
import { api, ApiError, messageOf, newJobId } from '../api/client'

export type JobOutcome = 'done' | 'cancelled' | 'failed'

export function useJob() {
  /** the method running (null: nothing runs) */
  const kind = ref<MethodName | null>(null)
  const jobId = ref<string | null>(null)
  /** the id of the running or last job (kept after it ends: its experiment and runs can be looked up by it) */
  const lastJobId = ref<string | null>(null)
  const running = computed(() => jobId.value !== null)
  const progress = ref<ProgressMessage | null>(null)
  /** remaining time of the current phase at its rate so far, ms (null: not measurable yet) */
  const etaMs = ref<number | null>(null)
  /** the request of the running (or last) job: a reattached page shows the job's own settings */
  const request = shallowRef<Record<string, unknown> | null>(null)
  /** the experiment it writes (eN), when known (an attached job's, from the lab's job list) */
  const experimentId = ref<number | null>(null)
  const outcome = ref<JobOutcome | null>(null)
  /** the last failure (null when done or cancelled): words and the contract's kind */
  const failure = shallowRef<ApiError | null>(null)
  const error = computed(() => failure.value?.message ?? null)
  const errorKind = computed<ErrorKind | null>(() => failure.value?.kind ?? null)
  /** set by a job that was attached to, not started here */
  const attached = ref(false)

  let phaseStart = 0
  function onProgress(p: ProgressMessage): void {
    const now = Date.now()
    const prev = progress.value
    if (!prev || prev.phase !== p.phase || p.done < prev.done) phaseStart = now
    progress.value = p
    const elapsed = now - phaseStart
    etaMs.value = p.done > 0 && p.total > p.done && elapsed > 0 ? Math.round((elapsed * (p.total - p.done)) / p.done) : null
  }

  function begin(method: MethodName, id: string, args: unknown): void {
    kind.value = method
    jobId.value = id
    lastJobId.value = id
    progress.value = null
    etaMs.value = null
    outcome.value = null
    failure.value = null
    phaseStart = Date.now()
    request.value = args && typeof args === 'object' ? (args as Record<string, unknown>) : null
  }

  async function settle<T>(f: () => Promise<T>): Promise<T | null> {
    try {
      const r = await f()
      outcome.value = 'done'
      return r
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError(messageOf(e))
      outcome.value = err.kind === 'cancelled' ? 'cancelled' : 'failed'
      failure.value = err.kind === 'cancelled' ? null : err
      return null
    } finally {
      jobId.value = null
      kind.value = null
    }
  }

  /** Starts `method` as a job of the lab; its result, or null (then outcome and error say why). One at a time. */
  async function run<M extends MethodName>(method: M, args: ApiRequest<M>): Promise<ApiResponse<M> | null> {
    if (running.value) return null
    const id = newJobId(method)
    begin(method, id, args)
    attached.value = false
    experimentId.value = null
    return settle(() => api().call(method, args, { jobId: id, onProgress }))
  }

  /** Attaches to a job of the lab (from the `jobs` list): its progress from now on, then its result or its error. */
  async function attach<M extends MethodName>(info: JobInfo): Promise<ApiResponse<M> | null> {
    if (running.value) return null
    begin(info.kind as MethodName, info.jobId, info.request)
    attached.value = true
    experimentId.value = info.experimentId
    if (info.progress) onProgress({ jobId: info.jobId, ...info.progress })
    return settle(async () => {
      const o = await api().call('attachJob', { jobId: info.jobId }, { jobId: info.jobId, onProgress })
      return o.result as ApiResponse<M>
    })
  }

  /** Asks the lab to cancel it (the call then ends with outcome 'cancelled'). */
  async function cancel(): Promise<void> {
    if (jobId.value) await api().cancel(jobId.value)
  }

  return { kind, jobId, lastJobId, running, progress, etaMs, request, experimentId, outcome, failure, error, errorKind, attached, run, attach, cancel }
}

export type Job = ReturnType<typeof useJob>

/** The lab's jobs (running first, then the recently finished); none when the lab cannot be reached. */
export async function labJobs(): Promise<JobInfo[]> {
  try {
    return await api().call('jobs', {})
  } catch {
    return []
  }
}

/** The lab's running jobs of these kinds, oldest first. */
export async function runningJobs(kinds: MethodName[]): Promise<JobInfo[]> {
  return (await labJobs()).filter((j) => j.state === 'running' && (kinds as string[]).includes(j.kind))
}
