// The real lab's answers, through the worker host and the router both transports share, satisfy the contract's
// response schemas (src/shared/api.ts) for every method: the router refuses an answer of another shape, so a drift
// between the lab and the contract shows here as a failed call, not as a broken page.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { methodNames, methods, type CallResult, type LabEvent, type MethodName } from '../src/shared/api'
import { createDispatcher } from '../src/main/host/dispatch'
import { LabHost } from '../src/main/host/host'
import { ORGANISM, ROOT, tmp } from './helpers'
import { writeMoe } from './moeTiny'

const WORKER = join(ROOT, 'out', 'main', 'labWorker.js')
let host: LabHost
let call: (method: MethodName, args: unknown, jobId?: string) => Promise<CallResult>
const answered = new Set<MethodName>()
const events: LabEvent[] = []

beforeAll(() => {
  if (!existsSync(WORKER)) throw new Error(`${WORKER} is missing: build first (npm run build)`)
  host = new LabHost({ dataDir: tmp('soliloquy-responses-') }, WORKER)
  host.onEvent((e) => events.push(e))
  const dispatcher = createDispatcher(host)
  call = async (method, args, jobId?: string) => {
    const r = await dispatcher.handle(jobId ? { method, args, jobId } : { method, args })
    if (r.ok) answered.add(method)
    return r
  }
})
afterAll(async () => {
  await host?.close()
})

async function ok<T>(method: MethodName, args: unknown, jobId?: string): Promise<T> {
  const r = await call(method, args, jobId)
  expect(r, `${method}: ${r.ok ? '' : r.error.message}`).toMatchObject({ ok: true })
  // what crossed the router is exactly what the schema accepts
  expect(methods[method].res.safeParse((r as { result: unknown }).result).success).toBe(true)
  return (r as { result: T }).result
}

describe("the real lab's answers match the contract", () => {
  it('models, experiments, history and checkpoints', async () => {
    const models = await ok<{ path: string }[]>('listModels', {})
    expect(models.length).toBeGreaterThan(0)
    await ok('openModel', { path: ORGANISM })
    await ok('generate', { maxGen: 4 })
    const step = await ok<{ run: { id: number }; checkpoint: { id: number } }>('step', { lr: 0.03, maxGen: 4, save: 'contract step' })
    expect(step.checkpoint.id).toBeGreaterThan(0)
    const sweep = await ok<{ runs: { id: number }[] }>('sweep', { lrs: [0, 0.03], maxGen: 4 })
    await ok('compare', { lrs: [0.03], maxGen: 4 })
    await ok('lesson', { steps: [{ phrase: 'To be, or not to be, that is the question', lr: 0.03 }, { phrase: 'Whether tis nobler', lr: 0.01 }], maxGen: 4 })
    await ok('history', { limit: 50 })
    await ok('run', { id: step.run.id })
    await ok('scatter', {})
    await ok('saveCheckpoint', { runId: sweep.runs[1].id, name: 'contract sweep' })
    await ok('checkpoints', {})
    await ok('renameCheckpoint', { id: 'contract sweep', name: 'contract sweep, renamed' })
    await ok('exportCheckpoint', { id: 'contract step', outDir: join(tmp('soliloquy-responses-export-'), 'merged') })
    await ok('deleteCheckpoint', { id: 'contract sweep, renamed' })
    await ok('checkpoints', { include: 'trash' })
    await ok('restoreCheckpoint', { id: 'contract sweep, renamed' })
    await ok('deleteCheckpoint', { id: 'contract sweep, renamed' })
    await ok('purgeCheckpoints', { id: 'contract sweep, renamed' })
    const page = await ok<{ total: number; experiments: { id: number; kind: string }[] }>('experiments', { limit: 10 })
    expect(page.experiments.map((e) => e.kind)).toEqual(['lesson', 'compare', 'sweep', 'step', 'generate'])
    const sweepExp = page.experiments[2].id
    await ok('experiment', { id: sweepExp })
    await ok('updateExperiment', { id: sweepExp, notes: 'seed', tags: ['hamlet'], starred: true })
    await ok('exportExperiment', { id: sweepExp })
    await ok('experimentTable', { id: sweepExp, format: 'csv' })
    await ok('diffRuns', { a: sweep.runs[0].id, b: sweep.runs[1].id })
    await ok('rerun', { runId: sweep.runs[1].id })
    await ok('modelTexts', {})
    await ok('updateModelTexts', { paraphrases: ['To be,'] })
    await ok('tokenCount', { texts: { prompt: 'To be', phrase: 'To be, or not to be' } })
    await ok('engineInfo', {})
    // the lab host's jobs: a call with a job id is listed, and its result retrievable by attaching
    await ok('generate', { maxGen: 4 }, 'contract-job')
    const jobs = await ok<{ jobId: string; state: string }[]>('jobs', {})
    expect(jobs.map((j) => [j.jobId, j.state])).toEqual([['contract-job', 'done']])
    await ok('attachJob', { jobId: 'contract-job' })
    // the instruments (src/main/lab/instruments), small settings: only the shapes are checked here
    await ok('sweep', { lrs: [0.03], maxGen: 4, restrict: { groups: ['attn'], layers: { from: 0, to: 1 } } })
    const layers = await ok<{ experimentId: number }>('layerStudy', { lr: 0.03, maxGen: 4, groups: ['attn', 'mlp'], band: 3 })
    await ok('window', { maxGen: 12, perRound: 3, rounds: 1 })
    await ok('emerge', { lrs: [0, 0.03], tokens: 8, topk: 2, maxGen: 4 })
    await ok('report', { id: layers.experimentId })
    // a mixture of experts' routing (the organism is dense: a tiny Mixtral)
    const moe = writeMoe({
      family: 'mixtral', vocab: 4096, dim: 32, ffn: 16, layers: 2, heads: 4, kvHeads: 2, headDim: 8, tied: false, experts: 4, topk: 2, expertFfn: 16, moeLayers: [true, true], seed: 91,
      configExtra: { model_type: 'mixtral', architectures: ['MixtralForCausalLM'], num_local_experts: 4, num_experts_per_tok: 2, intermediate_size: 16 },
    })
    await ok('experts', { model: moe, phrase: 'To be, or not to be', lrs: [0.5], experts: '0:1+3' })
    // a study (src/main/lab/study), embedded: its status, collect (nothing to fetch), cancel of a finished one, report
    const study = await ok<{ id: number }>('study', { phrases: ['To be, or not to be'], lrs: [0.03], maxGen: 4 })
    await ok('studyStatus', { id: study.id })
    await ok('studyCollect', { id: study.id })
    await ok('cancelStudy', { id: study.id })
    await ok('report', { id: study.id })
    await ok('browseFiles', {})
    expect([...answered].sort()).toEqual([...methodNames].sort())
    // the lab pushed its changes through the worker and the host: the sweep's runs and experiment finished, the note
    const sweepRuns = new Set(sweep.runs.map((r) => r.id))
    expect(events.filter((e) => e.type === 'run' && sweepRuns.has(e.id)).map((e) => [e.change, e.status])).toEqual([
      ['created', 'running'], ['created', 'running'], ['finished', 'done'], ['finished', 'done'],
    ])
    expect(events.filter((e) => e.type === 'experiment' && e.id === sweepExp).map((e) => [e.change, e.status])).toEqual([
      ['created', 'running'], ['finished', 'done'], ['updated', 'done'],
    ])
  })
})
