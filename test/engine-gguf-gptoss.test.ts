// GPT-OSS through GGUF (llama.cpp's "gpt-oss"): the same tiny weights, base and stepped, exported by our GGUF writer —
// sinks as blk.N.attn_sinks, the MLP input norm as post_attention_norm, router and experts with their biases, each
// layer's experts as one 3-D tensor — give llama.cpp's greedy ids (node-llama-cpp, installed on demand as the
// benchmark does) and our engine's ids on the HF directory; the file re-opens in our engine as the same model and
// exports back to an HF directory in transformers' layout that is again that model. What llama.cpp's gpt-oss graph
// fixes is refused by name when a model differs.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { Engine } from '../src/main/engine/engine'
import { exportGguf } from '../src/main/engine/export/gguf'
import { readGguf } from '../src/main/engine/formats/gguf/read'
import { LlamaCppModule, loadPeer } from '../tools/bench/peer'
import { expectGgufRoundTrip, expectSameNll, GGUF_N, GGUF_PHRASE, GGUF_PROMPT, nlls } from './familyChecks'
import { GptOssTiny, writeGptOss, writeGptOssMxfp4 } from './gptOssTiny'
import { tmp } from './helpers'
import { logitGapsAgainstPeer, peerProbabilities } from './peerLogits'
import { LOWBIT, quantiseLowbit } from './ggml-lowbit'

// yarn with whole-dimension ramp bounds (truncate true): what llama.cpp's graph computes; every other layer sliding
// from layer 0 with a window of 6 (it bites within the 32 generated tokens)
const tiny: GptOssTiny = {
  vocab: 4096, dim: 64, layers: 2, heads: 4, kvHeads: 2, headDim: 16, experts: 4, topk: 2, expertFfn: 64, seed: 81,
  configExtra: { vocab_size: 4096, sliding_window: 6, rope_theta: 150000, rope_scaling: { rope_type: 'yarn', factor: 4.0, beta_fast: 32.0, beta_slow: 1.0, truncate: true, original_max_position_embeddings: 64 } },
}

let llamaCpp: LlamaCppModule
beforeAll(async () => {
  llamaCpp = await loadPeer(() => {})
}, 900_000)

