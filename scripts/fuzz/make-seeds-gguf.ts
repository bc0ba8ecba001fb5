// Starting corpus of the `gguf` fuzz target (checked in; run again only to regenerate them, with
// `node node_modules/jiti/lib/jiti-cli.mjs scripts/fuzz/make-seeds-gguf.ts`): tiny but complete llama.cpp files —
// a "llama" (SentencePiece-style) vocabulary with F32 and Q8_0 tensors, and a "gpt2" byte-level one with a qwen2
// architecture and q/k/v biases — small enough that the fuzzer mutates metadata, tensor infos and offsets, not bulk.
import { join } from 'node:path'
import { GgufTensorOut, quantise, writeGgufFile } from '../../test/ggml'

const out = join(__dirname, 'corpus', 'gguf')
const D = 32 // Q8_0 rows need whole blocks of 32
const F = 64
const HD = 8

function f32(rows: number, cols: number, seed: number): Float32Array {
  const a = new Float32Array(rows * cols)
  for (let i = 0; i < a.length; i++) a[i] = Math.sin(seed * 7.1 + i * 0.37) * 0.2
  return a
}
function tensor(name: string, rows: number, cols: number, seed: number, type: 'F32' | 'Q8_0' = 'F32'): GgufTensorOut {
  const data = f32(rows, cols, seed)
  const bytes = type === 'F32' ? Buffer.from(data.buffer) : quantise('Q8_0', data, cols).bytes
  return { name, dims: rows === 1 ? [cols] : [cols, rows], type: type === 'F32' ? 0 : 8, bytes }
}
function layerTensors(V: number, q: 'F32' | 'Q8_0', biases: boolean): GgufTensorOut[] {
  const t = [
    tensor('token_embd.weight', V, D, 1),
    tensor('blk.0.attn_q.weight', 4 * HD, D, 2, q),
    tensor('blk.0.attn_k.weight', 2 * HD, D, 3, q),
    tensor('blk.0.attn_v.weight', 2 * HD, D, 4, q),
    tensor('blk.0.attn_output.weight', D, 4 * HD, 5, q),
    tensor('blk.0.ffn_gate.weight', F, D, 6, q),
    tensor('blk.0.ffn_up.weight', F, D, 7, q),
    tensor('blk.0.ffn_down.weight', D, F, 8, q),
    tensor('blk.0.attn_norm.weight', 1, D, 9),
    tensor('blk.0.ffn_norm.weight', 1, D, 10),
    tensor('output_norm.weight', 1, D, 11),
  ]
  if (biases) t.push(tensor('blk.0.attn_q.bias', 1, 4 * HD, 12), tensor('blk.0.attn_k.bias', 1, 2 * HD, 13), tensor('blk.0.attn_v.bias', 1, 2 * HD, 14))
  return t
}

// "llama": SentencePiece-style pieces with byte fallback tokens
const pieces = ['<unk>', '<s>', '</s>', ...Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`), '▁To', '▁be', ',', '▁or', '▁not', '▁to', '▁that', '▁is', '▁the', '▁question']
const types = pieces.map((p, i) => (i === 0 ? 2 : i < 3 ? 3 : p.startsWith('<0x') ? 6 : 1))
const arch = (a: string, V: number): [string, any][] => [
  ['general.architecture', { t: 'str', v: a }],
  [`${a}.block_count`, { t: 'u32', v: 1 }],
  [`${a}.context_length`, { t: 'u32', v: 128 }],
  [`${a}.embedding_length`, { t: 'u32', v: D }],
  [`${a}.feed_forward_length`, { t: 'u32', v: F }],
  [`${a}.attention.head_count`, { t: 'u32', v: 4 }],
  [`${a}.attention.head_count_kv`, { t: 'u32', v: 2 }],
  [`${a}.attention.layer_norm_rms_epsilon`, { t: 'f32', v: 1e-5 }],
  [`${a}.rope.freq_base`, { t: 'f32', v: 10000 }],
  [`${a}.vocab_size`, { t: 'u32', v: V }],
]
writeGgufFile(join(out, 'llama-spm-q8_0.gguf'), [
  ...arch('llama', pieces.length),
  ['tokenizer.ggml.model', { t: 'str', v: 'llama' }],
  ['tokenizer.ggml.tokens', { t: 'strs', v: pieces }],
  ['tokenizer.ggml.scores', { t: 'f32s', v: pieces.map((_, i) => -i) }],
  ['tokenizer.ggml.token_type', { t: 'i32s', v: types }],
  ['tokenizer.ggml.bos_token_id', { t: 'u32', v: 1 }],
  ['tokenizer.ggml.eos_token_id', { t: 'u32', v: 2 }],
], layerTensors(pieces.length, 'Q8_0', false))

// "gpt2": byte-level BPE (the 256 byte characters + a few merges), qwen2 with q/k/v biases
const chars: string[] = []
let extra = 0
for (let b = 0; b < 256; b++) {
  const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff)
  chars.push(String.fromCodePoint(printable ? b : 256 + extra++))
}
const merges = ['T o', 'Ġ b', 'Ġb e', 'o r', 'Ġ t']
const tokens = [...chars, ...merges.map((m) => m.replace(' ', '')), '<|endoftext|>']
writeGgufFile(join(out, 'qwen2-gpt2-biases.gguf'), [
  ...arch('qwen2', tokens.length),
  ['tokenizer.ggml.model', { t: 'str', v: 'gpt2' }],
  ['tokenizer.ggml.pre', { t: 'str', v: 'qwen2' }],
  ['tokenizer.ggml.tokens', { t: 'strs', v: tokens }],
  ['tokenizer.ggml.token_type', { t: 'i32s', v: tokens.map((_, i) => (i === tokens.length - 1 ? 3 : 1)) }],
  ['tokenizer.ggml.merges', { t: 'strs', v: merges }],
  ['tokenizer.ggml.eos_token_id', { t: 'u32', v: tokens.length - 1 }],
], layerTensors(tokens.length, 'F32', true))
