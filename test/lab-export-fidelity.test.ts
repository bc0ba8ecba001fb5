// Export fidelity (issue 23): every export is measured on the written model against its checkpoint — KL over the
// probes, the phrase loss of both, greedy agreement — and a default dtype that would erase the step moves up to one
// that keeps it. The BF16 model is written by the tests' own safetensors writer (test/helpers.ts writeTinyModel).
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Lab } from '../src/main/lab/lab'
import { STEP_KEPT_MIN } from '../src/main/engine/export/fidelity'
import { ensureCurrentBuild, ROOT, tmp, writeTinyModel } from './helpers'

let lab: Lab
let model: string
let ckptId: number
let out: string

const LR = 1e-3

beforeAll(async () => {
  out = tmp('soliloquy-fidelity-')
  lab = new Lab({ dataDir: join(out, 'data') })
  model = writeTinyModel(join(out, 'bf16'), { dim: 64, ffn: 128, layers: 2, heads: 4, kvHeads: 2, tied: false, dtype: 'BF16', seed: 7 })
  const r = await lab.step({ model, lr: LR, maxGen: 4, save: 'small' })
  ckptId = r.checkpoint!.id
})
afterAll(() => lab?.close())

describe('export fidelity', () => {
  it('a BF16 model stepped at a small α: the default HF export warns and writes a dtype that keeps the step', async () => {
    const r = await lab.exportCheckpoint({ id: ckptId, outDir: join(out, 'hf-default') })
    const f = r.fidelity!
    // BF16 (the stored dtype, the default) was tried, measured, and found to lose the step
    expect(f.tried.map((t) => t.dtype)[0]).toBe('BF16')
    expect(f.tried[0].stepKept!).toBeLessThan(STEP_KEPT_MIN)
    expect(f.warning).toMatch(/^the default BF16 would lose the step/)
    expect(r.dtype).not.toBe('BF16')
    expect(f.keepsStep).toBe(true)
    expect(Math.abs(f.phraseLoss!.export - f.phraseLoss!.checkpoint)).toBeLessThan(1e-4)
    const cfg = JSON.parse(readFileSync(join(r.dir, 'config.json'), 'utf8')) as { torch_dtype?: string; dtype?: string }
    expect(cfg.dtype).toBe(r.dtype === 'F32' ? 'float32' : 'float16')
  })

  it('--dtype BF16 is still written as asked, with the measured loss and a warning', async () => {
    const r = await lab.exportCheckpoint({ id: ckptId, outDir: join(out, 'hf-bf16'), dtype: 'BF16' })
    const f = r.fidelity!
    expect(r.dtype).toBe('BF16')
    expect(f.tried).toEqual([])
    expect(f.keepsStep).toBe(false)
    expect(f.warning).toMatch(/^rounding to BF16 loses the step: the export keeps -?\d+\.\d % of its phrase-loss change/)
    expect(f.summary).toContain(`${f.phraseLoss!.export.toFixed(6)} (export, BF16)`)
    expect(f.klMean).toBeGreaterThan(0)
  })

  it('GGUF and PEFT exports are measured too', async () => {
    const g = await lab.exportCheckpoint({ id: ckptId, format: 'gguf', outDir: join(out, 'm.gguf'), dtype: 'F32' })
    expect(g.fidelity!.keepsStep).toBe(true)
    expect(g.fidelity!.greedyAgreement).toBe(1)
    expect(existsSync(g.dir)).toBe(true)
    const p = await lab.exportCheckpoint({ id: ckptId, format: 'peft', outDir: join(out, 'adapter') })
    expect(p.fidelity!.phraseLoss).not.toBeNull()
    expect(p.fidelity!.klMean).toBeGreaterThanOrEqual(0)
  })
})

describe('soliloquy export shows the fidelity', () => {
  it('the default export of the BF16 checkpoint warns in words; --dtype BF16 prints the measured loss', () => {
    ensureCurrentBuild()
    const data = join(out, 'cli-data')
    const run = (...args: string[]): { code: number | null; stdout: string; stderr: string } => {
      const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'soliloquy.js'), ...args, '--data', data], { encoding: 'utf8', timeout: 180_000 })
      return { code: r.status, stdout: r.stdout, stderr: r.stderr }
    }
    expect(run('step', '--model', model, '--lr', String(LR), '--max-gen', '4', '--save', 'small').code).toBe(0)
    const d = run('export', 'small', '--out', join(out, 'cli-hf'))
    expect(d.stderr).toBe('')
    expect(d.stdout).toMatch(/^fidelity: phrase loss \d+\.\d{6} \(checkpoint\) vs \d+\.\d{6} \(export, F32\); the export keeps 100\.0 % of the step's phrase-loss change; KL\(checkpoint ‖ export\)/m)
    expect(d.stdout).toMatch(/^warning: the default BF16 would lose the step \(it keeps \d+\.\d % of the phrase-loss change\); written as F32 instead/m)
    const b = run('export', 'small', '--dtype', 'BF16', '--out', join(out, 'cli-hf-bf16'))
    expect(b.stdout).toMatch(/\(export, BF16\)/)
    expect(b.stdout).toMatch(/^warning: rounding to BF16 loses the step: the export keeps/m)
    const j = JSON.parse(run('export', 'small', '--dtype', 'BF16', '--out', join(out, 'cli-hf-bf16-json'), '--json').stdout) as { fidelity: { keepsStep: boolean } }
    expect(j.fidelity.keepsStep).toBe(false)
  }, 300_000)
})
