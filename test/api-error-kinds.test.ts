// Errors cross every transport as { message, kind, fields? } (the contract's CallError), the kind decided by what
// was thrown, never by its words: the router (shared by IPC and WebSocket) and the lab process's protocol
// (LabCallError, rebuilt by the host) keep it, so the UI tells a cancellation from a failure without reading text.
import { describe, expect, it } from 'vitest'
import { createDispatcher, type LabBackend } from '../src/main/host/dispatch'
import { callError, LabCallError } from '../src/main/host/errors'
import { ModelFormatError } from '../src/main/engine/config'
import { CancelledError, InputError } from '../src/main/engine/engine'
import { CheckpointError } from '../src/main/lab/checkpoints/error'
import { callErrorSchema, wsServerMessage } from '../src/shared/api'

function throwing(e: unknown): LabBackend {
  return {
    call: async () => {
      throw e
    },
    cancel: () => undefined,
    onEvent: () => () => undefined,
  } as unknown as LabBackend
}

describe('error kinds', () => {
  it('each error class has its kind, whatever its words', async () => {
    const cases: [unknown, string][] = [
      [new CancelledError(), 'cancelled'],
      [new InputError('cancel the phrase'), 'input'],
      [new CheckpointError('no checkpoint named "x"'), 'input'],
      [new ModelFormatError('config.json: model_type "cancelled" is not a Llama-family model'), 'model'],
      [new Error('the run was cancelled by a disk error'), 'internal'],
      [new LabCallError('cancelled', 'cancelled'), 'cancelled'],
    ]
    for (const [e, kind] of cases) {
      const r = await createDispatcher(throwing(e)).handle({ method: 'generate', args: {} })
      expect(r, String(e)).toEqual({ ok: false, error: { message: (e as Error).message.split('\n')[0], kind } })
    }
  })

  it('a request the contract refuses is an input error naming its fields', async () => {
    const r = await createDispatcher(throwing(new Error('not called'))).handle({ method: 'sweep', args: { lrs: ['x'], maxGen: 0 } })
    expect(r.ok).toBe(false)
    if (!r.ok) {
      expect(r.error.kind).toBe('input')
      expect([...(r.error.fields ?? [])].sort()).toEqual(['lrs', 'maxGen'])
    }
    const bad = await createDispatcher(throwing(new Error('not called'))).handle('nonsense')
    expect(bad).toMatchObject({ ok: false, error: { kind: 'input' } })
  })

  it('the kind survives the WebSocket message schema (it is not stripped as an unknown key)', () => {
    const e = callError(new CancelledError())
    expect(callErrorSchema.parse(e)).toEqual({ message: 'cancelled', kind: 'cancelled' })
    const m = wsServerMessage.parse({ id: 1, ok: false, error: { message: 'x', kind: 'model', fields: ['model'] } })
    expect(m).toEqual({ id: 1, ok: false, error: { message: 'x', kind: 'model', fields: ['model'] } })
  })
})
