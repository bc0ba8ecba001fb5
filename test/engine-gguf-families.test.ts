// Qwen3 and Granite through GGUF (llama.cpp's "qwen3" and "granite" architectures): the same tiny weights, base and
// stepped, exported by our GGUF writer, give llama.cpp's greedy ids (node-llama-cpp, installed on demand as the
// benchmark does) and our engine's ids on the HF directory; the file re-opens in our engine as the same model (ids and
// per-token log-likelihoods), and a GGUF model exports back to an HF directory that is again that model.
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { Engine } from '../src/main/engine/engine'
import { exportGguf } from '../src/main/engine/export/gguf'
import { LlamaCppModule, loadPeer } from '../tools/bench/peer'
import { TinyConfig, tmp, writeTinyModel } from './helpers'
import { expectGgufRoundTrip, GGUF_PHRASE } from './familyChecks'

const FAMILIES: { arch: string; config: TinyConfig; keys: string[] }[] = [
  {
    arch: 'qwen3',
    config: {
      dim: 64, ffn: 128, layers: 2, heads: 4, kvHeads: 2, headDim: 32, tied: true, seed: 61, ropeTheta: 1000000, qkNorm: true,
      configExtra: { model_type: 'qwen3', architectures: ['Qwen3ForCausalLM'], head_dim: 32, rms_norm_eps: 1e-6 },
    },
    keys: ['qwen3.attention.key_length'],
  },
  {
    arch: 'granite',
    config: {
      dim: 64, ffn: 128, layers: 2, heads: 4, kvHeads: 2, tied: false, seed: 62,
      configExtra: { model_type: 'granite', architectures: ['GraniteForCausalLM'], embedding_multiplier: 3.0, residual_multiplier: 0.5, attention_multiplier: 0.125, logits_scaling: 2.0 },
    },
    keys: ['granite.embedding_scale', 'granite.residual_scale', 'granite.attention.scale', 'granite.logit_scale'],
  },
  {
    arch: 'gemma2',
    config: {
      dim: 64, ffn: 128, layers: 2, heads: 4, kvHeads: 2, headDim: 16, tied: true, seed: 65, postNorms: true,
      configExtra: { model_type: 'gemma2', architectures: ['Gemma2ForCausalLM'], head_dim: 16, query_pre_attn_scalar: 16, sliding_window: 8, rms_norm_eps: 1e-6, attn_logit_softcapping: 0.5, final_logit_softcapping: 30.0 },
    },
    keys: ['gemma2.attention.sliding_window', 'gemma2.attn_logit_softcapping', 'gemma2.final_logit_softcapping'],
  },
  {
    arch: 'gemma3',
    config: {
      dim: 64, ffn: 128, layers: 6, heads: 4, kvHeads: 2, headDim: 16, tied: true, seed: 64, postNorms: true, qkNorm: true, ropeTheta: 1000000,
      configExtra: { model_type: 'gemma3_text', architectures: ['Gemma3ForCausalLM'], head_dim: 16, query_pre_attn_scalar: 16, sliding_window: 8, rms_norm_eps: 1e-6 },
    },
    keys: ['gemma3.attention.sliding_window'],
  },
]

let llamaCpp: LlamaCppModule
beforeAll(async () => {
  llamaCpp = await loadPeer(() => {})
}, 900_000)

describe('Qwen3 and Granite through GGUF', () => {
  for (const f of FAMILIES) {
    it(`${f.arch}: base and stepped → GGUF = the HF model in our engine and in llama.cpp; GGUF → HF directory = the same model`, async () => {
      const hf = Engine.load(writeTinyModel(join(tmp(), 'hf'), f.config))
      await expectGgufRoundTrip(llamaCpp, hf, await hf.gradient(GGUF_PHRASE), {
        name: f.arch,
        family: f.arch === 'gemma3' ? 'gemma3_text' : f.arch,
        lrs: [0, 0.5],
        comparable: true,
        meta: (file) => {
          expect(file.kv.get('general.architecture')).toBe(f.arch)
          for (const k of f.keys) expect(file.kv.has(k), k).toBe(true)
        },
      })
    }, 300_000)
  }

  it('what llama.cpp\'s gemma graphs assume instead of reading is refused by name', async () => {
    const base = FAMILIES.find((f) => f.arch === 'gemma3')!.config
    const open = (extra: Record<string, unknown>): Engine => Engine.load(writeTinyModel(join(tmp(), 'g'), { ...base, configExtra: { ...base.configExtra, ...extra } }))
    await expect(exportGguf(open({ query_pre_attn_scalar: 8 }), [], join(tmp(), 'a.gguf'))).rejects.toThrow(/q·k scale .* llama.cpp uses 16\^−½/)
    await expect(exportGguf(open({ sliding_window_pattern: 3 }), [], join(tmp(), 'b.gguf'))).rejects.toThrow(/not llama.cpp's fixed pattern of 5 sliding layers then one global/)
    await expect(exportGguf(open({ rope_local_base_freq: 500 }), [], join(tmp(), 'c.gguf'))).rejects.toThrow(/rope_local_base_freq is not 10000/)
  })

  it('what llama.cpp\'s qwen3 graph cannot run is refused by name', async () => {
    const hf = Engine.load(writeTinyModel(join(tmp(), 'hf'), {
      dim: 64, ffn: 128, layers: 1, heads: 4, kvHeads: 2, headDim: 16, tied: true, qkNorm: true, biases: { qkv: true, o: true },
      configExtra: { model_type: 'qwen3', head_dim: 16, attention_bias: true },
    }))
    await expect(exportGguf(hf, [], join(tmp(), 'b.gguf'))).rejects.toThrow(/attention_bias cannot be carried \(llama.cpp's qwen3 architecture has no biases\)/)
  })
})
