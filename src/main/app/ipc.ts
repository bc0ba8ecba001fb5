// The thin IPC router, four channels (IPC_CHANNELS in src/shared/api.ts). 'api:call' carries { method, args, jobId? } and answers { ok, result } or
// { ok: false, error: { message, kind, fields? } }; every argument is validated against the contract (src/shared/api.ts) by the
// dispatcher before the lab sees it. 'api:cancel' cancels a job. Progress goes to the sender on 'api:progress'.
// Directory dialogs ('api:pickDirectory') are the only way the renderer names a file system path in the desktop app.
// Written against a minimal ipcMain-like interface so a unit test can drive it without Electron.
import { dirname, resolve } from 'node:path'
import { IPC_CHANNELS, pickPurpose, validateCall, type CallResult, type PickPurpose, type ProgressMessage } from '../../shared/api'
import { createDispatcher, LabBackend } from '../host/dispatch'

export interface IpcEventLike {
  sender: { send(channel: string, payload: unknown): void; isDestroyed?(): boolean }
  senderFrame?: { url: string } | null
}

export interface IpcMainLike {
  handle(channel: string, listener: (event: IpcEventLike, ...args: unknown[]) => Promise<unknown> | unknown): void
  removeHandler(channel: string): void
}

/**
 * Files chosen only through dialogs: in the desktop app a model (directory or .gguf file) or an export target (a
 * directory, or a .gguf file from the save dialog) must come from the native dialog (an export may go into a new folder directly inside the chosen one). Models the lab already knows
 * (listed or opened before) stay usable, e.g. for re-running a past run. Checkpoint references are not paths.
 */
export class DialogPaths {
  private readonly models = new Set<string>()
  private readonly exports = new Set<string>()

  chosen(purpose: PickPurpose, path: string): void {
    ;(purpose === 'model' || purpose === 'model-file' ? this.models : this.exports).add(resolve(path))
  }

  known(result: unknown): void {
    const items = Array.isArray(result) ? result : [result]
    for (const m of items) {
      const p = (m as { path?: unknown } | null)?.path
      if (typeof p === 'string') this.models.add(resolve(p))
    }
  }

  /** null when allowed, else the reason in words. */
  check(method: string, args: unknown): string | null {
    const a = (args ?? {}) as Record<string, unknown>
    if (method === 'openModel') {
      return this.models.has(resolve(String(a.path))) ? null : 'choose the model directory or .gguf file with the Open dialog'
    }
    if (method === 'exportCheckpoint') {
      const out = resolve(String(a.outDir))
      if (!(this.exports.has(out) || this.exports.has(dirname(out)))) return 'choose the export target with the dialog'
    }
    const model = a.model
    if (typeof model === 'string' && !model.startsWith('ckpt:') && !/^\d+$/.test(model)) {
      return this.models.has(resolve(model)) ? null : 'open that model (directory or .gguf file) with the Open dialog first'
    }
    return null
  }
}

export interface IpcRouterOptions {
  /** the native dialog; returns the chosen directory or null */
  pickDirectory?: (purpose: PickPurpose) => Promise<string | null>
  /** only frames whose URL passes may call (the app's own page) */
  trustedSender?: (url: string) => boolean
  /** enforce "files chosen only through dialogs" (the desktop app); off for tests of plain validation */
  dialogPaths?: DialogPaths
}

export function registerIpcRouter(ipc: IpcMainLike, backend: LabBackend, o: IpcRouterOptions = {}): () => void {
  const dispatcher = createDispatcher(backend)
  const trusted = (e: IpcEventLike): boolean => !o.trustedSender || (!!e.senderFrame && o.trustedSender(e.senderFrame.url))
  const paths = o.dialogPaths
  ipc.handle(IPC_CHANNELS.call, async (event, envelope): Promise<CallResult> => {
    if (!trusted(event)) return { ok: false, error: { message: 'calls are accepted only from the app itself', kind: 'input' } }
    let method: string | null = null
    if (paths && envelope && typeof envelope === 'object') {
      const e = envelope as { method?: unknown; args?: unknown }
      const v = validateCall(e.method, e.args)
      if (v.ok) {
        method = v.method
        const why = paths.check(v.method, v.args)
        if (why) return { ok: false, error: { message: `${v.method}: ${why}`, kind: 'input' } }
      }
    }
    const r = await dispatcher.handle(envelope, (p: ProgressMessage) => {
      if (!event.sender.isDestroyed?.()) event.sender.send(IPC_CHANNELS.progress, p)
    })
    if (paths && r.ok && (method === 'listModels' || method === 'openModel')) paths.known(r.result)
    return r
  })
  ipc.handle(IPC_CHANNELS.cancel, (event, jobId) => {
    if (trusted(event)) dispatcher.cancel(jobId)
  })
  ipc.handle(IPC_CHANNELS.pickDirectory, async (event, purpose) => {
    const p = pickPurpose.safeParse(purpose)
    if (!p.success || !trusted(event) || !o.pickDirectory) return null
    const chosen = await o.pickDirectory(p.data)
    if (chosen) paths?.chosen(p.data, chosen)
    return chosen
  })
  return () => {
    for (const c of [IPC_CHANNELS.call, IPC_CHANNELS.cancel, IPC_CHANNELS.pickDirectory]) ipc.removeHandler(c)
  }
}
