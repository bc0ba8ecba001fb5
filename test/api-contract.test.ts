// The shell's security boundary without Electron: the IPC router validates every argument against the contract
// before the lab sees it, and the BrowserWindow is created with the hardened options.
import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { IPC_CHANNELS, methodNames, methods, validateCall } from '../src/shared/api'
import type { LabBackend } from '../src/main/host/dispatch'
import { DialogPaths, IpcEventLike, IpcMainLike, registerIpcRouter } from '../src/main/app/ipc'
import { windowOptions } from '../src/main/app/windowOptions'
import { CSP } from '../src/main/app/csp'
import { ROOT } from './helpers'
import { sweepResult } from './contractShapes'

function fakeIpc(): IpcMainLike & { invoke(channel: string, event: IpcEventLike, ...args: unknown[]): Promise<unknown> } {
  const handlers = new Map<string, (e: IpcEventLike, ...a: unknown[]) => unknown>()
  return {
    handle: (c, l) => void handlers.set(c, l),
    removeHandler: (c) => void handlers.delete(c),
    invoke: async (c, e, ...a) => {
      const h = handlers.get(c)
      if (!h) throw new Error(`no handler for ${c}`)
      return h(e, ...a)
    },
  }
}

function fakeBackend(): LabBackend & { calls: { method: string; args: unknown; jobId?: string }[]; cancelled: string[] } {
  const calls: { method: string; args: unknown; jobId?: string }[] = []
  const cancelled: string[] = []
  return {
    calls,
    cancelled,
    call: async (method, args, opts) => {
      calls.push({ method, args, jobId: opts.jobId })
      opts.onProgress?.({ jobId: 'ignored', phase: 'generate', done: 1, total: 2 })
      if (method === 'checkpoints') return []
      if (method === 'listModels') return []
      if (method === 'history') return { total: 0, runs: [] }
      throw new Error('boom\n    at secret (/home/user/stack.js:1:1)')
    },
    cancel: (j) => void cancelled.push(j),
  }
}

const APP = 'file:///app/out/renderer/index.html'
function event(url = APP): IpcEventLike & { sent: unknown[] } {
  const sent: unknown[] = []
  return { sender: { send: (_c: string, p: unknown) => void sent.push(p), isDestroyed: () => false }, senderFrame: { url }, sent }
}

