import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import type { ModelInfo } from '@shared/api'
import { api, messageOf } from '../api/client'

/** Models the lab knows: the embedded organism plus every directory opened. */
export const useModelsStore = defineStore('models', () => {
  const models = ref<ModelInfo[]>([])
  const loading = ref(false)
  const loaded = ref(false)
  /** listing the models failed (shown wherever a model is picked) */
  const error = ref<string | null>(null)
  /** opening a directory failed (shown in the Models view, where it was asked for) */
  const openError = ref<string | null>(null)
  const opening = ref(false)

  const embedded = computed(() => models.value.find((m) => m.embedded) ?? null)

  let inflight: Promise<void> | null = null

  function refresh(): Promise<void> {
    inflight ??= doRefresh().finally(() => (inflight = null))
    return inflight
  }

  async function doRefresh(): Promise<void> {
    loading.value = true
    error.value = null
    try {
      models.value = await api().call('listModels', {})
      loaded.value = true
    } catch (e) {
      error.value = messageOf(e)
    } finally {
      loading.value = false
    }
  }

  async function ensure(): Promise<void> {
    if (!loaded.value) await refresh()
  }

  async function open(path: string): Promise<ModelInfo | null> {
    opening.value = true
    openError.value = null
    try {
      const m = await api().call('openModel', { path })
      const i = models.value.findIndex((x) => x.id === m.id)
      if (i >= 0) models.value.splice(i, 1, m)
      else models.value.push(m)
      return m
    } catch (e) {
      openError.value = messageOf(e)
      return null
    } finally {
      opening.value = false
    }
  }

  /** The reference string the lab services understand for a model: null for the organism, else its path. */
  function refOf(m: ModelInfo | null | undefined): string | null {
    if (!m || m.embedded) return null
    return m.path
  }

  return { models, loading, loaded, error, openError, opening, embedded, refresh, ensure, open, refOf }
})
