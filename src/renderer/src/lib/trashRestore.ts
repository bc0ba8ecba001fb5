// Restoring a checkpoint from the Trash restores its trashed ancestors too (a step is stored on top of its parent:
// without the parent it cannot be loaded). The Trash says so before the click and after it, naming them.
import type { CheckpointRecord } from '@shared/api'

/** the trashed ancestors restoring `c` brings back with it, nearest first (a loop in the lineage is cut) */
export function restoredWith(c: Pick<CheckpointRecord, 'id' | 'parentId'>, trash: readonly Pick<CheckpointRecord, 'id' | 'parentId' | 'name'>[]): string[] {
  const byId = new Map(trash.map((t) => [t.id, t]))
  const names: string[] = []
  const seen = new Set<number>([c.id])
  let p = c.parentId
  while (p !== null && byId.has(p) && !seen.has(p)) {
    seen.add(p)
    const t = byId.get(p)!
    names.push(t.name)
    p = t.parentId
  }
  return names
}

/** "also restores “a” (its parent)" / "… “a” and “b” (its ancestors)" — '' when it restores nothing else */
export function restoredWithWords(names: readonly string[]): string {
  if (names.length === 0) return ''
  const q = names.map((n) => `“${n}”`)
  return names.length === 1 ? `also restores ${q[0]}, the checkpoint it is built on` : `also restores ${q.slice(0, -1).join(', ')} and ${q[q.length - 1]}, the checkpoints it is built on`
}
