import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import type { CheckpointRecord, ExportDtype, ExportFormat, ExportResult } from '@shared/api'
import { api, ApiError, messageOf } from '../api/client'
import { useJob } from '../composables/useJob'

export interface TreeNode {
  c: CheckpointRecord
  depth: number
}

/** Saved steps (factors + lineage): list as a tree, save, rename, delete, export. */
export const useCheckpointsStore = defineStore('checkpoints', () => {
  const list = ref<CheckpointRecord[]>([])
  /** deleted checkpoints, restorable until purged */
  const trash = ref<CheckpointRecord[]>([])
  const loading = ref(false)
  const error = ref<string | null>(null)
  /** when the last error was a model that moved and was not found (kind modelMissing): the action, to try again once
   *  the user has located the model's folder (LocateModel) */
  const missingModelRetry = ref<(() => Promise<unknown>) | null>(null)
  /** shows a failed action's words; keeps `again` when what failed was a missing model */
  function failed(e: unknown, again: () => Promise<unknown>): void {
    error.value = messageOf(e)
    missingModelRetry.value = e instanceof ApiError && e.kind === 'modelMissing' ? again : null
  }
  const message = ref<string | null>(null)
  const busy = ref<number | null>(null)
  /** the export as a job of the lab (useJob) */
  const exportRun = useJob()
  const exportProgress = exportRun.progress
  const exportJob = exportRun.jobId

  /** Depth-first lineage: roots (steps from a plain model) then their children, indented. */
  const tree = computed<TreeNode[]>(() => {
    const byParent = new Map<number | null, CheckpointRecord[]>()
    const ids = new Set(list.value.map((c) => c.id))
    for (const c of list.value) {
      const p = c.parentId !== null && ids.has(c.parentId) ? c.parentId : null
      if (!byParent.has(p)) byParent.set(p, [])
      byParent.get(p)!.push(c)
    }
    const out: TreeNode[] = []
    const visit = (p: number | null, depth: number): void => {
      for (const c of (byParent.get(p) ?? []).sort((a, b) => a.id - b.id)) {
        out.push({ c, depth })
        visit(c.id, depth + 1)
      }
    }
    visit(null, 0)
    return out
  })

  async function refresh(): Promise<void> {
    loading.value = true
    error.value = null
    try {
      ;[list.value, trash.value] = await Promise.all([api().call('checkpoints', {}), api().call('checkpoints', { include: 'trash' })])
    } catch (e) {
      error.value = messageOf(e)
    } finally {
      loading.value = false
    }
  }

  async function save(runId: number, name: string): Promise<CheckpointRecord | null> {
    error.value = null
    message.value = null
    try {
      const c = await api().call('saveCheckpoint', { runId, name })
      message.value = `saved checkpoint “${c.name}” (${c.bytes.toLocaleString()} bytes)`
      await refresh()
      return c
    } catch (e) {
      error.value = messageOf(e)
      return null
    }
  }

  /** An action on checkpoint `id`: marks it busy, clears the last error, and shows a failure in words. */
  async function act(id: number, f: () => Promise<void>): Promise<boolean> {
    error.value = null
    missingModelRetry.value = null
    busy.value = id
    try {
      await f()
      await refresh()
      return true
    } catch (e) {
      failed(e, () => act(id, f))
      return false
    } finally {
      busy.value = null
    }
  }

  function rename(id: number, name: string): Promise<boolean> {
    return act(id, async () => {
      await api().call('renameCheckpoint', { id, name })
    })
  }

  function remove(id: number, force = false): Promise<boolean> {
    return act(id, async () => {
      const r = await api().call('deleteCheckpoint', { id, force })
      message.value = `deleted ${r.deleted.map((n) => `“${n}”`).join(', ')}: moved to the Trash (restore it from there until it is purged; runs keep their provenance)`
    })
  }

  function restore(id: number): Promise<boolean> {
    return act(id, async () => {
      const c = await api().call('restoreCheckpoint', { id })
      message.value = `restored “${c.name}” from the Trash`
    })
  }

  /** deletes one trashed checkpoint for good (its factor file too) */
  function purge(id: number): Promise<boolean> {
    return act(id, async () => {
      const r = await api().call('purgeCheckpoints', { id })
      message.value = `purged ${r.deleted.map((n) => `“${n}”`).join(', ')} for good`
    })
  }

  /** Exports checkpoint `id` as a merged HF directory, a merged GGUF file or a PEFT adapter (format default hf). */
  async function exportTo(id: number, outDir: string, o: { format?: ExportFormat; dtype?: ExportDtype } = {}): Promise<ExportResult | null> {
    error.value = null
    missingModelRetry.value = null
    message.value = null
    busy.value = id
    try {
      const r = await exportRun.run('exportCheckpoint', { id, outDir, ...(o.format ? { format: o.format } : {}), ...(o.dtype ? { dtype: o.dtype } : {}) })
      if (!r) {
        if (exportRun.failure.value) failed(exportRun.failure.value, () => exportTo(id, outDir, o))
        else error.value = 'the export was cancelled'
        return null
      }
      const what = r.format === 'gguf' ? 'GGUF file' : r.format === 'peft' ? 'PEFT adapter' : 'HF directory'
      message.value = `exported to ${r.dir} as a ${what} (${r.dtype}): ${r.files.join(', ')} (${(r.bytes / 1e6).toFixed(1)} MB)`
      return r
    } finally {
      busy.value = null
    }
  }

  function cancelExport(): Promise<void> {
    return exportRun.cancel()
  }

  return { list, trash, restore, purge, tree, loading, error, missingModelRetry, message, busy, exportProgress, exportJob, refresh, save, rename, remove, exportTo, cancelExport }
})
