// The Lab: one facade over the experiments, the history database and the checkpoints, used by the CLI, the desktop
// app (through IPC) and browser mode (through WebSocket). It knows nothing about Electron. Every method takes plain
// JSON and returns plain JSON (shapes: src/shared/api.ts); long ones take {onProgress, signal}. Requests arrive
// validated against the contract (every caller goes through it: src/main/lab/methods.ts), so the lab checks
// only what needs a loaded model (max_seq_len against its context, texts against its tokenizer).
import { join } from 'node:path'
import { CallOptions, Engine, InputError, View } from '../engine/engine'
import { embeddedModelDir, loadAddon } from '../engine/native'
import {
  SEED_DEFAULTS,
  type CheckpointRecord,
  type EngineInfo,
  type ReportRequest,
  type ReportResult,
  type DeleteCheckpointRequest,
  type DeleteResult,
  type ExperimentBase,
  type ExportCheckpointRequest,
  type ExportResult,
  type DeleteCheckpointResult,
  type ExperimentDetail,
  type ExperimentExport,
  type ExperimentFilter,
  type ExperimentPage,
  type ExperimentSummary,
  type ExperimentTable,
  type LabEvent,
  type ModelTexts,
  type RunDiff,
  type TableFormat,
  type TokenCount,
  type UpdateExperimentRequest,
  type UpdateModelTextsRequest,
  TRASH_DAYS,
  type HistoryFilter,
  type HistoryPage,
  type ModelInfo,
  type RenameCheckpointRequest,
  type RunDetail,
  type RunRecord,
  type RunResult,
  type SaveCheckpointRequest,
  type ScatterPoint,
  type ExportDtype,
} from '../../shared/api'
import { experimentMethods, type ApiResponse, type ExperimentMethod } from '../../shared/api'
import { exportAdapter, exportCheckpointDir, exportGgufFile } from './checkpoints/export'
import { ExportJournal } from './checkpoints/exportLeftovers'
import { userModelDirs } from './modelLocation'
import { CheckpointError, CheckpointStore } from './checkpoints/store'
import { ensureDataDir, resolveDataDir } from './dataDir'
import type { ExperimentContext, Settings, StepMemo } from './experiment/common'
import { KINDS } from './kinds'
import type { KindHandler, KindRequest, LabServices } from './kinds/kind'
import { chatTemplateOf } from './chat'
import { findCheckpointByName, findCheckpointByRun, getCheckpoint } from './history/tables/checkpoints'
import { DB, openDb } from './history/db'
import { markInterrupted } from './history/owner'
import { settleOrphanExperiments } from './history/settle'
import { getModel, listModelRows } from './history/tables/models'
import { experimentRuns, getRun, queryRuns, scatterPoints } from './history/tables/runs'
import { expertsRunRestriction } from './kinds/experts'
import { restrictGradientToExperts } from './step/experts'
import { experimentModelPath, getExperiment, listExperiments, updateExperiment } from './history/tables/experiments'
import { onHistoryEvent } from './history/events'
import { getModelTexts, resetModelTexts, saveModelTexts } from './history/tables/modelTexts'
import { diffRuns, experimentTable } from './report/tables'
import { nameFree } from './checkpoints/store'
import { baseProblem, legacyBaseProblem } from '../../shared/baseCheckpoint'
import { textOrigins } from './metricTexts'
import { defaultDtypes, exportKeepingStep, ggufTextKv } from './checkpoints/exportKept'
import { LoadedModel, Target, Targets } from './targets'
import { restrictGradient } from './step/restrict'
import { experimentReport } from './report/experiment'
import { Studies } from './study/studies'
import { studyReport } from './study/report'

export { CancelledError, InputError } from '../engine/engine'
export { ModelFormatError } from '../engine/config'
export { CheckpointError } from './checkpoints/store'
export { DataDirError } from './dataDir'
export { DbError } from './history/db'

export const HISTORY_FILE = 'history.sqlite'
const MAX_MEMOS = 256
/** Remembered steps hold their factors in memory (~0.1 GB each on Llama-2-7b): bound them by bytes as well. */
const MAX_MEMO_BYTES = 1 << 30

