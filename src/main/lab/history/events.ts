// Change notifications of one history database: the run and experiment writers announce what they changed, after
// the transaction that changed it, so the lab can push a LabEvent to every client (History updates without Refresh).
// One emitter per connection, so two labs in one process (tests, a second worker) never hear each other's runs.
import { EventEmitter } from 'node:events'
import type { LabEvent, RunStatus } from '../../../shared/api'
import type { DB } from './db'

const emitters = new WeakMap<DB, EventEmitter>()

export function historyEvents(db: DB): EventEmitter {
  let e = emitters.get(db)
  if (!e) {
    e = new EventEmitter()
    e.setMaxListeners(100)
    emitters.set(db, e)
  }
  return e
}

/** Announces a change (call after the transaction committed). */
export function announce(db: DB, ev: Omit<LabEvent, 'at'>): void {
  historyEvents(db).emit('event', { ...ev, at: new Date().toISOString() } satisfies LabEvent)
}

export function onHistoryEvent(db: DB, cb: (e: LabEvent) => void): () => void {
  const em = historyEvents(db)
  em.on('event', cb)
  return () => em.off('event', cb)
}

export type { RunStatus }
