// The experiments (docs/design.md, "Experiments"): generate, step, sweep, prompt comparison and lesson sequences.
// Each one writes its run rows as `running` before any work, does the work on the engine (views of one base model),
// measures every metric, and completes its rows in one transaction — or marks them `cancelled` / `failed` with the
// reason.
import { CallOptions, CancelledError, Engine, Generation, Gradient, InputError, View } from '../engine/engine'
import { formatSeedTable, seedWords, commonPrefixWords } from '../../shared/seedTable'
import type {
  ChainStep,
  CompareCell,
  CompareResult,
  ExperimentKind,
  GroupKind,
  LessonRecall,
  LessonResult,
  RunKind,
  RunMetrics,
  RunRecord,
  Restriction,
  RunResult,
  SweepResult,
} from '../../shared/api'
import type { DB } from './history/db'
import { getGroup, getRun, insertGroup, insertRun, NewRun } from './history/tables/runs'
import { abortRuns, completeRuns, PartialOutput, RunOutcome } from './history/lifecycle'
import { OWNER } from './history/owner'
import { createExperiment } from './history/tables/experiments'
import { writingRuns } from './history/settle'
import type { Target } from './targets'
import { restrictGradient, updateGrid } from './instruments/groups'
import { modelPhrase, modelPrompt, modelProbes } from './chat'
import { editMetrics, gradientMetrics, modelMetrics, reachableWords, textMetrics } from './metrics'

export interface Settings {
  prompt: string
  /** prompt engineering: generated in front of the prompt, excluded from recall ('' = none) */
  prefix: string
  maxGen: number
  maxSeq: number
  temperature: number
  topP: number
  seed: number
  reference: string | null
  probes: Record<string, string>
  /** paraphrased prompts (generalisation) */
  paraphrases: string[]
  /** apply the model's chat template to the prompt, the phrase and the probes (chat.ts) */
  chatTemplate?: boolean
}

/** What the model generates from: the engineered prefix (if any) and the prompt. */
function generationPrompt(s: Settings): string {
  return s.prefix + s.prompt
}

/** The base checkpoint's provenance as runs and experiments store it. */
export function baseRef(t: Target): { id: number; name: string; sha256: string } | null {
  return t.checkpoint ? { id: t.checkpoint.id, name: t.checkpoint.name, sha256: t.checkpoint.sha256 } : null
}

/**
 * Writes the experiment of one action (before its runs), with its full settings. Instruments (layer study, window
 * search, emergence) call this too, then insertRun with `experimentId`.
 */
export function openExperiment(
  ctx: ExperimentContext,
  t: Target,
  s: Settings,
  e: { kind: ExperimentKind; phrase: string | null; lrs: number[]; groupId?: number | null; extra?: Record<string, unknown> },
): number {
  return createExperiment(ctx.db, {
    kind: e.kind,
    groupId: e.groupId ?? null,
    modelId: t.model.row.id,
    modelFingerprint: t.model.fp.fingerprint,
    modelRef: t.ref,
    base: baseRef(t),
    prompt: s.prompt,
    phrase: e.phrase,
    maxGen: s.maxGen,
    maxSeq: s.maxSeq,
    lrs: e.lrs,
    settings: {
      model: t.ref,
      baseCheckpoint: baseRef(t),
      prompt: s.prompt,
      prefix: s.prefix,
      phrase: e.phrase,
      lrs: e.lrs,
      maxGen: s.maxGen,
      maxSeq: s.maxSeq,
      temperature: s.temperature,
      topP: s.topP,
      seed: s.seed,
      reference: s.reference,
      probes: s.probes,
      paraphrases: s.paraphrases,
      // the typed texts above and the flag (a re-run renders them again); the rendered prompt for History
      ...(s.chatTemplate ? { chatTemplate: true, chatPrompt: modelPrompt(t.model.engine, s) } : {}),
      ...e.extra,
    },
    owner: OWNER,
  })
}

