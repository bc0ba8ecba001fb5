// Browser mode's server: binds to 127.0.0.1 only, refuses HTTP and WebSocket connections without the token (or
// with the wrong one, another Host or another Origin), and validates calls like the IPC router.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdirSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { connect } from 'node:net'
import { networkInterfaces } from 'node:os'
import { join } from 'node:path'
import { WebSocket } from 'ws'
import type { LabBackend } from '../src/main/labHost/dispatch'
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

beforeAll(async () => {
  const dir = tmp('soliloquy-serve-')
  mkdirSync(join(dir, 'assets'))
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

  it('is not reachable on other interfaces', async () => {
    const others = Object.values(networkInterfaces())
      .flat()
      .filter((i) => i && i.family === 'IPv4' && !i.internal)
      .map((i) => i!.address)
    for (const host of others) {
      const err = await new Promise<string>((resolve) => {
        const c = connect({ host, port: srv.port })
        c.on('connect', () => {
          c.destroy()
          resolve('connected')
        })
        c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'))
      })
      expect(err).toBe('ECONNREFUSED')
    }
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
    expect((await get(`/../../etc/passwd?token=${srv.token}`)).status).not.toBe(200)
    expect((await get(`/?token=${srv.token}`, { host: 'evil.example' })).status).toBe(403)
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
    expect(replies).toContainEqual({ id: 2, ok: false, error: { message: expect.stringMatching(/^sweep: Step sizes \(no\. 1\): /) } })
    expect(replies).toContainEqual({ id: 3, ok: false, error: { message: 'nope' } })
  })
})
