// llama.cpp's own tokenizer (node-llama-cpp 3.21.1, the peer of tools/bench/peer.ts) on a GGUF file's vocabulary:
// the file is loaded vocabulary-only, so a GGUF written by a test needs the tokenizer.ggml.* keys and the few
// hyper-parameters llama.cpp reads before it skips the tensors.
import { pathToFileURL } from 'node:url'
import type { GgufTokenizerEntry } from '../src/main/engine/tokenizers/toGguf'
import { peerModule } from '../tools/bench/peer'
import { writeGgufFile } from './ggml'

interface VocabModel {
  tokenize(text: string, specialTokens?: boolean): readonly number[]
  dispose(): Promise<void>
}
interface VocabModule {
  getLlama(o: { gpu: false; build: 'never' }): Promise<{ loadModel(o: { modelPath: string; vocabOnly: true }): Promise<VocabModel> }>
}

/** A "llama"-architecture GGUF with no tensors and the tokenizer entries given (as toGguf writes them). */
export function writeVocabGguf(path: string, entries: GgufTokenizerEntry[]): void {
  writeGgufFile(path, [
    ['general.architecture', { t: 'str', v: 'llama' }],
    ['general.alignment', { t: 'u32', v: 32 }],
    ['llama.context_length', { t: 'u32', v: 128 }],
    ['llama.embedding_length', { t: 'u32', v: 8 }],
    ['llama.block_count', { t: 'u32', v: 1 }],
    ['llama.feed_forward_length', { t: 'u32', v: 16 }],
    ['llama.rope.dimension_count', { t: 'u32', v: 4 }],
    ['llama.attention.head_count', { t: 'u32', v: 2 }],
    ['llama.attention.head_count_kv', { t: 'u32', v: 2 }],
    ['llama.attention.layer_norm_rms_epsilon', { t: 'f32', v: 1e-5 }],
    ...entries.map(([key, t, v]) => [key, { t, v }] as [string, never]),
  ], [])
}

/** llama.cpp's tokenization of texts on a GGUF file (control tokens parsed in the text, no BOS), then unloaded. */
export async function llamaCppTokenize(ggufPath: string, texts: string[]): Promise<number[][]> {
  const mod = (await import(pathToFileURL(peerModule()).href)) as VocabModule
  const llama = await mod.getLlama({ gpu: false, build: 'never' })
  const model = await llama.loadModel({ modelPath: ggufPath, vocabOnly: true })
  try {
    return texts.map((t) => (t === '' ? [] : Array.from(model.tokenize(t, true))))
  } finally {
    await model.dispose()
  }
}
