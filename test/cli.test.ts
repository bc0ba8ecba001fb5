// The `soliloquy` command as a user runs it (the built bin, rebuilt first when out/ is older than src/), on the
// embedded organism: every command's success path against the float64 references, errors, serve and Ctrl-C.
import Database from 'better-sqlite3'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { get as httpGet } from 'node:http'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { HISTORY_FILE } from '../src/main/lab/lab'
import { comparableLength, ensureCurrentBuild, expectSameIds, ORGANISM, reference, referenceAt, ROOT, staleBuild, tmp } from './helpers'

const BIN = join(ROOT, 'bin', 'soliloquy.js')
let dataDir: string

function run(...args: string[]): { code: number | null; stdout: string; stderr: string; signal: NodeJS.Signals | null } {
  return runIn(dataDir, ...args)
}

function runIn(dir: string, ...args: string[]): { code: number | null; stdout: string; stderr: string; signal: NodeJS.Signals | null } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, SOLILOQUY_DATA: dir },
    timeout: 120_000,
  })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal }
}

beforeAll(() => {
  // the bin runs out/main/cli.js: never test stale code
  ensureCurrentBuild()
  expect(staleBuild()).toEqual({ out: null, native: null })
  expect(existsSync(join(ROOT, 'out', 'main', 'cli.js')), 'the CLI is built (npm run build)').toBe(true)
  dataDir = tmp()
}, 300_000)

