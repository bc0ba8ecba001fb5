// Browser mode's server: binds to 127.0.0.1 only, refuses HTTP and WebSocket connections without the token (or
// with the wrong one, another Host or another Origin), and validates calls like the IPC router.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdirSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { connect, createServer as createNetServer } from 'node:net'
import { networkInterfaces } from 'node:os'
import { basename, join } from 'node:path'
import { WebSocket } from 'ws'
import type { LabBackend } from '../src/main/host/dispatch'
import { RunningServer, startServer } from '../src/main/server/server'
import { tmp } from './helpers'

let srv: RunningServer
const calls: string[] = []

const backend: LabBackend = {
  call: async (method, _args, opts) => {
    calls.push(method)
    opts.onProgress?.({ jobId: 'x', phase: 'generate', done: 1, total: 1 })
    if (method === 'listModels') return []
    throw new Error('nope')
  },
  cancel: () => undefined,
}

let rendererDir: string

beforeAll(async () => {
  // the renderer folder sits next to a secret file and a sibling folder whose name starts with the renderer's
  const parent = tmp('soliloquy-serve-')
  const dir = join(parent, 'renderer')
  rendererDir = dir
  mkdirSync(join(dir, 'assets'), { recursive: true })
  writeFileSync(join(parent, 'secret.txt'), 'SECRET')
  mkdirSync(join(parent, 'renderer-sibling'))
  writeFileSync(join(parent, 'renderer-sibling', 'secret.txt'), 'SECRET')
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>t</title>')
  writeFileSync(join(dir, 'assets', 'a.js'), 'console.log(1)')
  srv = await startServer({ backend, rendererDir: dir, port: 0 })
})
afterAll(async () => {
  await srv?.close()
})

function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: srv.port, path, headers }, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => (body += d.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

/** One GET with the request line exactly as given (no URL parsing or normalisation on the client side). */
function rawGet(path: string, cookie: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const c = connect({ host: '127.0.0.1', port: srv.port })
    let data = ''
    c.on('connect', () => c.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${srv.port}\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`))
    c.on('data', (d: Buffer) => (data += d.toString('latin1')))
    c.on('end', () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data)
      resolve({ status: m ? Number(m[1]) : 0, body: data.slice(data.indexOf('\r\n\r\n') + 4) })
    })
    c.on('error', reject)
  })
}

function ws(path: string, headers: Record<string, string> = {}): Promise<{ ok: true; socket: WebSocket } | { ok: false; error: string }> {
  return new Promise((resolve) => {
    const s = new WebSocket(`ws://127.0.0.1:${srv.port}${path}`, { headers })
    s.on('open', () => resolve({ ok: true, socket: s }))
    s.on('error', (e) => resolve({ ok: false, error: e.message }))
  })
}

