// Browser mode: the built renderer over HTTP and the lab API over WebSocket, on 127.0.0.1 only. A random token is
// required: in the page URL (then kept in an HttpOnly same-site cookie for the page's own assets) and in the
// WebSocket URL. Connections without it are refused; so are requests whose Host is not this loopback address
// (DNS rebinding) and WebSockets opened from another origin.
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { createReadStream, existsSync, statSync } from 'node:fs'
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http'
import { AddressInfo } from 'node:net'
import { extname, join, normalize, resolve, sep } from 'node:path'
import { WebSocket, WebSocketServer } from 'ws'
import { MAX_MESSAGE_BYTES, wsClientMessage, type ProgressMessage, type WsServerMessage } from '../../shared/api'
import { CSP_BROWSER } from '../app/csp'
import { createDispatcher, LabBackend } from '../host/dispatch'

export const LOOPBACK = '127.0.0.1'

export interface ServeOptions {
  backend: LabBackend
  /** folder of the built renderer (out/renderer) */
  rendererDir: string
  /** 0 or absent: a free port */
  port?: number
  /** fixed token (tests); default 32 random bytes, base64url */
  token?: string
  log?: (line: string) => void
}

export interface RunningServer {
  url: string
  port: number
  token: string
  server: Server
  close(): Promise<void>
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
}

function sameToken(given: string | null | undefined, token: string): boolean {
  if (!given) return false
  const a = Buffer.from(given)
  const b = Buffer.from(token)
  return a.length === b.length && timingSafeEqual(a, b)
}

function cookieToken(req: IncomingMessage, name: string): string | null {
  const c = req.headers.cookie
  if (!c) return null
  for (const part of c.split(';')) {
    const [k, ...v] = part.trim().split('=')
    if (k === name) return v.join('=')
  }
  return null
}

