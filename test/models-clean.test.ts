// What ships under models/ goes onto every user's machine: it must not carry paths of the machine it was made on
// (a SentencePiece trainer_spec, for instance, records its input file and model prefix).
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT } from './helpers'

const MODELS = join(ROOT, 'models')

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name)
    return statSync(p).isDirectory() ? filesUnder(p) : [p]
  })
}

/** The parts of a file that are text: a safetensors header, else every printable run of ≥ 4 bytes (as `strings`). */
function textOf(path: string): string[] {
  const bytes = readFileSync(path)
  if (path.endsWith('.safetensors')) {
    const len = Number(bytes.readBigUInt64LE(0))
    return [bytes.subarray(8, 8 + len).toString('utf8')]
  }
  return bytes.toString('latin1').match(/[\x20-\x7e]{4,}/g) ?? []
}

// POSIX absolute paths of two or more components (/tmp/x, /home/u/…), home-relative paths, Windows drive paths.
// (A protobuf length byte may be printable and stand right before the path: any non-path character is a boundary.)
const ABSOLUTE = /(?:^|[^A-Za-z0-9._:/-])(?:\/[A-Za-z0-9._-]+\/[A-Za-z0-9._-]|~\/[A-Za-z0-9._-]|[A-Za-z]:[\\/][A-Za-z0-9._-])/

export function absolutePathsIn(path: string): string[] {
  return textOf(path).filter((s) => ABSOLUTE.test(s))
}

describe('files under models/', () => {
  const files = filesUnder(MODELS)

  it('exist (the organism is embedded)', () => {
    expect(files.map((f) => relative(MODELS, f))).toContain(join('organism', 'tokenizer.model'))
  })

  it.each(files.map((f) => [relative(MODELS, f), f]))('%s holds no absolute path', (_name, file) => {
    expect(absolutePathsIn(file)).toEqual([])
  })

  it('the detector finds the paths a trainer_spec used to carry', () => {
    const spec = Buffer.concat([Buffer.from([0x0a, 0x13]), Buffer.from('/tmp/sp_train.txt\x00\x12'), Buffer.from('#/work/steering/lab/corpus/tokenizer')])
    const found = spec.toString('latin1').match(/[\x20-\x7e]{4,}/g)!.filter((s) => ABSOLUTE.test(s))
    expect(found.length).toBe(2)
    expect(['corpus.txt', 'tokenizer', 'C:\\Users\\me\\model', '~/models/x'].filter((s) => ABSOLUTE.test(` ${s}`))).toEqual([
      'C:\\Users\\me\\model',
      '~/models/x',
    ])
  })
})