export { embeddedModelDir }

export interface LabOptions {
  /** data directory (default: $SOLILOQUY_DATA or the per-user directory Electron uses for "Soliloquy") */
  dataDir?: string | null
  /** engine threads (0 = all cores) */
  threads?: number
  /** folders holding the user's models: where a model that moved is looked for (with SOLILOQUY_MODEL_DIRS) */
  modelDirs?: string[]
  /**
   * browser mode (`soliloquy serve`): when model folders are given, a model is opened only inside them (the file
   * browser lists only these too), so a page cannot open any path of the server
   */
  confineModels?: boolean
}

export class Lab {
  readonly dataDir: string
  /** the folders holding the user's models (the option, then SOLILOQUY_MODEL_DIRS): browser mode's file browser lists only these */
  readonly modelDirs: string[]
  readonly db: DB
  readonly store: CheckpointStore
  /** what opening the database did: schema migration and runs found interrupted */
  readonly opened: { migrated: { from: number; to: number }; interrupted: number[]; purged: string[]; exportLeftovers: string[] }
  /** where this lab's exports stage their output, so a killed one is cleaned up at the next open */
  private readonly exportJournal: ExportJournal
  private readonly targets: Targets
  private readonly memos = new Map<number, StepMemo>()
  private closed = false
  private studiesService: Studies | null = null

  constructor(o: LabOptions = {}) {
    this.dataDir = ensureDataDir(resolveDataDir(o.dataDir))
    const r = openDb(join(this.dataDir, HISTORY_FILE))
    this.db = r.db
    // runs left `running` by a process that is gone are now `interrupted`
    const interrupted = markInterrupted(this.db)
    // experiments of a process that ended before their runs were written (disk full, a kill) are settled too
    settleOrphanExperiments(this.db)
    this.store = new CheckpointStore(this.db, this.dataDir)
    // the Trash keeps deleted checkpoints TRASH_DAYS days
    const purged = this.store.purge({ olderThanDays: TRASH_DAYS }).deleted
    this.exportJournal = new ExportJournal(this.dataDir)
    this.opened = { migrated: r.migrated, interrupted, purged, exportLeftovers: this.exportJournal.sweep() }
    this.modelDirs = userModelDirs(o.modelDirs)
    this.targets = new Targets(this.db, this.store, o.threads ?? 0, this.modelDirs, o.confineModels ?? false)
  }

  // ---- models -------------------------------------------------------------------------------------------------

  private live(): void {
    if (this.closed) throw new Error('the lab is closed')
  }

  private target(ref: unknown): Target {
    this.live()
    return this.targets.resolve(ref)
  }

  /** The request's settings with the preset's defaults; max_seq_len checked against the model's context. */
  private settings(a: ExperimentBase & { chatTemplate?: boolean }, t: Target): Settings {
    const p = t.model.preset
    const maxPos = t.model.engine.config.maxPos
    const maxSeq = a.maxSeq ?? SEED_DEFAULTS.maxSeq
    if (maxSeq > maxPos) throw new InputError(`max_seq_len must be a whole number from 2 to ${maxPos} (got ${maxSeq})`)
    const texts = this.texts(t)
    if (a.chatTemplate) chatTemplateOf(t.model.engine) // refused before anything is recorded when the model has none
    return {
      chatTemplate: a.chatTemplate === true,
      prompt: a.prompt ?? p.prompt,
      prefix: a.prefix ?? '',
      paraphrases: texts.paraphrases,
      maxGen: a.maxGen ?? SEED_DEFAULTS.maxGen,
      maxSeq,
      temperature: a.temperature ?? 0,
      topP: a.topP ?? 1,
      seed: a.seed ?? SEED_DEFAULTS.seed,
      reference: a.reference === undefined ? texts.reference : a.reference,
      probes: a.probes ?? texts.probes,
      texts: textOrigins(texts.from, a),
    }
  }

