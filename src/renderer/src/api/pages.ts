// Every run a filter matches, page after page: the lab answers at most LIMITS.page.max rows per call (the limit the
// contract states), so a view that needs them all (a whole experiment, every window search) asks for the next page
// until it has the total, instead of asking for one huge page that would be refused.
import { LIMITS, type HistoryFilterArgs, type RunRecord } from '@shared/api'
import { api } from './client'

export async function allRuns(f: Omit<HistoryFilterArgs, 'limit' | 'offset'>): Promise<RunRecord[]> {
  const out: RunRecord[] = []
  for (;;) {
    const page = await api().call('history', { ...f, limit: LIMITS.page.max, offset: out.length })
    out.push(...page.runs)
    if (page.runs.length === 0 || out.length >= page.total) return out
  }
}