/** The step a run took, remembered so "save this step" needs no recomputation while the lab is open. */
export interface StepMemo {
  gradient: Gradient
  lr: number
  modelId: number
  /** the view the gradient was taken at */
  at: View
}

export interface ExperimentContext {
  db: DB
  remember(runId: number, memo: StepMemo): void
}

export function runBase(t: Target, s: Settings, kind: RunKind, experimentId: number): Omit<NewRun, 'prompt'> & { prompt: string } {
  return {
    kind,
    experimentId,
    modelId: t.model.row.id,
    checkpointId: t.checkpoint?.id ?? null,
    base: baseRef(t),
    modelRef: t.ref,
    prompt: s.prompt,
    prefix: s.prefix,
    maxGen: s.maxGen,
    maxSeq: s.maxSeq,
    temperature: s.temperature,
    topP: s.topP,
    seed: s.seed,
  }
}

function errorText(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]
}

/**
 * Runs `work`; on failure marks the still-running rows cancelled/failed (and the group) and rethrows. A cancelled
 * generation's partial tokens (CancelledError.partial, one per view) are kept on the cancelled rows: `partialRows`
 * maps them to run ids and texts.
 */
export async function guarded<T>(
  db: DB,
  ids: () => number[],
  t0: number,
  groupId: number | undefined,
  work: () => Promise<T>,
  partialRows?: (partial: Generation[]) => Map<number, PartialOutput>,
): Promise<T> {
  try {
    return await work()
  } catch (e) {
    const cancelled = e instanceof CancelledError
    const partial = cancelled && e.partial && partialRows ? partialRows(e.partial) : undefined
    abortRuns(db, ids(), cancelled ? 'cancelled' : 'failed', cancelled ? 'cancelled' : errorText(e), t0, groupId, partial)
    throw e
  }
}

/** A cancelled generation's tokens as the rows keep them (text metrics only: the model metrics were never taken). */
function partialOutput(engine: Engine, promptIds: number[], g: Generation, prefix: string): PartialOutput {
  const full = fullText(engine, promptIds, g)
  return {
    outputIds: g.ids,
    outputText: g.text,
    fullText: full,
    metrics: textMetrics(g.ids, g.text, withoutPrefix(full, prefix), null),
  }
}

/** Checks the prompt and phrase fit before any row is written (bad input records nothing). */
export function checkTexts(engine: Engine, s: Settings, phrases: string[]): { promptIds: number[]; phraseIds: number[][] } {
  if (s.prompt.trim().length === 0) throw new InputError('the prompt is empty')
  const promptIds = engine.withBos(modelPrompt(engine, s), 'prompt')
  if (promptIds.length >= s.maxSeq)
    throw new InputError(`the prompt${s.prefix ? ' (with its prefix)' : ''} has ${promptIds.length} tokens with BOS; max_seq_len is ${s.maxSeq}`)
  const phraseIds = phrases.map((p) => {
    if (typeof p !== 'string' || p.trim().length === 0) throw new InputError('the phrase is empty')
    const ids = engine.withBos(modelPhrase(engine, s, p), 'phrase')
    if (ids.length > s.maxSeq)
      throw new InputError(`the phrase is too long: ${ids.length} tokens with BOS, max_seq_len is ${s.maxSeq}`)
    return ids
  })
  return { promptIds, phraseIds }
}

export function fullText(engine: Engine, promptIds: number[], g: Generation): string {
  return engine.decode([...promptIds.slice(1), ...g.ids])
}

export function minMargin(g: Generation): number | undefined {
  return g.margins.length ? Math.min(...g.margins) : undefined
}

/** One batched generation: the prompt under every view, with the run's generation settings. */
export function generateViews(engine: Engine, s: GenerationSettings, promptIds: number[], views: View[], opts?: CallOptions): Promise<Generation[]> {
  return engine.generate(
    { prompt: promptIds, views, maxNew: s.maxGen, maxSeq: s.maxSeq, temperature: s.temperature, topP: s.topP, seed: s.seed },
    opts,
  )
}

