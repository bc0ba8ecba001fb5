// Bad input is rejected with a message a researcher understands, and the process lives on.
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CancelledError, Engine } from '../src/main/engine/engine'
import { exportGguf } from '../src/main/engine/export/gguf'
import { loadAddon } from '../src/main/engine/native'
import { ORGANISM, tmp, writeTinyModel } from './helpers'
import { exportHF } from '../src/main/engine/export/hf'

const tiny = { dim: 16, ffn: 32, layers: 1, heads: 2, kvHeads: 2, tied: false }

function organismCopy(): string {
  const d = tmp()
  for (const f of ['config.json', 'model.safetensors.index.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'tokenizer.model'])
    copyFileSync(join(ORGANISM, f), join(d, f))
  return d
}

function editConfig(dir: string, edit: (c: Record<string, unknown>) => void): void {
  const p = join(dir, 'config.json')
  const c = JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>
  edit(c)
  writeFileSync(p, JSON.stringify(c))
}

describe('loading refuses bad checkpoints in words', () => {
  it('missing directory, config, tokenizer and shard', () => {
    expect(() => Engine.load('/nonexistent/model')).toThrow('/nonexistent/model: no such model directory')
    const empty = tmp()
    expect(() => Engine.load(empty)).toThrow('config.json: cannot be read: does not exist (ENOENT)')
    const d = organismCopy()
    writeFileSync(join(d, 'model-00002-of-00002.safetensors'), '')
    expect(() => Engine.load(d)).toThrow(/model-00002-of-00002.safetensors: too short to be a safetensors file/)
    const d2 = writeTinyModel(tmp(), tiny)
    writeFileSync(join(d2, 'tokenizer.model'), Buffer.from('not a protobuf at all'))
    expect(() => Engine.load(d2)).toThrow(/^tokenizer\.model:/)
    const d3 = writeTinyModel(tmp(), tiny)
    rmSync(join(d3, 'model.safetensors'))
    writeFileSync(join(d3, 'pytorch_model.bin'), 'pickle')
    expect(() => Engine.load(d3)).toThrow(/has pytorch_model.bin but no safetensors weights; only safetensors checkpoints are supported/)
  })

  it('corrupt safetensors header', () => {
    const d = writeTinyModel(tmp(), tiny)
    const p = join(d, 'model.safetensors')
    const b = readFileSync(p)
    b.write('#', 8) // break the JSON
    writeFileSync(p, b)
    expect(() => Engine.load(d)).toThrow('model.safetensors: corrupt header (not valid JSON)')
    const len = Buffer.alloc(8)
    len.writeBigUInt64LE(1n << 40n)
    writeFileSync(p, Buffer.concat([len, b.subarray(8)]))
    expect(() => Engine.load(d)).toThrow(/model.safetensors: corrupt header \(declared header length/)
  })

  it('truncated data', () => {
    const d = writeTinyModel(tmp(), tiny)
    const p = join(d, 'model.safetensors')
    const b = readFileSync(p)
    writeFileSync(p, b.subarray(0, b.length - 100))
    expect(() => Engine.load(d)).toThrow(/data runs past the end of the file/)
  })

  it('shape mismatch with config.json', () => {
    const d = writeTinyModel(tmp(), tiny)
    editConfig(d, (c) => (c.intermediate_size = 48))
    expect(() => Engine.load(d)).toThrow('model.layers.0.mlp.gate_proj.weight: shape does not match config.json (expected [48, 16])')
  })

  it('config values the engine does not support are named', () => {
    const d = writeTinyModel(tmp(), tiny)
    editConfig(d, (c) => {
      c.num_attention_heads = 32
      c.num_key_value_heads = 5
    })
    expect(() => Engine.load(d)).toThrow('config.json: num_key_value_heads 5 does not divide num_attention_heads 32')
    const d2 = writeTinyModel(tmp(), tiny)
    editConfig(d2, (c) => (c.rope_scaling = { rope_type: 'longrope', short_factor: [1], long_factor: [1] }))
    expect(() => Engine.load(d2)).toThrow('config.json: rope_scaling rope_type "longrope" is not supported (supported: default, llama3, linear, dynamic, yarn)')
    const d3 = writeTinyModel(tmp(), tiny)
    editConfig(d3, (c) => (c.attention_bias = true))
    // attention_bias is supported now: a checkpoint that lacks the biases the config announces is refused by name
    expect(() => Engine.load(d3)).toThrow('the checkpoint has no tensor model.layers.0.self_attn.q_proj.bias')
    const d4 = writeTinyModel(tmp(), tiny)
    editConfig(d4, (c) => (c.hidden_size = 'wide'))
    expect(() => Engine.load(d4)).toThrow('config.json: hidden_size must be a positive integer (found "wide")')
    const d5 = writeTinyModel(tmp(), tiny)
    editConfig(d5, (c) => (c.tie_word_embeddings = false))
    const cfg = join(d5, 'config.json')
    writeFileSync(cfg, readFileSync(cfg, 'utf8').slice(0, 20))
    expect(() => Engine.load(d5)).toThrow(/^config.json: is not valid JSON/)
  })
})

describe('calls refuse bad arguments in words and the process survives', () => {
  it('step sizes, phrases and prompts', async () => {
    const engine = Engine.load(ORGANISM)
    const g = await engine.gradient('To be, or not to be, that is the question')
    await expect(engine.generate({ prompt: 'To be', views: [[{ gradient: g, lr: NaN }]] })).rejects.toThrow('step size must be a finite number (got NaN)')
    await expect(engine.generate({ prompt: 'To be', views: [[{ gradient: g, lr: Infinity }]] })).rejects.toThrow('step size must be a finite number (got Infinity)')
    await expect(engine.gradient('')).rejects.toThrow('the phrase is empty')
    const long = 'to be or not '.repeat(40)
    await expect(engine.gradient(long)).rejects.toThrow(/^the phrase has \d+ tokens with BOS; max_seq_len is 128$/)
    await expect(engine.generate({ prompt: long, views: [[]] })).rejects.toThrow(/^the prompt has \d+ tokens with BOS; max_seq_len is 128$/)
    await expect(engine.generate({ prompt: '', views: [[]] })).rejects.toThrow('the prompt is empty')
    await expect(engine.generate({ prompt: 'To be', views: [] })).rejects.toThrow('no step sizes to generate for')
    await expect(engine.generate({ prompt: 'To be', views: [[]], maxNew: -1 })).rejects.toThrow('max_gen_len must be a whole number ≥ 0 (got -1)')
    // the engine still works after all of that
    const [ok] = await engine.generate({ prompt: 'To be', views: [[{ gradient: g, lr: 0.03 }]], maxNew: 8 })
    expect(ok.text.startsWith(', or not to be')).toBe(true)
  })

  it('the native layer rejects malformed calls with errors instead of crashing', async () => {
    const engine = Engine.load(ORGANISM)
    const m = engine.model as unknown as Record<string, (...a: unknown[]) => unknown>
    expect(() => m.generate.call(engine.model, { prompt: 'To be', views: [[]] })).toThrow('prompt must be an array of token ids')
    expect(() => m.generate.call(engine.model, { prompt: [1, 99999], views: [[]] })).toThrow('prompt contains token id 99999 outside the vocabulary')
    expect(() => m.generate.call(engine.model, { prompt: [1], views: [[{ step: {}, lr: 1 }]] })).toThrow('view term has no gradient step')
    expect(() => m.gradient.call(engine.model, 'abc', [])).toThrow('ids must be an array of token ids')
    const addon = loadAddon()
    expect(() => new addon.Model({})).toThrow('spec.config is required')
    // a gradient from another model cannot be mixed in
    const other = Engine.load(writeTinyModel(tmp(), tiny))
    const g = await other.gradient('To be')
    await expect(engine.generate({ prompt: 'To be', views: [[{ gradient: g, lr: 1 }]] })).rejects.toThrow('the step belongs to another model')
  })

  it('cancellation rejects with CancelledError and leaves the engine usable', async () => {
    const engine = Engine.load(ORGANISM)
    const ctl = new AbortController()
    const phases: string[] = []
    const p = engine.generate(
      { prompt: 'To be', views: Array.from({ length: 8 }, () => []), maxNew: 120, maxSeq: 128 },
      { signal: ctl.signal, onProgress: (e) => {
        phases.push(e.phase)
        if (e.done >= 3) ctl.abort()
      } },
    )
    await expect(p).rejects.toThrow('cancelled')
    await expect(p).rejects.toHaveProperty('name', 'CancelledError')
    expect(phases[0]).toBe('generate')
    const [ok] = await engine.generate({ prompt: 'To be', views: [[]], maxNew: 4 })
    expect(ok.ids.length).toBe(4)
    // the error carries what each view had generated when it stopped: the start of the uncancelled greedy output
    const partial = ((await p.catch((e: unknown) => e)) as CancelledError).partial!
    expect(partial.length).toBe(8)
    const [whole] = await engine.generate({ prompt: 'To be', views: [[]], maxNew: 120, maxSeq: 128 })
    for (const g of partial) {
      expect(g.ids.length).toBeGreaterThanOrEqual(3)
      expect(g.ids.length).toBeLessThan(120)
      expect(g.ids).toEqual(whole.ids.slice(0, g.ids.length))
      expect(g.text).toBe(engine.decode(g.ids))
    }
  })

  it('writes to an unwritable place are reported', async () => {
    const engine = Engine.load(writeTinyModel(tmp(), tiny))
    const d = tmp()
    mkdirSync(join(d, 'model.safetensors')) // a directory where the file should go
    await expect(exportHF(engine, [], d)).rejects.toThrow(/could not create .*model.safetensors: Is a directory/)
  })

  it('an export onto a device (/dev/null) is refused and leaves the device alone', async () => {
    if (process.platform === 'win32') return
    const engine = Engine.load(writeTinyModel(tmp(), tiny))
    // the export writes beside its target and renames over it: as root that once replaced /dev/null by a plain file
    await expect(exportGguf(engine, [], '/dev/null')).rejects.toThrow('will not write /dev/null: it is not a regular file')
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true)
    expect(existsSync('/dev/null.partial')).toBe(false)
  })
})
