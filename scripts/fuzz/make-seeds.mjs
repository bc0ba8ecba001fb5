#!/usr/bin/env node
// Writes the starting corpora of the fuzzers (checked in; run again only to regenerate them): small valid inputs
// built from the organism's files and a tiny random Llama in each harness's input layout.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const organism = join(root, 'models', 'organism')
const put = (dir, name, bytes) => {
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, name), bytes)
}
let s = 12345
const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1

// the tiny model of native/fuzz/fuzz_common.h: V 64, D 8, F 16, 1 layer, 2 heads of 4, 1 KV head
const V = 64, D = 8, F = 16, QD = 8, KD = 4
const shapes = [
  ['model.embed_tokens.weight', [V, D]], ['lm_head.weight', [V, D]], ['model.norm.weight', [D]],
  ['model.layers.0.self_attn.q_proj.weight', [QD, D]], ['model.layers.0.self_attn.k_proj.weight', [KD, D]],
  ['model.layers.0.self_attn.v_proj.weight', [KD, D]], ['model.layers.0.self_attn.o_proj.weight', [D, QD]],
  ['model.layers.0.mlp.gate_proj.weight', [F, D]], ['model.layers.0.mlp.up_proj.weight', [F, D]],
  ['model.layers.0.mlp.down_proj.weight', [D, F]], ['model.layers.0.input_layernorm.weight', [D]],
  ['model.layers.0.post_attention_layernorm.weight', [D]],
]
// fuzz_load's name table order: embed, lm_head, norm, then per layer 7 linears + 2 norms
const nameIndex = (n) => {
  const lin = ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj']
  const all = ['model.embed_tokens.weight', 'lm_head.weight', 'model.norm.weight']
  for (let l = 0; l < 2; l++) {
    for (const x of lin) all.push(`model.layers.${l}.${x}.weight`)
    all.push(`model.layers.${l}.input_layernorm.weight`, `model.layers.${l}.post_attention_layernorm.weight`)
  }
  return all.indexOf(n)
}

function tinyWeights(dtypeBytes, skip = []) {
  const parts = []
  const specs = []
  let off = 0
  for (const [name, shape] of shapes) {
    if (skip.includes(name)) continue
    const n = shape.reduce((a, b) => a * b, 1)
    const b = Buffer.alloc(n * dtypeBytes)
    for (let i = 0; i < n; i++) {
      const v = name.includes('norm') ? 1 + 0.2 * rnd() : rnd() / 3
      if (dtypeBytes === 4) b.writeFloatLE(v, i * 4)
      else b.writeUInt16LE(Buffer.from(new Float32Array([v]).buffer).readUInt16LE(2), i * 2) // bf16 by truncation
    }
    specs.push({ name, shape, off })
    parts.push(b)
    off += b.length
  }
  return { specs, data: Buffer.concat(parts) }
}

function loadSeed(dtype, tied) {
  const dtypeBytes = dtype === 0 ? 4 : 2
  const { specs, data } = tinyWeights(dtypeBytes, tied ? ['lm_head.weight'] : [])
  const h = []
  const i32 = (v) => { const b = Buffer.alloc(4); b.writeInt32LE(v); h.push(b) }
  for (const v of [V, D, F, 1, 2, 1, 4, 32]) i32(v)
  h.push(Buffer.from([tied ? 1 : 0, specs.length]))
  for (const t of specs) {
    h.push(Buffer.from([nameIndex(t.name), dtype]))
    i32(0)
    const o = Buffer.alloc(8); o.writeBigUInt64LE(BigInt(t.off)); h.push(o)
    h.push(Buffer.from([t.shape.length]))
    for (const d of t.shape) { const b = Buffer.alloc(8); b.writeBigInt64LE(BigInt(d)); h.push(b) }
  }
  return Buffer.concat([...h, data])
}
const nat = join(root, 'native', 'fuzz', 'corpus')
put(join(nat, 'fuzz_load'), 'tiny-f32', loadSeed(0, false))
put(join(nat, 'fuzz_load'), 'tiny-bf16-tied', loadSeed(2, true))

// fuzz_step: a step of the right shape for the tiny model (T = 5)
{
  const out = []
  const i32 = (v) => { const b = Buffer.alloc(4); b.writeInt32LE(v); out.push(b) }
  const f32s = (n, scale) => { const b = Buffer.alloc(4 * n); for (let i = 0; i < n; i++) b.writeFloatLE(rnd() * scale, 4 * i); out.push(b) }
  const T = 5
  i32(T); for (const id of [1, 10, 20, 30, 40]) i32(id)
  const loss = Buffer.alloc(8); loss.writeDoubleLE(4.1); out.push(loss)
  out.push(Buffer.from([1])) // exactly n_linear slots
  for (const [inp, o] of [[D, QD], [D, KD], [D, KD], [QD, D], [D, F], [D, F], [F, D], [D, V]]) {
    i32(T); i32(inp); i32(o); f32s(T * inp, 1); f32s(T * o, 0.01)
  }
  i32(5); for (const r of [1, 10, 20, 30, 40]) i32(r)
  i32(5 * D); f32s(5 * D, 0.01)
  i32(3); for (let k = 0; k < 3; k++) { i32(D); f32s(D, 0.01) }
  const c = Buffer.alloc(4); c.writeFloatLE(0.5); out.push(c)
  put(join(nat, 'fuzz_step'), 'tiny-step', Buffer.concat(out))
}

