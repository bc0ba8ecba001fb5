// The lab in a process of its own (issue 9, item 9): `soliloquy serve` runs the engine and SQLite in a child
// process. Killed mid-sweep — by SIGKILL, or by a native abort (the SOLILOQUY_TEST_ABORT_AFTER test hook,
// src/main/host/labCore.ts) — the server stays up and keeps serving the UI, the call in flight is answered with
// what happened, the sweep's runs are failed with that reason in the history, and the next sweep works.
import { ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { get } from 'node:http'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { labPid, ROOT, startServe, tmp } from './helpers'

const servers: ChildProcess[] = []
afterEach(() => {
  for (const s of servers.splice(0)) s.kill('SIGTERM')
})

interface Reply {
  ok: boolean
  result?: unknown
  error?: { message: string }
}

async function serve(env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; port: number; token: string }> {
  expect(existsSync(join(ROOT, 'out', 'main', 'labProcess.js')), 'the lab process is built (npm run build)').toBe(true)
  const { child, port, token } = await startServe(tmp('soliloquy-isolation-'), env)
  servers.push(child)
  return { child, port, token }
}

async function connectClient(port: number, token: string): Promise<{
  call: (method: string, args: unknown, jobId?: string) => Promise<Reply>
  firstProgress: Promise<void>
  close: () => void
}> {
  const s = new WebSocket(`ws://127.0.0.1:${port}/api?token=${token}`)
  await new Promise((r, j) => {
    s.on('open', r)
    s.on('error', j)
  })
  let next = 1
  const waiting = new Map<number, (m: Reply) => void>()
  let progressed: () => void = () => undefined
  const firstProgress = new Promise<void>((r) => (progressed = r))
  s.on('message', (d) => {
    const m = JSON.parse(d.toString()) as Reply & { id?: number; type?: string }
    if (m.type === 'progress') progressed()
    else if (typeof m.id === 'number') waiting.get(m.id)?.(m)
  })
  return {
    call: (method, args, jobId) =>
      new Promise((r) => {
        const id = next++
        waiting.set(id, r)
        s.send(JSON.stringify({ id, method, args, jobId }))
      }),
    firstProgress,
    close: () => s.close(),
  }
}

function pageStatus(port: number, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: `/?token=${token}`, headers: { Host: `127.0.0.1:${port}` } }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    }).on('error', reject)
  })
}

const LRS = Array.from({ length: 16 }, (_, i) => i * 1e-3)

async function crashAndRecover(kill: 'SIGKILL' | 'abort'): Promise<void> {
  const s = await serve(kill === 'abort' ? { SOLILOQUY_TEST_ABORT_AFTER: '5' } : {})
  const c = await connectClient(s.port, s.token)
  // the first call starts the lab process; make sure it is up before the sweep
  expect((await c.call('listModels', {})).ok).toBe(true)
  const first = labPid(s.child.pid!)
  const sweep = c.call('sweep', { lrs: LRS, maxGen: 64 }, 'doomed')
  await c.firstProgress
  if (kill === 'SIGKILL') process.kill(first, 'SIGKILL')
  const signal = kill === 'SIGKILL' ? 'SIGKILL' : 'SIGABRT'
  const reason = `the engine process stopped (signal ${signal}) — the run was marked failed`
  const r = await sweep
  expect(r.ok).toBe(false)
  expect(r.error?.message).toBe(reason)

  // the server and the UI carry on
  expect(s.child.exitCode).toBeNull()
  expect(await pageStatus(s.port, s.token)).toBe(200)
  const h = (await c.call('history', { kind: 'sweep' })) as Reply & { result: { runs: { status: string; error: string | null }[] } }
  expect(h.ok).toBe(true)
  expect(h.result.runs.length).toBeGreaterThan(0)
  for (const run of h.result.runs) {
    expect(run.status).toBe('failed')
    expect(run.error).toBe(reason)
  }
  // a new lab process, and the next sweep works
  expect(labPid(s.child.pid!)).not.toBe(first)
  const again = await c.call('sweep', { lrs: [0, 1e-3], maxGen: 8 }, 'next')
  expect(again.error?.message ?? "", `restarts`).toBe("")
  expect(again.ok).toBe(true)
  c.close()
}

describe('the lab process dies mid-sweep', () => {
  it('SIGKILL: serve stays up, the runs are failed with the reason, the lab restarts', () => crashAndRecover('SIGKILL'), 240_000)
  it('a native abort (SIGABRT): the same', () => crashAndRecover('abort'), 240_000)
})
