// The preload (sandboxed, context-isolated): exposes window.api — a handful of functions that forward to the main
// process over IPC. Nothing else of Electron or Node reaches the page. Arguments are validated in main.
import { contextBridge, ipcRenderer, IpcRendererEvent } from 'electron'
import type { CallResult, PreloadApi, ProgressMessage } from '../shared/api'

const api: PreloadApi = {
  call: (envelope) => ipcRenderer.invoke('api:call', envelope) as Promise<CallResult>,
  cancel: async (jobId) => {
    await ipcRenderer.invoke('api:cancel', jobId)
  },
  onProgress: (cb) => {
    const listener = (_e: IpcRendererEvent, p: ProgressMessage): void => cb(p)
    ipcRenderer.on('api:progress', listener)
    return () => {
      ipcRenderer.removeListener('api:progress', listener)
    }
  },
  pickDirectory: (purpose) => ipcRenderer.invoke('api:pickDirectory', purpose) as Promise<string | null>,
}

contextBridge.exposeInMainWorld('api', api)
