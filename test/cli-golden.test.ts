// The CLI's outputs pinned byte for byte (test/fixtures/cli-golden.json): the organism's sweep table, the text of the
// main commands, and every field of their --json outputs, on one fresh data directory in a fixed order. Taken before a
// structural refactor so that the refactor is shown not to change what a user sees.
//
// Masked, because they differ from one run to the next and not with the code (found by taking the outputs twice and
// comparing): timestamps (ISO dates and the `YYYY-MM-DD HH:MM` of the tables), durations in ms (timings, `(473 ms)`),
// the temporary data directory's path, and a checkpoint file's sha256 and file name (its header records when it was
// saved). Ids (e1, r3, checkpoint ids) are not masked: a fresh directory
// numbers them the same way every time.
//
// Numbers depend on the kernel path (avx512 sums in another order than avx2): the fixture records the path it was
// taken on. On that path every byte is compared; on another one the text is compared with numbers blanked and each
// JSON value's shape (keys and types) — still every field.
//
// Rewrite the fixture (only when an output is meant to change): SOLILOQUY_GOLDEN_WRITE=1 node scripts/test.mjs test/cli-golden.test.ts
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { ensureCurrentBuild, ROOT, tmp } from './helpers'

const BIN = join(ROOT, 'bin', 'soliloquy.js')
const FIXTURE = join(ROOT, 'test', 'fixtures', 'cli-golden.json')

interface Output {
  args: string[]
  code: number | null
  stdout: string
  stderr: string
}
interface Golden {
  kernelPath: string
  outputs: Output[]
}

/** The commands, in order, on one data directory (later ones read what earlier ones recorded). */
function script(dir: string): string[][] {
  const steps = join(dir, 'lessons.json')
  writeFileSync(steps, JSON.stringify([{ phrase: 'To be, or not to be', lr: 0.03 }, { phrase: 'the slings and arrows', lr: 0.01 }]))
  return [
    ['--help'],
    ['sweep', '--help'],
    ['sweep', '--lrs', '0,0.01,0.03', '--max-gen', '12'],
    ['sweep', '--lrs', '0,0.03', '--max-gen', '8', '--json'],
    ['step', '--lr', '0.03', '--max-gen', '8'],
    ['step', '--lr', '0.03', '--max-gen', '8', '--json'],
    ['generate', '--max-gen', '8'],
    ['generate', '--max-gen', '8', '--json'],
    ['compare', '--lrs', '0.03', '--max-gen', '8'],
    ['compare', '--lrs', '0.03', '--max-gen', '8', '--json'],
    ['lesson', '--steps', steps, '--max-gen', '8'],
    ['lesson', '--steps', steps, '--max-gen', '8', '--json'],
    ['layers', '--lr', '0.03', '--max-gen', '8', '--groups', 'attn,mlp'],
    ['layers', '--lr', '0.03', '--max-gen', '8', '--groups', 'attn,mlp', '--json'],
    ['window', '--per-round', '2', '--rounds', '1', '--max-gen', '8'],
    ['window', '--per-round', '2', '--rounds', '1', '--max-gen', '8', '--json'],
    ['emerge', '--lrs', '0,0.03', '--tokens', '8', '--topk', '2'],
    ['emerge', '--lrs', '0,0.03', '--tokens', '8', '--topk', '2', '--json'],
    ['grad', '--phrase', 'To be, or not to be'],
    ['grad', '--phrase', 'To be, or not to be', '--json'],
    ['tokenize', '--text', 'To be, or not to be'],
    ['tokenize', '--text', 'To be, or not to be', '--json'],
    ['history'],
    ['history', '--json'],
    ['history', '--runs'],
    ['history', '--runs', '--json'],
    ['history', '--flat'],
    ['history', '--flat', '--json'],
    ['history', '--kind', 'sweep', '--limit', '1', '--json'],
    ['show', 'e1'],
    ['show', 'e1', '--json'],
    ['show', 'r2'],
    ['show', 'r2', '--json'],
    ['experiment', 'note', 'e1', 'a note'],
    ['experiment', 'tag', 'e1', 'seed', '--json'],
    ['experiment', 'star', 'e1', '--json'],
    ['table', 'e1'],
    ['table', 'e1', '--format', 'csv'],
    ['table', 'e1', '--json'],
    ['diff', '1', '2'],
    ['diff', '1', '2', '--json'],
    ['report', '1', '--out', join(dir, 'report.html'), '--json'],
    ['checkpoints', 'save', '5', 'first'],
    ['checkpoints', 'save', '6', 'second', '--json'],
    ['checkpoints'],
    ['checkpoints', '--json'],
    ['checkpoints', 'rename', 'second', 'renamed', '--json'],
    ['step', '--model', 'first', '--lr', '0.01', '--max-gen', '8', '--json'],
    ['export', 'first', '--format', 'peft', '--out', join(dir, 'adapter')],
    ['export', 'first', '--format', 'hf', '--out', join(dir, 'hf'), '--json'],
    ['checkpoints', 'delete', 'renamed', '--purge', '--json'],
    // errors in words
    ['sweep', '--lrs', '0,abc'],
    ['sweep', '--phrase', ''],
    ['show', 'e99'],
    ['show', 'r99', '--json'],
    ['frobnicate'],
  ]
}

