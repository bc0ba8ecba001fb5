// Checkpoints: a step saved as factors (+ lineage, hash), exported merged as an HF directory, loaded back as a plain
// model and as the base of further experiments; rename/delete with lineage protection; a changed base is detected.
import { cpSync, existsSync, openSync, readFileSync, readSync, closeSync, statSync, writeFileSync, writeSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Lab } from '../src/main/lab/lab'
import { readStepFile } from '../src/main/lab/checkpoints/stepFile'
import { TRASH_DAYS, type RunResult } from '../src/shared/api'
import { ORGANISM, reference, tmp, writeTinyModel } from './helpers'

const ref = reference()
let lab: Lab
let dataDir: string
let step: RunResult

beforeAll(async () => {
  dataDir = tmp('soliloquy-lab-ckpt-')
  lab = new Lab({ dataDir })
  step = await lab.step({ lr: 0.03, save: 'hamlet' })
})
afterAll(() => lab?.close())

describe('checkpoints', () => {
  it('"save this step" writes the factors with lineage and a content hash; the size is reported', () => {
    const c = step.checkpoint!
    expect(c.name).toBe('hamlet')
    expect(c.runId).toBe(step.run.id)
    expect(c.parentId).toBeNull()
    expect(c.depth).toBe(1)
    expect(c.lr).toBe(0.03)
    expect(c.phrase).toBe(ref.phrase)
    const path = join(dataDir, c.file)
    const bytes = readFileSync(path)
    expect(c.bytes).toBe(bytes.length)
    expect(c.sha256).toBe(createHash('sha256').update(bytes).digest('hex'))
    // a step of the 7M-parameter organism is ~2 MB of factors, not the 14 MB model
    expect(c.bytes).toBeLessThan(3e6)
    const { factors, meta } = readStepFile(path, c.sha256)
    expect(Array.from(factors.ids)).toEqual(ref.phrase_ids)
    expect(factors.linears.length).toBe(6 * 7 + 1)
    expect(meta.phrase).toBe(ref.phrase)
    expect(meta.lr).toBe(0.03)
    expect(meta.baseFingerprint).toBe(c.baseFingerprint)
    expect(meta.parentSha256).toBe('')
    expect(Object.keys(meta.baseFiles)).toContain('config.json')
    // the header is plain safetensors: names, dtypes, shapes
    const hlen = Number(bytes.readBigUInt64LE(0))
    expect((8 + hlen) % 8).toBe(0)
    const header = JSON.parse(bytes.subarray(8, 8 + hlen).toString()) as Record<string, { dtype: string; shape: number[] }>
    expect(header['lin.0.X']).toMatchObject({ dtype: 'F32', shape: [13, 256] })
    expect(header['lin.42.G']).toMatchObject({ dtype: 'F32', shape: [13, 4096] })
    expect(header['emb.rows'].dtype).toBe('I32')
    expect(header['norm.12'].shape).toEqual([256])
  })

  it('loaded as the base of an experiment (by name), it continues exactly where the step left off', async () => {
    const g = await lab.generate({ model: 'hamlet', maxGen: 64 })
    expect(g.run.outputIds).toEqual(step.run.outputIds)
    expect(g.run.checkpointId).toBe(step.checkpoint!.id)
    expect(g.run.modelRef).toBe('ckpt:hamlet')
    // a fresh process has no memory of the gradient: it reads the file (hash verified)
    lab.close()
    lab = new Lab({ dataDir })
    const g2 = await lab.generate({ model: 'ckpt:hamlet', maxGen: 64 })
    expect(g2.run.outputIds).toEqual(step.run.outputIds)
  })

  it('exported merged (F32) and opened as a plain model, it gives the same greedy completion as the step', async () => {
    const out = join(tmp('soliloquy-export-'), 'hamlet-f32')
    const e = await lab.exportCheckpoint({ id: 'hamlet', outDir: out, dtype: 'F32' })
    expect(e.files).toEqual(['model.safetensors'])
    for (const f of ['config.json', 'tokenizer.model', 'model.safetensors', 'preset.json', 'soliloquy.txt', 'soliloquy-lineage.json'])
      expect(existsSync(join(out, f)), f).toBe(true)
    const info = await lab.openModel(out)
    expect(info.embedded).toBe(false)
    expect(info.fingerprint).not.toBe(step.checkpoint!.baseFingerprint)
    const g = await lab.generate({ model: out, maxGen: 64 })
    expect(g.run.outputIds).toEqual(step.run.outputIds)
    expect(g.run.metrics.recall).toBeGreaterThanOrEqual(40)
    // the merged model's own phrase loss is the stepped one
    const s = await lab.step({ model: out, lr: 0, maxGen: 1 })
    expect(Math.abs(s.run.metrics.phraseLossBefore! - step.run.metrics.phraseLossAfter!)).toBeLessThan(1e-4)
  })

  it('a chain saved from a checkpoint records its parent; delete refuses to orphan children unless forced', async () => {
    const s2 = await lab.step({ model: 'hamlet', phrase: 'Whether tis nobler in the mind to suffer', lr: 0.01, save: 'hamlet-2' })
    const c2 = s2.checkpoint!
    expect(c2.parentId).toBe(step.checkpoint!.id)
    expect(c2.parentName).toBe('hamlet')
    expect(c2.depth).toBe(2)
    expect(readStepFile(join(dataDir, c2.file)).meta.parentSha256).toBe(step.checkpoint!.sha256)
    // the chain applies both steps: generating from the child equals the step run's output
    const g = await lab.generate({ model: 'hamlet-2', maxGen: 32 })
    expect(g.run.outputIds).toEqual(s2.run.outputIds.slice(0, 32))
    const list = await lab.checkpoints()
    expect(list.find((c) => c.name === 'hamlet')!.childIds).toEqual([c2.id])

    const renamed = await lab.renameCheckpoint({ id: 'hamlet-2', name: 'nobler' })
    expect(renamed.name).toBe('nobler')
    // Re-run of a run whose base was renamed finds the base by id
    const again = await lab.rerun(g.run.id)
    expect(again.run.base).toMatchObject({ id: c2.id, name: 'nobler' })
    expect(again.run.outputIds).toEqual(g.run.outputIds)
    expect(g.run.base).toMatchObject({ name: 'hamlet-2' })
    expect((await lab.run(g.run.id)).run.base).toMatchObject({ name: 'hamlet-2', currentName: 'nobler', state: 'live' })
    await expect(lab.renameCheckpoint({ id: 'nobler', name: 'hamlet' })).rejects.toThrow(/already exists/)
    await expect(lab.deleteCheckpoint({ id: 'hamlet' })).rejects.toThrow(/1 descendant built on it \(nobler\).*force/)
    expect((await lab.checkpoints()).length).toBe(2)
    // a spare leaf can go without force
    const s3 = await lab.step({ model: 'nobler', phrase: 'The slings and arrows', lr: 0.01, maxGen: 4, save: 'leaf' })
    // the run records its base: id, name and hash at the time
    expect(s3.run.base).toEqual({ id: c2.id, name: 'nobler', sha256: c2.sha256, currentName: 'nobler', state: 'live', deletedAt: null })
    // deleting moves to the Trash: file kept, no longer offered as a base, restorable
    const del = await lab.deleteCheckpoint({ id: 'leaf' })
    expect(del).toEqual({ deleted: ['leaf'], freedBytes: 0, trashed: true })
    expect(existsSync(join(dataDir, s3.checkpoint!.file))).toBe(true)
    expect((await lab.checkpoints()).map((c) => c.name).sort()).toEqual(['hamlet', 'nobler'])
    const trash = await lab.checkpoints({ include: 'trash' })
    expect(trash.map((c) => c.name)).toEqual(['leaf'])
    expect(Date.parse(trash[0].purgeAt!) - Date.parse(trash[0].deletedAt!)).toBe(TRASH_DAYS * 86_400_000)
    await expect(lab.generate({ model: 'leaf' })).rejects.toThrow(/^the base checkpoint "leaf" was deleted on \d{4}-\d\d-\d\d \d\d:\d\d UTC; restore it from Checkpoints → Trash$/)
    await expect(lab.step({ model: 'hamlet', lr: 0.01, maxGen: 2, save: 'leaf' })).rejects.toThrow(/"leaf" is in the Trash/)
    expect((await lab.restoreCheckpoint({ id: 'leaf' })).deletedAt).toBeNull()
    expect((await lab.generate({ model: 'leaf', maxGen: 4 })).run.outputIds).toEqual(s3.run.outputIds.slice(0, 4))
    // purge: row and file gone for good
    await lab.deleteCheckpoint({ id: 'leaf' })
    const purged = await lab.purgeCheckpoints({ id: 'leaf' })
    expect(purged).toEqual({ deleted: ['leaf'], freedBytes: s3.checkpoint!.bytes })
    expect(existsSync(join(dataDir, s3.checkpoint!.file))).toBe(false)
    const forced = await lab.deleteCheckpoint({ id: 'hamlet', force: true })
    expect(forced.deleted.sort()).toEqual(['hamlet', 'nobler'])
    expect(await lab.checkpoints()).toEqual([])
    // provenance survives the rename and the deletion, and Re-run says what happened in words
    const s2now = (await lab.run(s2.run.id)).run
    expect(s2now.base).toMatchObject({ id: step.checkpoint!.id, name: 'hamlet', state: 'trashed' })
    const s3now = (await lab.run(s3.run.id)).run
    expect(s3now.base).toMatchObject({ id: c2.id, name: 'nobler', sha256: c2.sha256, state: 'trashed' })
    await expect(lab.generate({ model: String(step.checkpoint!.id) })).rejects.toThrow(/the base checkpoint "hamlet" was deleted on .*Checkpoints → Trash/)
    await expect(lab.saveCheckpoint({ runId: s3.run.id, name: 'again' })).rejects.toThrow(/^run \d+ started from the base checkpoint "nobler", which was deleted on .*; restore it from Checkpoints → Trash$/)
    await expect(lab.rerun(s3.run.id)).rejects.toThrow(/^run \d+ started from the base checkpoint "nobler", which was deleted on .*; restore it from Checkpoints → Trash$/)
    await lab.purgeCheckpoints({ olderThanDays: 0 })
    expect((await lab.run(s3.run.id)).run.base).toMatchObject({ id: c2.id, name: 'nobler', currentName: null, state: 'purged' })
    await expect(lab.generate({ model: 'hamlet' })).rejects.toThrow(/neither a model directory nor a saved checkpoint/)
    // the runs stay in the history
    expect((await lab.run(step.run.id)).run.status).toBe('done')
  })

  it('a step saved later, by another process, is recomputed from the history (lessons: with their earlier steps)', async () => {
    const sw = await lab.sweep({ lrs: [0, 0.03], maxGen: 16 })
    const les = await lab.lesson({
      steps: [
        { phrase: 'To be, or not to be, that is the question', lr: 0.02 },
        { phrase: 'To be, or not to be, that is the question', lr: 0.02 },
      ],
      maxGen: 16,
    })
    lab.close()
    lab = new Lab({ dataDir })
    await expect(lab.saveCheckpoint({ runId: sw.runs[0].id, name: 'zero' })).rejects.toThrow(/took no step \(sweep, α = 0\)/)
    const c = await lab.saveCheckpoint({ runId: sw.runs[1].id, name: 'from-sweep' })
    expect((await lab.generate({ model: 'from-sweep', maxGen: 16 })).run.outputIds).toEqual(sw.runs[1].outputIds)
    const c2 = await lab.saveCheckpoint({ runId: les.runs[1].id, name: 'accumulated' })
    expect(c2.depth).toBe(2)
    expect(c2.parentName).toBe('accumulated (step 1)')
    expect((await lab.generate({ model: 'accumulated', maxGen: 16 })).run.outputIds).toEqual(les.runs[1].outputIds)
    await expect(lab.saveCheckpoint({ runId: les.runs[1].id, name: 'again' })).rejects.toThrow(/already saved as checkpoint "accumulated"/)
    await lab.deleteCheckpoint({ id: 'accumulated (step 1)', force: true })
    await lab.deleteCheckpoint({ id: 'from-sweep' })
  })

  it('a damaged checkpoint file is refused (hash), and a changed base model is reported in words', async () => {
    const model = join(tmp('soliloquy-model-copy-'), 'organism')
    cpSync(ORGANISM, model, { recursive: true })
    const s = await lab.step({ model, lr: 0.03, maxGen: 8, save: 'on-copy' })
    const c = s.checkpoint!

    // flip one byte of the factor file
    const file = join(dataDir, c.file)
    const good = readFileSync(file)
    const bad = Buffer.from(good)
    bad[bad.length - 5] ^= 0xff
    writeFileSync(file, bad)
    const fresh = new Lab({ dataDir })
    await expect(fresh.generate({ model: 'on-copy', maxGen: 4 })).rejects.toThrow(/damaged or was replaced \(sha256/)
    writeFileSync(file, good)
    fresh.close()

    // change the base model's weights in place (same size): the fingerprint's sampled block catches it
    const shard = join(model, 'model-00001-of-00002.safetensors')
    const size = statSync(shard).size
    const fd = openSync(shard, 'r+')
    const lb = Buffer.alloc(8)
    readSync(fd, lb, 0, 8, 0)
    const dataStart = 8 + Number(lb.readBigUInt64LE(0))
    const blk = Buffer.alloc(16)
    readSync(fd, blk, 0, 16, dataStart + 100)
    for (let i = 0; i < blk.length; i++) blk[i] ^= 0x01
    writeSync(fd, blk, 0, blk.length, dataStart + 100)
    closeSync(fd)
    expect(statSync(shard).size).toBe(size)
    const after = new Lab({ dataDir })
    await expect(after.generate({ model: 'on-copy', maxGen: 4 })).rejects.toThrow(
      /checkpoint "on-copy" was saved on a different version of the model .*model-00001-of-00002\.safetensors changed content \(same size\)/,
    )
    after.close()
  })

  it('a step on a model with biases saves its bias gradients; reloaded in a fresh process it generates what it did', async () => {
    for (const [kind, extra, biases] of [
      ['llama', { attention_bias: true, mlp_bias: true }, { qkv: true, o: true, mlp: true }],
      ['qwen2', { model_type: 'qwen2', architectures: ['Qwen2ForCausalLM'] }, { qkv: true }],
    ] as const) {
      const dir = writeTinyModel(join(tmp(), kind), { dim: 64, ffn: 128, layers: 2, heads: 4, kvHeads: 2, tied: false, seed: 7, biases, configExtra: extra })
      const name = `biased-${kind}`
      const taken = await lab.step({ model: dir, lr: 0.5, save: name, maxGen: 24 })
      const { factors } = readStepFile(join(dataDir, taken.checkpoint!.file), taken.checkpoint!.sha256)
      const withBias = factors.biasGrads!.filter((b) => b.length > 0)
      expect(withBias.length, kind).toBe(kind === 'llama' ? 2 * 7 : 2 * 3)
      expect(withBias.every((b) => b.some((x) => x !== 0)), kind).toBe(true)
      lab.close()
      lab = new Lab({ dataDir })
      const again = await lab.generate({ model: `ckpt:${name}`, maxGen: 24 })
      expect(again.run.outputIds, kind).toEqual(taken.run.outputIds)
      // the step changed the generation, so the equality above is not vacuous
      const base = await lab.generate({ model: dir, maxGen: 24 })
      expect(base.run.outputIds, kind).not.toEqual(taken.run.outputIds)
    }
  })
})
