// The renderer's one way to reach the lab. At start-up it picks a transport: the preload's window.api inside
// Electron, otherwise a WebSocket to the `soliloquy serve` that served this page, with the token from the URL.
import {
  wsServerMessage,
  type ApiClient,
  type ApiRequest,
  type ApiResponse,
  type CallResult,
  type ErrorKind,
  type LabEvent,
  type MethodName,
  type ProgressMessage,
  type WsClientMessage,
} from '@shared/api'

export class ApiError extends Error {
  constructor(
    message: string,
    /** what kind of failure (the contract's errorKinds): decide on this, never on the words */
    readonly kind: ErrorKind = 'internal',
    readonly fields?: string[],
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

function unwrap<T>(r: CallResult): T {
  if (r.ok) return r.result as T
  throw new ApiError(r.error.message, r.error.kind, r.error.fields)
}

function ipcClient(api: NonNullable<Window['api']>): ApiClient {
  const listeners = new Map<string, (p: ProgressMessage) => void>()
  api.onProgress((p) => listeners.get(p.jobId)?.(p))
  return {
    kind: 'ipc',
    async call(method, args, opts) {
      if (opts?.jobId && opts.onProgress) listeners.set(opts.jobId, opts.onProgress)
      try {
        const r = await api.call({ method, args, ...(opts?.jobId ? { jobId: opts.jobId } : {}) })
        return unwrap(r)
      } finally {
        if (opts?.jobId) listeners.delete(opts.jobId)
      }
    },
    cancel: (jobId) => api.cancel(jobId),
    pickDirectory: (purpose) => api.pickDirectory(purpose),
    onEvent: (cb) => api.onEvent(cb),
  }
}

interface Waiting {
  resolve: (r: CallResult) => void
  onProgress?: (p: ProgressMessage) => void
  jobId?: string
}

function wsClient(token: string): ApiClient {
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api?token=${encodeURIComponent(token)}`
  let ws: WebSocket | null = null
  let opening: Promise<WebSocket> | null = null
  let nextId = 1
  const waiting = new Map<number, Waiting>()
  const eventListeners = new Set<(e: LabEvent) => void>()

  const open = (): Promise<WebSocket> => {
    if (ws && ws.readyState === WebSocket.OPEN) return Promise.resolve(ws)
    if (opening) return opening
    opening = new Promise<WebSocket>((resolve, reject) => {
      const s = new WebSocket(url)
      s.onopen = () => {
        ws = s
        opening = null
        resolve(s)
      }
      s.onerror = () => {
        opening = null
        reject(new ApiError('cannot reach the lab server; is `soliloquy serve` still running?'))
      }
      s.onclose = () => {
        if (ws === s) ws = null
        for (const w of waiting.values()) w.resolve({ ok: false, error: { message: 'the connection to the lab server closed', kind: 'internal' } })
        waiting.clear()
      }
      s.onmessage = (ev: MessageEvent<string>) => {
        let raw: unknown
        try {
          raw = JSON.parse(ev.data)
        } catch {
          return
        }
        // the server's messages as the contract defines them (src/shared/api.ts: wsServerMessage)
        const parsed = wsServerMessage.safeParse(raw)
        if (!parsed.success) return
        const m = parsed.data
        if ('type' in m) {
          // lab events (m.type === 'event') are for the UI's live updates; progress goes to its job
          if (m.type === 'progress') {
            for (const w of waiting.values()) if (w.jobId && w.jobId === m.jobId) w.onProgress?.(m)
          } else if (m.type === 'event') for (const l of eventListeners) l(m.event)
          return
        }
        if (typeof m.id !== 'number') return
        const w = waiting.get(m.id)
        if (!w) return
        waiting.delete(m.id)
        w.resolve(m.ok ? { ok: true, result: m.result } : { ok: false, error: m.error })
      }
    })
    return opening
  }

  return {
    kind: 'websocket',
    async call<M extends MethodName>(method: M, args: ApiRequest<M>, opts?: { jobId?: string; onProgress?: (p: ProgressMessage) => void }): Promise<ApiResponse<M>> {
      const s = await open()
      const id = nextId++
      const r = await new Promise<CallResult>((resolve) => {
        waiting.set(id, { resolve, onProgress: opts?.onProgress, jobId: opts?.jobId })
        const msg: WsClientMessage = { id, method, args, ...(opts?.jobId ? { jobId: opts.jobId } : {}) }
        s.send(JSON.stringify(msg))
      })
      return unwrap<ApiResponse<M>>(r)
    },
    async cancel(jobId) {
      const s = await open()
      const msg: WsClientMessage = { type: 'cancel', jobId }
      s.send(JSON.stringify(msg))
    },
    onEvent(cb) {
      eventListeners.add(cb)
      // events reach a page only over an open socket: open it now (errors surface on the next call)
      void open().catch(() => undefined)
      return () => eventListeners.delete(cb)
    },
  }
}

let client: ApiClient | null = null

export function api(): ApiClient {
  if (client) return client
  if (window.api) client = ipcClient(window.api)
  else {
    const token = new URLSearchParams(location.search).get('token')
    if (!token) throw new ApiError('no API: open the app from the URL printed by `soliloquy serve` (it carries the token)')
    client = wsClient(token)
  }
  return client
}

let jobCounter = 0
/** A job id unique in the lab (jobs are the lab's, not this page's: another page's job must not share it). */
export function newJobId(prefix = 'job'): string {
  jobCounter += 1
  const random = Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) => b.toString(16).padStart(2, '0')).join('')
  return `${prefix}-${Date.now().toString(36)}-${jobCounter}-${random}`
}

export function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message
  return String(e)
}
