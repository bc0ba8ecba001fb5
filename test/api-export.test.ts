// The contract's export: one method for the three formats with the dtype rules, validated the same way by every
// transport; and the desktop rule "files only through dialogs" accepting a .gguf chosen in the open or save dialog.
import { describe, expect, it } from 'vitest'
import { EXPORT_DTYPES, IPC_CHANNELS, methods, validateCall } from '../src/shared/api'
import type { LabBackend } from '../src/main/host/dispatch'
import { DialogPaths, IpcEventLike, registerIpcRouter } from '../src/main/app/ipc'
import { sweepResult } from './contractShapes'

const message = (args: unknown): string => {
  const v = validateCall('exportCheckpoint', args)
  return v.ok ? 'ok' : v.message
}

describe('exportCheckpoint request', () => {
  it('accepts each format with its dtypes, a checkpoint or a model (or neither: the organism)', () => {
    for (const [format, dtypes] of Object.entries(EXPORT_DTYPES))
      for (const dtype of dtypes) expect(message({ id: 'hamlet', format, dtype, outDir: '/x/out' }), `${format} ${dtype}`).toBe('ok')
    expect(message({ id: 3, outDir: '/x' })).toBe('ok') // the old form: hf by default
    expect(message({ model: '/models/llama.gguf', format: 'gguf', outDir: '/x/a.gguf' })).toBe('ok')
    expect(message({ format: 'hf', outDir: '/x' })).toBe('ok')
  })

  it('refuses what a format cannot write, a peft export without a step, and unknown formats, in words', () => {
    expect(message({ id: 1, format: 'hf', dtype: 'Q8_0', outDir: '/x' })).toMatch(/^exportCheckpoint: Data type: Q8_0 is not available for hf \(use F32, F16, BF16\)$/)
    expect(message({ id: 1, format: 'peft', dtype: 'Q8_0', outDir: '/x' })).toMatch(/not available for peft/)
    expect(message({ format: 'peft', outDir: '/x' })).toMatch(/a PEFT adapter is a step: name a checkpoint/)
    expect(message({ model: '/m', format: 'peft', outDir: '/x' })).toMatch(/a PEFT adapter is a step/)
    expect(message({ id: 1, model: '/m', outDir: '/x' })).toMatch(/name a checkpoint or a model, not both/)
    expect(message({ id: 1, format: 'onnx', outDir: '/x' })).toBe('exportCheckpoint: Format: must be one of hf, gguf, peft (got "onnx")')
    expect(message({ id: 1, format: 'gguf', dtype: 'Q5_K', outDir: '/x' })).toBe('exportCheckpoint: Data type: must be one of F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K, Q4_K_M, Q3_K_S, Q3_K_M, Q3_K_L, Q5_K_S, Q5_K_M (got "Q5_K")')
    for (const t of ['Q4_0', 'Q4_K', 'Q6_K']) expect(message({ id: 1, format: 'hf', dtype: t, outDir: '/x' })).toMatch(/is not available for hf \(use F32, F16, BF16\)$/)
    expect(message({ id: 1, format: 'gguf' })).toBe('exportCheckpoint: Export target: is missing')
  })

  it('the answer carries the format, dtype and, for peft, the measured KL and what is not carried', () => {
    const res = methods.exportCheckpoint.res
    const base = { format: 'peft', dir: '/x', files: ['adapter_config.json'], bytes: 1, dtype: 'F32', checkpoint: null }
    expect(res.safeParse({ ...base, peft: { rank: 16, notCarried: ['RMSNorm'], normLoss: { meanKL: 1e-5, maxKL: 1e-4, perProbe: { a: 1e-5 } } } }).success).toBe(true)
    expect(res.safeParse({ ...base, format: 'gguf', dtype: 'Q4_K', notes: ['2 of the matrices written as Q5_0, not Q4_K: …'] }).success).toBe(true)
    expect(res.safeParse({ ...base, format: 'zip' }).success).toBe(false)
    expect(res.safeParse({ ...base, peft: { rank: 16, notCarried: [] } }).success).toBe(false)
  })
})

describe('files chosen only through dialogs: .gguf files', () => {
  it('a .gguf from the open dialog opens and runs; an export goes only to the file the save dialog named', async () => {
    const handlers = new Map<string, (e: IpcEventLike, ...a: unknown[]) => unknown>()
    const ipc = { handle: (c: string, l: (e: IpcEventLike, ...a: unknown[]) => unknown) => void handlers.set(c, l), removeHandler: (c: string) => void handlers.delete(c) }
    const calls: string[] = []
    const model = { id: 1, path: '/data/llama.gguf', name: 'llama.gguf', format: 'gguf', tokenizer: 'GGUF vocab', quantisation: [{ type: 'Q4_K', count: 155 }], memoryBytes: 2, fingerprint: 'f', config: {}, params: 1, fileBytes: 1, workingBytes: 1, embedded: false, preset: { prompt: 'To be', phrase: 'p', lrs: [0], reference: null, probes: {}, engineeredPrefix: '' } }
    const backend: LabBackend = {
      call: async (method) => {
        calls.push(method)
        if (method === 'openModel') return model
        if (method === 'exportCheckpoint') return { format: 'gguf', dir: '/exports/step.gguf', files: ['step.gguf'], bytes: 1, dtype: 'F16', checkpoint: null }
        return sweepResult(1)
      },
      cancel: () => undefined,
    }
    const chosen: Record<string, string> = { 'model-file': '/data/llama.gguf', 'export-file': '/exports/step.gguf' }
    registerIpcRouter(ipc, backend, { dialogPaths: new DialogPaths(), pickDirectory: async (p) => chosen[p] ?? null })
    const event: IpcEventLike = { sender: { send: () => undefined, isDestroyed: () => false }, senderFrame: { url: 'file:///app/out/renderer/index.html' } }
    const call = (method: string, args: unknown) =>
      handlers.get(IPC_CHANNELS.call)!(event, { method, args }) as Promise<{ ok: boolean; error?: { message: string } }>
    const pick = (p: string) => handlers.get(IPC_CHANNELS.pickDirectory)!(event, p)

    expect((await call('openModel', { path: '/data/llama.gguf' })).error?.message).toMatch(/directory or \.gguf file with the Open dialog/)
    expect((await call('exportCheckpoint', { model: '/data/llama.gguf', format: 'gguf', outDir: '/exports/step.gguf' })).ok).toBe(false)
    expect(calls).toEqual([])
    expect(await pick('model-file')).toBe('/data/llama.gguf')
    expect((await call('openModel', { path: '/data/llama.gguf' })).ok).toBe(true)
    expect((await call('sweep', { model: '/data/llama.gguf', lrs: [0] })).ok).toBe(true)
    // the model is known, but the target must still come from the save dialog
    expect((await call('exportCheckpoint', { model: '/data/llama.gguf', format: 'gguf', outDir: '/exports/step.gguf' })).error?.message).toMatch(/export target with the dialog/)
    expect(await pick('export-file')).toBe('/exports/step.gguf')
    expect((await call('exportCheckpoint', { model: '/data/llama.gguf', format: 'gguf', outDir: '/exports/step.gguf' })).ok).toBe(true)
    expect((await call('exportCheckpoint', { model: '/elsewhere/m', format: 'gguf', outDir: '/exports/step.gguf' })).ok).toBe(false)
    expect(await pick('nonsense')).toBeNull()
    expect(calls).toEqual(['openModel', 'sweep', 'exportCheckpoint'])
  })
})