  /** The model's texts: saved for its fingerprint, else its preset's. */
  private texts(t: Target): ModelTexts {
    const saved = getModelTexts(this.db, t.model.fp.fingerprint)
    const p = t.model.preset
    return {
      modelId: t.model.row.id,
      fingerprint: t.model.fp.fingerprint,
      reference: saved ? saved.reference : p.reference,
      probes: saved ? saved.probes : p.probes,
      paraphrases: saved ? saved.paraphrases : p.paraphrases,
      source: saved ? 'saved' : 'preset',
      from: saved ? { reference: 'saved', probes: 'saved', paraphrases: 'saved' } : { ...p.origin },
      updatedAt: saved?.updatedAt ?? null,
    }
  }

  /** Live changes of runs and experiments (for the UI's History without Refresh). Returns the unsubscribe. */
  onEvent(cb: (e: LabEvent) => void): () => void {
    return onHistoryEvent(this.db, cb)
  }

  /** Bytes of the distinct gradients the memos keep alive (a sweep's runs share one gradient). */
  private memoBytes(): number {
    const seen = new Set<object>()
    let bytes = 0
    for (const m of this.memos.values())
      for (const g of [m.gradient, ...m.at.map((t) => t.gradient)])
        if (!seen.has(g)) {
          seen.add(g)
          bytes += g.bytes
        }
    return bytes
  }

  private ctx(): ExperimentContext {
    return {
      db: this.db,
      remember: (runId, memo) => {
        this.memos.delete(runId)
        this.memos.set(runId, memo)
        while (this.memos.size > 1 && (this.memos.size > MAX_MEMOS || this.memoBytes() > MAX_MEMO_BYTES))
          this.memos.delete(this.memos.keys().next().value as number)
      },
    }
  }

  /** The phrase given, else the preset's (which may be empty: checked here, where the preset is known). */
  private phrase(v: string | undefined, t: Target): string {
    const p = v ?? t.model.preset.phrase
    if (p.trim().length === 0) throw new InputError('the phrase is empty')
    return p
  }

  /** The engine on this machine: kernel path in use, paths available, CPU features, threads. */
  engineInfo(): EngineInfo {
    const k = loadAddon().kernelInfo()
    return { kernelPath: k.path, forced: !!process.env.SOLILOQUY_KERNELS, availablePaths: k.available, cpuFeatures: k.features, threads: k.threads }
  }

  /** Models in the history (the embedded organism first registered on first use). */
  async listModels(): Promise<ModelInfo[]> {
    this.live()
    try {
      this.targets.load(embeddedModelDir())
    } catch {
      /* a build without the organism still lists what it has */
    }
    return listModelRows(this.db).map((r) => this.targets.info(r, this.targets.engineAt(r.path)))
  }

  /** Opens a model directory (HF layout) and registers it; returns its description. */
  async openModel(path: string | null): Promise<ModelInfo> {
    this.live()
    const m = this.targets.load(path === null || path === undefined || path === '' ? embeddedModelDir() : path)
    return this.targets.info(m.row, m.engine)
  }

  // ---- experiments (src/main/lab/kinds: one handler per kind) ---------------------------------------------------

  /** What a kind's handler may use of the lab (kinds/kind.ts). */
  private services(): LabServices {
    return {
      db: this.db,
      target: (ref) => this.target(ref),
      settings: (a, t) => this.settings(a, t),
      phrase: (v, t) => this.phrase(v, t),
      context: () => this.ctx(),
      saveCheckpoint: (a, o) => this.saveCheckpoint(a, o),
      studies: () => this.studies(),
    }
  }

  /** Runs an experiment of the kind `method` records (generate, step, sweep, … — the contract's experiment methods). */
  async runKind<M extends ExperimentMethod>(method: M, args: KindRequest<M>, opts?: CallOptions): Promise<ApiResponse<M>> {
    // async: a request refused before any work (a bad restriction, an empty phrase) rejects, as every lab call does
    this.live()
    return (KINDS[method] as KindHandler<M>)(this.services(), args ?? ({} as KindRequest<M>), opts)
  }

