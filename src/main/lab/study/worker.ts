// `soliloquy worker`: a headless BullMQ worker of studies. It takes a cell's job, checks it against the contract,
// finds the model by fingerprint among its own model directories (no path from the queue is ever opened; a model it
// does not hold is refused, with the reason the submitter sees), runs the cell (cells.ts, the lab's batched sweep)
// and returns the result. Its connections reconnect when Redis restarts; killed at any moment (kill -9), its cell's lock
// expires and BullMQ's stalled-job check gives the cell to another worker — the lab records a cell once.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { hostname } from 'node:os'
import { join, resolve } from 'node:path'
import { UnrecoverableError, Worker, type Job } from 'bullmq'
import { Redis } from 'ioredis'
import { cellJobSchema, describeZodError, type CellResult } from '../../../shared/api'
import { CancelledError, Engine } from '../../engine/engine'
import { embeddedModelDir } from '../../engine/native'
import { modelFingerprint } from '../checkpoints/fingerprint'
import { computeCell } from './cells'
import { cellId, JOB_PREFIX } from './grid'
import { cancelKey, checkReachable, KEY_PREFIX, QUEUE_NAME, redisOptions, type CellProgress } from './queue'
import { parseQueueUrl, redactCredentials } from './queueUrl'

export interface WorkerOptions {
  /** redis://[user:pass@]HOST:PORT[/db] */
  queue: string
  concurrency: number
  /** directories holding models (each a model, or a folder of models); the embedded organism is always held */
  modelDirs: string[]
  threads: number
  /** a cell's lock: a worker silent this long (killed) loses its cell to another (default 10 s) */
  lockMs?: number
  log: (line: string) => void
}

/** Is `p` a model the engine opens (an HF/Meta directory or a .gguf file)? */
function looksLikeModel(p: string): boolean {
  try {
    const st = statSync(p)
    if (st.isFile()) return /\.gguf$/i.test(p)
    return existsSync(join(p, 'config.json')) || existsSync(join(p, 'params.json'))
  } catch {
    return false
  }
}

/** The models a worker holds, by fingerprint; engines opened on first use, one per concurrent cell. */
export class ModelShelf {
  private byFingerprint = new Map<string, string>()
  private free = new Map<string, Engine[]>()

  constructor(private readonly dirs: string[], private readonly threads: number) {
    this.scan()
  }

  /** Looks again (a model copied in while the worker runs is found on the next miss). */
  scan(): void {
    const found = new Map<string, string>()
    const candidates = [embeddedModelDir()]
    for (const d of this.dirs) {
      const abs = resolve(d)
      if (looksLikeModel(abs)) candidates.push(abs)
      else
        try {
          for (const n of readdirSync(abs)) if (looksLikeModel(join(abs, n))) candidates.push(join(abs, n))
        } catch {
          /* a directory that is not there holds nothing */
        }
    }
    for (const c of candidates)
      try {
        found.set(modelFingerprint(c).fingerprint, c)
      } catch {
        /* unreadable: not held */
      }
    this.byFingerprint = found
  }

  get count(): number {
    return this.byFingerprint.size
  }

  find(fingerprint: string): string | null {
    if (!this.byFingerprint.has(fingerprint)) this.scan()
    return this.byFingerprint.get(fingerprint) ?? null
  }

  take(dir: string): Engine {
    return this.free.get(dir)?.pop() ?? Engine.load(dir, { threads: this.threads })
  }

  give(dir: string, e: Engine): void {
    this.free.set(dir, [...(this.free.get(dir) ?? []), e])
  }
}

