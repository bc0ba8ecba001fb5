// The table of TypeScript fuzz targets: each is a parser that takes bytes from a file a user may hand the lab.
// A finding is any exception that is not one of the target's own error classes, a hang past the time budget, or a
// crash of the worker running it.
//
// To add a target (e.g. after merging the tokenizer.json, GGUF or pickle readers):
//   1. import the parser and its error class here;
//   2. add an entry to TARGETS: a name (also the corpus folder, scripts/fuzz/corpus/<name>/), `run(bytes)` that feeds
//      the bytes through the parser the way the lab does (files go through `asFile` when the parser wants a path),
//      and `expected`, the error classes that mean "refused in words";
//   3. put a few small valid files (and interesting broken ones) in scripts/fuzz/corpus/<name>/;
//   4. `npm run fuzz -- --target <name> --seconds 30` until it is clean; .ci/run picks new targets up by itself.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ModelFormatError, parseLlamaConfig, readJson } from '../../src/main/engine/config'
import { readSafetensorsHeader } from '../../src/main/engine/formats/safetensors'
import { SentencePieceTokenizer } from '../../src/main/engine/tokenizers/sentencepiece/tokenizer'
import { readStepFile } from '../../src/main/lab/checkpoints/stepFile'
import { CheckpointError } from '../../src/main/lab/checkpoints/error'
import { unpickleTorch } from '../../src/main/engine/formats/pth/pickle'
import { readPthTensors } from '../../src/main/engine/formats/pth/pth'
import { readGguf } from '../../src/main/engine/formats/gguf/read'
import { ggufCheckpoint, ggufTokenizer } from '../../src/main/engine/formats/gguf/model'
import { tiktokenTokenizer } from '../../src/main/engine/tokenizers/tiktoken'
import { TokenizerJson } from '../../src/main/engine/tokenizers/tokenizerJson'
import { RegexTranslationError } from '../../src/main/engine/tokenizers/regex'
import { BYTE_TO_CHAR } from '../../src/main/engine/tokenizers/byteLevel'
import { GROWTH_SLACK, MAX_GROWTH } from '../../src/main/engine/tokenizers/limits'
import { callEnvelope, MAX_MESSAGE_BYTES, validateCall, wsClientMessage } from '../../src/shared/api'
import type { InputFormat } from './mutate'

/** A tokenizer that loads must encode and decode any text without throwing. */
function exercise(tok: { encode(t: string): number[]; decode(ids: number[]): string; vocabSize: number }): string {
  const ids = tok.encode('To be, or not to be: that is the question. ünïcødé 🎭 \t\n  x 12345')
  tok.decode(ids.filter((id) => id >= 0 && id < tok.vocabSize))
  return `${ids.length} ids`
}

/** The tokenizer-chain target's fixed part: a byte-level BPE over the 256 byte characters, no merges, no <unk>. */
const CHAIN_BASE = {
  model: { type: 'BPE', vocab: Object.fromEntries(BYTE_TO_CHAR.map((c, i) => [c, i])), merges: [] },
  decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
}

export interface FuzzTarget {
  name: string
  /** feeds one input through the parser; returns normally (optionally a short description of what it accepted, so
   *  inputs that behave differently are kept as further seeds) or throws */
  run(bytes: Buffer, scratch: string): string | void
  /** error classes that are the parser's own refusals (anything else thrown is a finding) */
  expected: (new (...a: never[]) => Error)[]
  /** how inputs are built: 'json', 'safetensors' and 'protobuf' inputs also get value-level edits (fields, numbers) */
  format?: InputFormat
  /** set while a known finding awaits its fix elsewhere: skipped unless named with --target */
  pending?: string
}

/** The bytes as a file in the scratch folder, for parsers that read a path (as the lab's do). */
export function asFile(scratch: string, name: string, bytes: Buffer): string {
  const p = join(scratch, name)
  writeFileSync(p, bytes)
  return p
}

