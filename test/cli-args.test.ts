// The CLI's flags → request fields (src/main/cli/args.ts): every flag fills a field its method's request schema
// takes, read as that field wants it (whole number, number, list), and the one reader of JSON files named by flags
// refuses what it cannot read in words (missing, a directory, a FIFO, too large, not JSON).
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { methodNames, methods, validateCall } from '../src/shared/api'
import { FLAG_FIELDS, readJsonArg, requestFields, type FieldFlag } from '../src/main/cli/args'
import { tmp } from './helpers'

describe('flags → request fields', () => {
  it('every flag fills a field some method takes', () => {
    const fields = new Set(methodNames.flatMap((m) => Object.keys((methods[m].req as unknown as { shape?: object }).shape ?? {})))
    for (const [flag, { field }] of Object.entries(FLAG_FIELDS)) expect(fields.has(field), `--${flag} → ${field}`).toBe(true)
  })

  it('reads each flag as its field wants it; the result is a request the contract accepts', () => {
    const flags = { prompt: 'To be', 'max-gen': '12', phrase: 'Hamlet', lrs: '0, 1e-3 0.03', 'per-round': '3', 'kl-max': '0.5' }
    const sweep = requestFields('sweep', flags, ['prompt', 'max-gen', 'max-seq', 'phrase', 'lrs'], true)
    expect(sweep).toStrictEqual({ prompt: 'To be', maxGen: 12, phrase: 'Hamlet', lrs: [0, 1e-3, 0.03] })
    // without omitUnset the unset flag's key stays, in its place (the lab records requests in that key order)
    expect(Object.keys(requestFields('sweep', flags, ['prompt', 'max-seq', 'phrase']))).toEqual(['prompt', 'maxSeq', 'phrase'])
    expect(validateCall('sweep', sweep).ok).toBe(true)
    const win = requestFields('window', flags, ['per-round', 'kl-max'])
    expect(win).toEqual({ perRound: 3, klMax: 0.5 })
    expect(validateCall('window', win).ok).toBe(true)
    expect(() => requestFields('sweep', { 'max-gen': '1.5' }, ['max-gen'])).toThrow('--max-gen: "1.5" is not a whole number')
    expect(() => requestFields('sweep', { lrs: '0,x' }, ['lrs'])).toThrow('--lrs: "x" is not a finite number')
  })

  it('a flag for a field the method does not take is a programming error, named', () => {
    expect(() => requestFields('sweep', {}, ['per-round' as FieldFlag])).toThrow('--per-round fills perRound, which sweep does not take')
  })
})

describe('the JSON files named by flags', () => {
  const dir = tmp('soliloquy-cli-args-')
  it('reads a file; refuses a missing one, a directory, a FIFO, one over the limit and one that is not JSON, in words', () => {
    const ok = join(dir, 'steps.json')
    writeFileSync(ok, JSON.stringify([{ phrase: 'To be', lr: 0.03 }]))
    expect(readJsonArg(ok, '--steps')).toEqual([{ phrase: 'To be', lr: 0.03 }])
    expect(() => readJsonArg(join(dir, 'nope.json'), '--steps')).toThrow(`--steps ${join(dir, 'nope.json')} cannot be read (ENOENT)`)
    expect(() => readJsonArg(dir, '--probes')).toThrow(`--probes ${dir} cannot be read (EISDIR)`)
    const fifo = join(dir, 'fifo')
    execFileSync('mkfifo', [fifo])
    expect(() => readJsonArg(fifo, '--probes')).toThrow(`--probes ${fifo} is not a plain file`)
    expect(() => readJsonArg(ok, '--steps', 10)).toThrow(/^--steps .*steps\.json is \d+ bytes: at most 10 are read$/)
    const bad = join(dir, 'bad.json')
    writeFileSync(bad, '{ "a": ')
    expect(() => readJsonArg(bad, '--probes')).toThrow(/^--probes .*bad\.json is not valid JSON \(/)
  })
})
