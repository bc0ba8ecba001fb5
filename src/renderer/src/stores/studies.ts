import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import type { ExperimentSummary, ProgressMessage, RunRecord, StudyStatus } from '@shared/api'
import { api, ApiError, messageOf, newJobId } from '../api/client'

/** A metric the study's heatmap shows. */
export type StudyMetric = 'recall' | 'stabilityKl' | 'repetition'

/**
 * Studies (issue 24): create one (embedded, or on a queue of workers), follow its cells and workers, cancel it, and
 * its runs for the heatmap and the table. The queue's address (it may carry a password) lives only in this page's
 * memory: never stored by the page, and the lab stores only its form without credentials.
 */
export const useStudiesStore = defineStore('studies', () => {
  const phrases = ref('')
  const prompts = ref('')
  const lrs = ref('0.001, 0.003, 0.01, 0.03')
  const models = ref<(string | null)[]>([null])
  const queue = ref('')
  const list = ref<ExperimentSummary[]>([])
  const current = ref<StudyStatus | null>(null)
  const runs = ref<RunRecord[]>([])
  const error = ref<string | null>(null)
  const running = ref(false)
  const progress = ref<ProgressMessage | null>(null)
  const metric = ref<StudyMetric>('recall')
  let job: string | null = null
  /** studies on a queue this page asked the lab to follow again */
  const collected = new Set<number>()
  let timer: ReturnType<typeof setInterval> | null = null

  const lines = (t: string): string[] => t.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
  const lrList = computed(() => lrs.value.split(/[,\s]+/).filter(Boolean).map(Number))
  const problem = computed<string | null>(() => {
    if (!lines(phrases.value).length) return 'give at least one phrase (one per line)'
    if (!lrList.value.length || lrList.value.some((x) => !Number.isFinite(x) || x < 0)) return 'step sizes: finite numbers ≥ 0, separated by commas'
    if (queue.value.trim() && !/^rediss?:\/\/\S+$/.test(queue.value.trim())) return 'the queue is redis://[user:pass@]HOST:PORT[/db]'
    return null
  })

  async function refreshList(): Promise<void> {
    try {
      list.value = (await api().call('experiments', { kind: 'study', limit: 50 })).experiments
    } catch (e) {
      error.value = messageOf(e)
    }
  }

  async function show(id: number): Promise<void> {
    try {
      const q = queue.value.trim()
      current.value = await api().call('studyStatus', { id, ...(q ? { queue: q } : {}) })
      // a study on a queue from an earlier session: the lab follows it again (and fetches what finished meanwhile)
      if (q && current.value.status === 'running' && current.value.where !== 'embedded' && !collected.has(id)) {
        collected.add(id)
        current.value = await api().call('studyCollect', { id, queue: q })
      }
      runs.value = (await api().call('experiment', { id })).runs
    } catch (e) {
      error.value = messageOf(e)
    }
  }

  function watch(): void {
    stopWatching()
    timer = setInterval(async () => {
      if (current.value === null) {
        // an embedded study answers when every cell is done: find it meanwhile, to show its cells as they come
        const newest = (await api().call('experiments', { kind: 'study', limit: 1 })).experiments[0]
        if (newest && newest.status === 'running') await show(newest.id)
        return
      }
      await show(current.value.id)
      if (current.value && current.value.status !== 'running' && !running.value) {
        stopWatching()
        await refreshList()
      }
    }, 700)
  }

  function stopWatching(): void {
    if (timer) clearInterval(timer)
    timer = null
  }

  async function create(): Promise<void> {
    if (problem.value) return
    error.value = null
    current.value = null
    runs.value = []
    running.value = true
    job = newJobId('study')
    const q = queue.value.trim()
    watch()
    try {
      const s = await api().call(
        'study',
        {
          phrases: lines(phrases.value),
          ...(lines(prompts.value).length ? { prompts: lines(prompts.value) } : {}),
          lrs: lrList.value,
          models: models.value,
          ...(q ? { queue: q, follow: false } : {}),
        },
        { jobId: job, onProgress: (p) => (progress.value = p) },
      )
      current.value = s
      await show(s.id)
      await refreshList()
    } catch (e) {
      if (!(e instanceof ApiError && e.kind === 'cancelled')) error.value = messageOf(e)
    } finally {
      running.value = false
      job = null
    }
  }

  async function cancel(): Promise<void> {
    const q = queue.value.trim()
    try {
      if (job) await api().cancel(job)
      if (current.value) current.value = await api().call('cancelStudy', { id: current.value.id, ...(q ? { queue: q } : {}) })
    } catch (e) {
      error.value = messageOf(e)
    }
  }

  return { phrases, prompts, lrs, models, queue, list, current, runs, error, running, progress, metric, problem, refreshList, show, create, cancel, watch, stopWatching }
})
