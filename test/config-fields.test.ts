// Issue 20, item 20 (the engine's part): config.json values that used to fail far from their cause are refused when
// the model opens, naming file and field. Tiny models written by the test (test/helpers.ts writeTinyModel).
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Engine } from '../src/main/engine/engine'
import { tmp, writeTinyModel } from './helpers'

const tiny = { dim: 16, ffn: 32, layers: 1, heads: 2, kvHeads: 2, tied: true }

function opening(configExtra: Record<string, unknown>, ropeTheta?: number): () => Engine {
  const dir = writeTinyModel(join(tmp('soliloquy-config-fields-'), 'm'), { ...tiny, ropeTheta, configExtra })
  return () => Engine.load(dir)
}

describe('config.json fields named when the model opens', () => {
  it('bos_token_id / eos_token_id of -1 (or past the vocabulary): not a token id', () => {
    expect(opening({ bos_token_id: -1 })).toThrow('config.json: bos_token_id -1 is not a token id (the vocabulary has ids 0 … 4095)')
    expect(opening({ eos_token_id: -1 })).toThrow('config.json: eos_token_id -1 is not a token id (the vocabulary has ids 0 … 4095)')
    expect(opening({ eos_token_id: [2, 5000] })).toThrow('config.json: eos_token_id [2,5000] is not a token id (the vocabulary has ids 0 … 4095)')
    expect(opening({ eos_token_id: [2, 3], bos_token_id: null })).not.toThrow()
  })

  it('"pretraining_tp": "1" is named as a string, not "1 is not supported (only 1)"', () => {
    expect(opening({ pretraining_tp: '1' })).toThrow('config.json: pretraining_tp must be the number 1, not the string "1"')
    expect(opening({ pretraining_tp: 2 })).toThrow('config.json: pretraining_tp 2 is not supported (only 1)')
    expect(opening({ pretraining_tp: 1 })).not.toThrow()
  })

  it('rope_theta 1e-300 and RoPE factors of 1e±300 are refused by name, not blamed on overflowing weights', () => {
    expect(opening({}, 1e-300)).toThrow('config.json: rope_theta 1e-300 must be a finite number above 1 (RoPE\'s base: 10000 in Llama 2, 500000 in Llama 3)')
    expect(opening({}, 1)).toThrow('config.json: rope_theta 1 must be a finite number above 1')
    expect(opening({}, 1e300)).toThrow(/^config\.json: rope_theta 1e\+300 gives RoPE frequencies float32 cannot hold \(0 for dimension pair 1\); check these fields$/)
    expect(opening({ rope_scaling: { rope_type: 'linear', factor: 1e-300 } })).toThrow(
      'config.json: rope_theta 10000 with rope_scaling.factor 1e-300 gives RoPE frequencies float32 cannot hold (Infinity for dimension pair 0); check these fields',
    )
    expect(opening({ rope_scaling: { rope_type: 'linear', factor: 1e300 } })).toThrow(
      'config.json: rope_theta 10000 with rope_scaling.factor 1e+300 gives RoPE frequencies float32 cannot hold (0 for dimension pair 0); check these fields',
    )
    expect(opening({ rope_scaling: { rope_type: 'linear', factor: 4 } })).not.toThrow()
  })
})
