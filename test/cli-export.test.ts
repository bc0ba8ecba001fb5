// `soliloquy export` in each format on the organism's 0.03 step, as a user runs it (the built bin): the HF directory
// and the GGUF file load back and generate the step's float64-reference completion; the PEFT adapter's files parse,
// its B·A equals the merged change of the weights, and the measured KL is printed. A cancelled export (Ctrl-C, or a
// cancel in the lab) leaves nothing behind. And `--model file.gguf` / `--model META_DIR` work on every command.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { Engine } from '../src/main/engine/engine'
import { exportGguf } from '../src/main/engine/export/gguf'
import { readGguf } from '../src/main/engine/formats/gguf/read'
import { Lab } from '../src/main/lab/lab'
import { labClient } from '../src/main/lab/methods'
import { ensureCurrentBuild, expectSameIds, ORGANISM, reference, referenceAt, ROOT, tmp, writeTinyModel } from './helpers'
import { organismMetaTensors, ORGANISM_PARAMS, writeMetaDir } from './pth-writer'

const BIN = join(ROOT, 'bin', 'soliloquy.js')
let dataDir: string

function run(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, SOLILOQUY_DATA: dataDir }, timeout: 180_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}
const json = <T>(r: { code: number | null; stdout: string; stderr: string }): T => {
  expect(r.stderr).toBe('')
  expect(r.code).toBe(0)
  return JSON.parse(r.stdout) as T
}

const ref = reference()
const at = referenceAt
const sameIds = expectSameIds
interface RunJson {
  outputIds: number[]
}

/** A safetensors file read independently of the engine: name → { shape, values as float32 }. */
function readSafetensors(path: string): Map<string, { shape: number[]; data: Float32Array }> {
  const buf = readFileSync(path)
  const n = Number(buf.readBigUInt64LE(0))
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>
  const out = new Map<string, { shape: number[]; data: Float32Array }>()
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue
    expect(t.dtype, name).toBe('F32')
    const [a, b] = t.data_offsets
    const bytes = buf.subarray(8 + n + a, 8 + n + b)
    out.set(name, { shape: t.shape, data: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)) })
  }
  return out
}

/** Leftovers of an export beside its target: the partial path (".NAME.partial-PID") or the target itself. */
const leftovers = (parent: string): string[] => (existsSync(parent) ? readdirSync(parent) : [])

beforeAll(() => {
  ensureCurrentBuild()
  dataDir = tmp('soliloquy-cli-export-data-')
  json(run('step', '--lr', '0.03', '--save', 'hamlet', '--json'))
}, 300_000)

