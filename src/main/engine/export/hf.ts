// Hugging Face export: the model under a view (the plain model, or stepped) as a standard HF directory — config.json,
// safetensors (sharded with an index past shardBytes), the tokenizer files — streamed tensor by tensor by the native
// engine (Engine.writeTensors), any size in bounded memory. q/k rows come out in HF's order whatever the layout the
// model was loaded in; a quantised model writes its dequantised (and stepped) values.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { CallOptions, Engine, InputError, View } from '../engine'
import { normAddFor } from '../families'
import { HfFileTensor } from '../experts'
import { MaterialiseTensor } from '../native'
import { hfFileTensors } from './fileTensors'
import { DType, safetensorsHeader } from '../formats/safetensors'
import { fsProblem } from '../fserrors'
import { readModelBytes } from '../modelFiles'
import { SentencePieceTokenizer } from '../tokenizers/sentencepiece/tokenizer'
import { TokenizerJson } from '../tokenizers/tokenizerJson'
import { WithSpecialTokens } from '../tokenizers/withSpecialTokens'

/**
 * Writes the model under `view` as a standard HF directory (config, safetensors, tokenizer), streaming tensor by
 * tensor. Shards of at most `shardBytes` with an index when the model is larger.
 */
export async function exportHF(
  engine: Engine,
  view: View,
  outDir: string,
  o: { dtype?: DType; shardBytes?: number } = {},
  opts?: CallOptions,
): Promise<{ files: string[]; bytes: number }> {
  const stored = engine.tensors.find((t) => t.name === 'model.embed_tokens.weight')?.dtype ?? 'F32'
  // a quantised model exports its dequantised (and stepped) values exactly, in F32
  const dtype: DType = o.dtype ?? (['F32', 'F16', 'BF16'].includes(stored) ? (stored as DType) : 'F32')
  if (!['F32', 'F16', 'BF16'].includes(dtype)) throw new InputError(`unsupported export dtype ${String(dtype)}`)
  try {
    mkdirSync(outDir, { recursive: true })
  } catch (e) {
    throw new InputError(`cannot create ${outDir}: ${fsProblem(e)}`)
  }
  const byName = new Map(engine.tensors.map((t) => [t.name, t]))
  // the family's own names and fused tensors (export/fileTensors.ts), sharded whole
  const fileTensorsAll = hfFileTensors(engine.config, engine.tensorNames.filter((n) => byName.has(n)), (n) => byName.get(n)!.shape)
  const bytesPer = dtype === 'F32' ? 4 : 2
  const shardBytes = o.shardBytes ?? 4 * 1024 ** 3
  const shards: HfFileTensor[][] = [[]]
  let cur = 0
  for (const t of fileTensorsAll) {
    const size = t.shape.reduce((a, s) => a * s, 1) * bytesPer
    if (cur > 0 && cur + size > shardBytes) {
      shards.push([])
      cur = 0
    }
    shards[shards.length - 1].push(t)
    cur += size
  }
  const files: string[] = []
  const weightMap: Record<string, string> = {}
  let total = 0
  for (let i = 0; i < shards.length; i++) {
    const file = shards.length === 1 ? 'model.safetensors' : `model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`
    const fileTensors = shards[i]
    const { header, dataBytes } = safetensorsHeader(
      fileTensors.map((t) => ({ name: t.name, dtype, shape: t.shape })),
      { format: 'pt' },
    )
    const hb = Buffer.from(header, 'utf8')
    const prefix = Buffer.alloc(8 + hb.length)
    prefix.writeBigUInt64LE(BigInt(hb.length), 0)
    hb.copy(prefix, 8)
    let off = prefix.length
    const tensors: MaterialiseTensor[] = []
    for (const f of fileTensors) {
      const start = off
      f.parts.forEach((n, j) => {
        // (q/k rows come out in HF's order whatever the layout the model was loaded in)
        const t: MaterialiseTensor = { name: n, dtype, offset: off, normAdd: normAddFor(engine.config, n, 'hf') }
        const l = f.layout?.[j]
        if (l) {
          // GPT-OSS's experts: scattered into the fused tensor (transposed, gate and up interleaved)
          t.offset = start + l.at * bytesPer
          t.strides = l.strides
          t.span = [start + l.span[0] * bytesPer, l.span[1] * bytesPer]
        } else off += byName.get(n)!.shape.reduce((a, s) => a * s, 1) * bytesPer
        tensors.push(t)
      })
      off = start + f.shape.reduce((a, s) => a * s, 1) * bytesPer
    }
    await engine.writeTensors(view, join(outDir, file), prefix, tensors, opts)
    for (const t of fileTensors) weightMap[t.name] = file
    files.push(file)
    total += dataBytes
  }
  if (shards.length > 1)
    writeFileSync(
      join(outDir, 'model.safetensors.index.json'),
      JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2),
    )
  const torchDtype = dtype === 'F32' ? 'float32' : dtype === 'F16' ? 'float16' : 'bfloat16'
  const cfg: Record<string, unknown> = { ...engine.config.raw, dtype: torchDtype }
  // GPT-OSS's MXFP4 experts are written dense (gate_up_proj / down_proj in `dtype`, as a dequantised checkpoint): the
  // quantization_config that names *_blocks / *_scales no longer describes the files
  delete cfg.quantization_config
  if ('torch_dtype' in cfg) cfg.torch_dtype = torchDtype
  writeFileSync(join(outDir, 'config.json'), JSON.stringify(cfg, null, 2))
  if (engine.source.format === 'gguf') writeEmbeddedTokenizer(engine, outDir)
  else
    for (const f of ['generation_config.json', 'tokenizer.model', 'tokenizer_config.json', 'special_tokens_map.json', 'tokenizer.json'])
      // through the bounded reader: a FIFO here blocked the export forever, a link to /dev/zero filled the disk
      if (existsSync(join(engine.dir, f))) writeFileSync(join(outDir, f), readModelBytes(join(engine.dir, f), f))
  return { files, bytes: total }
}

/**
 * The tokenizer of a GGUF model, written as the files transformers reads: a "llama" vocabulary as the SentencePiece
 * tokenizer.model it was converted from, a "gpt2" one as the tokenizer.json it stands for; tokenizer_config.json
 * says whether BOS is added and names the special tokens.
 */
function writeEmbeddedTokenizer(engine: Engine, outDir: string): void {
  const tok = engine.tokenizer
  const inner = tok instanceof WithSpecialTokens ? tok.inner : tok
  if (inner instanceof SentencePieceTokenizer) writeFileSync(join(outDir, 'tokenizer.model'), inner.toModelProto())
  else if (inner instanceof TokenizerJson) writeFileSync(join(outDir, 'tokenizer.json'), JSON.stringify(inner.source, null, 2))
  else throw new InputError(`${basename(engine.dir)}: its tokenizer (${tok.kind}) has no Hugging Face file form; the weights were written without it`)
  const name = (id: number): string | undefined => (id >= 0 && id < tok.vocabSize ? tok.piece(id) : undefined)
  const cfg = {
    tokenizer_class: inner instanceof SentencePieceTokenizer ? 'LlamaTokenizer' : 'PreTrainedTokenizerFast',
    add_bos_token: tok.addsBos,
    add_eos_token: false,
    bos_token: name(tok.bosId),
    eos_token: name(tok.eosId),
    unk_token: name(tok.unkId),
  }
  writeFileSync(join(outDir, 'tokenizer_config.json'), JSON.stringify(cfg, null, 2))
}
