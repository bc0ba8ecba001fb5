// One cell of a study: the lab's batched sweep (one gradient of the phrase, every α in one batched generation — the
// seed's "Stepping Off", experiments.ts steppingOff) with every metric the sweep measures, plus whether each α learned
// the phrase and whether it broke the model (the plasticity window's definitions, kinds/window.ts). The same
// function runs a cell in the lab's process and on a worker, so both record the same numbers.
import type { CellJob, CellResult, RunMetrics } from '../../../shared/api'
import { WINDOW_DEFAULTS } from '../../../shared/api'
import { CallOptions, Engine, View } from '../../engine/engine'
import { loadAddon } from '../../engine/native'
import { checkTexts, outcome, Settings, stepMetrics, steppingOff } from '../experiment/common'
import { checkRestriction } from '../step/restrict'
import { editMetrics, modelMetrics } from '../metrics'
import { learned } from '../experiment/plasticity'

function settingsOf(job: CellJob): Settings {
  return {
    prompt: job.prompt,
    prefix: job.prefix,
    maxGen: job.maxGen,
    maxSeq: job.maxSeq,
    temperature: job.temperature,
    topP: job.topP,
    seed: job.seed,
    reference: job.reference,
    probes: job.probes,
    paraphrases: job.paraphrases,
  }
}

/** The tokens after the prompt's when the phrase continues the prompt (else null: "learned" is not defined). */
function continuation(promptIds: number[], phraseIds: number[]): number[] | null {
  if (phraseIds.length <= promptIds.length || !promptIds.every((id, i) => phraseIds[i] === id)) return null
  return phraseIds.slice(promptIds.length)
}

/** Runs one cell on `engine` from `base` (the model itself: []; a checkpoint's view in an embedded study). */
/** `host`: who runs it, as the study's views show it (a worker: "host:pid", so two workers of one machine are told apart). */
export async function computeCell(engine: Engine, base: View, cell: string, job: CellJob, host: string, opts?: CallOptions): Promise<CellResult> {
  const t0 = Date.now()
  const s = settingsOf(job)
  if (job.restrict) checkRestriction(job.restrict, engine.config.layers)
  const { promptIds, phraseIds } = checkTexts(engine, s, [job.phrase])
  const so = await steppingOff(engine, base, promptIds, job.phrase, job.lrs, s, opts, job.restrict)
  const tm = Date.now()
  const ms = await modelMetrics(engine, { base, views: so.views, phraseIds: phraseIds[0], reference: s.reference, probes: s.probes }, opts)
  const em = await editMetrics(engine, { base, views: so.views, phrase: job.phrase, paraphrases: s.paraphrases, probes: s.probes, maxSeq: s.maxSeq }, opts)
  const metricsMs = Date.now() - tm
  const cont = continuation(promptIds, phraseIds[0])
  const k = loadAddon().kernelInfo()
  const runs = job.lrs.map((lr, i) => {
    const m: RunMetrics = {
      ...stepMetrics(engine, so.gradient, lr, job.restrict),
      ...ms[i],
      ...em[i],
      timings: { gradientMs: so.gradientMs, generateMs: so.generateMs, metricsMs },
    }
    const o = outcome(0, engine, promptIds, so.generations[i], m, s)
    const kl = o.metrics.stabilityKl
    const broken =
      (o.metrics.repetition ?? 0) >= WINDOW_DEFAULTS.repetitionMax || (typeof kl === 'number' && (!Number.isFinite(kl) || kl >= WINDOW_DEFAULTS.klMax))
    const study = { cell, host, kernelPath: k.path, threads: k.threads, queuedMs: 0, cellMs: 0, learned: cont ? learned(so.generations[i].ids, cont) : false, broken }
    return { lr, outputIds: o.outputIds, outputText: o.outputText, fullText: o.fullText, metrics: { ...o.metrics, study } }
  })
  const cellMs = Date.now() - t0
  for (const r of runs) r.metrics.study.cellMs = cellMs
  return { v: 1, cell, host, kernelPath: k.path, threads: k.threads, cellMs, phraseIds: so.gradient.phraseIds, phraseLoss: so.gradient.loss, runs }
}
