// A thrown error → the contract's CallError ({ message, kind, fields? }), decided by what was thrown, never by its
// words: the engine's and the lab's error classes say whether the request was wrong, the run was cancelled or the
// model could not be used. LabCallError carries a kind across the lab process's boundary (host.ts).
import { errorMessage, type CallError, type ErrorKind } from '../../shared/api'
import { ModelFormatError } from '../engine/config'
import { CancelledError, InputError } from '../engine/engine'
import { CheckpointError } from '../lab/checkpoints/error'
import { ModelMissingError } from '../lab/modelLocation'

/** An error that already knows its kind: answered by the lab process, or raised by a router. */
export class LabCallError extends Error {
  constructor(
    message: string,
    readonly kind: ErrorKind,
    readonly fields?: string[],
  ) {
    super(message)
    this.name = 'LabCallError'
  }
}

export function errorKind(e: unknown): ErrorKind {
  if (e instanceof LabCallError) return e.kind
  if (e instanceof CancelledError) return 'cancelled'
  if (e instanceof ModelMissingError) return 'modelMissing'
  if (e instanceof InputError || e instanceof CheckpointError) return 'input'
  if (e instanceof ModelFormatError) return 'model'
  return 'internal'
}

export function callError(e: unknown): CallError {
  const fields = e instanceof LabCallError ? e.fields : undefined
  return { message: errorMessage(e), kind: errorKind(e), ...(fields?.length ? { fields } : {}) }
}
