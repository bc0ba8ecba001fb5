// One builder for the history's lists (runs, experiments): the WHERE clause of a filter, the order and the page.
// A page holds at most LIMITS.page.max rows, the limit the contract states for `history` and `experiments`; callers
// that want everything ask page after page.
import { LIMITS } from '../../../shared/api'

/** Conditions joined by AND, with their parameters in order. */
export class Where {
  private readonly parts: string[] = []
  readonly params: unknown[] = []

  add(sql: string, ...params: unknown[]): void {
    this.parts.push(sql)
    this.params.push(...params)
  }

  /** `col IN (…)` for one value or a list; nothing for an absent or empty list. */
  inList(col: string, v: string | readonly string[] | undefined): void {
    if (v === undefined) return
    const list = typeof v === 'string' ? [v] : v
    if (list.length === 0) return
    this.add(`${col} IN (${list.map(() => '?').join(', ')})`, ...list)
  }

  /** from ≤ col ≤ to, ISO dates inclusive: a bare date as `to` means the whole day. */
  dateRange(col: string, from: string | undefined, to: string | undefined): void {
    if (from) this.add(`${col} >= ?`, from)
    if (to) this.add(`${col} <= ?`, /^\d{4}-\d{2}-\d{2}$/.test(to) ? `${to}T23:59:59.999Z` : to)
  }

  get sql(): string {
    return this.parts.length ? `WHERE ${this.parts.join(' AND ')}` : ''
  }
}

/** Rows without a value last, then by `col`, ties by id in the same direction. */
export function orderBy(col: string, order: 'asc' | 'desc' | undefined, idCol: string): string {
  const dir = order === 'asc' ? 'ASC' : 'DESC'
  return `ORDER BY ${col} IS NULL, ${col} ${dir}, ${idCol} ${dir}`
}

/** The page asked for: 50 rows by default, at most LIMITS.page.max. */
export function page(f: { limit?: number; offset?: number }): { limit: number; offset: number } {
  const limit = Number.isFinite(f.limit) ? Math.max(1, Math.min(LIMITS.page.max, Math.floor(f.limit!))) : 50
  const offset = Number.isFinite(f.offset) ? Math.max(0, Math.floor(f.offset!)) : 0
  return { limit, offset }
}
