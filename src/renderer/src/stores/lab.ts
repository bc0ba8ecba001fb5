import { defineStore } from 'pinia'
import { computed, ref, watch } from 'vue'
import { SEED_DEFAULTS, type JobInfo, type ParamGroup, type Restriction, type ModelInfo, type RunRecord, type SweepRequest, type SweepResult, type TokenCount } from '@shared/api'
import { api, messageOf } from '../api/client'
import { allRuns } from '../api/pages'
import { baseProblem } from '@shared/baseCheckpoint'
import { labJobs, runningJobs, useJob } from '../composables/useJob'
import { useModelsStore } from './models'
import { maxTokensProblem, textProblem } from '../lib/validate'

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
  /** Max tokens as typed (checked at the field; `maxGen` is its number once valid) */
  const maxGenText = ref<string>(String(SEED_DEFAULTS.maxGen))
  const maxGen = computed<number>(() => (maxTokensProblem(maxGenText.value) ? SEED_DEFAULTS.maxGen : Number(maxGenText.value.trim())))
  /** apply the model's chat template to the prompt and the phrase (instruct models; the lab refuses it without one) */
  const chatTemplate = ref<boolean>(false)
  /** restrict the step to these parameter groups (empty: all) and this layer range ('' : all layers) */
  const restrictGroups = ref<ParamGroup[]>([])
  const layerFrom = ref('')
  const layerTo = ref('')
  /** what the step-size field reports (set by its editor) */
  const lrsProblem = ref<string | null>(null)
  const defaultsFrom = ref<string | null>(null)

  /** the sweep as a job of the lab (useJob): running, progress, ETA, cancel, its error and kind */
  const job = useJob()
  const running = job.running
  const jobId = job.jobId
  const progress = job.progress
  const error = job.error
  /** the last run failed because its model (or base checkpoint's model) moved out of sight: LocateModel runs it again */
  const modelMissing = computed(() => job.errorKind.value === 'modelMissing')
  const result = ref<SweepResult | null>(null)
  /** runs shown in the table (the result, or the runs of a cancelled/failed sweep) */
  const runs = ref<RunRecord[]>([])
  const outcome = ref<'done' | 'cancelled' | 'failed' | null>(null)
  /** the experiment (eN) of the sweep shown, when restored from History after a reload (not run in this session) */
  const restoredFrom = ref<number | null>(null)
  /** the running sweep this page attached to after a reload (started elsewhere, or before the reload) */
  const attachedTo = ref<JobInfo | null>(null)

  /** Problems at each field, in words, before any run: Run is disabled while there is one. */
  const problems = computed(() => {
    const p: { prompt: string | null; phrase: string | null; maxGen: string | null; lrs: string | null } = {
      prompt: textProblem('prompt', prompt.value) ?? tokenProblemOf('prompt'),
      phrase: textProblem('phrase', phrase.value) ?? tokenProblemOf('phrase'),
      maxGen: maxTokensProblem(maxGenText.value),
      lrs: lrsProblem.value ?? (lrs.value.length === 0 ? 'No step sizes: give at least one α, e.g. 0, 1e-3, 3e-2.' : null),
    }
    return p
  })
  const layerCount = computed(() => Number(model.value?.config['num_hidden_layers']) || null)
  const restrictProblem = computed<string | null>(() => {
    const f = layerFrom.value.trim()
    const t = layerTo.value.trim()
    if (f === '' && t === '') return null
    const n = layerCount.value
    const ok = (v: string): boolean => /^\d+$/.test(v) && (n === null || Number(v) < n)
    const range = n === null ? 'a layer index' : `a layer from 0 to ${n - 1}`
    if (!ok(f)) return `layers: “from” must be ${range} (got “${f}”)`
    if (!ok(t)) return `layers: “to” must be ${range} (got “${t}”)`
    if (Number(f) > Number(t)) return `layers: from ${f} is after to ${t}`
    return null
  })
  /** the restriction as the contract takes it (undefined: the full step) */
  const restriction = computed<Restriction | undefined>(() => {
    const r: Restriction = {}
    if (restrictGroups.value.length) r.groups = [...restrictGroups.value]
    if (!restrictProblem.value && layerFrom.value.trim() !== '') r.layers = { from: Number(layerFrom.value), to: Number(layerTo.value) }
    return r.groups || r.layers ? r : undefined
  })
  const canRun = computed(() => !running.value && Object.values(problems.value).every((v) => v === null) && restrictProblem.value === null)

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
    const fresh = runs.value.length === 0 && !running.value && outcome.value === null
    // a sweep of the lab still running (this page was reloaded, or another window started it): show it, then its
    // table. Looked for first: the job list is the host's, answered at once even while the lab process is busy
    if (fresh && (await reattach())) {
      await models.ensure()
      // the sweep's model by its name, now that the models are listed
      const j = attachedTo.value
      if (j && defaultsFrom.value?.match(/^the (running )?sweep/)) defaultsFrom.value = sweepLabel(j, job.jobId.value === j.jobId)
      return
    }
    await models.ensure()
    if (defaultsFrom.value === null && !running.value) applyPreset(model.value)
    if (fresh) await restoreLast()
  }

  /** The form as the sweep's request had it: its model and settings, not this page's. */
  function loadRequest(r: SweepRequest): void {
    baseCheckpoint.value = null
    modelRef.value = r.model ?? null
    if (r.prompt !== undefined) prompt.value = r.prompt
    if (r.phrase !== undefined) phrase.value = r.phrase
    if (r.lrs) lrs.value = [...r.lrs]
    if (r.maxGen !== undefined) maxGenText.value = String(r.maxGen)
    restrictGroups.value = [...(r.restrict?.groups ?? [])]
    layerFrom.value = r.restrict?.layers ? String(r.restrict.layers.from) : ''
    layerTo.value = r.restrict?.layers ? String(r.restrict.layers.to) : ''
  }

  /** Attaches to the lab's running sweep, if there is one: true when it did. */
  async function reattach(): Promise<boolean> {
    const [j] = (await runningJobs(['sweep'])).slice(-1)
    if (!j || running.value) return false
    loadRequest(j.request as SweepRequest)
    attachedTo.value = j
    restoredFrom.value = null
    result.value = null
    runs.value = []
    void job.attach<'sweep'>(j).then(async (r) => {
      await settled(r)
      // its experiment, from its runs when it opened after this page attached
      const experimentId = r?.runs[0]?.experimentId ?? j.experimentId
      if (defaultsFrom.value?.startsWith('the running sweep')) defaultsFrom.value = sweepLabel({ ...j, experimentId }, false)
    })
    defaultsFrom.value = sweepLabel(j, true)
    return true
  }

  /** “the running sweep e12 (organism)”: where the form's settings come from when attached to a sweep */
  function sweepLabel(j: JobInfo, isRunning: boolean): string {
    return `the ${isRunning ? 'running ' : ''}sweep${j.experimentId !== null ? ` e${j.experimentId}` : ''} (${model.value?.name ?? j.model ?? 'the embedded organism'})`
  }

  /**
   * After a reload the Lab shows its last sweep again: read from History (the lab's own record, the same in every
   * window and browser), not from this page's storage. Its experiment is named by its own id (eN).
   */
  async function restoreLast(): Promise<void> {
    try {
      const last = await api().call('history', { kind: 'sweep', sort: 'id', order: 'desc', limit: 1 })
      const first = last.runs[0]
      const eid = first?.experimentId
      if (eid == null || running.value || runs.value.length) return
      const all = await allRuns({ experimentId: eid, sort: 'id', order: 'asc' })
      if (running.value || runs.value.length) return
      runs.value = all.sort((a, b) => (a.groupIndex ?? 0) - (b.groupIndex ?? 0))
      const st = new Set(runs.value.map((r) => r.status))
      outcome.value = st.has('cancelled') ? 'cancelled' : st.size === 1 && st.has('done') ? 'done' : st.has('running') ? null : 'failed'
      restoredFrom.value = eid
      // the form beside the table holds that sweep's model and settings, not the default model's
      loadRun(first, runs.value.map((r) => r.lr).filter((x): x is number => x !== null))
      defaultsFrom.value = `the last sweep e${eid} (${model.value?.name ?? first.modelRef ?? 'its model'})`
    } catch {
      // nothing to restore: the Lab starts empty
    }
  }

  /** The sweep's rows the lab recorded for a job that did not finish (cancelled or failed), by its experiment. */
  async function rowsOf(jobId: string | null): Promise<RunRecord[]> {
    try {
      const exp = (await labJobs()).find((j) => j.jobId === jobId)?.experimentId ?? null
      if (exp === null) return []
      const page = await api().call('history', { kind: 'sweep', sort: 'id', order: 'desc', limit: 256 })
      return page.runs.filter((x) => x.experimentId === exp).sort((a, b) => (a.groupIndex ?? 0) - (b.groupIndex ?? 0))
    } catch {
      return []
    }
  }

  /** Shows a sweep's outcome: its table when done, else the rows it recorded. */
  async function settled(r: SweepResult | null): Promise<void> {
    if (r) {
      result.value = r
      runs.value = r.runs
      outcome.value = 'done'
      return
    }
    runs.value = await rowsOf(job.lastJobId.value)
    outcome.value = job.outcome.value
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

  // ---- live token counts of prompt and phrase against max_seq_len (the lab's tokenizer, debounced)
  /** the counts and the texts/max_seq they were made for (stale while the user types) */
  const tokens = ref<{ prompt: string; phrase: string; maxSeq: number; result: TokenCount } | null>(null)
  const tokenError = ref<string | null>(null)
  const effectiveMaxSeq = computed(() => seqFor(maxGenNumber()).maxSeq ?? SEED_DEFAULTS.maxSeq)
  function maxGenNumber(): number {
    const v = Number(maxGenText.value)
    return Number.isInteger(v) && v > 0 ? v : maxGen.value
  }
  let countTimer: ReturnType<typeof setTimeout> | undefined
  let countSeq = 0
  watch(
    [prompt, phrase, effectiveMaxSeq, modelRef, baseCheckpoint],
    () => {
      clearTimeout(countTimer)
      countTimer = setTimeout(() => void countTokens(), 250)
    },
    { immediate: true },
  )
  async function countTokens(): Promise<void> {
    const want = { prompt: prompt.value, phrase: phrase.value, maxSeq: effectiveMaxSeq.value }
    const texts: Record<string, string> = {}
    if (want.prompt) texts.prompt = want.prompt
    if (want.phrase) texts.phrase = want.phrase
    const n = ++countSeq
    try {
      const result = await api().call('tokenCount', { model: modelRef.value, texts, maxSeq: want.maxSeq })
      if (n !== countSeq) return
      tokens.value = { ...want, result }
      tokenError.value = null
    } catch (e) {
      if (n === countSeq) tokenError.value = messageOf(e)
    }
  }
  /** the count for a field when it is current (null while stale or not yet counted) */
  function tokenCountOf(k: 'prompt' | 'phrase'): number | null {
    const t = tokens.value
    if (!t || t[k] !== (k === 'prompt' ? prompt.value : phrase.value) || t.maxSeq !== effectiveMaxSeq.value) return null
    return t.result.counts[k] ?? null
  }
  function tokenProblemOf(k: 'prompt' | 'phrase'): string | null {
    return tokenCountOf(k) === null ? null : (tokens.value?.result.problems[k] ?? null)
  }

  /** max_seq_len: the seed's 128, raised (up to the model's context) when more tokens are asked for. */
  function seqFor(n: number): { maxSeq?: number } {
    const { maxGen, maxSeq } = SEED_DEFAULTS
    if (n <= maxGen) return {}
    const maxPos = Number(model.value?.config['max_position_embeddings']) || maxSeq
    return { maxSeq: Math.min(maxPos, Math.max(maxSeq, n + maxSeq - maxGen)) }
  }

  async function run(): Promise<void> {
    if (running.value || !canRun.value) return
    restoredFrom.value = null
    attachedTo.value = null
    outcome.value = null
    result.value = null
    runs.value = []
    const r = await job.run('sweep', { model: modelRef.value, prompt: prompt.value, phrase: phrase.value, lrs: [...lrs.value], maxGen: maxGen.value, ...seqFor(maxGen.value), ...(restriction.value ? { restrict: restriction.value } : {}), ...(chatTemplate.value ? { chatTemplate: true } : {}) })
    await settled(r)
  }

  function cancel(): Promise<void> {
    return job.cancel()
  }

  /** Load a past run's parameters into the form (History → re-run). */
  function loadRun(r: RunRecord, lrsOfGroup?: number[]): void {
    baseCheckpoint.value = null
    // the base by what it is called now (provenance survives renames); a trashed or purged base cannot be run on,
    // refused in the lab's own words (src/shared/baseCheckpoint.ts)
    const gone = baseProblem(r)
    if (gone) throw new Error(gone)
    modelRef.value = r.base?.currentName ? `ckpt:${r.base.currentName}` : (r.modelRef ?? null)
    prompt.value = r.prompt
    if (r.phrase) phrase.value = r.phrase
    lrs.value = lrsOfGroup?.length ? [...lrsOfGroup] : r.lr !== null ? [r.lr] : lrs.value
    maxGenText.value = String(r.maxGen)
    defaultsFrom.value = `run r${r.id}`
  }

  return {
    tokens, tokenError, effectiveMaxSeq, tokenCountOf,
    modelRef, baseCheckpoint, prompt, phrase, lrs, maxGen, maxGenText, chatTemplate, lrsProblem, problems, canRun, restrictGroups, layerFrom, layerTo, layerCount, restrictProblem, restriction, restoredFrom, defaultsFrom,
    running, jobId, progress, error, modelMissing, result, runs, outcome, model, reference, attachedTo, etaMs: job.etaMs,
    init, seqFor, applyPreset, selectModel, useCheckpointAsBase, run, cancel, loadRun,
  }
})