describe('soliloquy export --format hf|gguf|peft', () => {
  it('hf: the merged directory generates the step’s reference completion (the old `export CKPT --out DIR` form)', () => {
    const out = join(tmp('soliloquy-export-hf-'), 'hamlet-hf')
    const r = json<{ format: string; dir: string; dtype: string }>(run('export', 'hamlet', '--out', out, '--json'))
    expect(r).toMatchObject({ format: 'hf', dir: out })
    sameIds(json<{ run: RunJson }>(run('generate', '--model', out, '--json')).run.outputIds, at(0.03).plain, 'generate on the HF export')
  })

  it('gguf: the merged file loads back and generates the step’s reference completion; Q8_0 is GGUF only', () => {
    const parent = tmp('soliloquy-export-gguf-')
    const out = join(parent, 'hamlet.gguf')
    const r = json<{ format: string; dir: string; dtype: string; files: string[] }>(
      run('export', 'hamlet', '--format', 'gguf', '--dtype', 'F32', '--out', out, '--json'),
    )
    expect(r).toMatchObject({ format: 'gguf', dir: out, dtype: 'F32', files: ['hamlet.gguf'] })
    expect(leftovers(parent)).toEqual(['hamlet.gguf'])
    sameIds(json<{ run: RunJson }>(run('generate', '--model', out, '--json')).run.outputIds, at(0.03).plain, 'generate on the GGUF export')
    // the plain text form names the format and dtype
    const q8 = join(parent, 'hamlet-q8.gguf')
    const t = run('export', 'hamlet', '--format', 'gguf', '--dtype', 'q8_0', '--out', q8)
    expect(t.code).toBe(0)
    expect(t.stdout).toMatch(/^exported "hamlet" merged as a GGUF file \(Q8_0\) to .*hamlet-q8\.gguf/)
    const g = json<{ run: RunJson }>(run('generate', '--model', q8, '--max-gen', '8', '--json')).run
    expect(g.outputIds.length).toBe(8)
    // refusals, in words, before anything is written
    const cases: [string[], RegExp][] = [
      [['export', 'hamlet', '--format', 'hf', '--dtype', 'Q8_0', '--out', join(parent, 'x')], /Data type: Q8_0 is not available for hf \(use F32, F16, BF16\)/],
      [['export', 'hamlet', '--format', 'gguf', '--out', out], /already exists/],
      [['export', 'hamlet', '--format', 'gguf', '--out', join(parent, 'x.bin')], /a GGUF file name ends in \.gguf/],
      [['export', '--format', 'peft', '--out', join(parent, 'p')], /--format peft exports a step as an adapter: name a CHECKPOINT/],
      [['export', 'hamlet', '--format', 'onnx', '--out', join(parent, 'o')], /--format must be hf, gguf or peft/],
      [['export', 'hamlet'], /usage: soliloquy export/],
    ]
    for (const [args, msg] of cases) {
      const e = run(...args)
      expect(e.code, args.join(' ')).toBe(1)
      expect(e.stderr, args.join(' ')).toMatch(msg)
    }
    expect(leftovers(parent).sort()).toEqual(['hamlet-q8.gguf', 'hamlet.gguf'])
  })

  it('gguf --dtype Q4_0 | Q4_K | Q6_K: every matrix in the type; Q3_K_M | Q5_K_M: llama.cpp\'s mixtures; the file generates; fallbacks are printed as notes', () => {
    const parent = tmp('soliloquy-export-gguf-q-')
    for (const dtype of ['Q4_0', 'Q4_K', 'Q6_K']) {
      const out = join(parent, `hamlet-${dtype}.gguf`)
      const r = json<{ format: string; dtype: string; notes: string[] }>(
        run('export', 'hamlet', '--format', 'gguf', '--dtype', dtype.toLowerCase(), '--out', out, '--json'),
      )
      expect(r).toMatchObject({ format: 'gguf', dtype, notes: [] })
      const g = readGguf(out)
      expect(new Set(g.tensors.filter((t) => t.dims.length === 2).map((t) => t.typeName)), dtype).toEqual(new Set([dtype]))
      expect(json<{ run: RunJson }>(run('generate', '--model', out, '--max-gen', '8', '--json')).run.outputIds).toHaveLength(8)
    }
    // llama.cpp's mixtures: the types its rules give (test/engine-gguf-mixture.test.ts holds them tensor by tensor)
    for (const [dtype, fileType, types] of [['Q3_K_M', 12, ['Q3_K', 'Q4_K', 'Q5_K', 'Q6_K']], ['Q5_K_M', 17, ['Q5_K', 'Q6_K']]] as const) {
      const out = join(parent, `hamlet-${dtype}.gguf`)
      const r = json<{ format: string; dtype: string; notes: string[] }>(run('export', 'hamlet', '--format', 'gguf', '--dtype', dtype, '--out', out, '--json'))
      expect(r).toMatchObject({ format: 'gguf', dtype, notes: [] })
      const g = readGguf(out)
      expect(g.kv.get('general.file_type'), dtype).toBe(fileType)
      expect([...new Set(g.tensors.filter((t) => t.dims.length === 2).map((t) => t.typeName))].sort(), dtype).toEqual([...types])
      expect(json<{ run: RunJson }>(run('generate', '--model', out, '--max-gen', '8', '--json')).run.outputIds).toHaveLength(8)
    }
    // a model whose rows (64) are not whole K-quant blocks: Q5_0 instead (llama.cpp's fallback), said in a note
    const tiny = writeTinyModel(tmp(), { dim: 64, ffn: 128, layers: 1, heads: 2, kvHeads: 2, tied: false, seed: 3 })
    const t = run('export', '--model', tiny, '--format', 'gguf', '--dtype', 'Q4_K', '--out', join(parent, 'tiny.gguf'))
    expect(t.code, t.stderr).toBe(0)
    expect(t.stdout).toMatch(/^exported the model merged as a GGUF file \(Q4_K\) to /)
    expect(t.stdout).toMatch(/\nnote: \d+ of the matrices written as Q5_0, not Q4_K: their rows are not whole Q4_K blocks of 256 weights \(as llama\.cpp's quantiser falls back\): .*blk\.0\.attn_q\.weight \(rows of 64\)/)
    const cases: [string[], RegExp][] = [
      [['export', 'hamlet', '--format', 'hf', '--dtype', 'Q4_K', '--out', join(parent, 'x')], /Data type: Q4_K is not available for hf \(use F32, F16, BF16\)/],
      [['export', 'hamlet', '--format', 'gguf', '--dtype', 'Q5_K', '--out', join(parent, 'x.gguf')], /--dtype must be one of F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K, Q4_K_M, Q3_K_S, Q3_K_M, Q3_K_L, Q5_K_S, Q5_K_M \(got Q5_K\)/],
    ]
    for (const [args, msg] of cases) {
      const e = run(...args)
      expect(e.code, args.join(' ')).toBe(1)
      expect(e.stderr, args.join(' ')).toMatch(msg)
    }
  })

  it('the base model (no checkpoint) exports too, and a PEFT adapter’s B·A is the merged change; its KL is printed', () => {
    const parent = tmp('soliloquy-export-peft-')
    const base = join(parent, 'base')
    const merged = join(parent, 'merged')
    const adapter = join(parent, 'adapter')
    expect(json<{ checkpoint: unknown }>(run('export', '--format', 'hf', '--dtype', 'F32', '--out', base, '--json')).checkpoint).toBeNull()
    json(run('export', 'hamlet', '--dtype', 'F32', '--out', merged, '--json'))
    const text = run('export', 'hamlet', '--format', 'peft', '--out', adapter)
    expect(text.stderr).toBe('')
    expect(text.code).toBe(0)
    expect(text.stdout).toMatch(/as a PEFT LoRA adapter \(rank \d+, F32\)/)
    const kl = /KL\(merged ‖ adapter\) on the probes: mean (\S+) nats, max (\S+)/.exec(text.stdout)
    expect(kl, text.stdout).not.toBeNull()
    const [meanKL, maxKL] = [Number(kl![1]), Number(kl![2])]
    expect(Number.isFinite(meanKL) && meanKL >= 0 && maxKL >= meanKL).toBe(true)
    expect(text.stdout).toMatch(/not carried by the adapter:\n {2}- RMSNorm weights/)

    const cfg = JSON.parse(readFileSync(join(adapter, 'adapter_config.json'), 'utf8')) as { peft_type: string; r: number; lora_alpha: number }
    expect(cfg.peft_type).toBe('LORA')
    const a = readSafetensors(join(adapter, 'adapter_model.safetensors'))
    const m = readSafetensors(join(merged, 'model.safetensors'))
    const b = readSafetensors(join(base, 'model.safetensors'))
    for (const mod of ['layers.0.self_attn.q_proj', 'layers.3.mlp.down_proj', 'layers.5.self_attn.v_proj']) {
      const A = a.get(`base_model.model.model.${mod}.lora_A.weight`)!
      const B = a.get(`base_model.model.model.${mod}.lora_B.weight`)!
      const [r, inF] = A.shape
      const outF = B.shape[0]
      expect(r).toBe(cfg.r)
      const W1 = m.get(`model.${mod}.weight`)!.data
      const W0 = b.get(`model.${mod}.weight`)!.data
      let err = 0
      let norm = 0
      const scale = cfg.lora_alpha / cfg.r
      for (let o = 0; o < outF; o++)
        for (let i = 0; i < inF; i++) {
          let d = 0
          for (let k = 0; k < r; k++) d += B.data[o * r + k] * A.data[k * inF + i]
          const want = W1[o * inF + i] - W0[o * inF + i]
          err += (scale * d - want) ** 2
          norm += want ** 2
        }
      expect(norm, mod).toBeGreaterThan(0)
      expect(Math.sqrt(err / norm), mod).toBeLessThan(1e-3)
    }
    // --json carries the same measurement
    const j = json<{ peft: { rank: number; notCarried: string[]; normLoss: { meanKL: number; maxKL: number; perProbe: Record<string, number> } } }>(
      run('export', 'hamlet', '--format', 'peft', '--dtype', 'BF16', '--out', join(parent, 'adapter-bf16'), '--json'),
    )
    expect(j.peft.rank).toBe(cfg.r)
    expect(j.peft.normLoss.meanKL).toBeCloseTo(meanKL, 6)
    expect(Object.keys(j.peft.normLoss.perProbe).length).toBeGreaterThan(0)
    expect(j.peft.notCarried[0]).toMatch(/^RMSNorm weights/)
  })

  it('a cancelled export leaves nothing behind, in every format (cancel at the first progress report)', async () => {
    const lab = new Lab({ dataDir })
    try {
      for (const [format, name] of [['hf', 'h'], ['gguf', 'g.gguf'], ['peft', 'p']] as const) {
        const parent = tmp('soliloquy-export-cancel-')
        const ctl = new AbortController()
        let reports = 0
        const client = labClient(lab, { signal: ctl.signal, onProgress: () => (reports++, ctl.abort()) })
        await expect(client.call('exportCheckpoint', { id: 'hamlet', format, outDir: join(parent, name) }), format).rejects.toThrow(/cancelled/)
        expect(reports, format).toBeGreaterThan(0)
        expect(leftovers(parent), format).toEqual([])
      }
    } finally {
      lab.close()
    }
  })

  it('Ctrl-C during `soliloquy export --format peft`: "cancelled", exit 130, nothing left', async () => {
    // The export is short: SIGINT goes once its partial directory exists beside the target; if a run finishes
    // first, try again (at most five times) — every run must leave either the whole adapter or nothing.
    let cancelled = 0
    for (let attempt = 0; attempt < 5 && cancelled === 0; attempt++) {
      const parent = tmp('soliloquy-export-sigint-')
      const child = spawn(process.execPath, [BIN, 'export', 'hamlet', '--format', 'peft', '--out', join(parent, 'adapter')], {
        env: { ...process.env, SOLILOQUY_DATA: dataDir },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let stderr = ''
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
      const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)))
      let ended = false
      void exited.then(() => (ended = true))
      while (!ended && !leftovers(parent).some((f) => f.includes('.partial-'))) await new Promise((r) => setTimeout(r, 5))
      if (!ended) child.kill('SIGINT')
      const code = await exited
      if (code === 130) {
        cancelled++
        expect(stderr).toBe('soliloquy: cancelled\n')
        expect(leftovers(parent)).toEqual([])
      } else {
        expect(code, stderr).toBe(0)
        expect(leftovers(parent)).toEqual(['adapter'])
        expect(readdirSync(join(parent, 'adapter')).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors'])
      }
    }
    expect(cancelled).toBe(1)
  }, 120_000)
})

describe('--model file.gguf and --model META_DIR on every command', () => {
  let ggufFile: string
  let metaDir: string
  beforeAll(async () => {
    const dir = tmp('soliloquy-model-formats-')
    ggufFile = join(dir, 'organism.gguf')
    const engine = Engine.load(ORGANISM)
    await exportGguf(engine, [], ggufFile, undefined, { dtype: 'F32', name: 'organism' })
    metaDir = writeMetaDir(join(dir, 'meta'), [organismMetaTensors()], ORGANISM_PARAMS)
  }, 120_000)

  it('the lab describes each format: format, tokenizer kind, tensor types (most first) and the memory estimate', async () => {
    const lab = new Lab({ dataDir: tmp('soliloquy-model-info-') })
    try {
      const c = labClient(lab, {})
      const hf = await c.call('openModel', { path: ORGANISM })
      const meta = await c.call('openModel', { path: metaDir })
      const gguf = await c.call('openModel', { path: ggufFile })
      expect([hf.format, meta.format, gguf.format]).toEqual(['hf', 'meta', 'gguf'])
      expect(hf.tokenizer).toBe('SentencePiece (tokenizer.model)')
      expect(meta.tokenizer).toBe('SentencePiece (tokenizer.model)')
      expect(gguf.tokenizer).toBe('GGUF vocab (tokenizer.ggml.model llama)')
      // the organism: 6 layers × (7 matrices + 2 norms) + embedding + final norm + head, counted per stored type as
      // each file's own header says (the HF safetensors, the Meta tensors written above, the GGUF exported in F32)
      const perType = (types: string[]): { type: string; count: number }[] => {
        const n = new Map<string, number>()
        for (const t of types) n.set(t, (n.get(t) ?? 0) + 1)
        return [...n.entries()].map(([type, count]) => ({ type, count })).sort((a, b) => b.count - a.count || a.type.localeCompare(b.type))
      }
      const hfTypes = readdirSync(ORGANISM)
        .filter((f) => f.endsWith('.safetensors'))
        .flatMap((f) => {
          const st = readFileSync(join(ORGANISM, f))
          const header = JSON.parse(st.subarray(8, 8 + Number(st.readBigUInt64LE(0))).toString('utf8')) as Record<string, { dtype?: string }>
          return Object.entries(header).filter(([k]) => k !== '__metadata__').map(([, t]) => t.dtype!)
        })
      expect(hfTypes.length).toBe(6 * 9 + 3)
      expect(hf.quantisation).toEqual(perType(hfTypes))
      expect(meta.quantisation).toEqual(perType(organismMetaTensors().map((t) => t.dtype)))
      expect(gguf.quantisation).toEqual([{ type: 'F32', count: 6 * 9 + 3 }])
      for (const m of [hf, meta, gguf]) {
        expect(m.memoryBytes).toBe(m.fileBytes + m.workingBytes)
        expect(m.workingBytes).toBeGreaterThan(0)
      }
      // a quantised file: its blocks counted per type
      const q8 = join(tmp('soliloquy-q8-'), 'organism-q8.gguf')
      await exportGguf(Engine.load(ORGANISM), [], q8, undefined, { dtype: 'Q8_0' })
      const q = await c.call('openModel', { path: q8 })
      expect(q.quantisation).toEqual([{ type: 'Q8_0', count: 6 * 7 + 2 }, { type: 'F32', count: 6 * 2 + 1 }])
      // listed again, they keep their formats
      const listed = await c.call('listModels', {})
      expect(listed.map((m) => m.format).sort()).toEqual(['gguf', 'gguf', 'hf', 'meta'])
    } finally {
      lab.close()
    }
  })

  for (const which of ['gguf', 'meta'] as const) {
    it(`${which}: sweep, step, generate, compare, lesson, grad and tokenize reproduce the organism's references`, () => {
      const model = which === 'gguf' ? ggufFile : metaDir
      const sweep = json<{ rows: { lr: number; ids: number[] }[] }>(run('sweep', '--model', model, '--lrs', '0,0.03', '--json'))
      sameIds(sweep.rows[0].ids, at(0).plain, `${which} sweep α=0`)
      sameIds(sweep.rows[1].ids, at(0.03).plain, `${which} sweep α=0.03`)
      sameIds(json<{ run: RunJson }>(run('generate', '--model', model, '--json')).run.outputIds, at(0).plain, `${which} generate`)
      sameIds(json<{ run: RunJson }>(run('step', '--model', model, '--lr', '0.03', '--json')).run.outputIds, at(0.03).plain, `${which} step`)
      expect(run('compare', '--model', model, '--lrs', '0.03', '--max-gen', '4', '--json').code).toBe(0)
      const steps = join(tmp('soliloquy-lesson-'), 'steps.json')
      writeFileSync(steps, JSON.stringify([{ phrase: ref.phrase, lr: 0.01 }]))
      expect(run('lesson', '--model', model, '--steps', steps, '--json').code).toBe(0)
      expect(run('layers', '--model', model, '--groups', 'embed', '--band', '0', '--json').code).toBe(0)
      // the runs are found by the same reference in the history
      expect(json<{ total: number }>(run('history', '--model', model, '--json')).total).toBeGreaterThanOrEqual(6)
      const g = json<{ loss: number }>(run('grad', '--model', model, '--phrase', ref.phrase, '--json'))
      expect(Math.abs(g.loss - ref.phrase_loss) / ref.phrase_loss).toBeLessThan(1e-4)
      const [text, ids] = Object.entries(ref.tokenization)[0]
      expect(json<{ ids: number[] }>(run('tokenize', '--model', model, '--text', text, '--json')).ids).toEqual(ids)
      // and it exports: the model as it is, as a GGUF file
      const out = join(tmp('soliloquy-model-export-'), 'again.gguf')
      expect(json<{ format: string }>(run('export', '--model', model, '--format', 'gguf', '--out', out, '--json')).format).toBe('gguf')
    }, 300_000)
  }
})
