// The lab's jobs (src/main/host/jobs.ts) on a fake lab: a job outlives whoever started it, any caller lists it and
// attaches (progress from then on, then the result or the error with its kind), cancel is explicit, finished jobs stay
// for JOB_RETENTION; and the desktop app's question before quitting with jobs running (src/main/app/quitGuard.ts).
import { describe, expect, it } from 'vitest'
import { JOB_RETENTION, methods, type ProgressMessage } from '../src/shared/api'
import { LabCallError } from '../src/main/host/errors'
import { JobRegistry, type JobCallOptions } from '../src/main/host/jobs'
import { quitQuestion, shouldQuit } from '../src/main/app/quitGuard'
import { sweepResult as sweepAnswer } from './contractShapes'

/** A lab whose calls end when the test says so. */
function fakeLab() {
  const calls = new Map<string, { opts: JobCallOptions; resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  const cancelled: string[] = []
  return {
    calls,
    cancelled,
    runner: {
      call: (_m: string, _a: unknown, opts: JobCallOptions) =>
        new Promise<unknown>((resolve, reject) => {
          calls.set(opts.jobId ?? '', { opts, resolve, reject })
        }),
      cancel: (jobId: string) => {
        cancelled.push(jobId)
        calls.get(jobId)?.reject(new LabCallError('the sweep was cancelled', 'cancelled'))
      },
    },
  }
}

const sweepResult = sweepAnswer(3, { phraseIds: [1, 2], phraseLoss: 1.5, table: '| α |' }, '2026-01-01T00:00:00.000Z')

describe('the lab host owns the jobs', () => {
  it('a job keeps running when its starter goes; another caller lists it with progress, ETA and experiment, attaches and gets its result', async () => {
    let t = 1_000_000
    const lab = fakeLab()
    const reg = new JobRegistry(lab.runner as never, () => t)
    const starter: ProgressMessage[] = []
    const started = reg.call('sweep', { model: '/models/llama3', lrs: [0, 0.01], maxGen: 64 }, { jobId: 'sweep-a', onProgress: (p) => starter.push(p) })
    const lab1 = lab.calls.get('sweep-a')!
    lab1.opts.onExperiment?.(12)
    lab1.opts.onProgress?.({ jobId: 'sweep-a', phase: 'generate', done: 0, total: 64 })
    t += 4000
    lab1.opts.onProgress?.({ jobId: 'sweep-a', phase: 'generate', done: 16, total: 64 })
    expect(methods.sweep.res.safeParse(sweepResult).success).toBe(true)
    const [info] = (await reg.call('jobs', {})) as ReturnType<JobRegistry['list']>
    expect(methods.jobs.res.safeParse([info]).success).toBe(true)
    expect(info).toMatchObject({ jobId: 'sweep-a', kind: 'sweep', model: '/models/llama3', state: 'running', experimentId: 12, elapsedMs: 4000, progress: { phase: 'generate', done: 16, total: 64 } })
    // 16 of 64 in 4 s: 48 left at that rate
    expect(info.etaMs).toBe(12_000)
    expect(info.request).toEqual({ model: '/models/llama3', lrs: [0, 0.01], maxGen: 64 })
    // a reloaded window attaches: where it is now at once, then the next reports
    const seen: ProgressMessage[] = []
    const attached = reg.call('attachJob', { jobId: 'sweep-a' }, { jobId: 'sweep-a', onProgress: (p) => seen.push(p) })
    lab1.opts.onProgress?.({ jobId: 'sweep-a', phase: 'generate', done: 32, total: 64 })
    expect(seen.map((p) => p.done)).toEqual([16, 32])
    expect(starter.map((p) => p.done)).toEqual([0, 16, 32])
    lab1.resolve(sweepResult)
    expect(await started).toEqual(sweepResult)
    expect(await attached).toEqual({ jobId: 'sweep-a', kind: 'sweep', result: sweepResult })
    // finished: still listed, and its result still retrievable, for JOB_RETENTION
    t += 60_000
    const [done] = reg.list()
    expect(done).toMatchObject({ state: 'done', etaMs: null, elapsedMs: 4000 })
    expect(await reg.call('attachJob', { jobId: 'sweep-a' })).toEqual({ jobId: 'sweep-a', kind: 'sweep', result: sweepResult })
    t += JOB_RETENTION.ms
    expect(reg.list()).toEqual([])
    await expect(reg.call('attachJob', { jobId: 'sweep-a' })).rejects.toMatchObject({ kind: 'input', fields: ['jobId'] })
  })

  it('cancel is explicit, from any caller; the error reaches every attached caller with its kind', async () => {
    const lab = fakeLab()
    const reg = new JobRegistry(lab.runner as never)
    const started = reg.call('sweep', {}, { jobId: 'j1' })
    const attached = reg.call('attachJob', { jobId: 'j1' }, {})
    expect(lab.cancelled).toEqual([])
    reg.cancel('j1')
    await expect(started).rejects.toMatchObject({ kind: 'cancelled' })
    await expect(attached).rejects.toMatchObject({ kind: 'cancelled', message: 'the sweep was cancelled' })
    expect(reg.list()[0]).toMatchObject({ state: 'cancelled', error: { kind: 'cancelled' } })
    // a finished job is not cancelled again
    reg.cancel('j1')
    expect(lab.cancelled).toEqual(['j1'])
  })

  it("a running job's id is not taken twice; a failure is kept with its kind; calls without a job id are not jobs", async () => {
    const lab = fakeLab()
    const reg = new JobRegistry(lab.runner as never)
    void reg.call('sweep', {}, { jobId: 'same' }).catch(() => undefined)
    await expect(reg.call('sweep', {}, { jobId: 'same' })).rejects.toMatchObject({ kind: 'input' })
    lab.calls.get('same')!.reject(new LabCallError('no such model', 'model'))
    await new Promise((r) => setTimeout(r, 0))
    expect(reg.list()[0]).toMatchObject({ state: 'failed', error: { kind: 'model', message: 'no such model' } })
    void reg.call('history', {}, {})
    expect(reg.list()).toHaveLength(1)
  })
})

describe('quitting the app with jobs running', () => {
  const job = (o: object) => ({ jobId: 'j', kind: 'sweep', model: null, request: {}, state: 'running' as const, startedAt: '', elapsedMs: 90_000, progress: { phase: 'generate', done: 10, total: 40 }, etaMs: 270_000, experimentId: 7, finishedAt: null, error: null, ...o })

  it('quits at once when nothing runs; asks otherwise, naming each job, and quits only on the first button', async () => {
    let asked = 0
    const ask = (answer: number) => async () => (asked++, answer)
    expect(quitQuestion([])).toBeNull()
    expect(await shouldQuit([], ask(1))).toBe(true)
    expect(asked).toBe(0)
    const q = quitQuestion([job({})])!
    expect(q.message).toBe('A job is still running. Quit and cancel it?')
    expect(q.detail).toContain('• sweep e7 on the organism: 25 % of generate, running for 2 min, about 5 min left in this phase')
    expect(q.buttons).toEqual(['Quit and cancel it', 'Keep running'])
    expect([q.defaultId, q.cancelId]).toEqual([1, 1])
    expect(await shouldQuit([job({})], ask(1))).toBe(false)
    expect(await shouldQuit([job({}), job({ kind: 'lesson', model: '/m/llama3', progress: null, etaMs: null, experimentId: null })], ask(0))).toBe(true)
    expect(asked).toBe(2)
    expect(quitQuestion([job({}), job({ kind: 'lesson', model: '/m/llama3', progress: null, etaMs: null, experimentId: null })])!.detail).toContain('• lesson on /m/llama3: starting, running for 2 min\n')
  })
})