describe('IPC router', () => {
  const setup = () => {
    const ipc = fakeIpc()
    const backend = fakeBackend()
    registerIpcRouter(ipc, backend, { trustedSender: (u) => u === APP, pickDirectory: async (p) => `/picked/${p}` })
    return { ipc, backend }
  }

  const malformed: [string, unknown][] = [
    ['not an object', 'listModels'],
    ['null', null],
    ['array', ['sweep', {}]],
    ['unknown method', { method: 'eval', args: {} }],
    ['prototype key as method', { method: '__proto__', args: {} }],
    ['method not a string', { method: 42, args: {} }],
    ['extra envelope key', { method: 'listModels', args: {}, evil: true }],
    ['bad job id', { method: 'sweep', args: {}, jobId: '../../x' }],
    ['lrs not numbers', { method: 'sweep', args: { lrs: ['0.1'] } }],
    ['lrs NaN', { method: 'sweep', args: { lrs: [NaN] } }],
    ['lrs Infinity', { method: 'sweep', args: { lrs: [Infinity] } }],
    ['empty lrs', { method: 'sweep', args: { lrs: [] } }],
    ['too many lrs', { method: 'sweep', args: { lrs: Array.from({ length: 65 }, () => 0) } }],
    ['prompt not text', { method: 'sweep', args: { prompt: 7 } }],
    ['empty prompt', { method: 'sweep', args: { prompt: '' } }],
    ['unknown argument', { method: 'sweep', args: { lrs: [0], shell: 'rm -rf /' } }],
    ['maxGen fractional', { method: 'sweep', args: { maxGen: 1.5 } }],
    ['maxGen huge', { method: 'sweep', args: { maxGen: 1e9 } }],
    ['run id negative', { method: 'run', args: { id: -1 } }],
    ['run id string', { method: 'run', args: { id: '1' } }],
    ['export without dir', { method: 'exportCheckpoint', args: { id: 1 } }],
    ['export bad dtype', { method: 'exportCheckpoint', args: { id: 1, outDir: '/tmp/x', dtype: 'Q4' } }],
    ['delete force not boolean', { method: 'deleteCheckpoint', args: { id: 1, force: 'yes' } }],
    ['history filter unknown key', { method: 'history', args: { where: '1=1' } }],
    ['history sort injection', { method: 'history', args: { sort: 'id; DROP TABLE runs' } }],
    ['args not an object', { method: 'checkpoints', args: 'all' }],
  ]

  for (const [name, envelope] of malformed) {
    it(`rejects a malformed call: ${name}`, async () => {
      const { ipc, backend } = setup()
      const r = (await ipc.invoke(IPC_CHANNELS.call, event(), envelope)) as { ok: boolean; error?: { message: string } }
      expect(r.ok).toBe(false)
      expect(typeof r.error?.message).toBe('string')
      expect(r.error!.message).not.toMatch(/\n|at .*\.js/)
      expect(backend.calls).toEqual([])
    })
  }

  it('passes a valid call through, with progress to the sender under the caller job id', async () => {
    const { ipc, backend } = setup()
    const e = event()
    const r = await ipc.invoke(IPC_CHANNELS.call, e, { method: 'history', args: { status: 'cancelled', limit: 5 }, jobId: 'job-1' })
    expect(r).toEqual({ ok: true, result: { total: 0, runs: [] } })
    expect(backend.calls).toEqual([{ method: 'history', args: { status: 'cancelled', limit: 5 }, jobId: 'job-1' }])
    expect(e.sent).toEqual([{ jobId: 'job-1', phase: 'generate', done: 1, total: 2 }])
  })

  it('turns lab errors into one line of words, never a stack', async () => {
    const { ipc } = setup()
    const r = await ipc.invoke(IPC_CHANNELS.call, event(), { method: 'sweep', args: { lrs: [0, 0.03] } })
    expect(r).toEqual({ ok: false, error: { message: 'boom', kind: 'internal' } })
  })

  it('refuses calls from frames that are not the app', async () => {
    const { ipc, backend } = setup()
    const r = (await ipc.invoke(IPC_CHANNELS.call, event('https://evil.example/'), { method: 'listModels', args: {} })) as { ok: boolean }
    expect(r.ok).toBe(false)
    expect(backend.calls).toEqual([])
    expect(await ipc.invoke(IPC_CHANNELS.pickDirectory, event('https://evil.example/'), 'model')).toBeNull()
  })

  it('validates cancel and dialog arguments', async () => {
    const { ipc, backend } = setup()
    await ipc.invoke(IPC_CHANNELS.cancel, event(), { jobId: 'x' })
    await ipc.invoke(IPC_CHANNELS.cancel, event(), '../../etc')
    await ipc.invoke(IPC_CHANNELS.cancel, event(), 'job-7')
    expect(backend.cancelled).toEqual(['job-7'])
    expect(await ipc.invoke(IPC_CHANNELS.pickDirectory, event(), 'anything')).toBeNull()
    expect(await ipc.invoke(IPC_CHANNELS.pickDirectory, event(), 'export')).toBe('/picked/export')
  })

  it('has a request and a response schema for every method', () => {
    expect(methodNames.length).toBeGreaterThanOrEqual(15)
    for (const m of methodNames) {
      expect(methods[m].req).toBeDefined()
      expect(methods[m].res).toBeDefined()
    }
    expect(validateCall('sweep', { lrs: [0, 1e-3], prompt: 'To be', maxGen: 64 })).toMatchObject({ ok: true })
  })
})