function mask(s: string, dir: string): string {
  return s
    .split(dir)
    .join('<DATA>')
    // the checkout's own path (the embedded organism lives in it): a clone elsewhere prints the same
    .split(ROOT)
    .join('<REPO>')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, '<TIME>')
    .replace(/\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)?/g, '<TIME>')
    .replace(/"(\w+Ms|ms)":\d+/g, '"$1":<MS>')
    .replace(/\b(gradient|generate|metrics) \d+ ms/g, '$1 <MS> ms')
    .replace(/\(\d+ ms\)/g, '(<MS> ms)')
    .replace(/[0-9a-f]{64}/g, '<SHA256>')
    .replace(/checkpoints\/[0-9a-f]{16}-[0-9a-z]+\.safetensors/g, 'checkpoints/<FILE>.safetensors')
    .replace(/ {2}[0-9a-f]{12} {2}/g, '  <SHA256>  ')
}

function runAll(): Output[] {
  const dir = tmp('soliloquy-golden-')
  mkdirSync(dir, { recursive: true })
  return script(dir).map((args) => {
    const r = spawnSync(process.execPath, [BIN, ...args], {
      encoding: 'utf8',
      env: { ...process.env, SOLILOQUY_DATA: dir },
      timeout: 120_000,
    })
    return { args: args.map((a) => mask(a, dir)), code: r.status, stdout: mask(r.stdout, dir), stderr: mask(r.stderr, dir) }
  })
}

function kernelPath(): string {
  const r = spawnSync(process.execPath, [BIN, 'info', '--json'], { encoding: 'utf8' })
  return (JSON.parse(r.stdout) as { kernelPath: string }).kernelPath
}

/** A JSON value reduced to its shape: every key, and the type of every leaf. */
function shape(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(shape)
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shape(x)]))
  return v === null ? 'null' : typeof v
}

function withoutNumbers(s: string): string {
  return s.replace(/-?\d+(\.\d+)?(e[-+]?\d+)?/gi, '#')
}

let got: Output[]
let path: string

beforeAll(() => {
  ensureCurrentBuild()
  path = kernelPath()
  got = runAll()
  if (process.env.SOLILOQUY_GOLDEN_WRITE === '1') writeFileSync(FIXTURE, JSON.stringify({ kernelPath: path, outputs: got } satisfies Golden, null, 1) + '\n')
}, 600_000)

describe('the CLI as a user sees it, against the golden outputs', () => {
  it('every command prints what it printed when the fixture was taken', () => {
    expect(existsSync(FIXTURE), 'test/fixtures/cli-golden.json (SOLILOQUY_GOLDEN_WRITE=1 writes it)').toBe(true)
    const golden = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Golden
    expect(got.map((o) => o.args)).toEqual(golden.outputs.map((o) => o.args))
    for (const [i, want] of golden.outputs.entries()) {
      const o = got[i]
      const what = `soliloquy ${want.args.join(' ')}`
      expect(o.code, what).toBe(want.code)
      if (path === golden.kernelPath) {
        expect(o.stdout, what).toBe(want.stdout)
        expect(o.stderr, what).toBe(want.stderr)
      } else if (want.args.includes('--json') && want.code === 0) {
        expect(shape(JSON.parse(o.stdout)), what).toEqual(shape(JSON.parse(want.stdout)))
      } else {
        expect(withoutNumbers(o.stdout), what).toBe(withoutNumbers(want.stdout))
        expect(withoutNumbers(o.stderr), what).toBe(withoutNumbers(want.stderr))
      }
    }
  })

  it('the --json outputs carry data (a fixture of empty answers would prove nothing)', () => {
    const golden = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Golden
    const json = golden.outputs.filter((o) => o.args.includes('--json') && o.code === 0)
    expect(json.length).toBeGreaterThan(20)
    for (const o of json) expect(o.stdout.length, o.args.join(' ')).toBeGreaterThan(10)
  })
})