function generateAll(t: Target, s: Settings, promptIds: number[], views: View[], opts?: CallOptions): Promise<Generation[]> {
  return generateViews(t.model.engine, s, promptIds, views, opts)
}

/** Recall's denominator for these settings (undefined without a reference). */
function reachable(engine: Engine, s: Settings): number | undefined {
  return s.reference ? reachableWords(engine, s.reference, engine.tokenize(s.prompt).length, s.maxGen) : undefined
}

export function outcome(id: number, engine: Engine, promptIds: number[], g: Generation, metrics: RunMetrics, s: Settings): RunOutcome {
  const full = fullText(engine, promptIds, g)
  return {
    id,
    outputIds: g.ids,
    outputText: g.text,
    fullText: full,
    metrics: {
      ...textMetrics(g.ids, g.text, withoutPrefix(full, s.prefix), s.reference, reachable(engine, s)),
      ...metrics,
      minMargin: minMargin(g),
    },
  }
}

/** Generalisation and locality of stepped views (skipped when there is nothing to measure them with). */
function edits(t: Target, s: Settings, views: View[], phrase: string | null, opts?: CallOptions): Promise<RunMetrics[]> {
  return editMetrics(
    t.model.engine,
    { base: t.base, views, phrase, paraphrases: s.paraphrases, probes: modelProbes(t.model.engine, s), maxSeq: s.maxSeq },
    opts,
  )
}

export function records(db: DB, ids: number[]): RunRecord[] {
  return ids.map((id) => getRun(db, id)!)
}

/** The step's gradient metrics, with its layer × module grid and the restriction it was taken under. */
export function stepMetrics(engine: Engine, g: Gradient, lr: number, restrict?: Restriction): RunMetrics {
  const m: RunMetrics = { ...gradientMetrics(g, lr), updateGrid: updateGrid(g.factors(), engine.config.layers, lr) }
  if (restrict && (restrict.groups || restrict.layers)) m.restriction = restrict
  return m
}

// ---- generate -----------------------------------------------------------------------------------------------

export async function runGenerate(ctx: ExperimentContext, t: Target, s: Settings, opts?: CallOptions): Promise<RunResult> {
  const { promptIds } = checkTexts(t.model.engine, s, [])
  const t0 = Date.now()
  const experimentId = openExperiment(ctx, t, s, { kind: 'generate', phrase: null, lrs: [] })
  const id = writingRuns(ctx.db, experimentId, () => insertRun(ctx.db, runBase(t, s, 'generate', experimentId)))
  return guarded(ctx.db, () => [id], t0, undefined, async () => {
    const tg = Date.now()
    const [g] = await generateAll(t, s, promptIds, [t.base], opts)
    const generateMs = Date.now() - tg
    const tm = Date.now()
    const [m] = await modelMetrics(t.model.engine, { base: t.base, views: [t.base], reference: s.reference }, opts)
    delete m.probeKl
    completeRuns(ctx.db, [outcome(id, t.model.engine, promptIds, g, { ...m, timings: { generateMs, metricsMs: Date.now() - tm } }, s)], t0)
    return { run: getRun(ctx.db, id)! }
  }, (p) => new Map([[id, partialOutput(t.model.engine, promptIds, p[0], s.prefix)]]))
}

// ---- step ---------------------------------------------------------------------------------------------------