describe('soliloquy CLI', () => {
  it('sweep --json on the embedded organism reproduces the reference completions', () => {
    const ref = reference()
    const r = run('sweep', '--json')
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout) as { phrase_ids: number[]; phrase_loss: number; rows: { lr: number; ids: number[]; text: string }[] }
    expect(out.phrase_ids).toEqual(ref.phrase_ids)
    expect(Math.abs(out.phrase_loss - ref.phrase_loss) / ref.phrase_loss).toBeLessThan(1e-4)
    // the organism's preset step sizes
    expect(out.rows.map((x) => x.lr)).toEqual([0, 0.001, 0.003, 0.01, 0.02, 0.03, 0.05, 0.1])
    for (const row of out.rows) {
      const want = ref.sweep.find((s) => s.lr === row.lr)
      if (!want) continue // 0.02 and 0.05 are not in the reference grid
      const n = comparableLength(want.plain.margins)
      expect(row.ids.slice(0, n), `α=${row.lr}`).toEqual(want.plain.ids.slice(0, n))
    }
    expect(out.rows[0].text.startsWith('a successful business owner, you need to be able to manage your time effectively.')).toBe(true)
    expect(out.rows[5].text.startsWith(", or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer")).toBe(true)
  })

  it("sweep prints the seed's Stepping Off table", () => {
    const r = run('sweep', '--lrs', '0,0.03', '--max-gen', '12')
    expect(r.code).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    const header = lines.find((l) => l.startsWith('gradStep'))!
    expect(header.split(/\s+/)).toEqual(['gradStep', '0.0', '3.0E-02'])
    const row = (i: number): string[] => lines.find((l) => l.startsWith(`${i} `))!.trim().split(/\s+/)
    expect(row(0)).toEqual(['0', 'To', 'To'])
    expect(row(1)).toEqual(['1', 'be', 'be,'])
    expect(row(2)).toEqual(['2', 'a', 'or'])
    expect(row(3)).toEqual(['3', 'successful', 'not'])
    expect(lines[lines.length - 1]).toMatch(/^-+$/)
  })

  it('grad --json gives the loss and every HF tensor norm', () => {
    const ref = reference()
    const r = run('grad', '--phrase', ref.phrase, '--json')
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout) as { phrase_ids: number[]; loss: number; grad_norms: Record<string, number> }
    expect(out.phrase_ids).toEqual(ref.phrase_ids)
    expect(Math.abs(out.loss - ref.phrase_loss) / ref.phrase_loss).toBeLessThan(1e-4)
    for (const [k, v] of Object.entries(ref.grad_norms)) expect(Math.abs(out.grad_norms[k] - v) / v, k).toBeLessThan(1e-3)
  })

  it('tokenize --json', () => {
    const ref = reference()
    for (const [text, ids] of Object.entries(ref.tokenization)) {
      const r = run('tokenize', '--text', text, '--json')
      expect(r.code).toBe(0)
      expect(JSON.parse(r.stdout)).toEqual({ ids })
    }
  })

  it('bad input exits non-zero with one line in words', () => {
    const cases: [string[], RegExp][] = [
      [['sweep', '--lrs', '0,abc'], /^soliloquy: --lrs: "abc" is not a finite number\n$/],
      [['sweep', '--model', '/no/such/model'], /^soliloquy: \/no\/such\/model: no such model directory\n$/],
      // validated by the API contract, as the app's routers do
      [['sweep', '--phrase', ''], /^soliloquy: sweep: Phrase: the phrase is empty\n$/],
      [['grad', '--phrase', 'to be or not '.repeat(40)], /^soliloquy: the phrase has \d+ tokens with BOS; max_seq_len is 128\n$/],
      [['sweep', '--bogus'], /^soliloquy: Unknown option '--bogus'.*\n$/],
      [['tokenize'], /^soliloquy: --text is required\n$/],
    ]
    for (const [args, msg] of cases) {
      const r = run(...args)
      expect(r.signal, args.join(' ')).toBeNull()
      expect(r.code, args.join(' ')).toBe(1)
      expect(r.stderr, args.join(' ')).toMatch(msg)
    }
    const u = run('frobnicate')
    expect(u.code).toBe(2)
    expect(u.stderr).toMatch(/^soliloquy: unknown command "frobnicate"/)
  })

  it('a large --json output through a slow pipe arrives whole (exit waits for stdout to drain)', () => {
    const text = 'To be, or not to be. '.repeat(4000) // ≈ 120 kB of ids as JSON, more than a pipe's 64 KiB
    const r = spawnSync('sh', ['-c', '"$0" "$1" tokenize --json --text "$2" | (sleep 1; cat)', process.execPath, BIN, text], {
      encoding: 'utf8',
      env: { ...process.env, SOLILOQUY_DATA: dataDir },
      maxBuffer: 1e8,
      timeout: 120_000,
    })
    expect(r.stdout.length).toBeGreaterThan(65_536)
    expect(() => JSON.parse(r.stdout)).not.toThrow()
  })

  it('--lr -0.03 is read as a value (not an unknown option) and answered with the step-size limits', () => {
    // its own history, so the ordered success-path tests below count only their own runs
    const r = runIn(tmp('soliloquy-cli-neglr-'), 'step', '--lr', '-0.03', '--max-gen', '2', '--json')
    expect(r.code).toBe(1)
    expect(r.stderr).toBe('soliloquy: step: Step size α: must be from 0 to 10 (got -0.03)\n')
  })

  it('a damaged history database is reported whole, on one line, with what to do', () => {
    const dir = tmp('soliloquy-cli-damaged-')
    const file = join(dir, 'history.sqlite')
    const db = new Database(file)
    db.exec('CREATE TABLE t (x TEXT); CREATE INDEX i ON t (x)')
    const ins = db.prepare('INSERT INTO t VALUES (?)')
    for (let i = 0; i < 3000; i++) ins.run(`row${i * 7919}`)
    db.close()
    const b = readFileSync(file)
    for (let p = 3; p < 6; p++) b.fill(0x41, p * 4096 + 100, p * 4096 + 400)
    writeFileSync(file, b)
    const r = spawnSync(process.execPath, [BIN, 'history', '--data', dir], { encoding: 'utf8', timeout: 60_000 })
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/^soliloquy: the history database .* is damaged \(Tree \d+ page \d+.*\); move it aside or restore a backup, and Soliloquy starts a new history\n$/)
  })

  it('names with terminal escape sequences are printed escaped, never raw', () => {
    const evil = 'evil\u001b[2J\u001b[31mred'
    for (const args of [['checkpoints', 'rename', evil, 'x'], ['checkpoints', 'save', '1', evil]]) {
      const r = run(...args)
      expect(r.code, args.join(' ')).toBe(1)
      expect(r.stderr).toContain('evil\\u001b[2J')
      expect(r.stderr).not.toMatch(/\u001b/)
    }
  })
})

