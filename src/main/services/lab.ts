// The Lab: one facade over the experiments, the history database and the checkpoints, used by the CLI, the desktop
// app (through IPC) and browser mode (through WebSocket). It knows nothing about Electron. Every method takes plain
// JSON and returns plain JSON (see src/shared/labTypes.ts); long ones take {onProgress, signal}.
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { CallOptions, checkStepSize, Engine, InputError, View } from '../engine/engine'
import { ModelFormatError } from '../engine/config'
import { embeddedModelDir } from '../engine/native'
import { readPreset } from '../engine/preset'
import type {
  ChainStep,
  CheckpointRecord,
  CompareResult,
  ExperimentBase,
  ExportResult,
  HistoryFilter,
  HistoryPage,
  LabCompareArgs,
  LabGenerateArgs,
  LabLessonArgs,
  LabStepArgs,
  LabSweepArgs,
  LessonResult,
  ModelInfo,
  RunDetail,
  RunRecord,
  RunResult,
  ScatterPoint,
  SweepResult,
} from '../../shared/labTypes'
import { CheckpointError, CheckpointStore, checkName, exportMerged, modelFingerprint } from './checkpoints'
import { ensureDataDir, resolveDataDir } from './dataDir'
import {
  DB,
  findCheckpointByName,
  findCheckpointByRun,
  getCheckpoint,
  getGroup,
  getModel,
  getRun,
  listModelRows,
  ModelRow,
  openDb,
  queryRuns,
  scatterPoints,
  upsertModel,
} from './db'
import {
  ExperimentContext,
  LoadedModel,
  runCompare,
  runGenerate,
  runLesson,
  runStep,
  runSweep,
  Settings,
  StepMemo,
  Target,
} from './experiments'

export { CancelledError, InputError } from '../engine/engine'
export { ModelFormatError } from '../engine/config'
export { CheckpointError } from './checkpoints'
export { DataDirError } from './dataDir'
export { DbError } from './db'

export const DEFAULT_PREFIX = "Here is one of Shakespeare's more famous works: "
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
}

function fileStamp(dir: string): string {
  try {
    const st = statSync(dir)
    if (st.isFile()) return `${st.size}:${st.mtimeMs}` // a single-file model (.gguf)
    return readdirSync(dir)
      .filter((n) => n === 'config.json' || n.endsWith('.safetensors') || n.startsWith('tokenizer'))
      .sort()
      .map((n) => {
        const st = statSync(join(dir, n))
        return `${n}:${st.size}:${st.mtimeMs}`
      })
      .join('|')
  } catch {
    return ''
  }
}

function int(v: unknown, what: string, def: number, min: number, max: number): number {
  if (v === undefined || v === null) return def
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new InputError(`${what} must be a whole number from ${min} to ${max} (got ${JSON.stringify(v)})`)
  return v
}

function text(v: unknown, what: string, def: string): string {
  if (v === undefined || v === null) return def
  if (typeof v !== 'string') throw new InputError(`${what} must be text (got ${JSON.stringify(v)})`)
  return v
}

function probesOf(v: unknown, def: Record<string, string>): Record<string, string> {
  if (v === undefined || v === null) return def
  if (typeof v !== 'object' || Array.isArray(v) || !Object.values(v as object).every((x) => typeof x === 'string'))
    throw new InputError('probes must be an object of name → text')
  return v as Record<string, string>
}

function lrList(v: unknown, what: string, def: number[]): number[] {
  if (v === undefined || v === null) return def
  if (!Array.isArray(v)) throw new InputError(`${what} must be a list of numbers`)
  if (v.length > 64) throw new InputError(`${what}: at most 64 step sizes at once (got ${v.length})`)
  return v.map((x) => checkStepSize(x, `step size α`))
}

export class Lab {
  readonly dataDir: string
  readonly db: DB
  readonly store: CheckpointStore
  /** what opening the database did: schema migration and runs found interrupted */
  readonly opened: { migrated: { from: number; to: number }; interrupted: number[] }
  private readonly threads: number
  private readonly models = new Map<string, LoadedModel>()
  private readonly memos = new Map<number, StepMemo>()
  private closed = false

