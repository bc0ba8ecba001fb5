// GPT-OSS as it is released on the Hugging Face Hub (openai/gpt-oss-20b, -120b): config.json with
// quantization_config {quant_method "mxfp4"}, the experts as MXFP4 blocks and scales in safetensors (U8), every other
// tensor BF16. A tiny random model written in that layout opens in the engine with its experts repacked into ggml's
// MXFP4 blocks (as many bytes as the file's), and computes what transformers computes after its dequantisation: the
// float64 reference (test/reference/llama.ts + experts.ts) over weights dequantised by test/reference/mxfp4.ts, a
// separate port of transformers' rule. Log-probs at every position; the gradient of every entry of every tensor
// against central differences — the experts' at their dequantised values, which is what a step moves (a low-rank view
// over the MXFP4 matrices, as for a GGUF file's); stepped views; the HF export (dense experts) value for value; and
// every malformed MXFP4 input refused in words.
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Engine, View } from '../src/main/engine/engine'
import { parseModelConfig } from '../src/main/engine/families'
import { loadAddon, NativeModel } from '../src/main/engine/native'
import { readCheckpointFiles } from '../src/main/engine/formats/safetensors'
import { moeEngineTensors } from '../src/main/engine/experts'
import { readJson } from '../src/main/engine/config'
import { exportHF } from '../src/main/engine/export/hf'
import { rng, tmp } from './helpers'
import { GptOssTiny, gradientsByFileName, RawEntry, readMxfp4Entries, readMxfp4Weights, writeGptOssMxfp4, writeSafetensors } from './gptOssTiny'
import { checkEveryEntry, readWeights, stepped } from './reference/check'
import { RefConfig, refLogits, refLogProbs, refLoss, refYarnAttentionFactor, refYarnInvFreq } from './reference/llama'

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]))
  return m
}

const V = 40
const yarn = { rope_type: 'yarn', factor: 4.0, beta_fast: 32.0, beta_slow: 1.0, truncate: false, original_max_position_embeddings: 64 }
// hidden and expert sizes of 32: one MXFP4 block per expert row
const tiny: GptOssTiny = {
  vocab: V, dim: 32, layers: 2, heads: 4, kvHeads: 2, headDim: 8, experts: 4, topk: 2, expertFfn: 32, seed: 91,
  configExtra: { vocab_size: V, layer_types: ['sliding_attention', 'full_attention'], sliding_window: 3, swiglu_limit: 1.5, rope_theta: 150000, rope_scaling: yarn },
}

const rc: RefConfig = {
  vocab: V, dim: tiny.dim, ffn: tiny.expertFfn, layers: tiny.layers, heads: tiny.heads, kvHeads: tiny.kvHeads, headDim: tiny.headDim, tied: false,
  eps: 1e-5,
  invFreq: refYarnInvFreq(150000, tiny.headDim, { factor: 4, original: 64, betaFast: 32, betaSlow: 1, truncate: false }),
  ropeScale: refYarnAttentionFactor(4),
  interleaved: false,
  window: 3,
  layerSliding: [true, false],
  sinks: true,
  moe: { family: 'gpt_oss', experts: tiny.experts, topk: tiny.topk, ffn: tiny.expertFfn, normTopk: true, layers: [true, true], limit: 1.5, alpha: 1.702 },
}

function open(dir: string): { model: NativeModel; cfg: ReturnType<typeof parseModelConfig>; tensors: ReturnType<typeof moeEngineTensors> } {
  const cfg = parseModelConfig(readJson(`${dir}/config.json`, 'config.json'))
  const ck = readCheckpointFiles(dir)
  const tensors = moeEngineTensors(cfg.family, ck.tensors)
  const model: NativeModel = new (loadAddon().Model)({ config: { ...cfg, raw: undefined, eosIds: undefined }, files: ck.files, tensors, threads: 1 })
  return { model, cfg, tensors }
}

function phraseIds(seed: number, T: number): number[] {
  const r = rng(seed)
  return [1, ...Array.from({ length: T - 1 }, () => 3 + Math.floor(r() * (V - 3)))]
}