describe('soliloquy history, show, experiment, table (issue 10)', () => {
  it('lists experiments, expands their runs, annotates them, prints the seed table as Markdown and CSV', () => {
    const dir = tmp('soliloquy-cli-experiments-')
    const at = (...args: string[]) => {
      const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, SOLILOQUY_DATA: dir }, timeout: 120_000 })
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(0)
      return r.stdout
    }
    at('sweep', '--lrs', '0,0.03', '--max-gen', '12')
    at('compare', '--lrs', '0.03', '--max-gen', '8')
    const page = JSON.parse(at('history', '--json')) as { total: number; experiments: { id: number; kind: string; maxGen: number; runCount: number }[] }
    expect(page.experiments.map((e) => [e.kind, e.maxGen, e.runCount])).toEqual([['compare', 8, 4], ['sweep', 12, 2]])
    const sweepId = page.experiments[1].id
    const expanded = JSON.parse(at('history', '--runs', '--json')) as { experiments: { runs: { lr: number; outputIds: number[] }[] }[] }
    expect(expanded.experiments[1].runs.map((r) => r.lr)).toEqual([0, 0.03])
    const text = at('history', '--runs')
    expect(text).toMatch(new RegExp(`^e${sweepId} +sweep +done`, 'm'))
    expect(text).toMatch(/^ {2}r\d+ +compare +done +0\.03 +\(prefixed\) To be/m)
    at('experiment', 'tag', `e${sweepId}`, 'hamlet,seed')
    at('experiment', 'star', String(sweepId))
    at('experiment', 'note', String(sweepId), 'the', 'seed')
    const starred = JSON.parse(at('history', '--starred', '--json')) as { experiments: { id: number; tags: string[]; notes: string }[] }
    expect(starred.experiments).toMatchObject([{ id: sweepId, tags: ['hamlet', 'seed'], notes: 'the seed' }])
    // show --json is the complete export: settings, every run's ids and metrics
    const x = JSON.parse(at('show', String(sweepId), '--json')) as { format: string; experiment: { settings: { maxGen: number } }; runs: { outputIds: number[]; metrics: { recall: number } }[] }
    expect(x.format).toBe('soliloquy-experiment')
    expect(x.experiment.settings.maxGen).toBe(12)
    expect(x.runs.map((r) => r.outputIds)).toEqual(expanded.experiments[1].runs.map((r) => r.outputIds))
    expect(at('show', String(sweepId))).toMatch(/^tags +hamlet, seed$/m)
    const md = at('table', String(sweepId), '--format', 'md').split('\n')
    expect(md.slice(0, 3)).toEqual(['| gradStep | 0.0 | 3.0E-02 |', '| --- | --- | --- |', '| 0 | To | To |'])
    const csv = at('table', String(sweepId), '--format', 'csv').split('\r\n')
    expect(csv.slice(0, 3)).toEqual(['gradStep,0,0.03', '0,To,To', '1,be,"be,"'])
    const bad = spawnSync(process.execPath, [BIN, 'table', 'r1'], { encoding: 'utf8', env: { ...process.env, SOLILOQUY_DATA: dir } })
    expect(bad.status).toBe(1)
    expect(bad.stderr).toBe('soliloquy: table: give an experiment (a sweep), not run 1\n')
  })
})

interface RunJson {
  id: number
  experimentId: number | null
  kind: string
  status: string
  lr: number | null
  outputIds: number[]
  outputText: string
  modelRef: string | null
  metrics: { phraseLossBefore?: number; phraseLossAfter?: number }
}
const rel = (a: number, b: number): number => Math.abs(a - b) / Math.abs(b)
const json = <T>(r: { code: number | null; stdout: string; stderr: string }): T => {
  expect(r.stderr).toBe('')
  expect(r.code).toBe(0)
  return JSON.parse(r.stdout) as T
}
interface ChainRef {
  phrase: string
  lr: number
  loss_before: number
  loss_after: number
  plain: { ids: number[]; margins: number[] }
}