  /** A self-contained HTML report of an experiment (any kind; an instrument's charts come from its result). */
  async report(args: ReportRequest): Promise<ReportResult> {
    this.live()
    const e = this.experimentOrThrow(args.id)
    if (e.kind === 'study') return studyReport(e, experimentRuns(this.db, e.id))
    const subject = {
      id: e.id,
      kind: e.kind,
      status: e.status,
      checkpointId: e.base?.id ?? null,
      args: e.args ?? e.settings,
      result: e.result,
      createdAt: e.createdAt,
      finishedAt: e.finishedAt,
    }
    const model = e.modelName ?? e.modelRef ?? (e.modelId === null ? 'unknown model' : `model ${e.modelId}`)
    return experimentReport(subject, experimentRuns(this.db, e.id), { model })
  }

  // ---- history ------------------------------------------------------------------------------------------------

  /** Runs filtered by model/phrase/α range/date/kind/status, sorted and paged. */
  async history(filter: HistoryFilter = {}): Promise<HistoryPage> {
    this.live()
    return queryRuns(this.db, filter ?? {})
  }

  /** One run with its experiment, model and checkpoints. */
  async run(id: number): Promise<RunDetail> {
    this.live()
    const run = getRun(this.db, id)
    if (!run) throw new InputError(`no run ${JSON.stringify(id)}`)
    const m = getModel(this.db, run.modelId)
    return {
      run,
      model: { id: run.modelId, path: m?.path ?? '', name: m?.name ?? null },
      startedFrom: run.checkpointId !== null ? (getCheckpoint(this.db, run.checkpointId) ?? null) : null,
      saved: this.store.list('all').filter((c) => c.runId === run.id),
      experiment: run.experimentId !== null ? (getExperiment(this.db, run.experimentId) ?? null) : null,
    }
  }

  /** Plasticity (recall, phrase loss) vs stability (KL) of finished runs, in time order. */
  async scatter(filter: HistoryFilter = {}): Promise<ScatterPoint[]> {
    this.live()
    return scatterPoints(this.db, filter ?? {})
  }

  // ---- checkpoints --------------------------------------------------------------------------------------------

  /** Every saved checkpoint with its lineage (parent, depth, children) and size. */
  async checkpoints(args: { include?: 'live' | 'trash' | 'all' } = {}): Promise<CheckpointRecord[]> {
    this.live()
    return this.store.list(args?.include ?? 'live')
  }

  /** Brings a checkpoint back from the Trash (with its trashed ancestors). */
  async restoreCheckpoint(args: { id: number | string }): Promise<CheckpointRecord> {
    this.live()
    const c = this.store.restore(args.id)
    this.targets.forgetViews()
    return c
  }

  /** Purges one trashed checkpoint, or those deleted more than olderThanDays (default TRASH_DAYS) ago. */
  async purgeCheckpoints(args: { id?: number | string; olderThanDays?: number } = {}): Promise<DeleteResult> {
    this.live()
    const r = this.store.purge({ ref: args.id, olderThanDays: args.olderThanDays })
    this.targets.forgetViews()
    return r
  }

  /** The step a run took: remembered, or recomputed (and checked against the recorded loss). */
  private async stepOf(run: RunRecord, opts?: CallOptions): Promise<StepMemo> {
    const hit = this.memos.get(run.id)
    if (hit) return hit
    if (!run.phrase || run.lr === null) throw new InputError(`run ${run.id} took no step`)
    let at: View
    let model: LoadedModel
    if (run.kind === 'lesson' && run.parentRunId !== null) {
      const parent = getRun(this.db, run.parentRunId)
      if (!parent) throw new InputError(`run ${run.id}: the previous step of its lesson (run ${run.parentRunId}) is gone`)
      const pm = await this.stepOf(parent, opts)
      at = [...pm.at, { gradient: pm.gradient, lr: pm.lr }]
      model = this.targets.loadById(pm.modelId, `run ${run.id}`)
    } else if (goneBase(run)) {
      throw new InputError(goneBase(run)!)
    } else if (run.checkpointId !== null) {
      const t = this.target(run.checkpointId)
      at = t.base
      model = t.model
    } else {
      model = this.targets.loadById(run.modelId, `run ${run.id}`)
      at = []
    }
    // a restricted step is the same gradient with the other factors dropped (src/main/lab/step/restrict.ts; an
    // experts run's restriction is its experiment's: kinds/experts.ts)
    const full = await model.engine.gradient(run.phrase, at, opts, run.maxSeq)
    const chosen = run.kind === 'experts' && run.experimentId !== null ? expertsRunRestriction(run, getExperiment(this.db, run.experimentId)?.result) : null
    const gradient = chosen ? restrictGradientToExperts(model.engine, full, chosen) : restrictGradient(model.engine, full, run.metrics.restriction)
    const recorded = run.metrics.phraseLossBefore
    if (typeof recorded === 'number' && Math.abs(gradient.loss - recorded) > 1e-5 * Math.max(1, Math.abs(recorded)))
      throw new CheckpointError(
        `recomputing the step of run ${run.id} gives phrase loss ${gradient.loss}, but the run recorded ${recorded}: the model has changed since`,
      )
    const memo: StepMemo = { gradient, lr: run.lr, modelId: model.row.id, at }
    this.ctx().remember(run.id, memo)
    return memo
  }

