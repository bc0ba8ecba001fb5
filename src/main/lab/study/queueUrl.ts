// A queue's address (redis://[user:pass@]HOST:PORT[/db], rediss:// for TLS) as connection options, and the same address
// with its credentials removed: the only form that is ever stored (the study's settings), printed or logged.
import { InputError } from '../../engine/engine'

export interface QueueAddress {
  host: string
  port: number
  db: number
  username?: string
  password?: string
  tls: boolean
  /** redis://HOST:PORT/db — never the credentials */
  redacted: string
}

export function parseQueueUrl(url: string): QueueAddress {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new InputError('the queue must be redis://[user:pass@]HOST:PORT[/db] or rediss://… (not a URL)')
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw new InputError(`the queue must be a redis:// or rediss:// address (got ${u.protocol.replace(/:$/, '')}://…)`)
  if (!u.hostname) throw new InputError('the queue address names no host (redis://HOST:PORT)')
  const dbText = u.pathname.replace(/^\//, '')
  const db = dbText === '' ? 0 : Number(dbText)
  if (!Number.isInteger(db) || db < 0 || db > 15) throw new InputError(`the queue's database must be a number from 0 to 15 (got "${dbText}")`)
  const port = u.port ? Number(u.port) : 6379
  const host = u.hostname.replace(/^\[|\]$/g, '')
  const tls = u.protocol === 'rediss:'
  return {
    host,
    port,
    db,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    tls,
    redacted: `${u.protocol}//${u.hostname}:${port}/${db}`,
  }
}

/** Any text with a queue address in it, credentials replaced by "***" (error messages from the client, for one). */
export function redactCredentials(text: string): string {
  return text.replace(/(rediss?:\/\/)[^@\s/]*@/g, '$1***@')
}
