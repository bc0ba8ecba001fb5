// A tokenizer.json is data from the user's disk (issue 20, items 3–5, 17 for chains, 19): a normalizer that grows the
// text without end, Sequences nested too deep, or a Split pattern that backtracks without end are refused in words
// that name the step, without taking the memory or the time of the process; the published tokenizers are untouched
// (test/tokenizer-json.test.ts holds their parity). And a byte-level vocabulary without <unk>, padded by vocab_size
// (Qwen2's shape), decodes the padding ids as HF tokenizers does (they add nothing) instead of failing.
//
// The crafted tokenizers run through the CLI in a child process with a 256 MB heap and a time limit: before the fix
// the child died of memory (items 3, 5) or ran for minutes (item 4) — it can fail, and cannot take the test runner
// down with it.
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Engine } from '../src/main/engine/engine'
import { TokenizerJson } from '../src/main/engine/tokenizers/tokenizerJson'
import { byteLevelTokenizer, catastrophicSplit, modelWith, replaces, TINY as CONFIG } from './crafted-tokenizers'
import { ensureCurrentBuild, ROOT, tinyTensors, tmp, writeTinyModel } from './helpers'

/** `soliloquy tokenize` in a child with a 256 MB heap, stopped after 60 s. */
function tokenizeCli(dir: string, text: string): { code: number | null; signal: string | null; stderr: string } {
  ensureCurrentBuild()
  const r = spawnSync(process.execPath, ['--max-old-space-size=256', join(ROOT, 'bin', 'soliloquy.js'), 'tokenize', '--model', dir, '--text', text], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, NO_COLOR: '1' },
  })
  return { code: r.status, signal: r.signal, stderr: (r.stderr ?? '').slice(-2000) }
}

describe('a tokenizer.json chain that would take the memory or the time is refused by name', () => {
  it('item 3: 25 Replace steps of an empty regex with "xx" (3× per step): refused at the step that passes 64× + 4096', () => {
    const dir = modelWith(byteLevelTokenizer({ normalizer: replaces(25, { Regex: '' }, 'xx') }))
    const r = tokenizeCli(dir, 'hello')
    // 5 → 17 → 53 → 161 → 485 → 1457 → 4373 → (step 6 passes 64 × 5 + 4096 = 4416)
    expect(r.stderr.trim()).toBe(
      'soliloquy: tokenizer.json: normalizer.normalizers[6] (Replace) makes a text of 5 characters longer than 4416 characters ' +
        '(64 times its length plus 4096); this normalizer is refused',
    )
    expect(r.code).toBe(1)
  })

  it('item 5: 30 Replace steps "o" → "oooo" (4× per step): refused before the string is built', () => {
    const dir = modelWith(byteLevelTokenizer({ normalizer: replaces(30, { String: 'o' }, 'oooo') }))
    const r = tokenizeCli(dir, 'hello')
    expect(r.stderr.trim()).toBe(
      'soliloquy: tokenizer.json: normalizer.normalizers[6] (Replace) makes a text of 5 characters longer than 4416 characters ' +
        '(64 times its length plus 4096); this normalizer is refused',
    )
    expect(r.code).toBe(1)
  })

  it('item 4: a Split pattern (a+)+$ on 50 characters is stopped at its time budget, naming the step and the pattern', () => {
    const dir = modelWith(catastrophicSplit())
    const r = tokenizeCli(dir, 'a'.repeat(50) + 'b')
    expect(r.signal, 'the child was not stopped by the test’s 60 s limit').toBeNull()
    expect(r.stderr.trim()).toBe(
      'soliloquy: tokenizer.json: pre_tokenizer.pretokenizers[0] (Split, pattern "(a+)+$") ran for more than 2.0 s on a text of 51 characters ' +
        'and was stopped (a pattern that backtracks without end, such as (a+)+$, does this)',
    )
    expect(r.code).toBe(1)
  })

  it('the same tokenizer still encodes a text on which the pattern ends quickly (the budget refuses the run, not the file)', () => {
    const tok = new TokenizerJson(catastrophicSplit(), undefined)
    expect(tok.encode('aaab aaa')).toEqual([...'aaab aaa'].map((c) => c.charCodeAt(0)))
  })

  it('Sequences nested 20,000 deep (normalizer) or 40 deep (pre-tokenizer) are refused at load, not by the stack', () => {
    let normalizer: Record<string, unknown> = { type: 'Lowercase' }
    for (let i = 0; i < 20_000; i++) normalizer = { type: 'Sequence', normalizers: [normalizer] }
    expect(() => new TokenizerJson(byteLevelTokenizer({ normalizer }), undefined)).toThrow(
      /^tokenizer\.json: normalizer nests Sequences more than 32 deep; this normalizer is refused$/,
    )
    let pre: Record<string, unknown> = byteLevelTokenizer().pre_tokenizer as Record<string, unknown>
    for (let i = 0; i < 40; i++) pre = { type: 'Sequence', pretokenizers: [pre] }
    expect(() => new TokenizerJson(byteLevelTokenizer({ pre_tokenizer: pre }), undefined)).toThrow(
      /^tokenizer\.json: pre_tokenizer nests Sequences more than 32 deep; this pre-tokenizer is refused$/,
    )
  })

  it('12 ByteLevel pre-tokenizers in a row (each doubles "Ġ") are refused by the growth bound', () => {
    const bl = byteLevelTokenizer().pre_tokenizer
    const tok = new TokenizerJson(byteLevelTokenizer({ pre_tokenizer: { type: 'Sequence', pretokenizers: Array(12).fill(bl) } }), undefined)
    // 10 → 20 → 40 → … → 5120 at step 8, past 64 × 10 + 4096 = 4736
    expect(() => tok.encode('Ġ'.repeat(10))).toThrow(
      'tokenizer.json: pre_tokenizer.pretokenizers[8] (ByteLevel) makes a text of 10 characters longer than 4736 characters ' +
        '(64 times its length plus 4096); this pre-tokenizer is refused',
    )
  })
})

