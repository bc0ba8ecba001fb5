// GGUF export (for llama.cpp tools): the file parses back with the metadata llama.cpp needs, every tensor under its
// llama.cpp name with ggml dims, and q/k rows in Meta's interleaved RoPE order (the inverse of HF's permutation).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Engine } from '../src/main/engine/engine'
import { exportGguf } from '../src/main/engine/export/gguf'
import { halfToFloat, TinyConfig, tinyTensors, tmp, writeTinyModel } from './helpers'

interface Gguf {
  kv: Map<string, unknown>
  tensors: Map<string, { dims: number[]; type: number; offset: number }>
  dataStart: number
  buf: Buffer
}

function parseGguf(path: string): Gguf {
  const buf = readFileSync(path)
  let p = 0
  const u32 = (): number => { const v = buf.readUInt32LE(p); p += 4; return v }
  const u64 = (): number => { const v = Number(buf.readBigUInt64LE(p)); p += 8; return v }
  const str = (): string => { const n = u64(); const s = buf.toString('utf8', p, p + n); p += n; return s }
  const value = (type: number): unknown => {
    switch (type) {
      case 4: return u32()
      case 5: { const v = buf.readInt32LE(p); p += 4; return v }
      case 6: { const v = buf.readFloatLE(p); p += 4; return v }
      case 7: { const v = buf[p] !== 0; p += 1; return v }
      case 8: return str()
      case 9: { const t = u32(); const n = u64(); return Array.from({ length: n }, () => value(t)) }
      case 10: return u64()
      default: throw new Error(`unexpected GGUF type ${type}`)
    }
  }
  expect(buf.toString('latin1', 0, 4)).toBe('GGUF')
  p = 4
  expect(u32()).toBe(3)
  const nt = u64()
  const nkv = u64()
  const kv = new Map<string, unknown>()
  for (let i = 0; i < nkv; i++) {
    const k = str()
    kv.set(k, value(u32()))
  }
  const tensors = new Map<string, { dims: number[]; type: number; offset: number }>()
  for (let i = 0; i < nt; i++) {
    const name = str()
    const nd = u32()
    const dims = Array.from({ length: nd }, () => u64())
    tensors.set(name, { dims, type: u32(), offset: u64() })
  }
  const align = (kv.get('general.alignment') as number) ?? 32
  return { kv, tensors, dataStart: Math.ceil(p / align) * align, buf }
}

describe('GGUF export', () => {
  it('writes llama.cpp metadata, names, dims and interleaved q/k rows', async () => {
    const c: TinyConfig = { dim: 32, ffn: 48, layers: 2, heads: 4, kvHeads: 2, tied: false, ropeTheta: 500000, seed: 9 }
    const t = tinyTensors(c)
    const engine = Engine.load(writeTinyModel(tmp(), c, t))
    const out = join(tmp(), 'tiny.gguf')
    await exportGguf(engine, [], out)
    const g = parseGguf(out)
    expect(g.kv.get('general.architecture')).toBe('llama')
    expect(g.kv.get('llama.block_count')).toBe(2)
    expect(g.kv.get('llama.attention.head_count')).toBe(4)
    expect(g.kv.get('llama.attention.head_count_kv')).toBe(2)
    expect(g.kv.get('llama.rope.freq_base')).toBe(500000)
    expect((g.kv.get('tokenizer.ggml.tokens') as string[]).length).toBe(4096)
    expect((g.kv.get('tokenizer.ggml.tokens') as string[])[343]).toBe(engine.tokenizer.piece(343))
    expect(g.tensors.size).toBe(Object.keys(t).length)
    expect(g.tensors.get('token_embd.weight')!.dims).toEqual([32, 4096]) // ggml order: columns first
    expect(g.tensors.get('blk.1.ffn_down.weight')!.dims).toEqual([48, 32])
    expect(g.tensors.get('output_norm.weight')!.type).toBe(0) // norms stay F32
    // q and k rows: HF row (h, i) of a head's first half → interleaved row 2i of head h; second half → 2i + 1.
    // Every entry of every q and k matrix of every layer, within F16 rounding (half an ulp) of the HF weight.
    const hd = 8
    let checked = 0
    for (let l = 0; l < c.layers; l++) {
      for (const [gg, hf, heads] of [['attn_q', 'q_proj', c.heads], ['attn_k', 'k_proj', c.kvHeads]] as const) {
        const info = g.tensors.get(`blk.${l}.${gg}.weight`)!
        expect(info.dims).toEqual([32, heads * hd])
        expect(info.type).toBe(1) // F16
        const read = (row: number, col: number): number => halfToFloat(g.buf.readUInt16LE(g.dataStart + info.offset + 2 * (row * 32 + col)))
        const src = t[`model.layers.${l}.self_attn.${hf}.weight`].data
        for (let h = 0; h < heads; h++)
          for (let i = 0; i < hd / 2; i++)
            for (let col = 0; col < 32; col++) {
              for (const [row, hfRow] of [[h * hd + 2 * i, h * hd + i], [h * hd + 2 * i + 1, h * hd + hd / 2 + i]]) {
                const want = src[hfRow * 32 + col]
                const got = read(row, col)
                if (Math.abs(got - want) > Math.abs(want) * 2 ** -11 + 2 ** -25)
                  expect(got, `blk.${l}.${gg} row ${row} col ${col} (HF ${hf} row ${hfRow})`).toBe(want)
                checked++
              }
            }
      }
    }
    expect(checked).toBe(c.layers * (c.heads + c.kvHeads) * hd * 32)
  })
})