describe('soliloquy serve', () => {
  it('listens on 127.0.0.1 only, with a long random token in the printed URL', () => {
    const a = srv.server.address()
    expect(a && typeof a === 'object' && a.address).toBe('127.0.0.1')
    expect(srv.url).toBe(`http://127.0.0.1:${srv.port}/?token=${srv.token}`)
    expect(srv.token).toMatch(/^[A-Za-z0-9_-]{40,}$/)
  })

  // 127.0.0.0/8 is all loopback on Linux, so 127.0.0.2 reaches this machine without an external interface: a server
  // bound to 0.0.0.0 (or ::) accepts there, one bound to 127.0.0.1 refuses. Plus every external IPv4 there is. The
  // probe (a 0.0.0.0 listener reached at each address) proves an address can tell; with none, the test is skipped.
  it('is not reachable on another address of this machine (127.0.0.2, external IPv4s)', async (ctx) => {
    const attempt = (host: string, port: number): Promise<string> =>
      new Promise<string>((resolve) => {
        const c = connect({ host, port })
        c.on('connect', () => {
          c.destroy()
          resolve('connected')
        })
        c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'))
      })
    const probe = createNetServer()
    await new Promise<void>((r) => probe.listen(0, '0.0.0.0', () => r()))
    const probePort = (probe.address() as { port: number }).port
    const candidates = [
      '127.0.0.2',
      ...Object.values(networkInterfaces())
        .flat()
        .filter((i) => i && i.family === 'IPv4' && !i.internal)
        .map((i) => i!.address),
    ]
    const usable: string[] = []
    for (const host of candidates) if ((await attempt(host, probePort)) === 'connected') usable.push(host)
    await new Promise<void>((r) => probe.close(() => r()))
    if (usable.length === 0) {
      console.warn(`skipped: no address other than 127.0.0.1 reaches this machine (tried ${candidates.join(', ')})`)
      return ctx.skip()
    }
    for (const host of usable) expect(await attempt(host, srv.port), host).toBe('ECONNREFUSED')
  })

  it('refuses the page without the token, serves it with the token and a CSP', async () => {
    expect((await get('/')).status).toBe(401)
    expect((await get('/?token=wrong')).status).toBe(401)
    expect((await get('/assets/a.js')).status).toBe(401)
    const ok = await get(`/?token=${srv.token}`)
    expect(ok.status).toBe(200)
    expect(String(ok.headers['content-security-policy'])).toContain("default-src 'none'")
    expect(ok.headers['referrer-policy']).toBe('no-referrer')
    // the page's own assets are authorised by the HttpOnly cookie the page set
    const cookie = String((ok.headers['set-cookie'] as string[])[0]).split(';')[0]
    expect(String((ok.headers['set-cookie'] as string[])[0])).toMatch(/HttpOnly; SameSite=Strict/)
    expect((await get('/assets/a.js', { cookie })).status).toBe(200)
    expect((await get(`/?token=${srv.token}`, { host: 'evil.example' })).status).toBe(403)
  })

  // Sent over a raw socket with a hand-written request line, so no client URL normalisation removes the dots first.
  it('refuses path traversal: raw ../, %2e%2e, ..%2f, ..\\, double-encoded, with a valid token', async () => {
    const cookie = `soliloquy_${srv.port}=${srv.token}`
    const paths = [
      '/../../../../../../etc/passwd',
      '/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
      '/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd',
      '/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd',
      '/assets/..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc/passwd',
      '/..\\..\\..\\..\\..\\..\\etc\\passwd',
      '/..%5c..%5c..%5c..%5c..%5c..%5cetc%5cpasswd',
      '/%252e%252e/%252e%252e/%252e%252e/%252e%252e/%252e%252e/%252e%252e/etc/passwd',
      '/..%252f..%252f..%252f..%252f..%252f..%252fetc%252fpasswd',
      '/%2e%2e/secret.txt',
      '/..%2fsecret.txt',
      '/..%2f' + basename(rendererDir) + '-sibling/secret.txt',
    ]
    for (const path of paths) {
      const r = await rawGet(`${path}?token=${srv.token}`, cookie)
      expect(r.status, path).not.toBe(200)
      expect(r.body, path).not.toContain('root:')
      expect(r.body, path).not.toContain('SECRET')
    }
    // the same raw request for a file inside is served (the helper and the token work)
    const inside = await rawGet(`/assets/a.js?token=${srv.token}`, cookie)
    expect(inside.status).toBe(200)
    expect(inside.body).toContain('console.log(1)')
  })

  it('refuses WebSocket connections without the right token, Host or Origin', async () => {
    const before = calls.length
    expect(await ws('/api')).toEqual({ ok: false, error: 'Unexpected server response: 401' })
    expect(await ws('/api?token=wrong')).toEqual({ ok: false, error: 'Unexpected server response: 401' })
    expect(await ws(`/api?token=${srv.token.slice(0, -1)}`)).toEqual({ ok: false, error: 'Unexpected server response: 401' })
    expect(await ws(`/api?token=${srv.token}`, { Origin: 'https://evil.example' })).toEqual({ ok: false, error: 'Unexpected server response: 403' })
    expect(await ws(`/api?token=${srv.token}`, { Host: 'evil.example' })).toEqual({ ok: false, error: 'Unexpected server response: 403' })
    expect(calls.length).toBe(before)
  })

  it('answers validated calls over the WebSocket with the token', async () => {
    const c = await ws(`/api?token=${srv.token}`, { Origin: `http://127.0.0.1:${srv.port}` })
    expect(c.ok).toBe(true)
    if (!c.ok) return
    const replies: unknown[] = []
    const done = new Promise<void>((resolve) => {
      c.socket.on('message', (d) => {
        const m = JSON.parse(d.toString()) as { id?: number }
        replies.push(m)
        if (replies.filter((r) => (r as { id?: number }).id !== undefined).length === 3) resolve()
      })
    })
    c.socket.send(JSON.stringify({ id: 1, method: 'listModels', args: {}, jobId: 'j1' }))
    c.socket.send(JSON.stringify({ id: 2, method: 'sweep', args: { lrs: ['x'] } }))
    c.socket.send(JSON.stringify({ id: 3, method: 'sweep', args: { lrs: [0] } }))
    await done
    c.socket.close()
    expect(replies).toContainEqual({ type: 'progress', jobId: 'j1', phase: 'generate', done: 1, total: 1 })
    expect(replies).toContainEqual({ id: 1, ok: true, result: [] })
    expect(replies).toContainEqual({ id: 2, ok: false, error: { message: expect.stringMatching(/^sweep: Step sizes \(no\. 1\): /), kind: 'input', fields: ['lrs'] } })
    expect(replies).toContainEqual({ id: 3, ok: false, error: { message: 'nope', kind: 'internal' } })
  })
})