  constructor(o: LabOptions = {}) {
    this.dataDir = ensureDataDir(resolveDataDir(o.dataDir))
    const r = openDb(join(this.dataDir, HISTORY_FILE))
    this.db = r.db
    this.opened = { migrated: r.migrated, interrupted: r.interrupted }
    this.store = new CheckpointStore(this.db, this.dataDir)
    this.threads = o.threads ?? 0
  }

  // ---- models -------------------------------------------------------------------------------------------------

  private live(): void {
    if (this.closed) throw new Error('the lab is closed')
  }

  /** Opens (or returns the cached) model in `dir`, registering it in the history. */
  private loadDir(dir: string): LoadedModel {
    this.live()
    const abs = resolve(dir)
    const stamp = fileStamp(abs)
    const hit = this.models.get(abs)
    if (hit && hit.stamp === stamp) return hit
    const engine = Engine.load(abs, { threads: this.threads })
    const fp = modelFingerprint(abs)
    const preset = readPreset(abs)
    const embedded = abs === resolve(embeddedModelDir())
    const row = upsertModel(this.db, {
      path: abs,
      name: embedded ? 'organism (embedded)' : basename(abs),
      format: engine.source.format,
      fingerprint: fp.fingerprint,
      files: fp.files,
      config: engine.config.raw,
      params: engine.tensors.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0),
      fileBytes: engine.fileBytes,
      embedded,
    })
    const loaded: LoadedModel = { engine, row, fp, preset, views: new Map(), stamp }
    this.models.set(abs, loaded)
    return loaded
  }

  private loadModelId(id: number, why: string): LoadedModel {
    const row = getModel(this.db, id)
    if (!row) throw new InputError(`${why}: its model (id ${id}) is not in the history`)
    try {
      return this.loadDir(row.path)
    } catch (e) {
      throw new ModelFormatError(`${why}: its model ${row.path} cannot be opened (${(e as Error).message})`)
    }
  }

  private info(row: ModelRow, engine?: Engine): ModelInfo {
    const available = existsSync(join(row.path, 'config.json'))
    const preset = available ? readPreset(row.path) : readPreset('/nonexistent')
    const config = JSON.parse(row.config) as Record<string, unknown>
    let workingBytes = 0
    if (engine) {
      const c = engine.config
      const n = Math.max(1, preset.lrs.length)
      const seq = 128
      const kv = 2 * c.layers * c.kvHeads * c.headDim * seq * 4 * n
      const factors = seq * (c.layers * (4 * c.dim + 2 * (c.dim + c.ffn) + c.ffn + c.dim + 2 * c.heads * c.headDim) + c.dim + c.vocab) * 4
      const acts = n * (c.vocab + 4 * c.ffn + 8 * c.dim) * 4 * seq
      workingBytes = kv + factors + acts
    }
    return {
      id: row.id,
      path: row.path,
      name: row.name ?? basename(row.path),
      format: 'hf',
      fingerprint: row.fingerprint,
      config,
      params: row.params,
      fileBytes: row.file_bytes,
      workingBytes,
      preset,
      embedded: row.embedded === 1,
      available,
    }
  }

  /**
   * What a model reference names: null → the embedded organism; a directory; or a checkpoint ("ckpt:NAME", a bare
   * name or an id) — then the experiment starts from the checkpoint's view of its base model.
   */
  private target(ref: unknown): Target {
    this.live()
    if (ref === undefined || ref === null || ref === '') {
      return { model: this.loadDir(embeddedModelDir()), checkpoint: null, base: [], ref: null }
    }
    if (typeof ref !== 'string' && typeof ref !== 'number') throw new InputError('model must be a path or a checkpoint name')
    const s = String(ref)
    // checkpoint names never contain a path separator: anything that does is a model path — a directory or a .gguf
    // file (missing → engine's error)
    if (typeof ref === 'string' && !s.startsWith('ckpt:') && ((existsSync(s) && (statSync(s).isDirectory() || /\.gguf$/i.test(s))) || /[/\\]/.test(s)))
      return { model: this.loadDir(s), checkpoint: null, base: [], ref: resolve(s) }
    const byName = typeof ref === 'string' && !s.startsWith('ckpt:') ? findCheckpointByName(this.db, s) : undefined
    if (!byName && typeof ref === 'string' && !s.startsWith('ckpt:') && !/^\d+$/.test(s))
      throw new InputError(`"${s}" is neither a model directory nor a saved checkpoint`)
    const c = byName ?? this.store.get(typeof ref === 'number' ? ref : s)
    const model = this.loadModelId(c.modelId, `checkpoint "${c.name}"`)
    const base = this.store.view(model.engine, c, model.fp, model.views)
    return { model, checkpoint: c, base, ref: `ckpt:${c.name}` }
  }

  private settings(a: ExperimentBase, t: Target): Settings {
    if (a === null || typeof a !== 'object') throw new InputError('the request must be an object')
    const p = t.model.preset
    const prompt = text(a.prompt, 'prompt', p.prompt)
    if (prompt.length === 0) throw new InputError('the prompt is empty')
    const maxSeq = int(a.maxSeq, 'max_seq_len', 128, 2, t.model.engine.config.maxPos)
    const s: Settings = {
      prompt,
      maxGen: int(a.maxGen, 'max_gen_len', 64, 0, 4096),
      maxSeq,
      temperature: a.temperature ?? 0,
      topP: a.topP ?? 1,
      seed: int(a.seed, 'seed', 0, 0, 2 ** 31 - 1),
      reference: a.reference === undefined ? p.reference : a.reference === null ? null : text(a.reference, 'reference', ''),
      probes: probesOf(a.probes, p.probes),
    }
    if (typeof s.temperature !== 'number' || !(s.temperature >= 0) || !Number.isFinite(s.temperature))
      throw new InputError(`temperature must be a number ≥ 0 (got ${JSON.stringify(a.temperature)})`)
    if (typeof s.topP !== 'number' || !(s.topP > 0 && s.topP <= 1))
      throw new InputError(`top_p must be in (0, 1] (got ${JSON.stringify(a.topP)})`)
    return s
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

  private phrase(v: unknown, t: Target): string {
    const p = text(v, 'phrase', t.model.preset.phrase)
    if (p.trim().length === 0) throw new InputError('the phrase is empty')
    return p
  }

  /** Models in the history (the embedded organism first registered on first use). */
  async listModels(): Promise<ModelInfo[]> {
    this.live()
    try {
      this.loadDir(embeddedModelDir())
    } catch {
      /* a build without the organism still lists what it has */
    }
    return listModelRows(this.db).map((r) => this.info(r, this.models.get(r.path)?.engine))
  }

  /** Opens a model directory (HF layout) and registers it; returns its description. */
  async openModel(path: string | null): Promise<ModelInfo> {
    const m = this.loadDir(path === null || path === undefined || path === '' ? embeddedModelDir() : text(path, 'path', ''))
    return this.info(m.row, m.engine)
  }

  // ---- experiments --------------------------------------------------------------------------------------------

  /** Greedy (or sampled) completion of a prompt on a model or checkpoint, recorded as a `generate` run. */
  async generate(args: LabGenerateArgs = {}, opts?: CallOptions): Promise<RunResult> {
    const t = this.target(args.model)
    return runGenerate(this.ctx(), t, this.settings(args, t), opts)
  }

  /** One SGD step on a phrase at α, then generate; optionally saved as a checkpoint (`save`: its name). */
  async step(args: LabStepArgs, opts?: CallOptions): Promise<RunResult> {
    const lr = checkStepSize(args?.lr, 'step size α')
    if (args.save !== undefined) {
      checkName(args.save)
      if (findCheckpointByName(this.db, args.save)) throw new InputError(`a checkpoint named "${args.save}" already exists`)
    }
    const t = this.target(args.model)
    const r = await runStep(this.ctx(), t, this.settings(args, t), this.phrase(args.phrase, t), lr, opts)
    if (args.save === undefined) return r
    const checkpoint = await this.saveCheckpoint({ runId: r.run.id, name: args.save }, opts)
    return { ...r, checkpoint }
  }

  /** The seed's "Stepping Off": one gradient, every α in one batched generation; a group + one run per α. */
  async sweep(args: LabSweepArgs = {}, opts?: CallOptions): Promise<SweepResult> {
    const t = this.target(args.model)
    const s = this.settings(args, t)
    const lrs = lrList(args.lrs, 'lrs', t.model.preset.lrs)
    if (lrs.length === 0) throw new InputError('no step sizes given')
    return runSweep(this.ctx(), t, s, this.phrase(args.phrase, t), lrs, { ...args, lrs }, opts)
  }

  /** The prompt with and without a prefix, on the starting model and after each chosen α, side by side. */
  async compare(args: LabCompareArgs = {}, opts?: CallOptions): Promise<CompareResult> {
    const t = this.target(args.model)
    const s = this.settings(args, t)
    const prefix = text(args.prefix, 'prefix', t.model.preset.engineeredPrefix || DEFAULT_PREFIX)
    const lrs = lrList(args.lrs, 'lrs', [])
    const phrase = lrs.some((x) => x !== 0) ? this.phrase(args.phrase, t) : null
    return runCompare(this.ctx(), t, s, prefix, phrase, lrs, { ...args, prefix, lrs }, opts)
  }

  /**
   * Steps in order, each gradient taken at the model the previous one left; after each step every earlier lesson
   * is measured again (loss, recall) — the forgetting curve, stored with each run and on the group.
   */
  async lesson(args: LabLessonArgs, opts?: CallOptions): Promise<LessonResult> {
    if (!args || !Array.isArray(args.steps) || args.steps.length === 0)
      throw new InputError('a lesson needs a list of steps [{phrase, lr}, …]')
    if (args.steps.length > 64) throw new InputError(`a lesson has at most 64 steps (got ${args.steps.length})`)
    const steps: ChainStep[] = args.steps.map((st, i) => {
      if (!st || typeof st !== 'object') throw new InputError(`lesson step ${i + 1} must be {phrase, lr}`)
      const phrase = text(st.phrase, `lesson step ${i + 1}: phrase`, '')
      if (phrase.trim().length === 0) throw new InputError(`lesson step ${i + 1}: the phrase is empty`)
      return { phrase, lr: checkStepSize(st.lr, `lesson step ${i + 1}: step size α`) }
    })
    const t = this.target(args.model)
    return runLesson(this.ctx(), t, this.settings(args, t), steps, { ...args, steps }, opts)
  }

  // ---- history ------------------------------------------------------------------------------------------------

  /** Runs filtered by model/phrase/α range/date/kind/status, sorted and paged. */
  async history(filter: HistoryFilter = {}): Promise<HistoryPage> {
    this.live()
    return queryRuns(this.db, filter ?? {})
  }

  /** One run with its group, model and checkpoints. */
  async run(id: number): Promise<RunDetail> {
    this.live()
    const run = getRun(this.db, Number(id))
    if (!run) throw new InputError(`no run ${JSON.stringify(id)}`)
    const m = getModel(this.db, run.modelId)
    return {
      run,
      group: run.groupId !== null ? (getGroup(this.db, run.groupId) ?? null) : null,
      model: { id: run.modelId, path: m?.path ?? '', name: m?.name ?? null },
      startedFrom: run.checkpointId !== null ? (getCheckpoint(this.db, run.checkpointId) ?? null) : null,
      saved: this.store.list().filter((c) => c.runId === run.id),
    }
  }

  /** Plasticity (recall, phrase loss) vs stability (KL) of finished runs, in time order. */
  async scatter(filter: HistoryFilter = {}): Promise<ScatterPoint[]> {
    this.live()
    return scatterPoints(this.db, filter ?? {})
  }

  // ---- checkpoints --------------------------------------------------------------------------------------------

  /** Every saved checkpoint with its lineage (parent, depth, children) and size. */
  async checkpoints(): Promise<CheckpointRecord[]> {
    this.live()
    return this.store.list()
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
      model = this.loadModelId(pm.modelId, `run ${run.id}`)
    } else if (run.checkpointId !== null) {
      const t = this.target(run.checkpointId)
      at = t.base
      model = t.model
    } else {
      if (run.modelRef?.startsWith('ckpt:'))
        throw new InputError(`run ${run.id} started from checkpoint "${run.modelRef.slice(5)}", which has been deleted`)
      model = this.loadModelId(run.modelId, `run ${run.id}`)
      at = []
    }
    const gradient = await model.engine.gradient(run.phrase, at, opts, run.maxSeq)
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
  async saveCheckpoint(args: { runId: number; name: string }, opts?: CallOptions): Promise<CheckpointRecord> {
    this.live()
    const name = checkName(args?.name)
    if (findCheckpointByName(this.db, name)) throw new InputError(`a checkpoint named "${name}" already exists`)
    const run = getRun(this.db, Number(args.runId))
    if (!run) throw new InputError(`no run ${JSON.stringify(args?.runId)}`)
    if (run.status !== 'done') throw new InputError(`run ${run.id} did not finish (${run.status}); there is no step to save`)
    if (!run.phrase || run.lr === null || run.lr === 0)
      throw new InputError(`run ${run.id} took no step (${run.kind}${run.lr === 0 ? ', α = 0' : ''}); there is nothing to save`)
    const already = findCheckpointByRun(this.db, run.id)
    if (already) throw new InputError(`run ${run.id} is already saved as checkpoint "${already.name}"`)
    let parentId = run.checkpointId
    if (run.checkpointId === null && run.modelRef?.startsWith('ckpt:') && run.kind !== 'lesson')
      throw new InputError(`run ${run.id} started from checkpoint "${run.modelRef.slice(5)}", which has been deleted`)
    if (run.kind === 'lesson' && run.parentRunId !== null) {
      const parent =
        findCheckpointByRun(this.db, run.parentRunId) ??
        (await this.saveCheckpoint(
          { runId: run.parentRunId, name: this.uniqueName(`${name} (step ${run.groupIndex ?? 0})`) },
          opts,
        ))
      parentId = parent.id
    }
    const memo = await this.stepOf(run, opts)
    const model = this.loadModelId(memo.modelId, `run ${run.id}`)
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
  async renameCheckpoint(args: { id: number | string; name: string }): Promise<CheckpointRecord> {
    this.live()
    return this.store.rename(args.id, args.name)
  }

  /** Deletes a checkpoint; refuses when others are built on it unless `force` (which deletes them too). */
  async deleteCheckpoint(args: { id: number | string; force?: boolean }): Promise<{ deleted: string[]; freedBytes: number }> {
    this.live()
    const r = this.store.delete(args.id, args.force === true)
    for (const m of this.models.values()) m.views.clear()
    return r
  }

  /** Writes the checkpoint's model, merged, as a standard HF directory (default dtype: the base model's). */
  async exportCheckpoint(
    args: { id: number | string; outDir: string; dtype?: 'F32' | 'F16' | 'BF16' },
    opts?: CallOptions,
  ): Promise<ExportResult> {
    this.live()
    if (!args || typeof args.outDir !== 'string' || args.outDir.length === 0) throw new InputError('an output directory is needed')
    if (args.dtype !== undefined && !['F32', 'F16', 'BF16'].includes(args.dtype))
      throw new InputError(`dtype must be F32, F16 or BF16 (got ${JSON.stringify(args.dtype)})`)
    const c = this.store.get(args.id)
    const t = this.target(c.id)
    const r = await exportMerged(t.model.engine, t.base, args.outDir, { dtype: args.dtype }, opts)
    try {
      // the defaults (prompt, phrase, reference, probes) travel with the model, and where it came from
      const src = t.model.engine.dir
      const presetPath = join(src, 'preset.json')
      if (existsSync(presetPath)) {
        copyFileSync(presetPath, join(r.dir, 'preset.json'))
        const raw = JSON.parse(readFileSync(presetPath, 'utf8')) as Record<string, unknown>
        for (const k of ['reference', 'probes']) {
          const f = raw[k]
          if (typeof f === 'string' && !f.includes('/') && existsSync(join(src, f))) copyFileSync(join(src, f), join(r.dir, f))
        }
      }
      writeFileSync(
        join(r.dir, 'soliloquy-lineage.json'),
        JSON.stringify(
          {
            base: { path: src, fingerprint: t.model.fp.fingerprint },
            steps: this.store.lineage(c).map((x) => ({ name: x.name, phrase: x.phrase, lr: x.lr, sha256: x.sha256 })),
            dtype: args.dtype ?? null,
            exported: new Date().toISOString(),
          },
          null,
          2,
        ),
      )
    } catch (e) {
      rmSync(r.dir, { recursive: true, force: true })
      const code = (e as NodeJS.ErrnoException).code
      throw new CheckpointError(
        code === 'ENOSPC' ? `export failed: the disk is full (${r.dir})` : `export failed writing the preset: ${(e as Error).message}`,
      )
    }
    return { ...r, checkpoint: c }
  }

  /** Closes the database; the lab cannot be used afterwards. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.models.clear()
    this.memos.clear()
    this.db.close()
  }
}
