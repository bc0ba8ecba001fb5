import { defineStore } from 'pinia'
import { ref } from 'vue'
import type { ExperimentFilter, ExperimentSummary, LabEvent, RunRecord } from '@shared/api'
import { api, messageOf } from '../api/client'

/**
 * Experiments as History lists them (one per action, holding its runs): filtered by kind, tag, star and text;
 * expanded to their runs on demand; notes, tags and star edited in place; kept current by the lab's events.
 */
export const useExperimentsStore = defineStore('experiments', () => {
  const list = ref<ExperimentSummary[]>([])
  const total = ref(0)
  const error = ref<string | null>(null)
  const kind = ref<'' | ExperimentSummary['kind']>('')
  const tag = ref('')
  const starred = ref(false)
  const text = ref('')
  /** expanded experiments: id → their runs */
  const runs = ref<Record<number, RunRecord[]>>({})
  /** events seen (the view shows that it is live, tests read it) */
  const events = ref(0)

  function filter(): ExperimentFilter {
    const f: ExperimentFilter = { sort: 'id', order: 'desc', limit: 200 }
    if (kind.value) f.kind = kind.value
    if (tag.value.trim()) f.tag = tag.value.trim()
    if (starred.value) f.starred = true
    if (text.value.trim()) f.text = text.value.trim()
    return f
  }

  async function refresh(): Promise<void> {
    error.value = null
    try {
      const page = await api().call('experiments', filter())
      list.value = page.experiments
      total.value = page.total
      await Promise.all(Object.keys(runs.value).map((id) => loadRuns(Number(id))))
    } catch (e) {
      error.value = messageOf(e)
    }
  }

  async function loadRuns(id: number): Promise<void> {
    const d = await api().call('experiment', { id })
    runs.value = { ...runs.value, [id]: d.runs }
    const i = list.value.findIndex((x) => x.id === id)
    if (i >= 0) list.value.splice(i, 1, d.experiment)
  }

  async function toggle(id: number): Promise<void> {
    if (runs.value[id]) {
      const { [id]: _gone, ...rest } = runs.value
      runs.value = rest
      return
    }
    try {
      await loadRuns(id)
    } catch (e) {
      error.value = messageOf(e)
    }
  }

  async function update(id: number, patch: { notes?: string; tags?: string[]; starred?: boolean; title?: string }): Promise<boolean> {
    error.value = null
    try {
      const e = await api().call('updateExperiment', { id, ...patch })
      const i = list.value.findIndex((x) => x.id === id)
      if (i >= 0) list.value.splice(i, 1, e)
      return true
    } catch (e) {
      error.value = messageOf(e)
      return false
    }
  }

  // live: one refresh per burst of events (a sweep's columns finish close together)
  let pending: ReturnType<typeof setTimeout> | undefined
  function onEvent(_e: LabEvent): void {
    events.value += 1
    clearTimeout(pending)
    pending = setTimeout(() => void refresh(), 120)
  }
  let unsubscribe: (() => void) | null = null
  /** subscribes to the lab's events; false when the transport has none (the view then polls) */
  function listen(): boolean {
    if (unsubscribe) return true
    const on = api().onEvent
    if (!on) return false
    unsubscribe = on.call(api(), onEvent)
    return true
  }

  return { list, total, error, kind, tag, starred, text, runs, events, refresh, toggle, update, listen }
})
