import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import type { ApiRequest, ApiResponse, EmergeResult, JobInfo, LessonResult, LayerStudyResult, WindowResult } from '@shared/api'
import { api, messageOf } from '../api/client'
import { runningJobs, useJob } from '../composables/useJob'
import { allRuns } from '../api/pages'
import { useLabStore } from './lab'

type Name = 'layers' | 'window' | 'emerge' | 'lesson'
/** each instrument's method in the contract */
const methodOf = { layers: 'layerStudy', window: 'window', emerge: 'emerge', lesson: 'lesson' } as const
type InstrumentMethod = (typeof methodOf)[Name]
/** each instrument by its method (a job of the lab names its method) */
const nameOf: Record<InstrumentMethod, Name> = { layerStudy: 'layers', window: 'window', emerge: 'emerge', lesson: 'lesson' }
const instrumentMethods = Object.keys(nameOf) as InstrumentMethod[]

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
  /** the instrument's run as a job of the lab (useJob) */
  const job = useJob()
  const running = ref<Name | null>(null)
  const progress = computed(() => job.progress.value)
  const etaMs = computed(() => job.etaMs.value)
  const error = ref<string | null>(null)
  const layers = ref<LayerStudyResult | null>(null)
  const windowResult = ref<WindowResult | null>(null)
  const windows = ref<WindowEntry[]>([])
  const emerge = ref<EmergeResult | null>(null)
  const lesson = ref<LessonResult | null>(null)

  function base(): { model: string | null; prompt: string; phrase: string; maxGen: number } {
    return { model: lab.modelRef, prompt: lab.prompt, phrase: lab.phrase, maxGen: lab.maxGen }
  }

  /** the running instrument this page attached to after a reload (started before it, or in another window) */
  const attachedTo = ref<JobInfo | null>(null)

  /** Runs one instrument's job (`started`: run here, or attach to the lab's) and says how it ended. */
  async function go<M extends InstrumentMethod>(name: Name, started: () => Promise<ApiResponse<M> | null>): Promise<ApiResponse<M> | null> {
    if (running.value) return null
    running.value = name
    error.value = null
    try {
      const r = await started()
      if (!r) error.value = job.outcome.value === 'cancelled' ? 'Cancelled.' : job.error.value
      return r
    } finally {
      running.value = null
      attachedTo.value = null
    }
  }

  /**
   * Attaches to the lab's running instrument, if there is one (this page was reloaded, or another window started
   * it): its progress and cancel show here, then its result as if it had been started here.
   */
  async function reattach(): Promise<boolean> {
    if (running.value) return false
    const [j] = (await runningJobs(instrumentMethods)).slice(-1)
    if (!j || running.value) return false
    attachedTo.value = j
    void go(nameOf[j.kind as InstrumentMethod], () => job.attach<InstrumentMethod>(j)).then((r) => (r ? shown(j.kind as InstrumentMethod, r) : undefined))
    return true
  }

  /** Shows an instrument's result in its panel. */
  async function shown(method: InstrumentMethod, r: ApiResponse<InstrumentMethod>): Promise<void> {
    if (method === 'layerStudy') layers.value = r as LayerStudyResult
    else if (method === 'emerge') emerge.value = r as EmergeResult
    else if (method === 'lesson') lesson.value = r as LessonResult
    else {
      windowResult.value = r as WindowResult
      await loadWindows()
    }
  }

  async function run<M extends InstrumentMethod>(method: M, args: ApiRequest<M>): Promise<void> {
    const r = await go(nameOf[method], () => job.run(method, args))
    if (r) await shown(method, r)
  }

  async function runLayers(lr: number): Promise<void> {
    await run(methodOf.layers, { ...base(), lr })
  }

  async function runWindow(opts: { lo?: number; hi?: number; repetitionMax?: number; klMax?: number }): Promise<void> {
    await run(methodOf.window, { ...base(), ...opts })
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
    await run(methodOf.emerge, { ...base(), lrs })
  }

  /** lessons: sequential steps from the Lab's model (a checkpoint used as base chains from it) */
  async function runLesson(steps: { phrase: string; lr: number }[]): Promise<void> {
    const { model, prompt, maxGen } = base()
    await run(methodOf.lesson, { model, prompt, maxGen, steps })
  }

  function cancel(): Promise<void> {
    return job.cancel()
  }

  return { running, progress, etaMs, error, layers, windowResult, windows, emerge, lesson, attachedTo, runLayers, runWindow, loadWindows, runEmerge, runLesson, reattach, cancel }
})