describe('decoders have the same bounds (generated text goes through them)', () => {
  it('9 Replace decoders of an empty regex with "xx" are refused at the step that passes the bound; nesting is bounded', () => {
    const decoder = { type: 'Sequence', decoders: Array.from({ length: 9 }, () => ({ type: 'Replace', pattern: { Regex: '' }, content: 'xx' })) }
    const tok = new TokenizerJson(byteLevelTokenizer({ decoder }), undefined)
    // five one-character tokens: 1 → 5 → 17 → … → 1457 each at step 5, 7,285 in all, past 64 × 5 + 4096 = 4416
    expect(() => tok.decode([65, 66, 67, 68, 69])).toThrow(
      'tokenizer.json: decoder.decoders[5] (Replace) makes a text of 5 characters longer than 4416 characters ' +
        '(64 times its length plus 4096); this decoder is refused',
    )
    let nested: Record<string, unknown> = { type: 'Fuse' }
    for (let i = 0; i < 20_000; i++) nested = { type: 'Sequence', decoders: [nested] }
    expect(() => new TokenizerJson(byteLevelTokenizer({ decoder: nested }), undefined)).toThrow(
      'tokenizer.json: decoder nests Sequences more than 32 deep; this decoder is refused',
    )
  })
})

describe('item 19: a byte-level vocabulary without <unk>, padded by vocab_size', () => {
  it('generates padding ids and decodes them as HF tokenizers does (they add nothing), instead of "token id -1"', async () => {
    // 256 tokens, vocab_size 320 (TINY); the head makes two padding ids (300, 301) the only non-zero logits: ±h[0] after the
    // final norm (whose weight keeps only h[0]), so greedy decoding picks one of them at every step
    const tensors = tinyTensors(CONFIG)
    const norm = tensors['model.norm.weight'].data
    norm.fill(0)
    norm[0] = 1
    const emb = tensors['model.embed_tokens.weight'].data
    const head = new Float32Array(emb.length)
    head.fill(0)
    head[300 * CONFIG.dim] = 50
    head[301 * CONFIG.dim] = -50
    tensors['lm_head.weight'] = { shape: [320, CONFIG.dim], data: head }
    const dir = writeTinyModel(tmp('soliloquy-padded-'), { ...CONFIG, tied: false }, tensors)
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(byteLevelTokenizer()))
    const engine = Engine.load(dir)
    expect(engine.tokenizer.unkId).toBe(-1)
    expect(engine.tokenizer.vocabSize).toBe(256)
    const [g] = await engine.generate({ prompt: 'To be', views: [[]], maxNew: 4, maxSeq: 64 })
    expect(g.ids.length).toBe(4)
    for (const id of g.ids) expect([300, 301]).toContain(id)
    expect(g.text).toBe('')
    // mixed with real tokens: the real ones decode, the padding ones add nothing (one entry per id in the table)
    const ids = [84, 111, 300, 32, 301, 98, 101]
    expect(engine.decode(ids)).toBe('To be')
    expect(engine.decodeTokens(ids)).toEqual(['T', 'o', '', ' ', '', 'b', 'e'])
  })
})
