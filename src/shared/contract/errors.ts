// How a failed call crosses every transport: words, a kind, and the fields it concerns — so nothing matches on text.
import { z } from 'zod'

/**
 * What kind of failure a call met, so that no caller has to match on message text: the request was wrong (input:
 * a field out of range, a checkpoint that does not exist), it was cancelled, the model or a file could not be used
 * (model), or something else went wrong (internal). modelMissing: a checkpoint's (or run's) model is no longer where it
 * was and is in none of the known folders — the app asks for its folder, opens it (which re-points the model by its
 * fingerprint) and tries again.
 */
export const errorKinds = ['input', 'cancelled', 'model', 'internal', 'modelMissing'] as const
export type ErrorKind = (typeof errorKinds)[number]

/** A failed call as it crosses every transport (IPC, WebSocket, the lab process): words, a kind, and the request's
 *  fields it concerns when the contract's validation named them. */
export interface CallError {
  message: string
  kind: ErrorKind
  fields?: string[]
}

export const callErrorSchema = z.object({ message: z.string(), kind: z.enum(errorKinds), fields: z.array(z.string()).optional() })

