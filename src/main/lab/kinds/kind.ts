// What an experiment kind is: one handler per contract method that records an experiment (methods.ts marks them
// with `experiment: <kind>`), given the lab's services. The table of handlers (kinds/index.ts) is typed by the
// contract's method names, so a contract entry without its handler does not build.
import type { z } from 'zod'
import type { CallOptions } from '../../engine/engine'
import type { ApiResponse, CheckpointRecord, ExperimentBase, ExperimentMethod, Methods, SaveCheckpointRequest } from '../../../shared/api'
import type { DB } from '../history/db'
import type { Studies } from '../study/studies'
import type { ExperimentContext, Settings } from '../experiment/common'
import type { Target } from '../targets'

/** What the lab lends a kind: the history, the opened models, the request's settings and the step memo. */
export interface LabServices {
  readonly db: DB
  /** a model or checkpoint named by the request (the embedded organism when none) */
  target(ref: unknown): Target
  /** the request's settings with the preset's defaults; max_seq_len checked against the model's context */
  settings(a: ExperimentBase, t: Target): Settings
  /** the phrase given, else the preset's (refused when empty) */
  phrase(v: string | undefined, t: Target): string
  /** where runs are written and steps remembered */
  context(): ExperimentContext
  saveCheckpoint(args: SaveCheckpointRequest, opts?: CallOptions): Promise<CheckpointRecord>
  /** the lab's running studies and their queues (they outlive one call) */
  studies(): Studies
}

/** A kind's request as validated by the contract. */
export type KindRequest<M extends ExperimentMethod> = z.output<Methods[M]['req']>

export type KindHandler<M extends ExperimentMethod> = (lab: LabServices, args: KindRequest<M>, opts?: CallOptions) => Promise<ApiResponse<M>>

/** One handler per experiment method of the contract. */
export type KindTable = { [M in ExperimentMethod]: KindHandler<M> }