/** One step at `at`: the phrase's gradient there, the completion of the stepped model and its metrics, timed. */
async function stepFrom(
  t: Target,
  s: Settings,
  at: View,
  phrase: string,
  lr: number,
  phraseIds: number[],
  promptIds: number[],
  opts?: CallOptions,
  restrict?: Restriction,
): Promise<{ gradient: Gradient; view: View; g: Generation; m: RunMetrics; gradientMs: number; generateMs: number; metricsStart: number }> {
  const engine = t.model.engine
  const tg = Date.now()
  const gradient = restrictGradient(engine, await engine.gradient(modelPhrase(engine, s, phrase), at, opts, s.maxSeq), restrict)
  const gradientMs = Date.now() - tg
  const view: View = [...at, { gradient, lr }]
  const tgen = Date.now()
  const [g] = await generateAll(t, s, promptIds, [view], opts)
  const generateMs = Date.now() - tgen
  const metricsStart = Date.now()
  const [m] = await modelMetrics(
    engine,
    { base: t.base, views: [view], phraseIds, reference: s.reference, probes: modelProbes(engine, s) },
    opts,
  )
  const [em] = await edits(t, s, [view], phrase, opts)
  return { gradient, view, g, m: { ...m, ...em }, gradientMs, generateMs, metricsStart }
}

export async function runStep(
  ctx: ExperimentContext,
  t: Target,
  s: Settings,
  phrase: string,
  lr: number,
  opts?: CallOptions,
  restrict?: Restriction,
): Promise<RunResult> {
  const engine = t.model.engine
  const { promptIds, phraseIds } = checkTexts(engine, s, [phrase])
  const t0 = Date.now()
  const experimentId = openExperiment(ctx, t, s, { kind: 'step', phrase, lrs: [lr] })
  const id = writingRuns(ctx.db, experimentId, () => insertRun(ctx.db, { ...runBase(t, s, 'step', experimentId), phrase, lr }))
  return guarded(ctx.db, () => [id], t0, undefined, async () => {
    const { gradient, g, m, gradientMs, generateMs, metricsStart } = await stepFrom(t, s, t.base, phrase, lr, phraseIds[0], promptIds, opts, restrict)
    const metrics = { ...stepMetrics(engine, gradient, lr, restrict), ...m, timings: { gradientMs, generateMs, metricsMs: Date.now() - metricsStart } }
    completeRuns(ctx.db, [outcome(id, engine, promptIds, g, metrics, s)], t0)
    ctx.remember(id, { gradient, lr, modelId: t.model.row.id, at: t.base })
    return { run: getRun(ctx.db, id)! }
  }, (p) => new Map([[id, partialOutput(engine, promptIds, p[0], s.prefix)]]))
}

// ---- sweep --------------------------------------------------------------------------------------------------

/** What one batched generation needs besides the prompt and the views. */
export type GenerationSettings = Pick<Settings, 'maxGen' | 'maxSeq' | 'temperature' | 'topP' | 'seed'>

export interface SteppingOff {
  gradient: Gradient
  /** one view per step size: the starting view plus α·(the step) */
  views: View[]
  generations: Generation[]
  gradientMs: number
  generateMs: number
}

/**
 * The seed's "Stepping Off", the core shared by the lab's sweep and the bench: one gradient of the phrase at the
 * starting view `at`, then every step size in one batched generation (docs/design.md, "The batched sweep").
 */
export async function steppingOff(
  engine: Engine,
  at: View,
  promptIds: number[],
  phrase: string,
  lrs: number[],
  s: GenerationSettings,
  opts?: CallOptions,
  restrict?: Restriction,
): Promise<SteppingOff> {
  const tg = Date.now()
  const gradient = restrictGradient(engine, await engine.gradient(phrase, at, opts, s.maxSeq), restrict)
  const gradientMs = Date.now() - tg
  const views: View[] = lrs.map((lr) => [...at, { gradient, lr }])
  const tgen = Date.now()
  const generations = await generateViews(engine, s, promptIds, views, opts)
  return { gradient, views, generations, gradientMs, generateMs: Date.now() - tgen }
}