describe('soliloquy CLI success paths (one data directory, in order)', () => {
  const ref = reference()
  const at = referenceAt
  const sameIds = expectSameIds
  let stepRun: RunJson

  it('step --lr 0.03 --save: the float64 reference completion and phrase losses, saved as a checkpoint', () => {
    const out = json<{ run: RunJson }>(run('step', '--lr', '0.03', '--save', 'hamlet', '--json'))
    stepRun = out.run
    expect(stepRun.kind).toBe('step')
    expect(stepRun.status).toBe('done')
    sameIds(stepRun.outputIds, at(0.03).plain, 'step α=0.03')
    expect(rel(stepRun.metrics.phraseLossBefore!, ref.phrase_loss)).toBeLessThan(1e-4)
    expect(rel(stepRun.metrics.phraseLossAfter!, at(0.03).phrase_loss_after)).toBeLessThan(1e-3)
    const text = run('step', '--lr', '0.01', '--max-gen', '8')
    expect(text.code).toBe(0)
    expect(text.stdout).toMatch(/phrase loss\s+0\.959\d* → /)
  })

  it('generate on the organism and on the saved checkpoint (ckpt:NAME): the reference completions at α = 0 and 0.03', () => {
    const base = json<{ run: RunJson }>(run('generate', '--json')).run
    sameIds(base.outputIds, at(0).plain, 'generate α=0')
    expect(base.outputText.startsWith('a successful business owner')).toBe(true)
    const stepped = json<{ run: RunJson }>(run('generate', '--model', 'ckpt:hamlet', '--json')).run
    expect(stepped.modelRef).toBe('ckpt:hamlet')
    sameIds(stepped.outputIds, at(0.03).plain, 'generate ckpt:hamlet')
    const text = run('generate', '--prompt', 'To be', '--max-gen', '6')
    expect(text.code).toBe(0)
    expect(text.stdout).toContain('To be a successful business owner')
  })

  it('compare: plain and engineered prompt at α = 0 and 0.03, each the reference completion', () => {
    const out = json<{ experiment: { result: { cells: { runId: number; prefixed: boolean; lr: number; text: string }[] } } }>(run('compare', '--lrs', '0.03', '--json'))
    const cells = out.experiment.result.cells
    expect(cells.map((c) => [c.prefixed, c.lr]).sort()).toEqual([[false, 0], [false, 0.03], [true, 0], [true, 0.03]].sort())
    for (const c of cells) {
      const r = json<{ run: RunJson }>(run('show', `r${c.runId}`, '--json')).run
      sameIds(r.outputIds, at(c.lr)[c.prefixed ? 'engineered' : 'plain'], `compare ${c.prefixed ? 'engineered' : 'plain'} α=${c.lr}`)
    }
  })

  it('lesson --steps FILE: each step at the model the last one left, as chains.json (float64)', () => {
    const chain = (JSON.parse(readFileSync(join(ORGANISM, 'chains.json'), 'utf8')) as { chains: ChainRef[][] }).chains[0]
    const file = join(tmp('soliloquy-cli-lesson-'), 'steps.json')
    writeFileSync(file, JSON.stringify(chain.map((s) => ({ phrase: s.phrase, lr: s.lr }))))
    const out = json<{ experiment: { result: { forgetting: { lesson: number; loss: number }[][] } }; runs: RunJson[] }>(run('lesson', '--steps', file, '--json'))
    expect(out.runs.length).toBe(chain.length)
    chain.forEach((want, k) => {
      const r = out.runs[k]
      expect(r.status).toBe('done')
      expect(rel(r.metrics.phraseLossBefore!, want.loss_before), `lesson ${k} loss before`).toBeLessThan(1e-3)
      expect(rel(r.metrics.phraseLossAfter!, want.loss_after), `lesson ${k} loss after`).toBeLessThan(1e-3)
      sameIds(r.outputIds, want.plain, `lesson ${k}`)
      // the forgetting curve has one row per lesson so far; the newest entry is this lesson's loss after its step
      expect(out.experiment.result.forgetting[k].map((f) => f.lesson)).toEqual(Array.from({ length: k + 1 }, (_, i) => i))
      expect(rel(out.experiment.result.forgetting[k][k].loss, want.loss_after)).toBeLessThan(1e-3)
    })
  })

  it('history: every run recorded, filtered by kind; show RUN prints one run in full', () => {
    const all = json<{ total: number; runs: RunJson[] }>(run('history', '--flat', '--json', '--limit', '100'))
    // 2 steps + 2 generates + 1 generate (text) + 4 compare cells + the lesson's steps
    const kinds = all.runs.map((r) => r.kind)
    expect(kinds.filter((k) => k === 'step').length).toBe(2)
    expect(kinds.filter((k) => k === 'generate').length).toBe(3)
    expect(kinds.filter((k) => k === 'compare').length).toBe(4)
    expect(all.runs.every((r) => r.status === 'done')).toBe(true)
    const steps = json<{ total: number; runs: RunJson[] }>(run('history', '--flat', '--kind', 'step', '--json'))
    expect(steps.total).toBe(2)
    expect(steps.runs.map((r) => r.id).sort()).toEqual(all.runs.filter((r) => r.kind === 'step').map((r) => r.id).sort())
    const table = run('history', '--flat')
    expect(table.code).toBe(0)
    expect(table.stdout.split('\n')[0].split(/\s+/).slice(0, 4)).toEqual(['run', 'kind', 'status', 'experiment'])
    expect(table.stdout).toMatch(new RegExp(`^r${stepRun.id}\\s+step\\s+done\\s+e${stepRun.experimentId}\\s+0\\.03`, 'm'))
    const show = run('show', `r${stepRun.id}`)
    expect(show.code).toBe(0)
    expect(show.stdout).toContain(`run r${stepRun.id} (step, done)  α = 0.03`)
    expect(show.stdout).toContain('saved as    checkpoint "hamlet"')
    expect(show.stdout).toContain(`output ids  [${stepRun.outputIds.join(',')}]`)
  })

  it('checkpoints: list, save RUN NAME, rename, delete (to the Trash, file kept), purge (the file goes too)', () => {
    const files = (): string[] => readdirSync(join(dataDir, 'checkpoints')).filter((f) => f.endsWith('.safetensors'))
    const list = (): { name: string; runId: number; file: string }[] => json(run('checkpoints', '--json'))
    expect(list().map((c) => c.name)).toEqual(['hamlet'])
    const second = json<{ runs: RunJson[] }>(run('history', '--flat', '--kind', 'step', '--json')).runs.find((r) => r.id !== stepRun.id)!
    const saved = json<{ name: string; runId: number; file: string }>(run('checkpoints', 'save', String(second.id), 'second', '--json'))
    expect(saved).toMatchObject({ name: 'second', runId: second.id })
    expect(list().map((c) => c.name).sort()).toEqual(['hamlet', 'second'])
    expect(files().length).toBe(2)
    expect(json<{ name: string }>(run('checkpoints', 'rename', 'second', 'third', '--json')).name).toBe('third')
    expect(list().map((c) => c.name).sort()).toEqual(['hamlet', 'third'])
    // the renamed checkpoint still loads: α = 0.01 step's completion
    const g = json<{ run: RunJson }>(run('generate', '--model', 'ckpt:third', '--json')).run
    sameIds(g.outputIds, at(0.01).plain, 'generate ckpt:third (α = 0.01)')
    expect(json<{ deleted: string[] }>(run('checkpoints', 'delete', 'third', '--json')).deleted).toEqual(['third'])
    expect(list().map((c) => c.name)).toEqual(['hamlet'])
    // deleted means in the Trash: the file stays until purged
    expect(files().length).toBe(2)
    expect(json<{ name: string }[]>(run('checkpoints', 'trash', '--json')).map((c) => c.name)).toEqual(['third'])
    expect(json<{ deleted: string[] }>(run('checkpoints', 'purge', 'third', '--json')).deleted).toEqual(['third'])
    expect(files().length).toBe(1)
    expect(existsSync(join(dataDir, saved.file))).toBe(false)
  })

  it('export CHECKPOINT --out DIR (hf): a model directory that generates the stepped completion on its own', () => {
    const out = join(tmp('soliloquy-cli-export-'), 'hamlet-hf')
    const r = json<{ dir: string; files: string[] }>(run('export', 'hamlet', '--out', out, '--json'))
    expect(r.dir).toBe(out)
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.model']) expect(existsSync(join(out, f)), f).toBe(true)
    const g = json<{ run: RunJson }>(run('generate', '--model', out, '--json')).run
    sameIds(g.outputIds, at(0.03).plain, 'generate on the exported directory')
    // exporting again into the now non-empty directory is refused, nothing overwritten
    const again = run('export', 'hamlet', '--out', out)
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/is not empty/)
  })

  it('serve: prints a tokened URL, serves the page with the token (401 without), answers over WebSocket, stops on SIGINT', async () => {
    const own = tmp('soliloquy-cli-serve-')
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--quiet'], { env: { ...process.env, SOLILOQUY_DATA: own }, stdio: ['ignore', 'pipe', 'pipe'] })
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on('exit', (code, signal) => res({ code, signal })))
    let stdout = ''
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString()
        const m = /^(http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{40,})$/m.exec(stdout)
        if (m) resolve(m[1])
      })
      void exited.then(() => reject(new Error(`serve exited early: ${stderr}`)))
    })
    const fetchPage = (u: string): Promise<{ status: number; body: string }> =>
      new Promise((resolve, reject) => {
        httpGet(u, (res) => {
          let body = ''
          res.on('data', (d: Buffer) => (body += d.toString()))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
        }).on('error', reject)
      })
    try {
      const page = await fetchPage(url)
      expect(page.status).toBe(200)
      expect(page.body).toBe(readFileSync(join(ROOT, 'out', 'renderer', 'index.html'), 'utf8'))
      expect((await fetchPage(url.replace(/\?token=.*/, ''))).status).toBe(401)
      // the real lab behind it, over the page's WebSocket: a generation is the reference completion and is recorded
      const u = new URL(url)
      const socket = new WebSocket(`ws://${u.host}/api?token=${u.searchParams.get('token')}`)
      const call = (id: number, method: string, args: unknown): Promise<{ id: number; ok: boolean; result?: unknown }> =>
        new Promise((resolve, reject) => {
          const onMessage = (d: Buffer): void => {
            const m = JSON.parse(d.toString()) as { id?: number; ok: boolean; result?: unknown }
            if (m.id !== id) return // progress messages
            socket.off('message', onMessage)
            resolve(m as { id: number; ok: boolean; result?: unknown })
          }
          socket.on('message', onMessage)
          socket.once('error', reject)
          socket.send(JSON.stringify({ id, method, args }))
        })
      await new Promise<void>((resolve, reject) => {
        socket.once('open', () => resolve())
        socket.once('error', reject)
      })
      const gen = await call(1, 'generate', { maxGen: 8 })
      expect(gen.ok, JSON.stringify(gen)).toBe(true)
      expect((gen.result as { run: RunJson }).run.outputIds).toEqual(at(0).plain.ids.slice(0, 8))
      expect(await call(2, 'history', {})).toMatchObject({ id: 2, ok: true, result: { total: 1 } })
      socket.close()
    } finally {
      child.kill('SIGINT')
    }
    expect(await exited).toEqual({ code: 0, signal: null })
    expect(stderr).toBe('')
    await expect(fetchPage(url)).rejects.toThrow(/ECONNREFUSED/)
  })

  it('Ctrl-C (SIGINT) in the middle of a sweep: "cancelled", exit code 130, the runs recorded as cancelled', async () => {
    const own = tmp('soliloquy-cli-sigint-')
    const child = spawn(process.execPath, [BIN, 'sweep', '--lrs', '0,0.01,0.03', '--max-gen', '400', '--max-seq', '512', '--json'], {
      env: { ...process.env, SOLILOQUY_DATA: own },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on('exit', (code, signal) => res({ code, signal })))
    let ended = false
    void exited.then(() => (ended = true))
    // wait until the sweep's rows are written as `running` (the child is then generating 3 × 400 tokens)
    let running = 0
    while (!ended && running === 0) {
      await new Promise((r) => setTimeout(r, 50))
      if (!existsSync(join(own, HISTORY_FILE))) continue
      const db = new Database(join(own, HISTORY_FILE), { readonly: true, fileMustExist: true })
      try {
        running = (db.prepare("SELECT COUNT(*) AS n FROM runs WHERE status = 'running' AND kind = 'sweep'").get() as { n: number }).n
      } catch {
        /* the schema is being created */
      } finally {
        db.close()
      }
    }
    expect(ended, `the sweep ended before it could be interrupted: ${stderr}`).toBe(false)
    child.kill('SIGINT')
    expect(await exited).toEqual({ code: 130, signal: null })
    expect(stderr).toBe('soliloquy: cancelled\n')
    expect(stdout).toBe('')
    const sweeps = json<{ total: number; runs: RunJson[] }>(run('history', '--flat', '--json', '--data', own))
    expect(sweeps.total).toBe(3)
    expect(sweeps.runs.map((r) => [r.kind, r.status, r.lr]).sort()).toEqual([['sweep', 'cancelled', 0], ['sweep', 'cancelled', 0.01], ['sweep', 'cancelled', 0.03]])
  })
})
