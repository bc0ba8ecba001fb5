// The preload (sandboxed, context-isolated): exposes window.api — one function per IPC channel of the contract
// (IPC_CHANNELS in src/shared/api.ts), forwarding to the main process. Nothing else of Electron or Node reaches the
// page. Calls to a method the contract does not list are refused here; arguments are validated in main.
import { contextBridge, ipcRenderer, IpcRendererEvent } from 'electron'
import { IPC_CHANNELS, methodNames, type CallResult, type LabEvent, type PreloadApi, type ProgressMessage } from '../shared/api'

const known = new Set<string>(methodNames)

const api: PreloadApi = {
  call: async (envelope) => {
    if (!known.has(envelope?.method)) return { ok: false, error: { message: `unknown method ${JSON.stringify(String(envelope?.method)).slice(0, 80)}`, kind: 'input' } }
    return (await ipcRenderer.invoke(IPC_CHANNELS.call, envelope)) as CallResult
  },
  cancel: async (jobId) => {
    await ipcRenderer.invoke(IPC_CHANNELS.cancel, jobId)
  },
  onProgress: (cb) => {
    const listener = (_e: IpcRendererEvent, p: ProgressMessage): void => cb(p)
    ipcRenderer.on(IPC_CHANNELS.progress, listener)
    return () => {
      ipcRenderer.removeListener(IPC_CHANNELS.progress, listener)
    }
  },
  onEvent: (cb) => {
    const listener = (_e: IpcRendererEvent, ev: LabEvent): void => cb(ev)
    ipcRenderer.on(IPC_CHANNELS.event, listener)
    return () => {
      ipcRenderer.removeListener(IPC_CHANNELS.event, listener)
    }
  },
  pickDirectory: (purpose) => ipcRenderer.invoke(IPC_CHANNELS.pickDirectory, purpose) as Promise<string | null>,
}

contextBridge.exposeInMainWorld('api', api)
