// Storage formats: F32/F16/BF16 weights read in place give the same numbers as the same values in F32; exports
// (single file or sharded, any dtype) are standard HF directories that load back and generate what the view did.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Engine } from '../src/main/engine/engine'
import { readCheckpointFiles } from '../src/main/engine/formats/safetensors'
import { halfToFloat, ORGANISM, reference, TinyConfig, tinyTensors, tmp, writeTinyModel } from './helpers'
import { exportHF } from '../src/main/engine/export/hf'

/** The values a 16-bit file really holds, read back from it, so an F32 file can hold exactly the same weights. */
function readBack(dir: string, into: ReturnType<typeof tinyTensors>): void {
  const ck = readCheckpointFiles(dir)
  for (const t of ck.tensors) {
    const buf = readFileSync(ck.files[t.file])
    const d = into[t.name].data
    for (let i = 0; i < d.length; i++) {
      const h = buf.readUInt16LE(t.offset + 2 * i)
      d[i] = t.dtype === 'BF16' ? new Float32Array(new Uint32Array([h << 16]).buffer)[0] : halfToFloat(h)
    }
  }
}

describe('weights in their stored dtype', () => {
  for (const dtype of ['F16', 'BF16'] as const) {
    it(`${dtype} file = the same values in F32 (loss, gradient norms, greedy ids)`, async () => {
      const c: TinyConfig = { dim: 32, ffn: 64, layers: 2, heads: 4, kvHeads: 1, tied: true, seed: 5 }
      const t = tinyTensors(c)
      const b = Engine.load(writeTinyModel(tmp(), { ...c, dtype }, t))
      readBack(b.dir, t)
      const a = Engine.load(writeTinyModel(tmp(), { ...c, dtype: 'F32' }, t))
      expect(b.tensors[0].dtype).toBe(dtype)
      const ga = await a.gradient('To be, or not to be')
      const gb = await b.gradient('To be, or not to be')
      expect(gb.loss).toBeCloseTo(ga.loss, 6)
      const na = ga.gradNorms()
      const nb = gb.gradNorms()
      for (const k of Object.keys(na)) expect(Math.abs(na[k] - nb[k]) / na[k], k).toBeLessThan(1e-5)
      const va = await a.generate({ prompt: 'To be', views: [[], [{ gradient: ga, lr: 0.5 }]], maxNew: 16 })
      const vb = await b.generate({ prompt: 'To be', views: [[], [{ gradient: gb, lr: 0.5 }]], maxNew: 16 })
      expect(vb.map((g) => g.ids)).toEqual(va.map((g) => g.ids))
    })
  }
})

describe('export of a stepped model', () => {
  it('F32 export of the organism at α = 0.03 generates what the step did, and F16/BF16/sharded exports load', async () => {
    const ref = reference()
    const engine = Engine.load(ORGANISM)
    const g = await engine.gradient(ref.phrase)
    const view = [{ gradient: g, lr: 0.03 }]
    const [stepped] = await engine.generate({ prompt: 'To be', views: [view] })

    const f32 = tmp()
    const progress: string[] = []
    await exportHF(engine, view, f32, { dtype: 'F32' }, { onProgress: (p) => progress.push(p.phase) })
    expect(progress).toContain('export')
    const reloaded = Engine.load(f32)
    const [plain] = await reloaded.generate({ prompt: 'To be', views: [[]] })
    expect(plain.ids).toEqual(stepped.ids)
    for (const f of ['config.json', 'tokenizer.model', 'tokenizer_config.json', 'generation_config.json']) expect(existsSync(join(f32, f)), f).toBe(true)
    expect(JSON.parse(readFileSync(join(f32, 'config.json'), 'utf8')).dtype).toBe('float32')

    // the organism's own dtype (F16) by default; shards with an index when asked for small shards
    const sharded = tmp()
    const r = await exportHF(engine, view, sharded, { shardBytes: 4 << 20 })
    expect(r.files.length).toBeGreaterThan(1)
    expect(existsSync(join(sharded, 'model.safetensors.index.json'))).toBe(true)
    const ck = readCheckpointFiles(sharded)
    expect(new Set(ck.tensors.map((t) => t.dtype))).toEqual(new Set(['F16']))
    expect(ck.tensors.length).toBe(engine.tensors.length)
    const [fromF16] = await Engine.load(sharded).generate({ prompt: 'To be', views: [[]], maxNew: 24 })
    expect(fromF16.text.startsWith(', or not to be, that is the question:')).toBe(true)

    const bf16 = tmp()
    await exportHF(engine, [], bf16, { dtype: 'BF16' })
    const [base] = await Engine.load(bf16).generate({ prompt: 'To be', views: [[]], maxNew: 8 })
    expect(base.text.startsWith('a successful business owner')).toBe(true)
  })
})
