import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { SEED_DEFAULTS, type ModelInfo, type ProgressMessage, type RunRecord, type SweepResult } from '@shared/api'
import { api, messageOf, newJobId } from '../api/client'
import { useModelsStore } from './models'

/** The Lab view's experiment: the form, the running job and its outcome. */
export const useLabStore = defineStore('lab', () => {
  const models = useModelsStore()

  /** the model reference: null = embedded organism, a path, or "ckpt:NAME" (a checkpoint used as base) */
  const modelRef = ref<string | null>(null)
  /** set when a checkpoint is the base (shown in the picker) */
  const baseCheckpoint = ref<{ id: number; name: string; modelPath: string } | null>(null)
  const prompt = ref<string>(SEED_DEFAULTS.prompt)
  const phrase = ref<string>(SEED_DEFAULTS.phrase)
  const lrs = ref<number[]>([...SEED_DEFAULTS.lrs])
  const maxGen = ref<number>(SEED_DEFAULTS.maxGen)
  const defaultsFrom = ref<string | null>(null)

  const running = ref(false)
  const jobId = ref<string | null>(null)
  const progress = ref<ProgressMessage | null>(null)
  const error = ref<string | null>(null)
  const result = ref<SweepResult | null>(null)
  /** runs shown in the table (the result, or the runs of a cancelled/failed sweep) */
  const runs = ref<RunRecord[]>([])
  const outcome = ref<'done' | 'cancelled' | 'failed' | null>(null)

  const model = computed<ModelInfo | null>(() => {
    const path = baseCheckpoint.value ? baseCheckpoint.value.modelPath : modelRef.value
    if (path === null) return models.embedded
    return models.models.find((m) => m.path === path) ?? null
  })
  const reference = computed(() => model.value?.preset.reference ?? null)

  /** Fill prompt, phrase and step sizes from a model's preset. */
  function applyPreset(m: ModelInfo | null): void {
    const p = m?.preset
    prompt.value = p?.prompt ?? SEED_DEFAULTS.prompt
    phrase.value = p?.phrase ?? SEED_DEFAULTS.phrase
    lrs.value = [...(p?.lrs?.length ? p.lrs : SEED_DEFAULTS.lrs)]
    defaultsFrom.value = m ? m.name : null
  }

  async function init(): Promise<void> {
    await models.ensure()
    if (defaultsFrom.value === null && !running.value) applyPreset(model.value)
  }

  function selectModel(ref_: string | null): void {
    baseCheckpoint.value = null
    modelRef.value = ref_
    applyPreset(model.value)
  }

  function useCheckpointAsBase(c: { id: number; name: string; modelPath: string }): void {
    baseCheckpoint.value = c
    modelRef.value = `ckpt:${c.name}`
  }

  /** max_seq_len: the seed's 128, raised (up to the model's context) when more tokens are asked for. */
  function seqFor(n: number): { maxSeq?: number } {
    const { maxGen, maxSeq } = SEED_DEFAULTS
    if (n <= maxGen) return {}
    const maxPos = Number(model.value?.config['max_position_embeddings']) || maxSeq
    return { maxSeq: Math.min(maxPos, Math.max(maxSeq, n + maxSeq - maxGen)) }
  }

  async function run(): Promise<void> {
    if (running.value) return
    error.value = null
    outcome.value = null
    result.value = null
    runs.value = []
    progress.value = null
    running.value = true
    const id = newJobId('sweep')
    jobId.value = id
    try {
      const r = await api().call(
        'sweep',
        { model: modelRef.value, prompt: prompt.value, phrase: phrase.value, lrs: [...lrs.value], maxGen: maxGen.value, ...seqFor(maxGen.value) },
        { jobId: id, onProgress: (p) => (progress.value = p) },
      )
      result.value = r
      runs.value = r.runs
      outcome.value = 'done'
    } catch (e) {
      const msg = messageOf(e)
      const cancelled = /cancel/i.test(msg)
      // the lab recorded the sweep's rows as cancelled/failed: show them
      try {
        const page = await api().call('history', { kind: 'sweep', sort: 'id', order: 'desc', limit: 256 })
        const gid = page.runs[0]?.groupId
        runs.value = gid == null ? [] : page.runs.filter((x) => x.groupId === gid).sort((a, b) => (a.groupIndex ?? 0) - (b.groupIndex ?? 0))
      } catch {
        runs.value = []
      }
      outcome.value = cancelled ? 'cancelled' : 'failed'
      error.value = cancelled ? null : msg
    } finally {
      running.value = false
      jobId.value = null
    }
  }

  async function cancel(): Promise<void> {
    if (jobId.value) await api().cancel(jobId.value)
  }

  /** Load a past run's parameters into the form (History → re-run). */
  function loadRun(r: RunRecord, lrsOfGroup?: number[]): void {
    baseCheckpoint.value = null
    modelRef.value = r.modelRef ?? null
    prompt.value = r.prompt
    if (r.phrase) phrase.value = r.phrase
    lrs.value = lrsOfGroup?.length ? [...lrsOfGroup] : r.lr !== null ? [r.lr] : lrs.value
    maxGen.value = r.maxGen
    defaultsFrom.value = `run #${r.id}`
  }

  return {
    modelRef, baseCheckpoint, prompt, phrase, lrs, maxGen, defaultsFrom,
    running, jobId, progress, error, result, runs, outcome, model, reference,
    init, seqFor, applyPreset, selectModel, useCheckpointAsBase, run, cancel, loadRun,
  }
})
