// A study's grid: the request expanded into cells — one per (model, prompt, phrase), all its α in one batched sweep —
// each with the complete settings a worker needs (texts, never paths) and its id: sha256 of those settings and the
// model's fingerprint (and a checkpoint's hash), so the same cell always has the same id, on every machine. The BullMQ
// job id is "cell-" + the cell id: submitting a study twice adds no job.
import { createHash } from 'node:crypto'
import type { CellJob, Restriction } from '../../../shared/api'
import { runSettings, type RunSettings } from '../experiment/runSettings'

export interface GridCell {
  /** sha256 hex of the cell's settings and its model's identity */
  id: string
  index: number
  /** which model of the request (index into the study's models) */
  modelIndex: number
  job: CellJob
}

/** One model of a study as the lab resolved it. */
export interface StudyModel {
  /** how the request named it (null: the organism) */
  ref: string | null
  /** shown in tables and views */
  name: string
  fingerprint: string
  modelId: number
  /** a checkpoint: its id, name and hash (embedded studies only) */
  checkpoint: { id: number; name: string; sha256: string } | null
}

/** The settings a study's cells share per model (the model's preset and texts filled in by the lab). */
export interface CellSettings extends RunSettings {
  prompts: string[]
}

/** Deterministic JSON: object keys sorted, so the same settings hash the same. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v)
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`
  const o = v as Record<string, unknown>
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
    .join(',')}}`
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

/** The id of a cell: its job's settings (the model named by fingerprint) and a checkpoint's hash when it starts from one. */
export function cellId(job: CellJob, checkpointSha: string | null): string {
  const { model, ...rest } = job
  return sha256(canonicalJson({ ...rest, fingerprint: model.fingerprint, checkpoint: checkpointSha }))
}

/** Every cell of the study: models × prompts × phrases, in that order. */
export function expandGrid(
  models: { model: StudyModel; settings: CellSettings }[],
  phrases: string[],
  lrs: number[],
  restrict: Restriction | undefined,
): GridCell[] {
  const cells: GridCell[] = []
  models.forEach(({ model, settings: s }, modelIndex) => {
    for (const prompt of s.prompts)
      for (const phrase of phrases) {
        const job: CellJob = {
          v: 1,
          model: { fingerprint: model.fingerprint, name: model.name },
          prompt,
          prefix: '',
          phrase,
          lrs,
          ...(restrict && (restrict.groups || restrict.layers) ? { restrict } : {}),
          ...runSettings(s),
        }
        cells.push({ id: cellId(job, model.checkpoint?.sha256 ?? null), index: cells.length, modelIndex, job })
      }
  })
  return cells
}

/** The study's own identity: its cells in order (the same request on the same models is the same study). */
export function studyKey(cells: GridCell[]): string {
  return sha256(cells.map((c) => c.id).join('\n'))
}

export const JOB_PREFIX = 'cell-'
export const jobIdOf = (cell: string): string => JOB_PREFIX + cell
