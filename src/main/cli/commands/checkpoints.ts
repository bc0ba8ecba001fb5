// `soliloquy checkpoints` (list with lineage and sizes; `save RUN NAME`, `rename NAME NEW`, `delete NAME [--force]`)
// and `soliloquy export CKPT --out DIR` (the checkpoint merged into a standard HF directory).
import { InputError } from '../../engine/engine'
import { TRASH_DAYS, type CheckpointRecord } from '../../../shared/api'
import { Flags, fmtBytes, formatTable, labFlags, oneLine, printJson, str, withLab } from '../common'

export const checkpointsOptions = {
  data: labFlags.data,
  json: labFlags.json,
  force: { type: 'boolean' },
  /** delete: for good instead of to the Trash */
  purge: { type: 'boolean' },
} as const

function tree(list: CheckpointRecord[]): CheckpointRecord[] {
  const byParent = new Map<number | null, CheckpointRecord[]>()
  for (const c of list) byParent.set(c.parentId, [...(byParent.get(c.parentId) ?? []), c])
  const out: CheckpointRecord[] = []
  const visit = (p: number | null): void => {
    for (const c of byParent.get(p) ?? []) {
      out.push(c)
      visit(c.id)
    }
  }
  visit(null)
  return out
}

export async function checkpointsCommand(flags: Flags, positionals: string[]): Promise<void> {
  const [action, a, b] = positionals
  await withLab(flags, async (lab) => {
    if (action === 'rename') {
      if (!a || !b) throw new InputError('usage: soliloquy checkpoints rename NAME NEW_NAME')
      const c = await lab.call('renameCheckpoint', { id: a, name: b })
      return flags.json ? printJson(c) : process.stdout.write(`renamed "${a}" to "${c.name}"\n`)
    }
    if (action === 'delete') {
      if (!a) throw new InputError('usage: soliloquy checkpoints delete NAME [--force] [--purge]')
      const r = await lab.call('deleteCheckpoint', { id: a, force: flags.force === true, purge: flags.purge === true })
      if (flags.json) return printJson(r)
      const names = r.deleted.map((n) => `"${n}"`).join(', ')
      return process.stdout.write(
        r.trashed
          ? `moved ${names} to the Trash (restore: soliloquy checkpoints restore NAME; purged after ${TRASH_DAYS} days)\n`
          : `deleted ${names} for good (${fmtBytes(r.freedBytes)} freed)\n`,
      )
    }
    if (action === 'restore') {
      if (!a) throw new InputError('usage: soliloquy checkpoints restore NAME')
      const c = await lab.call('restoreCheckpoint', { id: a })
      return flags.json ? printJson(c) : process.stdout.write(`restored "${c.name}" from the Trash\n`)
    }
    if (action === 'purge') {
      const r = await lab.call('purgeCheckpoints', a ? { id: a } : { olderThanDays: 0 })
      return flags.json ? printJson(r) : process.stdout.write(`purged ${r.deleted.length} checkpoint${r.deleted.length === 1 ? '' : 's'} (${fmtBytes(r.freedBytes)} freed)\n`)
    }
    if (action === 'save') {
      if (!a || !/^\d+$/.test(a) || !b) throw new InputError('usage: soliloquy checkpoints save RUN NAME')
      const c = await lab.call('saveCheckpoint', { runId: Number(a), name: b })
      return flags.json ? printJson(c) : process.stdout.write(`saved run ${a} as "${c.name}" (${fmtBytes(c.bytes)})\n`)
    }
    if (action !== undefined && action !== 'trash')
      throw new InputError(`unknown checkpoints action "${action}" (use rename, delete, restore, purge, trash or save)`)
    const list = await lab.call('checkpoints', { include: action === 'trash' ? 'trash' : 'live' })
    if (flags.json) return printJson(list)
    if (list.length === 0)
      return process.stdout.write(action === 'trash' ? 'the Trash is empty\n' : 'no checkpoints saved yet (soliloquy step … --save NAME)\n')
    const rows = (action === 'trash' ? list : tree(list)).map((c) => [
      c.id,
      `${'  '.repeat(c.depth - 1)}${c.depth > 1 ? '└ ' : ''}${c.name}`,
      c.lr,
      oneLine(c.phrase, 40),
      fmtBytes(c.bytes),
      c.runId ?? '',
      c.sha256.slice(0, 12),
      c.createdAt.replace('T', ' ').slice(0, 19),
    ])
    process.stdout.write(formatTable(['id', 'name', 'α', 'phrase', 'size', 'run', 'sha256', 'created'], rows) + '\n')
  })
}

export const exportOptions = {
  data: labFlags.data,
  threads: labFlags.threads,
  json: labFlags.json,
  out: { type: 'string' },
  dtype: { type: 'string' },
} as const

export async function exportCommand(flags: Flags, positionals: string[]): Promise<void> {
  const id = positionals[0]
  const out = str(flags, 'out')
  if (!id || !out) throw new InputError('usage: soliloquy export CHECKPOINT --out DIR [--dtype F32|F16|BF16]')
  const dtype = str(flags, 'dtype')?.toUpperCase()
  if (dtype !== undefined && !['F32', 'F16', 'BF16'].includes(dtype)) throw new InputError(`--dtype must be F32, F16 or BF16 (got ${dtype})`)
  await withLab(flags, async (lab) => {
    const r = await lab.call('exportCheckpoint', { id, outDir: out, dtype: dtype as 'F32' | 'F16' | 'BF16' | undefined })
    if (flags.json) return printJson(r)
    process.stdout.write(`exported "${r.checkpoint.name}" merged to ${r.dir} (${r.files.join(', ')}, ${fmtBytes(r.bytes)})\n`)
  })
}