  private uniqueName(base: string): string {
    let name = base
    for (let i = 2; findCheckpointByName(this.db, name); i++) name = `${base} ${i}`
    return name
  }

  /**
   * "Save this step": the run's factors as a checkpoint named `name`. A lesson step is saved on top of the
   * checkpoint of the step before it (saved too, as "NAME (step k)", if it was not yet).
   */
  async saveCheckpoint(args: SaveCheckpointRequest, opts?: CallOptions): Promise<CheckpointRecord> {
    this.live()
    const name = args.name
    nameFree(this.db, name)
    const run = getRun(this.db, args.runId)
    if (!run) throw new InputError(`no run ${args.runId}`)
    if (run.status !== 'done') throw new InputError(`run ${run.id} did not finish (${run.status}); there is no step to save`)
    if (!run.phrase || run.lr === null || run.lr === 0)
      throw new InputError(`run ${run.id} took no step (${run.kind}${run.lr === 0 ? ', α = 0' : ''}); there is nothing to save`)
    const already = findCheckpointByRun(this.db, run.id)
    if (already) throw new InputError(`run ${run.id} is already saved as checkpoint "${already.name}"`)
    let parentId = run.checkpointId
    // a lesson step's base is its previous step's checkpoint (stepOf checks the lesson's own base)
    if (run.kind !== 'lesson' && goneBase(run)) throw new InputError(goneBase(run)!)
    if (run.kind === 'lesson' && run.parentRunId !== null) {
      const parent =
        findCheckpointByRun(this.db, run.parentRunId) ??
        (await this.saveCheckpoint(
          { runId: run.parentRunId, name: this.uniqueName(`${name} (step ${run.position ?? 0})`) },
          opts,
        ))
      parentId = parent.id
    }
    const memo = await this.stepOf(run, opts)
    const model = this.targets.loadById(memo.modelId, `run ${run.id}`)
    return this.store.save({
      name,
      modelId: model.row.id,
      parentId,
      runId: run.id,
      phrase: run.phrase,
      lr: run.lr,
      factors: memo.gradient.factors(),
      baseFingerprint: model.fp.fingerprint,
      baseFiles: model.fp.files,
    })
  }

  /** Renames a checkpoint (names are unique). */
  async renameCheckpoint(args: RenameCheckpointRequest): Promise<CheckpointRecord> {
    this.live()
    return this.store.rename(args.id, args.name)
  }

  /** Deletes a checkpoint; refuses when others are built on it unless `force` (which deletes them too). */
  async deleteCheckpoint(args: DeleteCheckpointRequest): Promise<DeleteCheckpointResult> {
    this.live()
    const r = this.store.delete(args.id, args.force === true, args.purge === true)
    this.targets.forgetViews()
    return r
  }