describe('GPT-OSS through GGUF', () => {
  it('base and stepped → GGUF = the HF model in our engine and in llama.cpp; GGUF → HF directory = the same model', async () => {
    const hf = Engine.load(writeGptOss(tiny))
    const g = await hf.gradient(GGUF_PHRASE)
    await expectGgufRoundTrip(llamaCpp, hf, g, {
      name: 'gpt-oss',
      family: 'gpt_oss',
      lrs: [0, 2],
      meta: (meta) => {
        expect(meta.kv.get('general.architecture')).toBe('gpt-oss')
        expect(meta.kv.get('gpt-oss.expert_count')).toBe(4)
        expect(meta.kv.get('gpt-oss.attention.sliding_window')).toBe(6)
        const dims = (n: string): number[] | undefined => meta.tensors.find((t) => t.name === n)?.dims
        expect(dims('blk.1.ffn_gate_exps.weight')).toEqual([64, 64, 4])
        expect(dims('blk.1.ffn_down_exps.bias')).toEqual([64, 4])
        expect(dims('blk.1.ffn_gate_inp.bias')).toEqual([4])
        expect(dims('blk.0.attn_sinks.weight')).toEqual([4])
        expect(dims('blk.0.post_attention_norm.weight')).toEqual([64])
      },
    })
  }, 300_000)

  it('the released HF layout (MXFP4 experts in safetensors) → GGUF F32: our engine and llama.cpp give its greedy ids, base and stepped', async () => {
    const hf = Engine.load(writeGptOssMxfp4(tiny))
    expect(new Set(hf.tensors.filter((t) => /experts\.\d+\.\w+\.weight$/.test(t.name)).map((t) => t.dtype))).toEqual(new Set(['MXFP4']))
    // the dequantised experts are F32 numbers (fp4 · 2^(s − 127)): the F32 file is the model, stepped or not
    await expectGgufRoundTrip(llamaCpp, hf, await hf.gradient(GGUF_PHRASE), {
      name: 'gpt-oss-mxfp4-hf',
      family: 'gpt_oss',
      lrs: [0, 2],
      meta: (meta) => expect(meta.kv.get('general.architecture')).toBe('gpt-oss'),
    })
  }, 300_000)

  it('MXFP4 experts (as the released GGUF files store them): the dequantised F32 twin in our engine, and llama.cpp', async () => {
    const hf = Engine.load(writeGptOss(tiny))
    const f32 = join(tmp(), 'gpt-oss-f32.gguf')
    await exportGguf(hf, [], f32, undefined, { dtype: 'F32' })
    const mx = join(tmp(), 'gpt-oss-mxfp4.gguf')
    const twin = join(tmp(), 'gpt-oss-twin.gguf')
    rewriteExperts(f32, mx, twin)
    const ours = Engine.load(mx)
    expect(new Set(ours.tensors.filter((t) => /experts\.\d+\.\w+\.weight$/.test(t.name)).map((t) => t.dtype))).toEqual(new Set(['MXFP4']))
    const ref = Engine.load(twin)
    // the experts' gate and up fused into one tensor per layer, as llama.cpp's converter may write them: the same model
    const fused = join(tmp(), 'gpt-oss-fused.gguf')
    fuseGateUp(mx, fused)
    expect(readGguf(fused).tensors.some((t) => t.name === 'blk.0.ffn_gate_up_exps.weight')).toBe(true)
    expectSameNll(await nlls(ours, []), await nlls(Engine.load(fused), []), 'ffn_gate_up_exps = ffn_gate_exps + ffn_up_exps')
    const nllA = await nlls(ours, [])
    expectSameNll(nllA, await nlls(ref, []), 'MXFP4 file = its dequantised twin')
    const [a] = await ours.generate({ prompt: ours.withBos(GGUF_PROMPT, 'prompt'), views: [[]], maxNew: GGUF_N })
    const [b] = await ref.generate({ prompt: ref.withBos(GGUF_PROMPT, 'prompt'), views: [[]], maxNew: GGUF_N })
    expect(Array.from(a.ids)).toEqual(Array.from(b.ids))
    // the quantisation moved the model: the MXFP4 file is not the F32 one
    const nllF = await nlls(Engine.load(f32), [])
    expect(Math.max(...nllA.map((x, i) => Math.abs(x - nllF[i]))), 'MXFP4 changes the experts').toBeGreaterThan(1e-3)
    // llama.cpp rounds activations to 8 bits for its MXFP4 products (this tiny model's greedy margins are smaller than
    // that), so its next-token log-probabilities are compared, teacher-forced on one text: close to ours on the same
    // file, and further from those of the F32 model the blocks were quantised from
    const text = ours.withBos(`${GGUF_PHRASE}: Whether 'tis nobler in the mind`, 'text')
    const theirs = await peerProbabilities(llamaCpp, mx, text)
    const dMx = (await logitGapsAgainstPeer(ours, text, theirs, 1e-3)).worst
    const dF32 = (await logitGapsAgainstPeer(Engine.load(f32), text, theirs, 1e-3)).worst
    console.log(`gpt-oss MXFP4 vs llama.cpp: worst |Δ log-prob| ${dMx.toFixed(4)} on the MXFP4 model, ${dF32.toFixed(4)} on the F32 model it was quantised from`)
    // (measured: 0.016 and 0.33)
    expect(dMx).toBeLessThan(0.05)
    expect(dF32).toBeGreaterThan(4 * dMx)
  }, 300_000)

  it("what llama.cpp's gpt-oss graph fixes is refused by name", async () => {
    const open = (extra: Record<string, unknown>): Engine => Engine.load(writeGptOss({ ...tiny, configExtra: { ...tiny.configExtra, ...extra } }))
    await expect(exportGguf(open({ swiglu_limit: 5 }), [], join(tmp(), 'a.gguf'))).rejects.toThrow(/swiglu_limit 5 \/ swiglu_alpha 1.702 \(it uses 7 and 1.702\) cannot be carried/)
    await expect(exportGguf(open({ layer_types: ['full_attention', 'sliding_attention'] }), [], join(tmp(), 'b.gguf'))).rejects.toThrow(/layer_types other than sliding on the even layers/)
    await expect(exportGguf(open({ rope_scaling: { ...(tiny.configExtra.rope_scaling as object), truncate: false } }), [], join(tmp(), 'c.gguf'))).rejects.toThrow(/truncate false cannot be carried/)
  })
})

/**
 * Copies a GGUF file with its experts' matrices (blk.N.ffn_{gate,up,down}_exps.weight, F32) re-stored as MXFP4
 * (test/ggml-lowbit.ts's quantiser) into `mxfp4`, and as the F32 values those blocks decode to into `twin`; metadata
 * bytes are copied as they are (their types kept), tensor infos and data rewritten.
 */
function rewriteExperts(src: string, mxfp4: string, twin: string): void {
  const isExpert = (name: string): boolean => /^blk\.\d+\.ffn_(gate|up|down)_exps\.weight$/.test(name)
  const requant = (asMxfp4: boolean) => (ts: GgufOut[]): GgufOut[] =>
    ts.map((t) => {
      if (!isExpert(t.name)) return t
      if (t.type !== 0) throw new Error(`${t.name}: expected F32`)
      const q = quantiseLowbit('MXFP4', new Float32Array(t.bytes.buffer.slice(t.bytes.byteOffset, t.bytes.byteOffset + t.bytes.length)))
      return asMxfp4 ? { ...t, type: LOWBIT.MXFP4.id, bytes: q.bytes } : { ...t, bytes: Buffer.from(q.values.buffer) }
    })
  rewriteGguf(src, mxfp4, requant(true))
  rewriteGguf(src, twin, requant(false))
}

