import { defineStore } from 'pinia'
import { ref } from 'vue'
import type { HistoryFilterArgs, RunDetail, RunRecord, RunStatus, ScatterPoint, SortKey } from '@shared/api'
import { api, messageOf } from '../api/client'
import { allRuns } from '../api/pages'

export type { SortKey }

/** Past runs: the filtered, sorted table, the plasticity-vs-stability scatter and one run's detail. */
export const useHistoryStore = defineStore('history', () => {
  const runs = ref<RunRecord[]>([])
  const total = ref(0)
  const points = ref<ScatterPoint[]>([])
  const loading = ref(false)
  const error = ref<string | null>(null)

  const phrase = ref('')
  const kind = ref<'' | 'sweep' | 'step' | 'compare' | 'lesson' | 'generate'>('')
  const status = ref<'' | RunStatus>('')
  const sort = ref<SortKey>('id')
  const order = ref<'asc' | 'desc'>('desc')
  const limit = ref(500)

  const detail = ref<RunDetail | null>(null)
  const detailError = ref<string | null>(null)

  function filter(): HistoryFilterArgs {
    const f: HistoryFilterArgs = { sort: sort.value, order: order.value, limit: limit.value }
    if (phrase.value.trim()) f.phrase = phrase.value.trim()
    if (kind.value) f.kind = kind.value
    if (status.value) f.status = status.value
    return f
  }

  async function refresh(): Promise<void> {
    loading.value = true
    error.value = null
    try {
      const f = filter()
      const [page, pts] = await Promise.all([
        api().call('history', f),
        api().call('scatter', { ...f, sort: undefined, order: undefined, limit: undefined }),
      ])
      runs.value = page.runs
      total.value = page.total
      points.value = pts
    } catch (e) {
      error.value = messageOf(e)
    } finally {
      loading.value = false
    }
  }

  function sortBy(k: SortKey): void {
    if (sort.value === k) order.value = order.value === 'asc' ? 'desc' : 'asc'
    else {
      sort.value = k
      order.value = k === 'started' || k === 'id' ? 'desc' : 'asc'
    }
    void refresh()
  }

  async function open(id: number): Promise<void> {
    detailError.value = null
    try {
      detail.value = await api().call('run', { id })
    } catch (e) {
      detail.value = null
      detailError.value = messageOf(e)
    }
  }

  /** Step sizes of an experiment's runs, in column order (for re-running a whole sweep). */
  async function experimentLrs(experimentId: number): Promise<number[]> {
    const runs = await allRuns({ experimentId, sort: 'id', order: 'asc' })
    return runs.map((r) => r.lr).filter((x): x is number => x !== null)
  }

  return { runs, total, points, loading, error, phrase, kind, status, sort, order, limit, detail, detailError, refresh, sortBy, open, experimentLrs }
})
