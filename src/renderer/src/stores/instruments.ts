import { defineStore } from 'pinia'
import { ref } from 'vue'
import type { EmergeResult, LessonResult, LayerStudyResult, ProgressMessage, WindowResult } from '@shared/api'
import { api, isCancelled, messageOf, newJobId } from '../api/client'
import { allRuns } from '../api/pages'
import { useLabStore } from './lab'

type Name = 'layers' | 'window' | 'emerge' | 'lesson'

/** one window found (read back from History), for the chart of windows over time / models / checkpoints */
export interface WindowEntry {
  experimentId: number
  label: string
  at: string
  alphaLearn: number | null
  alphaBreak: number | null
  widthDecades: number | null
}

/**
 * The instruments (issue 10 items 3–5): the layer study, the plasticity window and the emergence heatmap, each run
 * on the Lab's model, prompt and phrase. One job at a time.
 */
export const useInstrumentsStore = defineStore('instruments', () => {
  const lab = useLabStore()
  const running = ref<Name | null>(null)
  const job = ref<string | null>(null)
  const progress = ref<ProgressMessage | null>(null)
  const error = ref<string | null>(null)
  const layers = ref<LayerStudyResult | null>(null)
  const windowResult = ref<WindowResult | null>(null)
  const windows = ref<WindowEntry[]>([])
  const emerge = ref<EmergeResult | null>(null)
  const lesson = ref<LessonResult | null>(null)

  function base(): { model: string | null; prompt: string; phrase: string; maxGen: number } {
    return { model: lab.modelRef, prompt: lab.prompt, phrase: lab.phrase, maxGen: lab.maxGen }
  }

  async function go<T>(name: Name, f: (jobId: string, onProgress: (p: ProgressMessage) => void) => Promise<T>): Promise<T | null> {
    if (running.value) return null
    running.value = name
    error.value = null
    progress.value = null
    const id = newJobId(name)
    job.value = id
    try {
      return await f(id, (p) => (progress.value = p))
    } catch (e) {
      const m = messageOf(e)
      error.value = isCancelled(e) ? 'Cancelled.' : m
      return null
    } finally {
      running.value = null
      job.value = null
    }
  }

  async function runLayers(lr: number): Promise<void> {
    const r = await go('layers', (jobId, onProgress) => api().call('layerStudy', { ...base(), lr }, { jobId, onProgress }))
    if (r) layers.value = r
  }

  async function runWindow(opts: { lo?: number; hi?: number; repetitionMax?: number; klMax?: number }): Promise<void> {
    const r = await go('window', (jobId, onProgress) => api().call('window', { ...base(), ...opts }, { jobId, onProgress }))
    if (!r) return
    windowResult.value = r
    await loadWindows()
  }

  /**
   * Every window search recorded in History (any session, model or checkpoint), oldest first: the experiment's
   * stored result holds α_learn, α_break and the width.
   */
  async function loadWindows(): Promise<void> {
    try {
      const runs = await allRuns({ kind: 'window', status: 'done', sort: 'id', order: 'asc' })
      const firstRun = new Map<number, number>()
      for (const r of runs) if (r.experimentId !== null && !firstRun.has(r.experimentId)) firstRun.set(r.experimentId, r.id)
      const out: WindowEntry[] = []
      for (const [experimentId, runId] of firstRun) {
        const d = await api().call('run', { id: runId })
        const res = (d.group?.result ?? {}) as Record<string, unknown>
        const n = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null)
        const phrase = d.run.phrase ?? ''
        const who = d.startedFrom ? `“${d.startedFrom.name}”` : (d.model.name ?? d.model.path)
        const th = res['thresholds'] as { klMax?: number; repetitionMax?: number } | undefined
        out.push({
          experimentId,
          label: `${who} · ${phrase.slice(0, 18)}${phrase.length > 18 ? '…' : ''}${th ? ` · KL ${th.klMax}` : ''}`,
          at: d.group?.createdAt ?? d.run.startedAt,
          alphaLearn: n(res['alphaLearn']),
          alphaBreak: n(res['alphaBreak']),
          widthDecades: n(res['widthDecades']),
        })
      }
      windows.value = out
    } catch (e) {
      error.value = messageOf(e)
    }
  }

  async function runEmerge(lrs: number[]): Promise<void> {
    const r = await go('emerge', (jobId, onProgress) => api().call('emerge', { ...base(), lrs }, { jobId, onProgress }))
    if (r) emerge.value = r
  }

  /** lessons: sequential steps from the Lab's model (a checkpoint used as base chains from it) */
  async function runLesson(steps: { phrase: string; lr: number }[]): Promise<void> {
    const { model, prompt, maxGen } = base()
    const r = await go('lesson', (jobId, onProgress) => api().call('lesson', { model, prompt, maxGen, steps }, { jobId, onProgress }))
    if (r) lesson.value = r
  }

  async function cancel(): Promise<void> {
    if (job.value) await api().cancel(job.value)
  }

  return { running, progress, error, layers, windowResult, windows, emerge, lesson, runLayers, runWindow, loadWindows, runEmerge, runLesson, cancel }
})