// fuzz_generate: greedy and sampled runs with two views
for (const [name, temp] of [['greedy', 0], ['sampled', 0.8]]) {
  const out = []
  const i32 = (v) => { const b = Buffer.alloc(4); b.writeInt32LE(v); out.push(b) }
  const f32 = (v) => { const b = Buffer.alloc(4); b.writeFloatLE(v); out.push(b) }
  out.push(Buffer.from([3])); for (const id of [1, 10, 20]) i32(id)
  i32(5); i32(16); f32(temp); f32(0.9)
  const sd = Buffer.alloc(8); sd.writeBigUInt64LE(7n); out.push(sd)
  out.push(Buffer.from([1])); i32(2)
  out.push(Buffer.from([2, 0, 1])); f32(0.5)
  out.push(Buffer.from([4])); for (const id of [1, 10, 20, 2]) i32(id)
  i32(3)
  out.push(Buffer.from([1])); i32(1)
  put(join(nat, 'fuzz_generate'), name, Buffer.concat(out))
}

// TypeScript targets: the organism's own files and a tiny safetensors file
const ts = join(root, 'scripts', 'fuzz', 'corpus')
mkdirSync(join(ts, 'tokenizer-model'), { recursive: true })
copyFileSync(join(organism, 'tokenizer.model'), join(ts, 'tokenizer-model', 'organism'))
mkdirSync(join(ts, 'config-json'), { recursive: true })
copyFileSync(join(organism, 'config.json'), join(ts, 'config-json', 'organism'))
put(join(ts, 'config-json'), 'rope-parameters-gqa', JSON.stringify({ model_type: 'llama', vocab_size: 128256, hidden_size: 2048, intermediate_size: 8192, num_hidden_layers: 16, num_attention_heads: 32, num_key_value_heads: 8, head_dim: 64, rope_parameters: { rope_theta: 500000, rope_type: 'default' }, tie_word_embeddings: true, bos_token_id: 128000, eos_token_id: [128001, 128008, 128009], max_position_embeddings: 131072, rms_norm_eps: 1e-5 }))
{
  const { specs, data } = tinyWeights(4)
  const header = {}
  for (const t of specs) header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [t.off, t.off + t.shape.reduce((a, b) => a * b, 1) * 4] }
  header.__metadata__ = { format: 'pt' }
  let j = JSON.stringify(header)
  j += ' '.repeat((8 - (j.length % 8)) % 8)
  const len = Buffer.alloc(8); len.writeBigUInt64LE(BigInt(j.length))
  put(join(ts, 'safetensors-header'), 'tiny-f32', Buffer.concat([len, Buffer.from(j), data]))
  // the organism's first shard header over no data: every tensor runs past the end
  const shard = readFileSync(join(organism, 'model-00002-of-00002.safetensors'))
  const hl = Number(shard.readBigUInt64LE(0))
  put(join(ts, 'safetensors-header'), 'organism-header-without-data', shard.subarray(0, 8 + hl))
}

// fuzz_dequantise: for each IQ grid type (enum order from DT_IQ3_S), 1 row of 1 block and 2 rows of 2 blocks of
// random bytes with an ordinary fp16 scale (1/128) in every block — IQ1_M's spread over its scale words' top nibbles
{
  const iq = [['iq3_s', 110], ['iq3_xxs', 98], ['iq2_xxs', 66], ['iq2_xs', 74], ['iq2_s', 82], ['iq1_s', 50], ['iq1_m', 56]]
  iq.forEach(([name, bytes], k) => {
    for (const [rows, nb] of [[1, 1], [2, 4]]) {
      const body = Buffer.alloc(nb * bytes)
      for (let i = 0; i < body.length; i++) body[i] = Math.floor((rnd() + 1) * 128) & 255
      for (let b = 0; b < nb; b++) {
        const o = b * bytes, h = 0x2000
        if (name === 'iq1_m') for (let q = 0; q < 4; q++) body[o + 49 + 2 * q] = (body[o + 49 + 2 * q] & 0x0f) | (((h >> (4 * q)) & 15) << 4)
        else body.writeUInt16LE(h, o)
      }
      put(join(nat, 'fuzz_dequantise'), `${name}-${rows}x${nb}`, Buffer.concat([Buffer.from([k, rows - 1]), body]))
    }
  })
}
// fuzz_dequantise, the other block types (TYPES' order in native/fuzz/fuzz_dequantise.cpp, after the 7 IQ grid
// types): 2 rows of 4 blocks of random bytes each (any bit pattern is a block; scales of any fp16 value)
{
  const rest = [['q8_0', 34], ['q4_0', 18], ['q4_k', 144], ['q5_k', 176], ['q6_k', 210], ['q4_1', 20], ['q5_0', 22], ['q5_1', 24],
    ['q2_k', 84], ['q3_k', 110], ['iq4_nl', 18], ['iq4_xs', 136], ['mxfp4', 17], ['tq1_0', 54], ['tq2_0', 66]]
  rest.forEach(([name, bytes], k) => {
    const body = Buffer.alloc(4 * bytes)
    for (let i = 0; i < body.length; i++) body[i] = Math.floor((rnd() + 1) * 128) & 255
    put(join(nat, 'fuzz_dequantise'), `${name}-2x4`, Buffer.concat([Buffer.from([7 + k, 1]), body]))
  })
}
console.log('seeds written')