/** Runs a worker until `stop` resolves (SIGINT/SIGTERM in the CLI). */
export async function runWorker(o: WorkerOptions, stop: Promise<void>): Promise<void> {
  const address = parseQueueUrl(o.queue)
  await checkReachable(address)
  // a worker is told apart from another on the same machine by its pid
  const host = `${hostname()}:${process.pid}`
  const shelf = new ModelShelf(o.modelDirs, o.threads)
  const connection = redisOptions(address)
  const control = new Redis(connection as object)
  control.on('error', () => {})
  const lockDuration = o.lockMs ?? 10_000

  const runCell = async (job: Job): Promise<CellResult> => {
    const id = String(job.id ?? '')
    const parsed = cellJobSchema.safeParse(job.data)
    if (!parsed.success) throw new UnrecoverableError(`refused by ${host}: the job does not follow the contract (${describeZodError('cell', parsed.error)})`)
    const cell = id.slice(JOB_PREFIX.length)
    if (!id.startsWith(JOB_PREFIX) || cellId(parsed.data, null) !== cell)
      throw new UnrecoverableError(`refused by ${host}: the job's id is not the hash of its settings`)
    const dir = shelf.find(parsed.data.model.fingerprint)
    if (!dir)
      throw new UnrecoverableError(
        `refused by ${host}: no model with fingerprint ${parsed.data.model.fingerprint.slice(0, 12)}… ("${parsed.data.model.name}") among its ${shelf.count} model(s); start the worker with --models DIR holding it`,
      )
    await job.updateProgress({ host, phase: 'running' } satisfies CellProgress)
    const t0 = Date.now()
    o.log(`cell ${cell.slice(0, 12)}… (${parsed.data.model.name}, "${parsed.data.phrase.slice(0, 40)}", ${parsed.data.lrs.length} α) started`)
    const ctl = new AbortController()
    const poll = setInterval(() => {
      control.exists(cancelKey(cell)).then((n) => n > 0 && ctl.abort(), () => {})
    }, 250)
    const engine = shelf.take(dir)
    try {
      // progress per cell for the submitter's view: the phase and how far it is, at most twice a second
      let last = 0
      const onProgress = (p: { phase: string; done: number; total: number }): void => {
        const now = Date.now()
        if (now - last < 500) return
        last = now
        job.updateProgress({ host, phase: p.phase, done: p.done, total: p.total } satisfies CellProgress).catch(() => {})
      }
      const r = await computeCell(engine, [], cell, parsed.data, host, { signal: ctl.signal, onProgress })
      o.log(`cell ${cell.slice(0, 12)}… done in ${Date.now() - t0} ms`)
      return r
    } catch (e) {
      if (e instanceof CancelledError) {
        o.log(`cell ${cell.slice(0, 12)}… cancelled`)
        throw new UnrecoverableError(`cancelled on ${host}`)
      }
      const why = redactCredentials((e instanceof Error ? e.message : String(e)).split('\n')[0])
      o.log(`cell ${cell.slice(0, 12)}… failed: ${why}`)
      throw new UnrecoverableError(`failed on ${host}: ${why}`)
    } finally {
      clearInterval(poll)
      shelf.give(dir, engine)
    }
  }

  const worker = new Worker(QUEUE_NAME, runCell, {
    connection,
    prefix: KEY_PREFIX,
    concurrency: o.concurrency,
    lockDuration,
    stalledInterval: Math.max(1000, Math.floor(lockDuration / 2)),
    // a cell whose worker was killed goes back to the queue (not failed) a few times
    maxStalledCount: 5,
  })
  let down = false
  worker.on('error', (e) => {
    // Redis away: the worker reconnects by itself; said once per outage, without the address's credentials
    if (!down) o.log(`queue at ${address.redacted} unreachable (${redactCredentials(e.message.split('\n')[0])}); reconnecting`)
    down = true
  })
  worker.on('ready', () => {
    if (down) o.log(`queue at ${address.redacted} reachable again`)
    down = false
  })
  await worker.waitUntilReady()
  o.log(`worker on ${host}: queue ${address.redacted}, ${o.concurrency} cell(s) at a time, ${o.threads || 'all'} thread(s), ${shelf.count} model(s)`)
  await stop
  await worker.close()
  control.disconnect()
}
