// Where a run's base checkpoint went, in words — written once for the lab (re-run, "save this step", recomputing a
// step) and the window (History's re-run loads a run into the Lab form), so both refuse a trashed or purged base
// with the same sentence.
import type { BaseCheckpoint } from './contract'

/** A checkpoint in the Trash: when it was deleted and where to restore it. */
export function trashedMessage(c: { name: string; deletedAt: string | null }, what = 'checkpoint'): string {
  const when = c.deletedAt ? c.deletedAt.replace('T', ' ').slice(0, 16) + ' UTC' : 'an earlier date'
  return `the ${what} "${c.name}" was deleted on ${when}; restore it from Checkpoints → Trash`
}

/** Where a base that is not live went: trashed (when, and where to restore it) or purged (gone for good). */
export function baseGone(b: BaseCheckpoint): string {
  if (b.state === 'trashed')
    return trashedMessage({ name: b.currentName ?? b.name, deletedAt: b.deletedAt }, 'base checkpoint').replace('" was deleted', '", which was deleted')
  return `the base checkpoint "${b.name}" (sha256 ${b.sha256.slice(0, 12)}…), which was deleted for good (purged from the Trash)`
}

/** A run as these checks need it. */
export interface RunBase {
  id: number
  base: BaseCheckpoint | null
  checkpointId: number | null
  modelRef: string | null
}

/** Why a run cannot start again from its recorded base (a trashed or purged checkpoint): null when it can. */
export function baseProblem(run: RunBase): string | null {
  return run.base && run.base.state !== 'live' ? `run ${run.id} started from ${baseGone(run.base)}` : null
}

/** A run of a history from before bases were recorded, started from a checkpoint (by name) that is gone. */
export function legacyBaseProblem(run: RunBase): string | null {
  return run.base === null && run.checkpointId === null && run.modelRef?.startsWith('ckpt:')
    ? `run ${run.id} started from checkpoint "${run.modelRef.slice(5)}", which has been deleted`
    : null
}