export function startServer(o: ServeOptions): Promise<RunningServer> {
  const token = o.token ?? randomBytes(32).toString('base64url')
  const root = resolve(o.rendererDir)
  const index = join(root, 'index.html')
  if (!existsSync(index)) return Promise.reject(new Error(`the renderer is not built (${index} is missing); run \`npm run build\``))
  const log = o.log ?? (() => undefined)
  let port = 0
  let cookieName = 'soliloquy'

  const hostOk = (req: IncomingMessage): boolean => {
    const h = req.headers.host
    return h === `${LOOPBACK}:${port}` || h === `localhost:${port}`
  }

  const send = (res: ServerResponse, status: number, body: string): void => {
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' })
    res.end(body)
  }

  const server = createServer((req, res) => {
    res.setHeader('X-Content-Type-Options', 'nosniff')
    res.setHeader('Referrer-Policy', 'no-referrer')
    res.setHeader('X-Frame-Options', 'DENY')
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin')
    if (!hostOk(req)) return send(res, 403, 'forbidden: unexpected Host header')
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed')
    const url = new URL(req.url ?? '/', `http://${LOOPBACK}:${port}`)
    const authorised = sameToken(url.searchParams.get('token'), token) || sameToken(cookieToken(req, cookieName), token)
    if (!authorised) return send(res, 401, 'a token is required: open the URL printed by `soliloquy serve`')
    let rel: string
    try {
      rel = decodeURIComponent(url.pathname)
    } catch {
      return send(res, 400, 'bad path')
    }
    if (rel === '/' || rel === '') rel = '/index.html'
    const file = normalize(join(root, rel))
    if (!file.startsWith(root + sep)) return send(res, 403, 'forbidden')
    if (!existsSync(file) || !statSync(file).isFile()) return send(res, 404, 'not found')
    const headers: Record<string, string> = {
      'Content-Type': MIME[extname(file)] ?? 'application/octet-stream',
      'Cache-Control': 'no-store',
    }
    if (file === index) {
      headers['Content-Security-Policy'] = CSP_BROWSER
      headers['Set-Cookie'] = `${cookieName}=${token}; HttpOnly; SameSite=Strict; Path=/`
    }
    res.writeHead(200, headers)
    if (req.method === 'HEAD') return res.end()
    createReadStream(file).pipe(res)
  })

  // The contract's limit: its fields are bounded so that the largest valid call fits (src/shared/api.ts).
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_MESSAGE_BYTES,
    perMessageDeflate: false,
  })
  // Every emitter that can say 'error' has a listener: an unhandled one would end the process and the runs in it.
  wss.on('error', (e) => log(`WebSocket server error: ${e.message}`))
  server.on('clientError', (e: NodeJS.ErrnoException, socket) => {
    log(`dropped a malformed HTTP request: ${e.code ?? e.message}`)
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n')
    else socket.destroy()
  })

  server.on('upgrade', (req, socket, head) => {
    socket.on('error', (e: NodeJS.ErrnoException) => log(`a WebSocket connection failed: ${e.code ?? e.message}`))
    const refuse = (status: number, why: string): void => {
      socket.write(`HTTP/1.1 ${status} ${why}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
      socket.destroy()
      log(`refused a WebSocket connection: ${why}`)
    }
    const url = new URL(req.url ?? '/', `http://${LOOPBACK}:${port}`)
    if (url.pathname !== '/api') return refuse(404, 'Not Found')
    if (!hostOk(req)) return refuse(403, 'Forbidden')
    const origin = req.headers.origin
    if (origin !== undefined && origin !== `http://${LOOPBACK}:${port}` && origin !== `http://localhost:${port}`)
      return refuse(403, 'Forbidden')
    if (!sameToken(url.searchParams.get('token'), token)) return refuse(401, 'Unauthorized')
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req))
  })

  let connections = 0
  wss.on('connection', (ws: WebSocket) => {
    const conn = ++connections
    // A frame over MAX_MESSAGE_BYTES (1009), invalid UTF-8 (1007), an unmasked frame, a reserved opcode, RSV1 set or
    // a 2^63 length (1002): ws closes this socket with that code; this connection ends, nothing else does.
    ws.on('error', (e: Error & { code?: string }) => log(`closed connection ${conn}: ${e.message}${e.code ? ` (${e.code})` : ''}`))
    // job ids are the lab's, not this connection's (src/main/host/jobs.ts): a job outlives the page that started it,
    // another page may attach to it or cancel it, and closing this socket cancels nothing
    const backend: LabBackend = o.backend
    const dispatcher = createDispatcher(backend)
    const reply = (m: WsServerMessage): void => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(m))
    }
    // lab events (a run or an experiment changed) go to every authenticated client: History updates without Refresh
    const stopEvents = o.backend.onEvent?.((event) => reply({ type: 'event', event }))
    ws.on('message', (data, isBinary) => {
      if (isBinary) return reply({ id: null, ok: false, error: { message: 'binary messages are not understood', kind: 'input' } })
      let msg: unknown
      try {
        msg = JSON.parse(data.toString())
      } catch {
        return reply({ id: null, ok: false, error: { message: 'a message must be JSON', kind: 'input' } })
      }
      const parsed = wsClientMessage.safeParse(msg)
      if (!parsed.success) {
        const id = msg && typeof msg === 'object' ? (msg as { id?: unknown }).id : undefined
        return reply({ id: typeof id === 'number' || typeof id === 'string' ? id : null, ok: false, error: { message: 'a message must be { id, method, args, jobId? } or { type: "cancel", jobId }', kind: 'input' } })
      }
      const m = parsed.data
      if (m.type === 'cancel') return dispatcher.cancel(m.jobId)
      const id = m.id
      const envelope: Record<string, unknown> = { method: m.method, args: m.args }
      if (m.jobId !== undefined) envelope.jobId = m.jobId
      void dispatcher
        .handle(envelope, (p: ProgressMessage) => reply({ type: 'progress', ...p }))
        .then((r) => reply({ id, ...r }))
    })
    ws.on('close', () => {
      stopEvents?.()
    })
  })

  return new Promise((resolveP, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new Error(e.code === 'EADDRINUSE' ? `port ${o.port} is already in use` : e.message)),
    )
    server.listen(o.port ?? 0, LOOPBACK, () => {
      server.on('error', (e) => log(`server error: ${e.message}`))
      port = (server.address() as AddressInfo).port
      cookieName = `soliloquy_${port}`
      const url = `http://${LOOPBACK}:${port}/?token=${token}`
      resolveP({
        url,
        port,
        token,
        server,
        close: () =>
          new Promise<void>((r) => {
            for (const c of wss.clients) c.terminate()
            wss.close()
            server.closeAllConnections()
            server.close(() => r())
          }),
      })
    })
  })
}