describe('GPT-OSS with MXFP4 experts in safetensors (the released layout)', () => {
  it('= the float64 reference over transformers\' dequantisation: log-probs, every gradient entry, stepped views', async () => {
    const dir = writeGptOssMxfp4(tiny)
    const { model, cfg, tensors } = open(dir)
    expect(cfg.family).toBe('gpt_oss')
    // the experts are MXFP4 matrices (17 bytes per 32 weights, the file's 16 + 1), not a float expansion
    const experts = tensors.filter((t) => /mlp\.experts\.\d+\.\w+\.weight$/.test(t.name))
    expect(experts.length).toBe(tiny.layers * tiny.experts * 3)
    expect(new Set(experts.map((t) => t.dtype))).toEqual(new Set(['MXFP4']))
    const w = readMxfp4Weights(dir)
    const ids = phraseIds(tiny.seed, 9)

    const s = await model.score({ ids, views: [[]], topk: 0, fullAt: ids.map((_, i) => i) })
    expect(maxDiff(s.full, refLogProbs(refLogits(rc, w, ids), V)), 'log-probs vs float64 reference').toBeLessThan(2e-5)
    // the mapping matters on this model: read with ggml's nibble order (or the rows not interleaved), it is far off
    expect(maxDiff(s.full, refLogProbs(refLogits(rc, readMxfp4Weights(dir, 'ggml'), ids), V)), 'nibbles in ggml\'s order').toBeGreaterThan(1e-3)
    const swapped = { ...w }
    for (const l of [0, 1]) {
      const name = `model.layers.${l}.mlp.experts.gate_up_proj`
      const v = Float64Array.from(w[name])
      for (let i = 0; i < v.length; i += 2) [v[i], v[i + 1]] = [v[i + 1], v[i]]
      swapped[name] = v
    }
    expect(maxDiff(s.full, refLogProbs(refLogits(rc, swapped, ids), V)), 'gate and up rows swapped').toBeGreaterThan(1e-3)

    // the gradient of every entry: the experts' at their dequantised values
    const step = await model.gradient(ids, [])
    expect(Math.abs(step.loss - refLoss(rc, w, ids))).toBeLessThan(1e-5)
    const grads = gradientsByFileName(step.export(), tiny, cfg, Object.keys(w))
    const { entries } = checkEveryEntry(rc, w, ids, grads)
    expect(entries).toBe(Object.values(w).reduce((a, v) => a + v.length, 0))
    for (const n of ['model.layers.0.mlp.experts.gate_up_proj', 'model.layers.1.mlp.experts.down_proj'])
      expect(Math.max(...Array.from(grads[n]).map(Math.abs)), `${n} has a gradient`).toBeGreaterThan(1e-6)

    // a stepped view is the dense model w − α∇w, its MXFP4 experts included
    const lr = 0.5
    const sv = await model.score({ ids, views: [[{ step, lr }]], topk: 0, fullAt: ids.map((_, i) => i) })
    expect(maxDiff(sv.full, refLogProbs(refLogits(rc, stepped(w, grads, lr), ids), V)), 'stepped view').toBeLessThan(5e-5)
  }, 300_000)

  it('through the Engine: the HF export writes the experts dense, value for value, and re-opens as the same model', async () => {
    const big: GptOssTiny = { ...tiny, vocab: 4096, configExtra: { ...tiny.configExtra, vocab_size: 4096, sliding_window: 4 } }
    const dir = writeGptOssMxfp4(big)
    const engine = Engine.load(dir, { threads: 1 })
    expect(engine.config.family).toBe('gpt_oss')
    const w = readMxfp4Weights(dir)
    // the base model exported in its own dtype (BF16): every dequantised expert weight exactly (fp4 · 2^(s − 127) is a
    // bf16 number), the other tensors as stored; no quantization_config (the experts are dense now)
    const base = tmp()
    await exportHF(engine, [], base)
    const cfgOut = JSON.parse(readFileSync(join(base, 'config.json'), 'utf8')) as Record<string, unknown>
    expect(cfgOut.quantization_config).toBeUndefined()
    const written = readCheckpointFiles(base).tensors
    expect(new Set(written.map((t) => t.dtype))).toEqual(new Set(['BF16']))
    expect(written.find((t) => t.name === 'model.layers.0.mlp.experts.gate_up_proj')?.shape).toEqual([big.experts, big.dim, 2 * big.expertFfn])
    expect(written.find((t) => t.name === 'model.layers.0.mlp.experts.down_proj')?.shape).toEqual([big.experts, big.expertFfn, big.dim])
    const back = readWeights(base)
    expect(new Set(Object.keys(back))).toEqual(new Set(Object.keys(w)))
    for (const k of Object.keys(w)) expect(maxDiff(w[k], back[k]), k).toBe(0)

    const phrase = 'To be, or not to be, that is the question'
    const ids = engine.withBos(phrase, 'text')
    const dense = Engine.load(base, { threads: 1 })
    const [a] = await engine.score({ ids, views: [[]] })
    const [b] = await dense.score({ ids, views: [[]] })
    expect(maxDiff(a.nll, b.nll), 'MXFP4 model = its dense export').toBeLessThan(1e-5)

    // sharded as the released checkpoints are, each layer's scales in another file than its blocks: the same model
    const sharded = tmp()
    cpSync(dir, sharded, { recursive: true })
    const whole = readMxfp4Entries(join(dir, 'model.safetensors'))
    const shards: Record<string, RawEntry>[] = [{}, {}]
    for (const [name, t] of Object.entries(whole)) shards[name.endsWith('_scales') ? 1 : 0][name] = t
    rmSync(join(sharded, 'model.safetensors'))
    const files = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']
    shards.forEach((sh, i) => writeSafetensors(join(sharded, files[i]), sh))
    const weightMap = Object.fromEntries(shards.flatMap((sh, i) => Object.keys(sh).map((n) => [n, files[i]])))
    writeFileSync(join(sharded, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }))
    const [c] = await Engine.load(sharded, { threads: 1 }).score({ ids, views: [[]] })
    expect(c.nll, 'blocks and scales in two shards').toEqual(a.nll)

    // stepped: the F32 export is the stepped model (its gradient on another phrase equals the view's)
    const g = await engine.gradient(phrase)
    const view: View = [{ gradient: g, lr: 0.7 }]
    const out = tmp()
    await exportHF(engine, view, out, { dtype: 'F32' })
    const stepped = Engine.load(out, { threads: 1 })
    const other = 'Customers are the heart of every business'
    const g1 = await engine.gradient(other, view)
    const g2 = await stepped.gradient(other)
    expect(Math.abs(g1.loss - g2.loss) / g2.loss).toBeLessThan(1e-5)
    const [gv] = await engine.generate({ prompt: 'To be', views: [view], maxNew: 16 })
    const [gd] = await stepped.generate({ prompt: 'To be', views: [[]], maxNew: 16 })
    expect(gv.ids).toEqual(gd.ids)
  }, 300_000)

  it('malformed MXFP4 experts are refused in words', () => {
    const E = tiny.experts, F = tiny.expertFfn, D = tiny.dim
    const big: GptOssTiny = { ...tiny, vocab: 4096, configExtra: { ...tiny.configExtra, vocab_size: 4096 } }
    const edited = (edit: (e: Record<string, RawEntry>) => void): string => writeGptOssMxfp4(big, edit)
    const load = (dir: string): (() => unknown) => () => Engine.load(dir, { threads: 1 })
    const p = 'model.layers.0.mlp.experts.'
    // the scales' shape not one per block
    expect(load(edited((e) => {
      e[p + 'gate_up_proj_scales'] = { ...e[p + 'gate_up_proj_scales'], shape: [E, F, 2], bytes: e[p + 'gate_up_proj_scales'].bytes }
    }))).toThrow(`${p}gate_up_proj_scales: shape [${E},${F},2] does not match ${p}gate_up_proj_blocks [${E},${2 * F},1,16] (one scale per block: [${E}, ${2 * F}, 1])`)
    // blocks stored as another dtype
    expect(load(edited((e) => {
      const b = e[p + 'down_proj_blocks']
      e[p + 'down_proj_blocks'] = { dtype: 'BF16', shape: [E, D, 1, 8], bytes: b.bytes }
    }))).toThrow(`${p}down_proj_blocks: MXFP4 blocks must be U8 (found BF16)`)
    // blocks whose last axis is not 16 bytes
    expect(load(edited((e) => {
      const b = e[p + 'down_proj_blocks']
      e[p + 'down_proj_blocks'] = { ...b, shape: [E, D, 2, 8] }
    }))).toThrow(`${p}down_proj_blocks: expected [experts, rows, blocks, 16] (32 four-bit weights in 16 bytes per block; found [${E},${D},2,8])`)
    // an odd number of gate_up rows
    expect(load(edited((e) => {
      e[p + 'gate_up_proj_blocks'] = { ...e[p + 'gate_up_proj_blocks'], shape: [E, 2 * F - 1, 1, 16], bytes: e[p + 'gate_up_proj_blocks'].bytes.subarray(0, E * (2 * F - 1) * 16) }
      e[p + 'gate_up_proj_scales'] = { ...e[p + 'gate_up_proj_scales'], shape: [E, 2 * F - 1, 1], bytes: e[p + 'gate_up_proj_scales'].bytes.subarray(0, E * (2 * F - 1)) }
    }))).toThrow(`${p}gate_up_proj_blocks: ${2 * F - 1} rows are not interleaved gate and up rows`)
    // blocks for a hidden size that is not the config's (two blocks of 32 per row for hidden_size 32)
    expect(load(edited((e) => {
      e[p + 'down_proj_blocks'] = { ...e[p + 'down_proj_blocks'], shape: [E, D / 2, 2, 16] }
      e[p + 'down_proj_scales'] = { ...e[p + 'down_proj_scales'], shape: [E, D / 2, 2] }
    }))).toThrow(/model\.layers\.0\.mlp\.experts\.0\.down_proj\.weight: shape does not match config\.json \(expected \[32, 32\]\)/)
    // blocks without their scales
    expect(load(edited((e) => {
      delete e[p + 'down_proj_scales']
    }))).toThrow(`${p}down_proj_blocks has no ${p}down_proj_scales beside it (MXFP4 experts are stored as both)`)
    // the experts twice, dense and MXFP4
    expect(load(edited((e) => {
      e[p + 'down_proj'] = { dtype: 'BF16', shape: [E, F, D], bytes: Buffer.alloc(E * F * D * 2) }
    }))).toThrow(`${p}down_proj: the checkpoint holds these experts twice, dense and as MXFP4 ${p}down_proj_blocks / _scales; which one is meant is ambiguous`)
    // a scale byte of 255 (2^128: inf in transformers' float32 ldexp, past ggml's float)
    expect(load(edited((e) => {
      e[p + 'down_proj_scales'].bytes[5] = 255
    }))).toThrow(`model.safetensors: model.layers.0.mlp.experts.0.down_proj.weight: row 5, block 0 has scale byte 255 (2^128 overflows float32; transformers' dequantisation makes it inf)`)
    // U8 anywhere else
    expect(load(edited((e) => {
      e['model.layers.0.self_attn.q_proj.weight_scales'] = { dtype: 'U8', shape: [4], bytes: Buffer.alloc(4) }
    }))).toThrow(`model.layers.0.self_attn.q_proj.weight_scales has dtype U8; only F32, F16 and BF16 are supported (U8 is read only as a gpt_oss checkpoint's MXFP4 experts`)
    expect(load(edited((e) => {
      e['model.layers.0.self_attn.q_proj.weight'] = { ...e['model.layers.0.self_attn.q_proj.weight'], dtype: 'U8', bytes: Buffer.alloc(e['model.layers.0.self_attn.q_proj.weight'].bytes.length / 2) }
    }))).toThrow(/model\.layers\.0\.self_attn\.q_proj\.weight has dtype U8; only F32, F16 and BF16 are supported/)
    // another quantisation method
    expect(() => parseModelConfig({ model_type: 'gpt_oss', quantization_config: { quant_method: 'bitsandbytes' } })).toThrow(`config.json: quantization_config quant_method "bitsandbytes" is not supported for gpt_oss (the engine reads "mxfp4", the released checkpoints' MXFP4 experts)`)
    expect(parseModelConfig({ model_type: 'gpt_oss', quantization_config: { quant_method: 'mxfp4', modules_to_not_convert: ['lm_head'] } }).family).toBe('gpt_oss')
  })
})
