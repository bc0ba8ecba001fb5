// Texts travel with a GGUF export (issue 23): the model's own reference, probes and paraphrased prompts are written
// as soliloquy.* metadata (llama.cpp ignores keys it does not know — node-llama-cpp opens the file and generates),
// and re-opening the export measures against them. A GGUF with no texts of its own (a copy of the organism without
// its preset) is measured against the shipped defaults: recall, KL, locality and generalisation, each labelled so.
import { spawnSync } from 'node:child_process'
import { cpSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Engine } from '../src/main/engine/engine'
import { readGguf } from '../src/main/engine/formats/gguf/read'
import { loadAddon } from '../src/main/engine/native'
import { Lab } from '../src/main/lab/lab'
import { loadPeer, peerGreedy } from '../tools/bench/peer'
import type { RunRecord } from '../src/shared/api'
import { ensureCurrentBuild, ORGANISM, ROOT, tmp } from './helpers'

let lab: Lab
let dir: string
let own: string
let bare: string

beforeAll(async () => {
  dir = tmp('soliloquy-gguf-texts-')
  lab = new Lab({ dataDir: join(dir, 'data') })
  own = (await lab.exportCheckpoint({ model: null, format: 'gguf', dtype: 'Q8_0', outDir: join(dir, 'organism-q8.gguf') })).dir
  const copy = join(dir, 'bare')
  cpSync(ORGANISM, copy, { recursive: true })
  rmSync(join(copy, 'preset.json'))
  bare = (await lab.exportCheckpoint({ model: copy, format: 'gguf', dtype: 'Q8_0', outDir: join(dir, 'bare-q8.gguf') })).dir
}, 300_000)
afterAll(() => lab?.close())

describe('texts in GGUF metadata', () => {
  it("the organism's texts are written under soliloquy.* and restored when the export is opened", async () => {
    const kv = readGguf(own).kv
    const soliloquy = readFileSync(join(ORGANISM, 'soliloquy.txt'), 'utf8')
    expect(kv.get('soliloquy.reference')).toBe(soliloquy)
    expect(JSON.parse(kv.get('soliloquy.probes') as string)).toEqual(JSON.parse(readFileSync(join(ORGANISM, 'probes.json'), 'utf8')))
    expect(kv.get('soliloquy.paraphrases')).toEqual(['To', 'Hamlet said, To be', 'To be?'])
    const t = await lab.modelTexts({ model: own })
    expect(t.from).toEqual({ reference: 'model', probes: 'model', paraphrases: 'model' })
    expect(t.reference).toBe(soliloquy)
    const r = await lab.step({ model: own, lr: 0.03, maxGen: 8 })
    expect(r.run.metrics.texts).toEqual({ reference: 'model', probes: 'model', paraphrases: 'model' })
  })

  it('node-llama-cpp still opens the file with the soliloquy.* keys and generates what our engine generates', async () => {
    const llamaCpp = await loadPeer(() => {})
    const ours = Engine.load(own)
    const prompt = ours.withBos('To be', 'prompt')
    const [gen] = await ours.generate({ prompt, views: [[]], maxNew: 8 })
    const theirs = await peerGreedy(llamaCpp, own, prompt, 8, Math.min(2, loadAddon().threads()))
    expect(gen.margins.every((m) => m > 1e-3)).toBe(true)
    expect(theirs.ids).toEqual(gen.ids)
  }, 900_000)

  it('a GGUF copy of the organism without texts: every metric measured with the default texts and labelled so', async () => {
    const kv = readGguf(bare).kv
    expect(kv.has('soliloquy.reference')).toBe(false)
    expect(kv.has('soliloquy.probes')).toBe(false)
    const t = await lab.modelTexts({ model: bare })
    expect(t.from).toEqual({ reference: 'default', probes: 'default', paraphrases: 'default' })
    const r: RunRecord = (await lab.step({ model: bare, lr: 0.03, maxGen: 16 })).run
    const m = r.metrics
    expect(m.texts).toEqual({ reference: 'default', probes: 'default', paraphrases: 'default' })
    expect(m.recall).toBeGreaterThan(3)
    expect(m.stabilityKl).toBeGreaterThan(0)
    expect(m.locality).toBeGreaterThan(0)
    expect(m.generalisation).toBeGreaterThan(0)
    expect(m.unmeasured).toBeUndefined()
  })

  it('soliloquy step --model X.gguf prints recall, KL, locality and generalisation, labelled default', () => {
    ensureCurrentBuild()
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'soliloquy.js'), 'step', '--model', bare, '--lr', '0.03', '--max-gen', '16', '--data', join(dir, 'cli')], { encoding: 'utf8', timeout: 180_000 })
    expect(r.stderr).toBe('')
    expect(r.stdout).toMatch(/^recall \(words\) +\d+ of \d+ +\(default reference\)$/m)
    expect(r.stdout).toMatch(/^stability KL +\S+ +\(business \S+, shakespeare \S+\) +\(default probes\)$/m)
    expect(r.stdout).toMatch(/^locality +\S+ teacher-forced, KL \S+ +\(default probes\)$/m)
    expect(r.stdout).toMatch(/^generalisation +\S+ teacher-forced, free-running \S+ +\(default paraphrases\)$/m)
    const j = JSON.parse(spawnSync(process.execPath, [join(ROOT, 'bin', 'soliloquy.js'), 'texts', '--model', bare, '--json', '--data', join(dir, 'cli')], { encoding: 'utf8' }).stdout) as { from: Record<string, string> }
    expect(j.from).toEqual({ reference: 'default', probes: 'default', paraphrases: 'default' })
  })
})