describe('files chosen only through dialogs (desktop app)', () => {
  it('accepts model and export paths only from the dialog (or models the lab already lists)', async () => {
    const ipc = fakeIpc()
    const backend = fakeBackend()
    backend.call = async (method, args) => {
      backend.calls.push({ method, args })
      // answers in the contract's full shapes (the router checks them)
      const model = { id: 1, path: '/data/llama', name: 'llama', format: 'hf', fingerprint: 'f', config: {}, params: 1, fileBytes: 1, workingBytes: 1, embedded: false, preset: { prompt: 'To be', phrase: 'p', lrs: [0], reference: null, probes: {}, engineeredPrefix: '' } }
      const checkpoint = { id: 1, name: 'c', modelId: 1, modelPath: '/data/llama', parentId: null, parentName: null, runId: null, phrase: 'p', lr: 0.1, loss: 1, file: 'f', sha256: 's', bytes: 1, baseFingerprint: 'f', createdAt: 'now', depth: 1, childIds: [] }
      if (method === 'listModels') return [{ ...model, path: '/models/organism' }]
      if (method === 'openModel') return model
      if (method === 'exportCheckpoint') return { format: 'hf', dir: '/exports/my-step', files: [], bytes: 0, dtype: 'F32', checkpoint }
      return sweepResult(1)
    }
    registerIpcRouter(ipc, backend, { dialogPaths: new DialogPaths(), pickDirectory: async (p) => (p === 'model' ? '/data/llama' : '/exports') })
    const call = (method: string, args: unknown) => ipc.invoke(IPC_CHANNELS.call, event(), { method, args }) as Promise<{ ok: boolean; error?: { message: string } }>
    expect((await call('openModel', { path: '/etc' })).error?.message).toMatch(/Open dialog/)
    expect((await call('sweep', { model: '/somewhere/else', lrs: [0] })).ok).toBe(false)
    expect((await call('exportCheckpoint', { id: 1, outDir: '/home/user/.ssh' })).ok).toBe(false)
    expect(backend.calls).toEqual([])
    await ipc.invoke(IPC_CHANNELS.pickDirectory, event(), 'model')
    await ipc.invoke(IPC_CHANNELS.pickDirectory, event(), 'export')
    expect((await call('openModel', { path: '/data/llama' })).ok).toBe(true)
    expect((await call('exportCheckpoint', { id: 1, outDir: '/exports/my-step' })).ok).toBe(true)
    expect((await call('exportCheckpoint', { id: 1, outDir: '/exports/a/b' })).ok).toBe(false)
    expect((await call('sweep', { model: 'ckpt:mine', lrs: [0] })).ok).toBe(true)
    expect((await call('sweep', { model: '/models/organism', lrs: [0] })).ok).toBe(false)
    await call('listModels', {})
    expect((await call('sweep', { model: '/models/organism', lrs: [0] })).ok).toBe(true)
  })
})

describe('BrowserWindow options', () => {
  it('are hardened', () => {
    const o = windowOptions('/app/out/preload/index.js')
    expect(o.webPreferences).toMatchObject({
      preload: '/app/out/preload/index.js',
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      experimentalFeatures: false,
    })
  })

  it('the renderer carries a strict CSP (meta tag in step with the header)', () => {
    const html = readFileSync(join(ROOT, 'src', 'renderer', 'index.html'), 'utf8')
    const meta = /http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html)?.[1]
    expect(meta).toBeDefined()
    for (const d of ["default-src 'none'", "script-src 'self'", "connect-src 'self'", "object-src 'none'", "base-uri 'none'"]) {
      expect(meta).toContain(d)
      expect(CSP).toContain(d)
    }
    expect(meta).not.toMatch(/unsafe-eval|https?:|\*/)
    expect(CSP).not.toMatch(/unsafe-eval|https?:|\*/)
    expect(html).toContain('<link rel="icon" href="data:," />')
  })

  it('the renderer entry configures zod jitless before anything else', () => {
    const main = readFileSync(join(ROOT, 'src', 'renderer', 'src', 'main.ts'), 'utf8')
    expect(main.split('\n').find((l) => l.startsWith('import'))).toMatch(/\.\/zodConfig/)
  })
})