export async function runSweep(
  ctx: ExperimentContext,
  t: Target,
  s: Settings,
  phrase: string,
  lrs: number[],
  args: unknown,
  opts?: CallOptions,
  restrict?: Restriction,
): Promise<SweepResult> {
  const engine = t.model.engine
  const { promptIds, phraseIds } = checkTexts(engine, s, [phrase])
  const t0 = Date.now()
  const groupId = insertGroup(ctx.db, {
    kind: 'sweep',
    modelId: t.model.row.id,
    checkpointId: t.checkpoint?.id ?? null,
    prompt: s.prompt,
    phrase,
    lrs,
    args,
  })
  const experimentId = openExperiment(ctx, t, s, { kind: 'sweep', phrase, lrs, groupId })
  const ids = writingRuns(ctx.db, experimentId, ctx.db.transaction(() =>
    lrs.map((lr, i) => insertRun(ctx.db, { ...runBase(t, s, 'sweep', experimentId), phrase, lr, groupId, groupIndex: i })),
  ))
  return guarded(ctx.db, () => ids, t0, groupId, async () => {
    const { gradient, views, generations: gens, gradientMs, generateMs } = await steppingOff(engine, t.base, promptIds, modelPhrase(engine, s, phrase), lrs, s, opts, restrict)
    const tm = Date.now()
    const ms = await modelMetrics(
      engine,
      { base: t.base, views, phraseIds: phraseIds[0], reference: s.reference, probes: modelProbes(engine, s) },
      opts,
    )
    const em = await edits(t, s, views, phrase, opts)
    const metricsMs = Date.now() - tm
    const outcomes = lrs.map((lr, i) =>
      outcome(ids[i], engine, promptIds, gens[i], {
        ...stepMetrics(engine, gradient, lr, restrict),
        ...ms[i],
        ...em[i],
        timings: { gradientMs, generateMs, metricsMs },
      }, s),
    )
    const table = formatSeedTable(outcomes.map((o, i) => ({ lr: lrs[i], words: seedWords(o.fullText) })))
    completeRuns(ctx.db, outcomes, t0, {
      id: groupId,
      result: { phraseIds: gradient.phraseIds, phraseLoss: gradient.loss, table },
    })
    ids.forEach((id, i) => ctx.remember(id, { gradient, lr: lrs[i], modelId: t.model.row.id, at: t.base }))
    return {
      group: getGroup(ctx.db, groupId)!,
      runs: records(ctx.db, ids),
      phraseIds: gradient.phraseIds,
      phraseLoss: gradient.loss,
      table,
    }
  }, (p) => new Map(ids.map((id, i) => [id, partialOutput(engine, promptIds, p[i], s.prefix)])))
}

// ---- prompt comparison --------------------------------------------------------------------------------------

/** Text after the prefix, so recall is measured on what the prompt asked for, not on the prefix. */
function withoutPrefix(text: string, prefix: string): string {
  const p = prefix.trim()
  return p && text.startsWith(p) ? text.slice(p.length).trimStart() : text
}

