// What every experiment kind (src/main/lab/kinds) shares: the settings a request resolves to, the experiment row it
// opens, the texts checked before anything is written, one batched generation over views, a run's outcome with its
// metrics, the step from a view (step, lesson) and the batched sweep (sweep, bench). The lifecycle that writes and
// settles the rows is experiment/lifecycle.ts.
import { CallOptions, CancelledError, Engine, Generation, Gradient, InputError, View } from '../../engine/engine'
import type { ExperimentKind, RunKind, RunMetrics, RunRecord, Restriction } from '../../../shared/api'
import type { DB } from '../history/db'
import { getRun, NewRun } from '../history/tables/runs'
import { abortRuns, PartialOutput, RunOutcome } from '../history/lifecycle'
import { OWNER } from '../history/owner'
import { createExperiment } from '../history/tables/experiments'
import type { Target } from '../targets'
import { restrictGradient, updateGrid } from '../step/restrict'
import { editMetrics, gradientMetrics, modelMetrics, reachableWords, textMetrics } from '../metrics'
import { withTextsNote } from '../metricTexts'
import { modelPhrase, modelPrompt, modelProbes } from '../chat'
import { runSettings, type RunSettings } from './runSettings'

export interface Settings extends RunSettings {
  prompt: string
  /** prompt engineering: generated in front of the prompt, excluded from recall ('' = none) */
  prefix: string
  /** where the reference, probes and paraphrases came from (labelled next to their metrics) */
  texts?: RunMetrics['texts']
  /** apply the model's chat template to the prompt, the phrase and the probes (chat.ts) */
  chatTemplate?: boolean
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
  e: { kind: ExperimentKind; phrase: string | null; lrs: number[]; args?: unknown; extra?: Record<string, unknown> },
): number {
  return createExperiment(ctx.db, {
    kind: e.kind,
    args: e.args,
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
      ...runSettings(s),
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
 * Runs `work`; on failure marks the still-running rows cancelled/failed (and settles their experiment) and rethrows. A cancelled
 * generation's partial tokens (CancelledError.partial, one per view) are kept on the cancelled rows: `partialRows`
 * maps them to run ids and texts.
 */
export async function guarded<T>(
  db: DB,
  ids: () => number[],
  t0: number,
  work: () => Promise<T>,
  partialRows?: (partial: Generation[]) => Map<number, PartialOutput>,
): Promise<T> {
  try {
    return await work()
  } catch (e) {
    const cancelled = e instanceof CancelledError
    const partial = cancelled && e.partial && partialRows ? partialRows(e.partial) : undefined
    abortRuns(db, ids(), cancelled ? 'cancelled' : 'failed', cancelled ? 'cancelled' : errorText(e), t0, partial)
    throw e
  }
}

/** A cancelled generation's tokens as the rows keep them (text metrics only: the model metrics were never taken). */
export function partialOutput(engine: Engine, promptIds: number[], g: Generation, prefix: string): PartialOutput {
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

export function generateAll(t: Target, s: Settings, promptIds: number[], views: View[], opts?: CallOptions): Promise<Generation[]> {
  return generateViews(t.model.engine, s, promptIds, views, opts)
}

/** Recall's denominator for these settings (undefined without a reference). */
export function reachable(engine: Engine, s: Settings): number | undefined {
  return s.reference ? reachableWords(engine, s.reference, engine.tokenize(s.prompt).length, s.maxGen) : undefined
}

export function outcome(id: number, engine: Engine, promptIds: number[], g: Generation, metrics: RunMetrics, s: Settings): RunOutcome {
  const full = fullText(engine, promptIds, g)
  return {
    id,
    outputIds: g.ids,
    outputText: g.text,
    fullText: full,
    metrics: withTextsNote(s, {
      ...textMetrics(g.ids, g.text, withoutPrefix(full, s.prefix), s.reference, reachable(engine, s)),
      ...metrics,
      minMargin: minMargin(g),
    }),
  }
}

/** Generalisation and locality of stepped views (skipped when there is nothing to measure them with). */
export function edits(t: Target, s: Settings, views: View[], phrase: string | null, opts?: CallOptions): Promise<RunMetrics[]> {
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

// ---- shared by the kinds --------------------------------------------------------------------------------

/** One step at `at`: the phrase's gradient there, the completion of the stepped model and its metrics, timed. */
export async function stepFrom(
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

// ---- the batched sweep --------------------------------------------------------------------------------------------------

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

/** Text after the prefix, so recall is measured on what the prompt asked for, not on the prefix. */
export function withoutPrefix(text: string, prefix: string): string {
  const p = prefix.trim()
  return p && text.startsWith(p) ? text.slice(p.length).trimStart() : text
}

