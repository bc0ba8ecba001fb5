#!/usr/bin/env node
// Starting corpora of the TypeScript targets added in issue 9's second wave (checked in; run again only to
// regenerate them): tokenizer-json, tiktoken, pickle, pth and api-message. Small valid inputs: a byte-level BPE and a
// SentencePiece-style tokenizer.json, a tiktoken rank file, the torch.save fixtures of test/fixtures/torch-pth (and
// their data.pkl), and one message of each kind the WebSocket carries.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { inflateRawSync } from 'node:zlib'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const corpus = (t) => {
  const d = join(root, 'scripts', 'fuzz', 'corpus', t)
  mkdirSync(d, { recursive: true })
  return d
}

// ---- tokenizer.json: GPT-2 byte-level BPE over the 256 byte characters plus a few merges, and a Metaspace one
const byteChars = []
for (let b = 0; b < 256; b++) {
  const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff)
  byteChars.push(printable ? b : -1)
}
let extra = 0
const toChar = byteChars.map((b, i) => String.fromCodePoint(b >= 0 ? i : 256 + extra++))
const vocab = Object.fromEntries(toChar.map((c, i) => [c, i]))
const merges = [['T', 'o'], ['Ġ', 'b'], ['Ġb', 'e'], ['o', 'r'], ['Ġ', 't']]
for (const [a, b] of merges) vocab[a + b] = Object.keys(vocab).length
const bpe = {
  version: '1.0',
  added_tokens: [{ id: Object.keys(vocab).length, content: '<|begin_of_text|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
  normalizer: null,
  pre_tokenizer: { type: 'Sequence', pretokenizers: [
    { type: 'Split', pattern: { Regex: "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+" }, behavior: 'Isolated', invert: false },
    { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false }] },
  post_processor: null,
  decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: true,
    vocab, merges: merges.map(([a, b]) => `${a} ${b}`) },
}
writeFileSync(join(corpus('tokenizer-json'), 'byte-level-bpe.json'), JSON.stringify(bpe))
const spVocab = { '<unk>': 0, '<s>': 1, '</s>': 2 }
for (let b = 0; b < 256; b++) spVocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b
for (const p of ['▁', 'T', 'o', 'b', 't', 'e', 'r', '▁b', '▁be', 'To', '▁t', '▁o', 'or']) spVocab[p] = Object.keys(spVocab).length
const sp = {
  version: '1.0',
  added_tokens: [0, 1, 2].map((id) => ({ id, content: ['<unk>', '<s>', '</s>'][id], single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
  normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
  pre_tokenizer: null,
  post_processor: null,
  decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
  model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true,
    vocab: spVocab, merges: ['▁ b', '▁b e', 'T o', '▁ t', '▁ o', 'o r'] },
}
writeFileSync(join(corpus('tokenizer-json'), 'sentencepiece-bpe.json'), JSON.stringify(sp))

// ---- tiktoken: "base64(token) rank" per line, the 256 bytes then merges
const lines = []
for (let b = 0; b < 256; b++) lines.push(`${Buffer.from([b]).toString('base64')} ${b}`)
for (const m of ['To', ' b', ' be', ' or', ' t', 'th', ' that']) lines.push(`${Buffer.from(m).toString('base64')} ${lines.length}`)
writeFileSync(join(corpus('tiktoken'), 'tiny.tiktoken'), lines.join('\n') + '\n')

// ---- torch.save fixtures and their data.pkl
function dataPkl(zip) {
  // the central directory has the sizes (torch writes them after the data, not in the local headers)
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]))
  if (eocd < 0) return undefined
  let p = zip.readUInt32LE(eocd + 16)
  for (let i = 0; i < zip.readUInt16LE(eocd + 10); i++) {
    const method = zip.readUInt16LE(p + 10)
    const csize = zip.readUInt32LE(p + 20)
    const nlen = zip.readUInt16LE(p + 28)
    const xlen = zip.readUInt16LE(p + 30)
    const clen = zip.readUInt16LE(p + 32)
    const local = zip.readUInt32LE(p + 42)
    const name = zip.subarray(p + 46, p + 46 + nlen).toString()
    if (/(^|\/)data\.pkl$/.test(name)) {
      const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28)
      const body = zip.subarray(start, start + csize)
      return method === 8 ? inflateRawSync(body) : body
    }
    p += 46 + nlen + xlen + clen
  }
  return undefined
}
for (const f of ['state.pth', 'int64.pth', 'transposed.pth', 'legacy.pth']) {
  const bytes = readFileSync(join(root, 'test', 'fixtures', 'torch-pth', f))
  writeFileSync(join(corpus('pth'), f), bytes)
  const pkl = f === 'legacy.pth' ? bytes : dataPkl(bytes)
  if (pkl) writeFileSync(join(corpus('pickle'), f.replace('.pth', '.pkl')), pkl)
}

// ---- api-message: one of each kind
const messages = {
  'sweep.json': { id: 1, method: 'sweep', args: { prompt: 'To be', phrase: 'To be, or not to be, that is the question', lrs: [0, 1e-3, 1e-2], maxGen: 16 }, jobId: 'j1' },
  'lesson.json': { id: 2, method: 'lesson', args: { steps: [{ phrase: 'To be', lr: 0.01 }, { phrase: 'or not', lr: -0.01 }], probes: { a: 'The', b: 'Hello' }, reference: null }, jobId: 'j2' },
  'generate.json': { id: 'g', method: 'generate', args: { model: null, prompt: 'To be', temperature: 0.7, topP: 0.9, seed: 3, maxSeq: 64 } },
  'cancel.json': { type: 'cancel', jobId: 'j1' },
  'history.json': { id: 3, method: 'history', args: { kind: ['sweep', 'step'], status: 'done', sort: 'lr', order: 'asc', limit: 10 } },
  'export.json': { id: 4, method: 'exportCheckpoint', args: { id: 'hamlet', outDir: '/tmp/out', dtype: 'BF16' } },
  'save.json': { id: 5, method: 'saveCheckpoint', args: { runId: 7, name: 'hamlet 0.03' } },
  'compare.json': { id: 6, method: 'compare', args: { prefix: 'Here: ', lrs: [0.03] } },
}
for (const [f, m] of Object.entries(messages)) writeFileSync(join(corpus('api-message'), f), JSON.stringify(m))