  /** Writes the checkpoint's model, merged, as a standard HF directory (default dtype: the base model's). */
  /**
   * Exports a checkpoint — or, with no checkpoint named, a model as it is — as a merged HF directory, a merged GGUF
   * file, or (a checkpoint only) its step(s) as a PEFT adapter with what the adapter cannot carry measured.
   */
  async exportCheckpoint(args: ExportCheckpointRequest, opts?: CallOptions): Promise<ExportResult> {
    this.live()
    const format = args.format ?? 'hf'
    const c = args.id !== undefined ? this.store.get(args.id) : null
    const t = this.target(c ? c.id : (args.model ?? null))
    const ckpt = c ?? t.checkpoint
    const engine = t.model.engine
    const lineage = ckpt ? this.store.lineage(ckpt).map((x) => ({ name: x.name, phrase: x.phrase, lr: x.lr, sha256: x.sha256 })) : []
    // every export measured on the written model against the checkpoint; a default dtype that loses the step moves up
    const texts = this.texts(t)
    const fidelityTexts = { probes: texts.probes, phrase: ckpt?.phrase ?? null, prompt: t.model.preset.prompt }
    const keep = <R extends { dir: string }>(first: ExportDtype, write: (d: ExportDtype) => Promise<R>, open: (r: R) => { engine: Engine; view: View }) =>
      exportKeepingStep({ engine, view: t.base, texts: fidelityTexts, dtypes: defaultDtypes(first), asked: args.dtype !== undefined, write, open, opts })
    const reopen = (path: string) => ({ engine: Engine.load(path), view: [] as View })
    if (format === 'gguf') {
      const name = ckpt ? `${t.model.row.name ?? 'model'} + ${ckpt.name}` : (t.model.row.name ?? 'model')
      const kv = ggufTextKv(texts, t.model.preset)
      const k = await keep(args.dtype ?? 'F16', (d) => exportGgufFile(engine, t.base, args.outDir, d, name, opts, this.exportJournal, kv), (r) => reopen(r.dir))
      return { ...k.result, format, dtype: k.dtype, checkpoint: ckpt, fidelity: k.fidelity }
    }
    if (format === 'peft') {
      if (!ckpt) throw new InputError('a PEFT adapter is a step: name a checkpoint (the base model has no step to carry)')
      // the adapter as PEFT applies it (its factors at full precision; the norm changes it cannot carry dropped)
      const k = await keep(args.dtype ?? 'F32', (d) => exportAdapter(engine, t.base, args.outDir, d, opts, this.exportJournal), (r) => ({ engine, view: r.adapterView }))
      const r = k.result
      return {
        format,
        dir: r.dir,
        files: r.files,
        bytes: r.bytes,
        dtype: k.dtype,
        checkpoint: ckpt,
        peft: { rank: r.rank, notCarried: r.notCarried, normLoss: r.normLoss },
        fidelity: k.fidelity,
      }
    }
    const k = await keep(
      args.dtype ?? hfStoredDtype(engine),
      (d) => exportCheckpointDir(engine, t.base, t.model.fp, lineage, args.outDir, d, opts, this.exportJournal),
      (r) => reopen(r.dir),
    )
    return { ...k.result, format, dtype: k.dtype, checkpoint: ckpt, fidelity: k.fidelity }
  }

  // ---- experiments ----------------------------------------------------------------------------------------------

  /**
   * A recorded run again, with its own settings: on its base checkpoint by id (found after a rename; a trashed or
   * purged base refused in words), its prompt and engineered prefix apart (recall the same way), its max tokens.
   */
  async rerun(runId: number, opts?: CallOptions): Promise<RunResult> {
    this.live()
    const run = getRun(this.db, runId)
    if (!run) throw new InputError(`no run ${runId}`)
    if (run.chain.length) throw new InputError(`run ${run.id} is step ${run.chain.length + 1} of a lesson; re-run the lesson (experiment ${run.experimentId})`)
    let model: string | null
    if (goneBase(run)) throw new InputError(goneBase(run)!)
    if (run.base) {
      model = String(run.base.id)
    } else {
      const m = getModel(this.db, run.modelId)
      // where the model is now: found again by fingerprint if it moved, else refused as missing (the app asks)
      model = m && m.embedded !== 1 ? this.targets.loadById(m.id, `run ${run.id}`).row.path : null
    }
    const args = {
      model,
      prompt: run.prompt,
      prefix: run.prefix,
      maxGen: run.maxGen,
      maxSeq: run.maxSeq,
      temperature: run.temperature,
      topP: run.topP,
      seed: run.seed,
      // the chat template option lives in the experiment's settings (the run keeps the typed texts)
      ...(run.experimentId !== null && getExperiment(this.db, run.experimentId)?.settings?.chatTemplate === true ? { chatTemplate: true } : {}),
    }
    if (run.kind === 'experts' && run.experimentId !== null && expertsRunRestriction(run, getExperiment(this.db, run.experimentId)?.result))
      throw new InputError(`run ${run.id} is a step restricted to chosen experts; re-run its experiment (e${run.experimentId}) with the same experts`)
    if (run.phrase && run.lr !== null && run.lr !== 0) return this.step({ ...args, phrase: run.phrase, lr: run.lr }, opts)
    return this.generate(args, opts)
  }

