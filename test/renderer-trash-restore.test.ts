// The Trash says what else a restore brings back (src/renderer/src/lib/trashRestore.ts): a child's trashed ancestors.
import { describe, expect, it } from 'vitest'
import { restoredWith, restoredWithWords } from '../src/renderer/src/lib/trashRestore'

const trash = [
  { id: 1, parentId: null, name: 'root' },
  { id: 2, parentId: 1, name: 'child' },
  { id: 3, parentId: 2, name: 'grandchild' },
  { id: 5, parentId: 4, name: 'on a live parent' },
]

describe('restoredWith', () => {
  it('a grandchild brings back its trashed parent and grandparent, nearest first', () => {
    expect(restoredWith(trash[2], trash)).toEqual(['child', 'root'])
    expect(restoredWithWords(restoredWith(trash[2], trash))).toBe('also restores “child” and “root”, the checkpoints it is built on')
  })
  it('a child of a trashed root brings back the root', () => {
    expect(restoredWithWords(restoredWith(trash[1], trash))).toBe('also restores “root”, the checkpoint it is built on')
  })
  it('a root, or a child whose parent is live, restores nothing else', () => {
    expect(restoredWith(trash[0], trash)).toEqual([])
    expect(restoredWith(trash[3], trash)).toEqual([])
    expect(restoredWithWords([])).toBe('')
  })
  it('a loop in the lineage ends', () => {
    const loop = [{ id: 1, parentId: 2, name: 'a' }, { id: 2, parentId: 1, name: 'b' }]
    expect(restoredWith(loop[0], loop)).toEqual(['b'])
  })
})