export async function runCompare(
  ctx: ExperimentContext,
  t: Target,
  s: Settings,
  prefix: string,
  phrase: string | null,
  lrs: number[],
  args: unknown,
  opts?: CallOptions,
): Promise<CompareResult> {
  const engine = t.model.engine
  const steps = [0, ...lrs.filter((lr) => lr !== 0)]
  if (steps.length > 1 && !phrase) throw new InputError('a phrase is needed to compare steps')
  // the plain half has no prefix; the engineered half stores its prefix apart from the prompt (recall skips it)
  s = { ...s, prefix: '' }
  const pre: Settings = { ...s, prefix }
  const { promptIds, phraseIds } = checkTexts(engine, s, steps.length > 1 && phrase ? [phrase] : [])
  const { promptIds: prefixedIds } = checkTexts(engine, pre, [])
  const t0 = Date.now()
  const groupId = insertGroup(ctx.db, {
    kind: 'compare',
    modelId: t.model.row.id,
    checkpointId: t.checkpoint?.id ?? null,
    prompt: s.prompt,
    phrase: phrase ?? '',
    lrs: steps,
    args,
  })
  const experimentId = openExperiment(ctx, t, s, { kind: 'compare', phrase, lrs: steps, groupId, extra: { prefix } })
  const layout: { prefixed: boolean; lr: number }[] = []
  for (const prefixed of [false, true]) for (const lr of steps) layout.push({ prefixed, lr })
  const ids = writingRuns(ctx.db, experimentId, ctx.db.transaction(() =>
    layout.map((c, i) =>
      insertRun(ctx.db, {
        ...runBase(t, c.prefixed ? pre : s, 'compare', experimentId),
        phrase: c.lr !== 0 ? phrase : null,
        lr: c.lr,
        groupId,
        groupIndex: i,
      }),
    ),
  ))
  let partialPlain: Generation[] | null = null
  return guarded(ctx.db, () => ids, t0, groupId, async () => {
    const gradient = steps.length > 1 && phrase ? await engine.gradient(modelPhrase(engine, s, phrase), t.base, opts, s.maxSeq) : null
    const views: View[] = steps.map((lr) => (lr === 0 || !gradient ? t.base : [...t.base, { gradient, lr }]))
    const plain = await generateAll(t, s, promptIds, views, opts)
    partialPlain = plain
    const engineered = await generateAll(t, pre, prefixedIds, views, opts)
    const ms = await modelMetrics(
      engine,
      { base: t.base, views, phraseIds: gradient ? phraseIds[0] : undefined, reference: s.reference, probes: modelProbes(engine, s) },
      opts,
    )
    const cells: CompareCell[] = []
    const outcomes = layout.map((c, i) => {
      const j = steps.indexOf(c.lr)
      const g = c.prefixed ? engineered[j] : plain[j]
      const full = fullText(engine, c.prefixed ? prefixedIds : promptIds, g)
      const shown = c.prefixed ? withoutPrefix(full, prefix) : full
      const m: RunMetrics = {
        ...(gradient && c.lr !== 0 ? gradientMetrics(gradient, c.lr) : {}),
        ...ms[j],
        ...textMetrics(g.ids, g.text, shown, s.reference, reachable(engine, s)),
        minMargin: minMargin(g),
      }
      cells.push({ runId: ids[i], prefixed: c.prefixed, lr: c.lr, text: shown, recall: m.recall ?? null })
      return { id: ids[i], outputIds: g.ids, outputText: g.text, fullText: full, metrics: m }
    })
    completeRuns(ctx.db, outcomes, t0, { id: groupId, result: { prefix, cells } })
    if (gradient)
      layout.forEach((c, i) => c.lr !== 0 && ctx.remember(ids[i], { gradient, lr: c.lr, modelId: t.model.row.id, at: t.base }))
    return { group: getGroup(ctx.db, groupId)!, runs: records(ctx.db, ids), cells }
  }, (p) => {
    // cancelled in the plain half: its partial tokens; in the engineered half: the plain half whole, its partial
    const rows = new Map<number, PartialOutput>()
    layout.forEach((c, i) => {
      const j = steps.indexOf(c.lr)
      const g = c.prefixed ? (partialPlain ? p[j] : undefined) : (partialPlain ? partialPlain[j] : p[j])
      if (g) rows.set(ids[i], partialOutput(engine, c.prefixed ? prefixedIds : promptIds, g, c.prefixed ? prefix : ''))
    })
    return rows
  })
}

// ---- lesson sequence ----------------------------------------------------------------------------------------

/** The opening words a lesson is cued with for its recall: the experiment's prompt when the phrase starts with it. */
export function lessonCue(phrase: string, prompt: string): string {
  if (prompt.trim() && phrase.startsWith(prompt)) return prompt
  const w = phrase.split(/\s+/).filter(Boolean)
  return w.slice(0, Math.min(2, Math.max(1, w.length - 1))).join(' ')
}