export const TARGETS: FuzzTarget[] = [
  {
    name: 'safetensors-header',
    expected: [ModelFormatError],
    format: 'safetensors',
    run(bytes, scratch) {
      const h = readSafetensorsHeader(asFile(scratch, 'model.safetensors', bytes), 0, 'model.safetensors')
      // what the loader relies on: every tensor inside the file, offsets whole and in range
      // what the loader relies on: every tensor inside the file's data, offsets whole, no two tensors overlapping
      const ranges = h.tensors.map((t) => {
        const n = t.shape.reduce((a, s) => a * s, t.dtype === 'F32' ? 4 : 2)
        if (!Number.isSafeInteger(t.offset) || t.offset < 8 || t.offset + n > h.fileSize || t.shape.some((d) => !(d >= 0)))
          throw new Error(`accepted ${t.name} at ${t.offset} (+${n}, shape ${JSON.stringify(t.shape)}) in a ${h.fileSize}-byte file`)
        return [t.offset, t.offset + n, t.name] as const
      })
      ranges.sort((a, b) => a[0] - b[0])
      for (let i = 1; i < ranges.length; i++)
        if (ranges[i][0] < ranges[i - 1][1] && ranges[i][1] > ranges[i][0])
          throw new Error(`accepted overlapping tensors ${ranges[i - 1][2]} and ${ranges[i][2]}`)
    },
  },
  {
    name: 'tokenizer-model',
    expected: [ModelFormatError],
    format: 'protobuf',
    run(bytes) {
      const tok = SentencePieceTokenizer.fromBuffer(bytes)
      // a tokenizer that loads must encode and decode without throwing
      const ids = tok.encode('To be, or not to be: that is the question. ünïcødé 🎭 \t\n  x')
      tok.decode(ids.filter((id) => id < tok.vocabSize))
      return `${ids.length} ids`
    },
  },
  {
    name: 'config-json',
    expected: [ModelFormatError],
    format: 'json',
    run(bytes, scratch) {
      parseLlamaConfig(readJson(asFile(scratch, 'config.json', bytes), 'config.json'))
    },
  },
  {
    name: 'step-file',
    expected: [CheckpointError],
    format: 'safetensors',
    run(bytes, scratch) {
      const { factors: f } = readStepFile(asFile(scratch, 'step.safetensors', bytes))
      // what applying a step relies on: every factor the size its shape says
      for (const l of f.linears)
        if (l.X.length !== l.T * l.in || l.G.length !== l.T * l.out) throw new Error(`accepted linear factors of the wrong size`)
      if (f.embRows.length && f.embGrad.length % f.embRows.length !== 0) throw new Error('accepted emb.grad not a whole number of rows')
      return `${f.linears.length} linears, ${f.normGrads.length} norms`
    },
  },
  {
    name: 'tokenizer-json',
    expected: [ModelFormatError, RegexTranslationError],
    format: 'json',
    run(bytes) {
      let json: unknown
      try {
        json = JSON.parse(bytes.toString('utf8'))
      } catch {
        return 'not JSON'
      }
      return exercise(new TokenizerJson(json, { clean_up_tokenization_spaces: false }, 'tokenizer.json'))
    },
  },
  {
    // tokenizer.json's normalizer and pre-tokenizer chains (issue 20): the input is { normalizer, pre_tokenizer,
    // text } over a fixed byte-level vocabulary, mutated structurally (mutateChain.ts: steps repeated, inserted from a
    // palette, nested; the text lengthened). A chain must encode within its bounds or be refused by name; a run past
    // the harness's RSS cap or time limit is a finding.
    name: 'tokenizer-chain',
    expected: [ModelFormatError, RegexTranslationError],
    format: 'chain',
    run(bytes) {
      let input: unknown
      try {
        input = JSON.parse(bytes.toString('utf8'))
      } catch {
        return 'not JSON'
      }
      if (!input || typeof input !== 'object' || Array.isArray(input)) return 'not an object'
      const o = input as Record<string, unknown>
      const tok = new TokenizerJson({ ...CHAIN_BASE, normalizer: o.normalizer ?? null, pre_tokenizer: o.pre_tokenizer ?? null }, undefined)
      const text = typeof o.text === 'string' ? o.text.slice(0, 4096) : 'To be, or not to be: ünïcødé 🎭 aaaa 123'
      const ids = tok.encode(text)
      // every id stands for at least one character of the text the chain produced, which the bounds hold
      if (ids.length > MAX_GROWTH * text.length + GROWTH_SLACK) throw new Error(`accepted ${ids.length} ids for ${text.length} characters, past the growth bound`)
      tok.decode(ids)
      return `${ids.length ? 'ids' : 'no ids'}`
    },
  },
  {
    name: 'tiktoken',
    expected: [ModelFormatError, RegexTranslationError],
    run(bytes) {
      return exercise(tiktokenTokenizer(bytes, undefined, 'tokenizer.model'))
    },
  },
  {
    // torch.save's data.pkl alone (the unpickler: opcodes, memo, stack, persistent ids)
    name: 'pickle',
    expected: [ModelFormatError],
    run(bytes) {
      const v = unpickleTorch(bytes, 'data.pkl')
      return v === null ? 'None' : typeof v
    },
  },
  {
    // a whole .pth: the zip reader, then the pickle, then tensor offsets and shapes against the storages
    name: 'pth',
    expected: [ModelFormatError],
    run(bytes, scratch) {
      const tensors = readPthTensors(asFile(scratch, 'consolidated.00.pth', bytes), 'consolidated.00.pth')
      return `${tensors.length} tensors`
    },
  },
  {
    // a llama.cpp file as Engine.load reads it before the native engine: header, metadata, tensor infos and offsets
    // (readGguf), metadata → config and tensors (ggufCheckpoint), the embedded vocabulary (ggufTokenizer)
    name: 'gguf',
    expected: [ModelFormatError, RegexTranslationError],
    run(bytes, scratch) {
      const g = readGguf(asFile(scratch, 'model.gguf', bytes))
      const ckpt = ggufCheckpoint(g)
      return `${ckpt.tensors.length} tensors, ${exercise(ggufTokenizer(g))}`
    },
  },
  {
    // what the WebSocket server and the IPC router do with a message before the lab sees it (server.ts,
    // dispatch.ts): JSON, the envelope, the method table's schema. Only contract errors in words, never a throw.
    name: 'api-message',
    expected: [],
    format: 'json',
    run(bytes) {
      if (bytes.length > MAX_MESSAGE_BYTES) return 'over the transport limit'
      let msg: unknown
      try {
        msg = JSON.parse(bytes.toString('utf8'))
      } catch {
        return 'not JSON'
      }
      const m = wsClientMessage.safeParse(msg)
      if (!m.success) return 'not a message'
      if (m.data.type === 'cancel') return 'cancel'
      const env = callEnvelope.safeParse({ method: m.data.method, args: m.data.args, jobId: m.data.jobId })
      if (!env.success) return 'malformed call'
      const v = validateCall(env.data.method, env.data.args)
      if (!v.ok) {
        if (typeof v.message !== 'string' || v.message.length === 0 || /\n\s+at /.test(v.message))
          throw new Error(`a refusal that is not one sentence: ${JSON.stringify(v.message)}`)
        return `refused: ${v.message.split(/[:(]/)[0]}`
      }
      // what the router passes on must be plain JSON again (it crosses a process boundary)
      JSON.stringify(v.args)
      return `accepted ${v.method}`
    },
  },
]