  /** Experiments (one per action) filtered by kind/tag/star/text/model, sorted and paged, each with its summary. */
  async experiments(filter: ExperimentFilter = {}): Promise<ExperimentPage> {
    this.live()
    return listExperiments(this.db, filter ?? {})
  }

  private experimentOrThrow(id: number): ExperimentSummary {
    const e = getExperiment(this.db, id)
    if (!e) throw new InputError(`no experiment ${JSON.stringify(id)}`)
    return e
  }

  /** One experiment with all its runs. */
  async experiment(id: number): Promise<ExperimentDetail> {
    this.live()
    return { experiment: this.experimentOrThrow(id), runs: experimentRuns(this.db, id) }
  }

  /** Title, notes, tags, star. */
  async updateExperiment(u: UpdateExperimentRequest): Promise<ExperimentSummary> {
    this.live()
    this.experimentOrThrow(u.id)
    return updateExperiment(this.db, u)!
  }

  /** The experiment as one JSON document: settings, every run with its outputs and metrics. */
  async exportExperiment(id: number): Promise<ExperimentExport> {
    this.live()
    const e = this.experimentOrThrow(id)
    return {
      format: 'soliloquy-experiment',
      version: 1,
      exportedAt: new Date().toISOString(),
      experiment: e,
      model: { id: e.modelId, name: e.modelName, path: experimentModelPath(this.db, id), fingerprint: e.modelFingerprint },
      runs: experimentRuns(this.db, id),
    }
  }

  /** The seed's table of an experiment's runs (a sweep's α columns) as Markdown or CSV. */
  async experimentTable(args: { id: number; format?: TableFormat }): Promise<ExperimentTable> {
    this.live()
    const e = this.experimentOrThrow(args.id)
    const runs = experimentRuns(this.db, args.id)
    if (!runs.some((r) => r.lr !== null))
      throw new InputError(`experiment ${e.id} (${e.kind}) has no runs with a step size: the seed's table needs a sweep's columns`)
    const format = args.format ?? 'md'
    return { format, ...experimentTable(e, runs, format) }
  }

  /** Two runs side by side: completions aligned token by token (LCS over ids), settings and metrics. */
  async diffRuns(args: { a: number; b: number }): Promise<RunDiff> {
    this.live()
    const a = getRun(this.db, args.a)
    const b = getRun(this.db, args.b)
    if (!a) throw new InputError(`no run ${args.a}`)
    if (!b) throw new InputError(`no run ${args.b}`)
    let decode: (ids: number[]) => string[] = (ids) => ids.map((id) => `#${id}`)
    try {
      const engine = this.targets.loadById(a.modelId, `run ${a.id}`).engine
      decode = (ids) => engine.decodeTokens(ids)
    } catch {
      /* the model is gone: ids stay readable as #id */
    }
    return diffRuns(a, b, decode)
  }

  // ---- per-model texts ------------------------------------------------------------------------------------------

  /** The reference text, probes and paraphrased prompts a model's metrics use (saved, or its preset's). */
  async modelTexts(args: { model?: string | null } = {}): Promise<ModelTexts> {
    return this.texts(this.target(args?.model))
  }

