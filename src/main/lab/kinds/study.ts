// study (issue 24): a grid of phrases × prompts × step sizes × models, one cell per (model, prompt, phrase) with all
// its α in one batched sweep (study/cells.ts). The kind validates and opens; the lab's study service (study/studies.ts)
// runs it here or on a queue of workers and answers for it afterwards (status, collect, cancel).
//   validate — phrases and prompts each listed once, the queue reachable (said at once, before anything is written),
//              every model resolved with its settings (the presets' texts filled in), no checkpoint on a queue;
//   open     — the study's experiment, `running`, holding the grid (never the queue's credentials); the same study
//              (same cells, same place) submitted again is the same experiment, so nothing is added twice;
//   record / settle — per cell, as cells come home: its runs inserted and completed in one transaction
//              (study/record.ts), the experiment settled from its cells — not by experiment/lifecycle.ts `conduct`,
//              which writes every run before the work: a study's runs arrive over time, possibly from other processes.
import { InputError } from '../../engine/engine'
import type { StudyRequest } from '../../../shared/api'
import { OWNER } from '../history/owner'
import { createExperiment } from '../history/tables/experiments'
import { baseRef } from '../experiment/common'
import { runSettings } from '../experiment/runSettings'
import { expandGrid, studyKey, type CellSettings, type StudyModel } from '../study/grid'
import { checkReachable } from '../study/queue'
import { parseQueueUrl } from '../study/queueUrl'
import type { StudySettings } from '../study/studies'
import type { DB } from '../history/db'
import type { KindHandler, LabServices } from './kind'

export const study: KindHandler<'study'> = async (lab, req, opts) => {
  unique('the phrase', req.phrases)
  if (req.prompts) unique('the prompt', req.prompts)
  const address = req.queue ? parseQueueUrl(req.queue) : null
  // an unreachable queue is said at once, before anything is written
  if (address) await checkReachable(address)
  const models = resolveModels(lab, req)
  if (address)
    for (const m of models)
      if (m.model.checkpoint)
        throw new InputError(`"${m.model.name}" is a checkpoint: a study on a queue runs on models only (workers hold models, not your checkpoints); run it without --queue`)
  const cells = expandGrid(models, req.phrases, req.lrs, req.restrict)
  const key = studyKey(cells)
  const s: StudySettings = {
    key,
    where: address ? address.redacted : 'embedded',
    models: models.map((m) => m.model),
    modelSettings: models.map((m) => m.settings),
    phrases: req.phrases,
    lrs: req.lrs,
    ...(req.restrict ? { restrict: req.restrict } : {}),
  }
  // the same study (same cells, same place) submitted again is the same experiment: nothing is added twice
  const same = lab.db
    .prepare(`SELECT id FROM experiments WHERE kind = 'study' AND json_extract(settings, '$.study.key') = ? AND json_extract(settings, '$.study.where') = ? ORDER BY id LIMIT 1`)
    .get(key, s.where) as { id: number } | undefined
  const id = same?.id ?? openStudy(lab.db, s, req, models[0])
  return lab.studies().run({ id, s, cells }, address ? req.queue! : null, req.follow !== false, opts)
}

function unique(what: string, xs: string[]): void {
  const seen = new Set<string>()
  for (const x of xs) {
    if (seen.has(x)) throw new InputError(`${what} ${JSON.stringify(x.length > 60 ? x.slice(0, 59) + '…' : x)} is listed twice`)
    seen.add(x)
  }
}

/** Each model of the request (the embedded organism when none) with the settings its cells run with. */
function resolveModels(lab: LabServices, req: StudyRequest): { model: StudyModel; settings: CellSettings }[] {
  const refs = req.models ?? [null]
  const out = refs.map((ref) => {
    const t = lab.target(ref)
    const s = lab.settings({ maxGen: req.maxGen, maxSeq: req.maxSeq, temperature: req.temperature, topP: req.topP, seed: req.seed, reference: req.reference }, t)
    const name = t.checkpoint ? `${t.model.row.name ?? 'model'} + ${t.checkpoint.name}` : (t.model.row.name ?? 'model')
    const model: StudyModel = { ref: t.ref, name, fingerprint: t.model.fp.fingerprint, modelId: t.model.row.id, checkpoint: baseRef(t) }
    const settings: CellSettings = {
      prompts: req.prompts ?? [s.prompt],
      ...runSettings(s),
    }
    return { model, settings }
  })
  const seen = new Set<string>()
  for (const m of out) {
    const k = `${m.model.fingerprint}/${m.model.checkpoint?.sha256 ?? ''}`
    if (seen.has(k)) throw new InputError(`the model "${m.model.name}" is listed twice`)
    seen.add(k)
  }
  return out
}

/** The study's experiment, `running`, holding its grid (the first model names it in History). */
function openStudy(db: DB, s: StudySettings, req: StudyRequest, first: { model: StudyModel; settings: CellSettings }): number {
  const id = createExperiment(db, {
    kind: 'study',
    modelId: first.model.modelId,
    modelFingerprint: first.model.fingerprint,
    modelRef: first.model.ref,
    base: first.model.checkpoint,
    prompt: first.settings.prompts[0],
    phrase: req.phrases.length === 1 ? req.phrases[0] : `${req.phrases.length} phrases`,
    maxGen: first.settings.maxGen,
    maxSeq: first.settings.maxSeq,
    lrs: req.lrs,
    settings: { study: s, lrs: req.lrs, phrases: req.phrases, prompts: req.prompts ?? null, models: s.models.map((m) => m.name), where: s.where },
    owner: OWNER,
  })
  if (req.title) db.prepare('UPDATE experiments SET title = ? WHERE id = ?').run(req.title, id)
  return id
}