export async function runLesson(
  ctx: ExperimentContext,
  t: Target,
  s: Settings,
  steps: ChainStep[],
  args: unknown,
  opts?: CallOptions,
): Promise<LessonResult> {
  const engine = t.model.engine
  if (!Array.isArray(steps) || steps.length === 0) throw new InputError('a lesson needs at least one step')
  const { promptIds, phraseIds } = checkTexts(engine, s, steps.map((x) => x.phrase))
  const cues = steps.map((x) => lessonCue(x.phrase, s.prompt))
  const cueIds = cues.map((c) => engine.withBos(c, 'cue'))
  const t0 = Date.now()
  const kind: GroupKind = 'lesson'
  const groupId = insertGroup(ctx.db, {
    kind,
    modelId: t.model.row.id,
    checkpointId: t.checkpoint?.id ?? null,
    prompt: s.prompt,
    phrase: steps.map((x) => x.phrase).join(' | '),
    lrs: steps.map((x) => x.lr),
    args,
  })
  const experimentId = openExperiment(ctx, t, s, {
    kind: 'lesson',
    phrase: steps.map((x) => x.phrase).join(' | '),
    lrs: steps.map((x) => x.lr),
    groupId,
    extra: { steps },
  })
  const ids = writingRuns(ctx.db, experimentId, ctx.db.transaction(() => {
    const out: number[] = []
    steps.forEach((st, k) =>
      out.push(
        insertRun(ctx.db, {
          ...runBase(t, s, 'lesson', experimentId),
          phrase: st.phrase,
          lr: st.lr,
          groupId,
          groupIndex: k,
          parentRunId: k > 0 ? out[k - 1] : null,
          chain: steps.slice(0, k),
        }),
      ),
    )
    return out
  }))
  const forgetting: LessonRecall[][] = []
  let done = 0
  return guarded(ctx.db, () => ids.slice(done), t0, groupId, async () => {
    let view: View = t.base
    for (let k = 0; k < steps.length; k++) {
      const tk = Date.now()
      const at = view
      const step = await stepFrom(t, s, at, steps[k].phrase, steps[k].lr, phraseIds[k], promptIds, opts)
      const { gradient, g, m, gradientMs, generateMs, metricsStart } = step
      view = step.view
      // the forgetting curve: every lesson so far, under the model after step k
      const row: LessonRecall[] = []
      const gens = new Map<string, Generation>()
      gens.set(s.prompt, g)
      for (let j = 0; j <= k; j++) {
        const sc = await engine.score({ ids: phraseIds[j], views: [view] }, opts)
        const loss = sc[0].nll.reduce((a, b) => a + b, 0) / sc[0].nll.length
        let cg = gens.get(cues[j])
        if (!cg) {
          const need = Math.min(s.maxSeq - cueIds[j].length, phraseIds[j].length + 8)
          ;[cg] = await engine.generate({ prompt: cueIds[j], views: [view], maxNew: Math.max(1, need), maxSeq: s.maxSeq }, opts)
          gens.set(cues[j], cg)
        }
        const words = steps[j].phrase.split(/\s+/).filter(Boolean).length
        const text = engine.decode([...cueIds[j].slice(1), ...cg.ids])
        row.push({ lesson: j, phrase: steps[j].phrase, loss, recall: Math.min(words, commonPrefixWords(text, steps[j].phrase)), cue: cues[j] })
      }
      forgetting.push(row)
      const metrics: RunMetrics = {
        ...gradientMetrics(gradient, steps[k].lr),
        ...m,
        forgetting: row,
        timings: { gradientMs, generateMs, metricsMs: Date.now() - metricsStart },
      }
      // the last step completes the group in the same transaction
      const last = k === steps.length - 1
      completeRuns(ctx.db, [outcome(ids[k], engine, promptIds, g, metrics, s)], tk, last ? { id: groupId, result: { forgetting } } : undefined)
      ctx.remember(ids[k], { gradient, lr: steps[k].lr, modelId: t.model.row.id, at })
      done = k + 1
    }
    return { group: getGroup(ctx.db, groupId)!, runs: records(ctx.db, ids), forgetting }
  })
}
