// Finds and opens a model directory's tokenizer the way transformers does: tokenizer.json (the fast tokenizer) when
// present, else tokenizer.model, which is either a SentencePiece ModelProto (Llama-1/2, Mistral) or a tiktoken BPE
// file (Meta's original Llama-3 release); tokenizer_config.json adjusts BOS handling and special-token names.
import { join } from 'node:path'
import { ModelFormatError } from '../config'
import { present } from '../fserrors'
import { readModelBytes } from '../modelFiles'
import { SentencePieceTokenizer } from './sentencepiece/tokenizer'
import { isTiktokenFile, tiktokenTokenizer } from './tiktoken'
import { readJsonFile, TokenizerJson } from './tokenizerJson'
import { Tokenizer } from './types'

/** `beside` names the config file the tokenizer should lie next to, for the error when there is none. */
export function loadTokenizer(dir: string, beside = 'config.json'): Tokenizer {
  const jsonPath = join(dir, 'tokenizer.json')
  const modelPath = join(dir, 'tokenizer.model')
  const configPath = join(dir, 'tokenizer_config.json')
  const config = present(configPath) ? readJsonFile(configPath, 'tokenizer_config.json') : undefined
  if (config !== undefined && (config === null || typeof config !== 'object' || Array.isArray(config)))
    throw new ModelFormatError('tokenizer_config.json: is not a JSON object')

  if (present(jsonPath)) return new TokenizerJson(readJsonFile(jsonPath, 'tokenizer.json'), config)
  if (present(modelPath)) {
    // a regular file of at most READ_LIMITS['tokenizer.model'] bytes (/dev/urandom behind it was read for 4 GB)
    const bytes: Uint8Array = readModelBytes(modelPath, 'tokenizer.model')
    if (isTiktokenFile(bytes)) return tiktokenTokenizer(bytes, config)
    const spm = SentencePieceTokenizer.fromBuffer(bytes, 'tokenizer.model')
    const addBos = (config as Record<string, unknown> | undefined)?.add_bos_token
    if (typeof addBos === 'boolean') spm.addsBos = addBos
    return spm
  }
  throw new ModelFormatError(`${dir}: no tokenizer.json or tokenizer.model next to ${beside}`)
}
