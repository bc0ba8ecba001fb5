// What an experiment runs on: model references ("" / null = the embedded organism, a directory, a checkpoint by
// "ckpt:NAME", bare name or id) resolved to a loaded model and, for a checkpoint, its view; and the cache of opened
// models (reloaded when their files change).
import { existsSync, readdirSync, statSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { ModelFormatError } from '../engine/config'
import { Engine, InputError, View } from '../engine/engine'
import { embeddedModelDir } from '../engine/native'
import { Preset, readPreset } from '../engine/preset'
import { SEED_DEFAULTS, type CheckpointRecord, type ModelInfo } from '../../shared/api'
import type { Fingerprint } from './checkpoints/fingerprint'
import { modelFingerprint } from './checkpoints/fingerprint'
import { modelPathAllowed } from './fileBrowser'
import { trashedMessage, type CheckpointStore } from './checkpoints/store'
import { findCheckpointByName } from './history/tables/checkpoints'
import type { DB } from './history/db'
import { getModel, ModelRow, upsertModel } from './history/tables/models'
import { adoptMovedModel, findMovedModel, modelMissingError, repointModel, userModelDirs } from './modelLocation'

/** A model opened by the lab: engine, its history row, fingerprint and preset. */
export interface LoadedModel {
  engine: Engine
  row: ModelRow
  fp: Fingerprint
  preset: Preset
  /** views of this model's checkpoints, by checkpoint id */
  views: Map<number, View>
  /** sizes and mtimes of its files when loaded (a change reloads it) */
  stamp: string
}

/** What an experiment runs on: a model, possibly a checkpoint of it (then `base` is the checkpoint's view). */
export interface Target {
  model: LoadedModel
  checkpoint: CheckpointRecord | null
  base: View
  /** how the caller named it */
  ref: string | null
}

/**
 * Bytes of RAM a sweep of `columns` step sizes needs beyond the mmap'd weights, at the seed's max_seq_len: the KV
 * caches (per column), the gradient's factors (per token: each layer's inputs and output gradients) and activations.
 */
export function sweepWorkingBytes(engine: Engine, columns: number): number {
  const c = engine.config
  const seq = SEED_DEFAULTS.maxSeq
  const kv = 2 * c.layers * c.kvHeads * c.headDim * seq * 4 * columns
  const factors = seq * (c.layers * (4 * c.dim + 2 * (c.dim + c.ffn) + c.ffn + c.dim + 2 * c.heads * c.headDim) + c.dim + c.vocab) * 4
  const acts = columns * (c.vocab + 4 * c.ffn + 8 * c.dim) * 4 * seq
  return kv + factors + acts
}

/** The tokenizer in the words the Models view shows: tokenizer.json, SentencePiece, tiktoken or the GGUF vocab. */
export function tokenizerKind(engine: Engine): string {
  const k = engine.tokenizer.kind
  if (engine.source.format === 'gguf') {
    const m = /tokenizer\.ggml\.model [^)]*/.exec(k)
    return `GGUF vocab (${m ? m[0] : k})`
  }
  if (/tiktoken/i.test(k)) return 'tiktoken (tokenizer.model)'
  if (/tokenizer\.json/i.test(k)) return k
  if (/sentencepiece|tokenizer\.model/i.test(k)) return 'SentencePiece (tokenizer.model)'
  return k
}

/** Stored weight tensors per type, most first (e.g. Q4_K × 155, Q6_K × 27, F32 × 45). */
export function tensorTypes(engine: Engine): { type: string; count: number }[] {
  const counts = new Map<string, number>()
  for (const t of engine.tensors) counts.set(t.dtype, (counts.get(t.dtype) ?? 0) + 1)
  return [...counts.entries()].map(([type, count]) => ({ type, count })).sort((a, b) => b.count - a.count || a.type.localeCompare(b.type))
}

