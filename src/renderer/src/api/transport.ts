import { api } from './client'

/** 'ipc' in the desktop app, 'websocket' in browser mode, 'none' if neither is available. */
export function transportKind(): 'ipc' | 'websocket' | 'none' {
  try {
    return api().kind
  } catch {
    return 'none'
  }
}