/** Copies a GGUF file with each layer's ffn_gate_exps and ffn_up_exps (weights and biases) fused into ffn_gate_up_exps
 *  [E, 2F, …]: expert e's gate rows, then its up rows (whole rows of any ggml type) */
function fuseGateUp(src: string, dst: string): void {
  rewriteGguf(src, dst, (ts) => {
    const out: GgufOut[] = []
    for (const t of ts) {
      const m = /^blk\.(\d+)\.ffn_(gate|up)_exps\.(weight|bias)$/.exec(t.name)
      if (!m) {
        out.push(t)
        continue
      }
      if (m[2] === 'up') continue
      const up = ts.find((u) => u.name === `blk.${m[1]}.ffn_up_exps.${m[3]}`)!
      const E = t.dims[t.dims.length - 1]
      const per = t.bytes.length / E
      const bytes = Buffer.concat(Array.from({ length: E }, (_, e) => [t.bytes.subarray(e * per, (e + 1) * per), up.bytes.subarray(e * per, (e + 1) * per)]).flat())
      const dims = [...t.dims]
      dims[dims.length - 2] *= 2
      out.push({ ...t, name: `blk.${m[1]}.ffn_gate_up_exps.${m[3]}`, dims, bytes })
    }
    return out
  })
}

interface GgufOut {
  name: string
  dims: number[]
  type: number
  bytes: Buffer
}

/** Rewrites a GGUF file's tensors (metadata bytes copied as they are, their types kept; tensor infos and data anew). */
function rewriteGguf(src: string, dst: string, change: (ts: GgufOut[]) => GgufOut[]): void {
  const b = readFileSync(src)
  let o = 4
  const u32 = (): number => { const v = b.readUInt32LE(o); o += 4; return v }
  const u64 = (): number => { const v = Number(b.readBigUInt64LE(o)); o += 8; return v }
  const str = (): string => { const n = u64(); const s = b.toString('utf8', o, o + n); o += n; return s }
  const SIZE: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 }
  const skip = (type: number): void => {
    if (type === 8) str()
    else if (type === 9) {
      const t = u32(), n = u64()
      for (let i = 0; i < n; i++) skip(t)
    } else o += SIZE[type]
  }
  const version = u32(), nt = u64(), nkv = u64()
  const kvStart = o
  let alignment = 32
  for (let i = 0; i < nkv; i++) {
    const key = str(), type = u32()
    if (key === 'general.alignment') alignment = b.readUInt32LE(o)
    skip(type)
  }
  const kvBytes = b.subarray(kvStart, o)
  const infos: { name: string; dims: number[]; type: number; off: number }[] = []
  for (let i = 0; i < nt; i++) {
    const name = str(), nd = u32()
    const dims = Array.from({ length: nd }, () => u64())
    infos.push({ name, dims, type: u32(), off: u64() })
  }
  const dataStart = Math.ceil(o / alignment) * alignment
  const read: GgufOut[] = infos.map((t) => {
    const count = t.dims.reduce((a, d) => a * d, 1)
    // (the files rewritten here hold F32 tensors and MXFP4 experts only)
    if (t.type !== 0 && t.type !== LOWBIT.MXFP4.id) throw new Error(`${t.name}: ggml type ${t.type} is not F32 or MXFP4`)
    const n = t.type === 0 ? 4 * count : (count / 32) * 17
    return { name: t.name, dims: t.dims, type: t.type, bytes: Buffer.from(b.subarray(dataStart + t.off, dataStart + t.off + n)) }
  })
  {
    const tensors = change(read)
    const parts: Buffer[] = []
    const w32 = (v: number): void => { const x = Buffer.alloc(4); x.writeUInt32LE(v); parts.push(x) }
    const w64 = (v: number): void => { const x = Buffer.alloc(8); x.writeBigUInt64LE(BigInt(v)); parts.push(x) }
    parts.push(Buffer.from('GGUF'))
    w32(version)
    w64(tensors.length)
    w64(nkv)
    parts.push(kvBytes)
    let rel = 0
    for (const t of tensors) {
      const nb = Buffer.from(t.name, 'utf8')
      w64(nb.length)
      parts.push(nb)
      w32(t.dims.length)
      t.dims.forEach(w64)
      w32(t.type)
      w64(rel)
      rel += Math.ceil(t.bytes.length / alignment) * alignment
    }
    let head = Buffer.concat(parts)
    head = Buffer.concat([head, Buffer.alloc((alignment - (head.length % alignment)) % alignment)])
    const body = tensors.map((t) => Buffer.concat([t.bytes, Buffer.alloc((alignment - (t.bytes.length % alignment)) % alignment)]))
    writeFileSync(dst, Buffer.concat([head, ...body]))
  }
}