function fileStamp(dir: string): string {
  try {
    const st = statSync(dir)
    if (st.isFile()) return `${st.size}:${st.mtimeMs}` // a single-file model (.gguf)
    return readdirSync(dir)
      .filter((n) => n === 'config.json' || n === 'params.json' || n.endsWith('.safetensors') || n.endsWith('.pth') || n.startsWith('tokenizer'))
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

export class Targets {
  private readonly models = new Map<string, LoadedModel>()

  constructor(
    private readonly db: DB,
    private readonly store: CheckpointStore,
    private readonly threads: number,
    /** the user's model folders, where a model that moved is looked for (modelLocation.ts) */
    private readonly modelDirs: string[] = userModelDirs(),
    /** browser mode: models only inside modelDirs (when any are given) */
    private readonly confine: boolean = false,
  ) {}

  /** the engine of an opened model, by its directory */
  engineAt(path: string): Engine | undefined {
    return this.models.get(path)?.engine
  }

  /** Checkpoint views are cached per model; a deleted checkpoint drops them. */
  forgetViews(): void {
    for (const m of this.models.values()) m.views.clear()
  }

  clear(): void {
    this.models.clear()
  }

  /** Opens (or returns the cached) model in `dir`, registering it in the history. */
  load(dir: string): LoadedModel {
    const abs = resolve(dir)
    if (this.confine && abs !== resolve(embeddedModelDir()) && !modelPathAllowed(abs, this.modelDirs))
      throw new InputError(`${dir} is outside the folders this server opens models from (${this.modelDirs.join(', ')}): pick a model with "browse…", or start \`soliloquy serve\` with that folder in SOLILOQUY_MODEL_DIRS`)
    const stamp = fileStamp(abs)
    const hit = this.models.get(abs)
    if (hit && hit.stamp === stamp) return hit
    const engine = Engine.load(abs, { threads: this.threads })
    const fp = modelFingerprint(abs)
    const preset = readPreset(abs)
    const embedded = abs === resolve(embeddedModelDir())
    // a model seen before under another path (moved, the app reinstalled) keeps its row, and so its checkpoints
    adoptMovedModel(this.db, abs, fp.fingerprint, embedded)
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

  loadById(id: number, why: string): LoadedModel {
    const row = getModel(this.db, id)
    if (!row) throw new InputError(`${why}: its model (id ${id}) is not in the history`)
    const path = this.whereIs(row, why)
    try {
      return this.load(path)
    } catch (e) {
      throw new ModelFormatError(`${why}: its model ${row.path} cannot be opened (${(e as Error).message})`)
    }
  }

  /**
   * Where the model of `row` is now: the embedded organism wherever this build keeps it; another model at its last
   * path if that still holds its fingerprint, else where it is found among the user's model folders (the row follows
   * it). Found nowhere: its last path if something is there (the checkpoint then says what changed), else the error
   * saying which folder to pass.
   */
  private whereIs(row: ModelRow, why: string): string {
    if (row.embedded === 1) return embeddedModelDir()
    const abs = resolve(row.path)
    if (existsSync(abs)) {
      const hit = this.models.get(abs)
      let fingerprint: string | null = hit && hit.stamp === fileStamp(abs) ? hit.fp.fingerprint : null
      try {
        fingerprint ??= modelFingerprint(abs).fingerprint
      } catch {
        fingerprint = null
      }
      if (fingerprint === row.fingerprint) return abs
    }
    const found = findMovedModel(this.db, row, this.modelDirs)
    if (found) {
      repointModel(this.db, row, found)
      return found
    }
    if (existsSync(abs)) return abs
    throw modelMissingError(why, row, this.modelDirs, this.db)
  }

  info(row: ModelRow, engine?: Engine): ModelInfo {
    const gguf = row.format === 'gguf'
    const meta = !gguf && !existsSync(join(row.path, 'config.json')) && existsSync(join(row.path, 'params.json'))
    const available = gguf ? existsSync(row.path) : existsSync(join(row.path, meta ? 'params.json' : 'config.json'))
    const preset = available ? readPreset(row.path) : readPreset('/nonexistent')
    const config = JSON.parse(row.config) as Record<string, unknown>
    const workingBytes = engine ? sweepWorkingBytes(engine, Math.max(1, preset.lrs.length)) : 0
    return {
      id: row.id,
      path: row.path,
      name: row.name ?? basename(row.path),
      format: gguf ? 'gguf' : meta ? 'meta' : 'hf',
      tokenizer: engine ? tokenizerKind(engine) : null,
      quantisation: engine ? tensorTypes(engine) : null,
      memoryBytes: row.file_bytes + workingBytes,
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
   * What a model reference names: null → the embedded organism; a directory or a .gguf file; or a checkpoint
   * ("ckpt:NAME", a bare name or an id) — then the experiment starts from the checkpoint's view of its base model.
   */
  resolve(ref: unknown): Target {
    if (ref === undefined || ref === null || ref === '') {
      return { model: this.load(embeddedModelDir()), checkpoint: null, base: [], ref: null }
    }
    if (typeof ref !== 'string' && typeof ref !== 'number') throw new InputError('model must be a path or a checkpoint name')
    const s = String(ref)
    // checkpoint names never contain a path separator: anything that does is a model path — a directory or a .gguf
    // file (missing → engine's error)
    if (typeof ref === 'string' && !s.startsWith('ckpt:') && ((existsSync(s) && (statSync(s).isDirectory() || /\.gguf$/i.test(s))) || /[/\\]/.test(s)))
      return { model: this.load(s), checkpoint: null, base: [], ref: resolve(s) }
    const byName = typeof ref === 'string' && !s.startsWith('ckpt:') ? findCheckpointByName(this.db, s) : undefined
    if (!byName && typeof ref === 'string' && !s.startsWith('ckpt:') && !/^\d+$/.test(s))
      throw new InputError(`"${s}" is neither a model directory nor a saved checkpoint`)
    const c = byName ?? this.store.get(typeof ref === 'number' ? ref : s, { trashed: true })
    if (c.deletedAt) throw new InputError(trashedMessage(c, 'base checkpoint'))
    const model = this.loadById(c.modelId, `checkpoint "${c.name}"`)
    const base = this.store.view(model.engine, c, model.fp, model.views)
    return { model, checkpoint: c, base, ref: `ckpt:${c.name}` }
  }

}
