// No call freezes the lab (issue 20). The lab runs in one thread of its own process; a call that blocks it — a read
// that never ends (a FIFO or a device in place of a model file), a computation without end — would leave every
// client's calls waiting behind it. So the lab beats while its event loop turns (every BEAT_MS), and says when it
// begins a call; when it has calls in flight and has been silent for the budget, the host stops that lab process
// (SIGKILL, the way a native fault already ends it), answers the calls it had begun with the reason, starts a new
// lab process and hands it the calls the old one never began — another client's call is delayed by at most the
// budget. Long work is not an overrun: sweeps, generation and exports run in the engine's threads while the lab
// keeps beating; only a lab that stops answering is stopped.
//
// Tokenization of a tokenizer.json, the one synchronous computation a file can make endless, has its own, shorter
// budget inside the lab (engine/tokenizers/limits.ts): it is stopped with its own words before this one fires.
import type { FromWorker } from './protocol'

/** How often the lab says it is alive. */
export const BEAT_MS = 200
/** How long a lab with calls in flight may stay silent before it is stopped (SOLILOQUY_LAB_BUDGET_MS overrides). */
export const DEFAULT_LAB_BUDGET_MS = 30_000
const MIN_LAB_BUDGET_MS = 1000

export function labBudgetMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.SOLILOQUY_LAB_BUDGET_MS)
  return Number.isFinite(v) && v >= MIN_LAB_BUDGET_MS ? v : DEFAULT_LAB_BUDGET_MS
}

/** The lab's side: a beat every BEAT_MS while its event loop turns; returns the stop. */
export function startHeartbeat(post: (m: FromWorker) => void): () => void {
  const t = setInterval(() => post({ type: 'beat' }), BEAT_MS)
  t.unref?.()
  return () => clearInterval(t)
}

/** What the calls a stopped lab had begun are answered with. */
export function frozenReason(budgetMs: number, method: string | undefined): string {
  return (
    `the lab stopped answering for ${(budgetMs / 1000).toFixed(0)} s${method ? ` while ${method} ran` : ''} ` +
    '(a read that never ends — a FIFO or a device in place of a model file — or a computation without end); ' +
    'it was stopped and restarted, and this call with it'
  )
}

/** The host's side: calls `onFrozen` once when `busy()` holds and the lab has been silent for `budgetMs`. */
export class Watchdog {
  private last = Date.now()
  private lastTick = Date.now()
  private readonly timer: NodeJS.Timeout
  private fired = false

  constructor(
    readonly budgetMs: number,
    busy: () => boolean,
    onFrozen: () => void,
  ) {
    this.timer = setInterval(() => {
      const now = Date.now()
      // this process was itself held up (its beats may be queued unread): count from now, not from before
      if (now - this.lastTick > this.budgetMs / 2) this.last = now
      this.lastTick = now
      if (this.fired || !busy() || now - this.last <= this.budgetMs) return
      this.fired = true
      this.stop()
      onFrozen()
    }, BEAT_MS)
    this.timer.unref?.()
  }

  /** Any message from the lab. */
  alive(): void {
    this.last = Date.now()
  }

  stop(): void {
    clearInterval(this.timer)
  }
}
