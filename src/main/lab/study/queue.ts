// The study's queue on Redis, through BullMQ (a distributed job engine, not a scheduler of our own): one job per cell
// with id "cell-" + the cell's id, so adding a cell twice adds nothing; the submitting lab's side (add, look up, cancel,
// listen with QueueEvents) and the connection settings the worker shares. Connections retry forever once up (a Redis
// restart is survived); the first contact fails at once, in words, when the queue cannot be reached.
import { Queue, QueueEvents, type RedisOptions } from 'bullmq'
import { Redis } from 'ioredis'
import type { CellJob } from '../../../shared/api'
import { InputError } from '../../engine/engine'
import { jobIdOf } from './grid'
import { redactCredentials, type QueueAddress } from './queueUrl'

export const QUEUE_NAME = 'cells'
/** every key of ours in Redis starts with this */
export const KEY_PREFIX = 'soliloquy'
/** finished jobs are kept this long, so `soliloquy study collect` finds cells finished while the lab was closed */
export const KEEP_FINISHED_S = 14 * 24 * 3600
/** a running cell is stopped when this key exists (the submitter's cancel) */
export const cancelKey = (cell: string): string => `${KEY_PREFIX}:cancel:${cell}`

/** What a worker reports while it runs a cell (job.progress). */
export interface CellProgress {
  host: string
  phase: string
  done?: number
  total?: number
}

/** Connection options; credentials only here, in memory. Reconnects with back-off, forever, once connected. */
export function redisOptions(a: QueueAddress): RedisOptions {
  return {
    host: a.host,
    port: a.port,
    db: a.db,
    ...(a.username ? { username: a.username } : {}),
    ...(a.password ? { password: a.password } : {}),
    ...(a.tls ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
    retryStrategy: (n: number) => Math.min(2000, 100 * n),
  }
}

/** The queue answers (PING), or an error in words naming it without credentials — at once, no retries. */
export async function checkReachable(a: QueueAddress): Promise<void> {
  const r = new Redis({ ...(redisOptions(a) as object), lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, enableOfflineQueue: false, connectTimeout: 3000 })
  let first: Error | null = null
  r.on('error', (e: Error) => (first ??= e))
  try {
    await r.connect()
    await r.ping()
  } catch (e) {
    // the socket's own error (ECONNREFUSED, ENOTFOUND) says more than the client's "Connection is closed."
    const msg = redactCredentials((first ?? (e as Error)).message ?? String(e))
    if (/NOAUTH|WRONGPASS|invalid password|invalid username/i.test(msg))
      throw new InputError(`the queue at ${a.redacted} refused the credentials given (${msg.split('\n')[0]})`)
    throw new InputError(`cannot reach the queue at ${a.redacted}: ${msg.split('\n')[0]} (is redis-server running there, and the port open to this machine?)`)
  } finally {
    r.disconnect()
  }
}

export type CellJobState = 'completed' | 'failed' | 'active' | 'queued' | 'missing'

/** The submitter's side of the queue. */
export class CellQueue {
  readonly queue: Queue
  readonly events: QueueEvents
  private readonly redis: Redis

  constructor(readonly address: QueueAddress) {
    const connection = redisOptions(address)
    this.queue = new Queue(QUEUE_NAME, { connection, prefix: KEY_PREFIX })
    this.events = new QueueEvents(QUEUE_NAME, { connection, prefix: KEY_PREFIX })
    this.redis = new Redis(connection as object)
    // connection errors while Redis restarts: the clients reconnect; never logged (an address could carry a password)
    this.queue.on('error', () => {})
    this.events.on('error', () => {})
    this.redis.on('error', () => {})
  }

  /** Adds the cells' jobs; a cell whose job exists already is left as it is (the id is the cell's). */
  async add(cells: { id: string; job: CellJob }[]): Promise<void> {
    const opts = { removeOnComplete: { age: KEEP_FINISHED_S }, removeOnFail: { age: KEEP_FINISHED_S }, attempts: 1 }
    for (let i = 0; i < cells.length; i += 500)
      await this.queue.addBulk(cells.slice(i, i + 500).map((c) => ({ name: 'cell', data: c.job, opts: { ...opts, jobId: jobIdOf(c.id) } })))
  }

  /** A cell's job: its state and, when finished, its return value or reason; running: the worker's progress. */
  async look(cell: string): Promise<{ state: CellJobState; result?: unknown; reason?: string; progress?: CellProgress; queuedMs?: number }> {
    const job = await this.queue.getJob(jobIdOf(cell))
    if (!job) return { state: 'missing' }
    const s = await job.getState()
    const queuedMs = job.processedOn ? Math.max(0, job.processedOn - job.timestamp) : undefined
    if (s === 'completed') return { state: 'completed', result: job.returnvalue, queuedMs }
    if (s === 'failed') return { state: 'failed', reason: job.failedReason }
    if (s === 'active') return { state: 'active', progress: job.progress as CellProgress }
    return { state: 'queued' }
  }

  /** A failed job run again (the study resubmitted after a refusal). */
  async retry(cell: string): Promise<void> {
    const job = await this.queue.getJob(jobIdOf(cell))
    if (job && (await job.getState()) === 'failed') await job.retry('failed')
  }

  /** Queued jobs removed; running ones asked to stop at their next token. Returns the cells removed while queued. */
  async cancel(cells: string[]): Promise<string[]> {
    const removed: string[] = []
    for (const cell of cells) {
      const job = await this.queue.getJob(jobIdOf(cell))
      if (!job) continue
      const s = await job.getState()
      if (s === 'waiting' || s === 'delayed' || s === 'prioritized' || s === 'waiting-children') {
        try {
          await job.remove()
          removed.push(cell)
          continue
        } catch {
          /* taken by a worker meanwhile: stop it as a running one */
        }
      }
      if (s !== 'completed' && s !== 'failed') await this.redis.set(cancelKey(cell), '1', 'EX', 3600)
    }
    return removed
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.events.close(), this.queue.close()])
    this.redis.disconnect()
  }
}
