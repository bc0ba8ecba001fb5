import { defineStore } from 'pinia'
import { ref } from 'vue'
import { expertsResultSchema, type ExpertsResult } from '@shared/api'
import { api, messageOf } from '../api/client'
import { runningJobs, useJob } from '../composables/useJob'
import { useLabStore } from './lab'

/** What the view draws: the result as the lab answered it, or as History kept it (no runs or experiment summary needed). */
export type ExpertsShown = Omit<ExpertsResult, 'experiment' | 'runs'>

/**
 * The knowledge areas of a mixture of experts (issue 21 item 8): the experts experiment on the Lab's model, prompt
 * and phrase, with its own α list and expert restriction. One job at a time; the last one is read back from History.
 */
export const useExpertsStore = defineStore('experts', () => {
  const lab = useLabStore()
  const job = useJob()
  const result = ref<ExpertsShown | null>(null)
  const error = ref<string | null>(null)

  async function run(a: { lrs: number[]; experts: string }): Promise<void> {
    error.value = null
    const r = await job.run('experts', {
      model: lab.modelRef,
      prompt: lab.prompt,
      phrase: lab.phrase,
      maxGen: lab.maxGen,
      lrs: a.lrs,
      ...(a.experts.trim() ? { experts: a.experts.trim() } : {}),
    })
    if (r) result.value = r
    else error.value = job.outcome.value === 'cancelled' ? 'Cancelled.' : job.error.value
  }

  /**
   * After a reload: a running experts job of the lab is attached to (its progress, then its result); else the newest
   * finished experts experiment in History (its result is kept whole) is shown, when none is shown yet.
   */
  async function loadLast(): Promise<void> {
    if (job.running.value) return
    const [running] = (await runningJobs(['experts'])).slice(-1)
    if (running) {
      const r = await job.attach<'experts'>(running)
      if (r) result.value = r
      else error.value = job.outcome.value === 'cancelled' ? 'Cancelled.' : job.error.value
      return
    }
    if (result.value) return
    try {
      const page = await api().call('experiments', { kind: 'experts', status: 'done', limit: 1 })
      const e = page.experiments[0]
      if (!e?.result) return
      const kept = expertsResultSchema.omit({ experiment: true, runs: true, experimentId: true }).safeParse(e.result)
      if (kept.success) result.value = { ...kept.data, experimentId: e.id }
    } catch (err) {
      error.value = messageOf(err)
    }
  }

  return { job, result, error, run, loadLast, cancel: () => job.cancel() }
})