  /** Saves (or with reset forgets) a model's texts; omitted fields keep their current value. */
  async updateModelTexts(args: UpdateModelTextsRequest): Promise<ModelTexts> {
    const t = this.target(args.model)
    if (args.reset) {
      resetModelTexts(this.db, t.model.fp.fingerprint)
      return this.texts(t)
    }
    const cur = this.texts(t)
    if (args.reference !== undefined && args.reference !== null && args.reference.trim() === '')
      throw new InputError('Reference text: is empty (give a text, or null for none)')
    saveModelTexts(this.db, t.model.fp.fingerprint, {
      reference: args.reference === undefined ? cur.reference : args.reference,
      probes: args.probes ?? cur.probes,
      paraphrases: args.paraphrases ?? cur.paraphrases,
    })
    return this.texts(t)
  }

  /** Token counts (BOS included) of texts on a model, with problems against max_seq_len in words. */
  async tokenCount(args: { model?: string | null; texts: Record<string, string>; maxSeq?: number }): Promise<TokenCount> {
    const t = this.target(args.model)
    const engine = t.model.engine
    const maxSeq = args.maxSeq ?? SEED_DEFAULTS.maxSeq
    const counts: Record<string, number> = {}
    const problems: Record<string, string> = {}
    for (const [k, v] of Object.entries(args.texts)) {
      // each text under the tokenizer's time budget; between texts the lab answers others (host/watchdog.ts)
      await new Promise((resolve) => setImmediate(resolve))
      counts[k] = v.length ? engine.withBos(v, k).length : 1
      const label = k.charAt(0).toUpperCase() + k.slice(1)
      if (k === 'prompt' && counts[k] >= maxSeq)
        problems[k] = `${label} has ${counts[k]} tokens with BOS; max_seq_len is ${maxSeq}, so nothing could be generated`
      else if (counts[k] > maxSeq) problems[k] = `${label} has ${counts[k]} tokens with BOS, more than max_seq_len ${maxSeq}`
    }
    if (maxSeq > engine.config.maxPos) problems.maxSeq = `max_seq_len ${maxSeq} exceeds the model's context ${engine.config.maxPos}`
    return { counts, maxPos: engine.config.maxPos, problems }
  }

  // ---- studies (the kind: kinds/study.ts; what runs them and answers for them: study/studies.ts) -----------------

  /** The running studies, embedded or on a queue of workers: status, collect, cancel (`lab.study(…)` starts one). */
  studies(): Studies {
    this.live()
    return (this.studiesService ??= new Studies({ db: this.db, target: (r) => this.target(r) }))
  }

  /** Closes the database; the lab cannot be used afterwards. */
  close(): void {
    if (this.closed) return
    this.closed = true
    // a study's queue connections (the database is closed below: nothing more is recorded)
    void this.studiesService?.close()
    this.targets.clear()
    this.memos.clear()
    this.db.close()
  }
}

/** Each kind's method on the lab (lab.sweep(args, opts), …), one per contract experiment method. */
export type KindMethods = { [M in ExperimentMethod]: (args?: KindRequest<M>, opts?: CallOptions) => Promise<ApiResponse<M>> }
// the lab's kind methods are its kinds' handlers (installed below), typed by the contract's experiment methods
export interface Lab extends KindMethods {}
for (const m of experimentMethods)
  Object.defineProperty(Lab.prototype, m, {
    value: function (this: Lab, args?: unknown, opts?: CallOptions) {
      return this.runKind(m, args as KindRequest<typeof m>, opts)
    },
    writable: true,
    configurable: true,
  })

/** Why a run cannot start again from its base (trashed, purged, or a pre-provenance checkpoint that is gone): the
 * words src/shared/baseCheckpoint.ts gives the window too. */
function goneBase(run: RunRecord): string | null {
  return baseProblem(run) ?? legacyBaseProblem(run)
}

/** The dtype an HF export writes when none is given: the stored embedding's, if it is a float type, else F32. */
function hfStoredDtype(engine: Engine): 'F32' | 'F16' | 'BF16' {
  const stored = engine.tensors.find((t) => t.name === 'model.embed_tokens.weight')?.dtype ?? 'F32'
  return stored === 'F16' || stored === 'BF16' ? stored : 'F32'
}
