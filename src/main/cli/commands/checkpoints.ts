// `soliloquy checkpoints` (list with lineage and sizes; `save RUN NAME`, `rename NAME NEW`, `delete NAME [--force]`)
// and `soliloquy export [CKPT] [--model M] --format hf|gguf|peft --out PATH` (merged HF directory, merged GGUF file,
// or the step as a PEFT adapter with the measured KL of what it cannot carry).
import { InputError } from '../../engine/engine'
import { exportDtypes, exportFormats, TRASH_DAYS, type CheckpointRecord, type ExportDtype, type ExportFormat, type ExportResult } from '../../../shared/api'
import { resolve } from 'node:path'
import { Flags, fmtBytes, formatTable, labFlags, oneLine, printable, printJson, str, withLab } from '../common'
import { parseRunId, runId } from '../ids'

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
      return flags.json ? printJson(c) : process.stdout.write(`renamed "${printable(a)}" to "${printable(c.name)}"\n`)
    }
    if (action === 'delete') {
      if (!a) throw new InputError('usage: soliloquy checkpoints delete NAME [--force] [--purge]')
      const r = await lab.call('deleteCheckpoint', { id: a, force: flags.force === true, purge: flags.purge === true })
      if (flags.json) return printJson(r)
      const names = r.deleted.map((n) => `"${printable(n)}"`).join(', ')
      return process.stdout.write(
        r.trashed
          ? `moved ${names} to the Trash (restore: soliloquy checkpoints restore NAME; purged after ${TRASH_DAYS} days)\n`
          : `deleted ${names} for good (${fmtBytes(r.freedBytes)} freed)\n`,
      )
    }
    if (action === 'restore') {
      if (!a) throw new InputError('usage: soliloquy checkpoints restore NAME')
      const c = await lab.call('restoreCheckpoint', { id: a })
      return flags.json ? printJson(c) : process.stdout.write(`restored "${printable(c.name)}" from the Trash\n`)
    }
    if (action === 'purge') {
      const r = await lab.call('purgeCheckpoints', a ? { id: a } : { olderThanDays: 0 })
      return flags.json ? printJson(r) : process.stdout.write(`purged ${r.deleted.length} checkpoint${r.deleted.length === 1 ? '' : 's'} (${fmtBytes(r.freedBytes)} freed)\n`)
    }
    if (action === 'save') {
      const usage = 'usage: soliloquy checkpoints save RUN NAME (r34 or 34)'
      if (!b) throw new InputError(usage)
      const run = parseRunId(a, usage)
      const c = await lab.call('saveCheckpoint', { runId: run, name: b })
      return flags.json ? printJson(c) : process.stdout.write(`saved run ${runId(run)} as "${printable(c.name)}" (${fmtBytes(c.bytes)})\n`)
    }
    if (action !== undefined && action !== 'trash')
      throw new InputError(`unknown checkpoints action "${action}" (use rename, delete, restore, purge, trash or save)`)
    const list = await lab.call('checkpoints', { include: action === 'trash' ? 'trash' : 'live' })
    if (flags.json) return printJson(list)
    if (list.length === 0)
      return process.stdout.write(action === 'trash' ? 'the Trash is empty\n' : 'no checkpoints saved yet (soliloquy step … --save NAME)\n')
    const rows = (action === 'trash' ? list : tree(list)).map((c) => [
      c.id,
      `${'  '.repeat(c.depth - 1)}${c.depth > 1 ? '└ ' : ''}${printable(c.name)}`,
      c.lr,
      oneLine(c.phrase, 40),
      fmtBytes(c.bytes),
      runId(c.runId),
      c.sha256.slice(0, 12),
      c.createdAt.replace('T', ' ').slice(0, 19),
    ])
    process.stdout.write(formatTable(['id', 'name', 'α', 'phrase', 'size', 'run', 'sha256', 'created'], rows) + '\n')
  })
}

export const exportOptions = {
  data: labFlags.data,
  model: labFlags.model,
  models: labFlags.models,
  threads: labFlags.threads,
  json: labFlags.json,
  out: { type: 'string' },
  format: { type: 'string' },
  dtype: { type: 'string' },
} as const

const EXPORT_USAGE = 'usage: soliloquy export [CHECKPOINT] [--model M] --format hf|gguf|peft --out PATH [--dtype F32|F16|BF16|Q8_0|Q4_0|Q4_K|Q6_K|Q4_K_M|Q3_K_S|Q3_K_M|Q3_K_L|Q5_K_S|Q5_K_M]'

export async function exportCommand(flags: Flags, positionals: string[]): Promise<void> {
  const id = positionals[0]
  const out = str(flags, 'out')
  if (!out || positionals.length > 1) throw new InputError(EXPORT_USAGE)
  const format = (str(flags, 'format') ?? 'hf').toLowerCase()
  if (!(exportFormats as readonly string[]).includes(format)) throw new InputError(`--format must be hf, gguf or peft (got ${format})`)
  const dtype = str(flags, 'dtype')?.toUpperCase()
  if (dtype !== undefined && !(exportDtypes as readonly string[]).includes(dtype))
    throw new InputError(`--dtype must be one of ${exportDtypes.join(', ')} (got ${dtype})`)
  const model = str(flags, 'model')
  if (format === 'peft' && id === undefined)
    throw new InputError('--format peft exports a step as an adapter: name a CHECKPOINT (the base model has no step to carry)')
  if (id !== undefined && model !== undefined) throw new InputError('give a CHECKPOINT or --model, not both (a checkpoint knows its model)')
  await withLab(flags, async (lab) => {
    const r = await lab.call('exportCheckpoint', {
      ...(id !== undefined ? { id } : { model: model ?? null }),
      format: format as ExportFormat,
      // a relative --out is relative to where the user typed the command
      outDir: resolve(out),
      ...(dtype ? { dtype: dtype as ExportDtype } : {}),
    })
    if (flags.json) return printJson(r)
    const what = r.checkpoint ? `"${printable(r.checkpoint.name)}"` : 'the model'
    if (r.format === 'peft' && r.peft) {
      const p = r.peft
      process.stdout.write(`exported ${what} as a PEFT LoRA adapter (rank ${p.rank}, ${r.dtype}) to ${r.dir} (${r.files.join(', ')}, ${fmtBytes(r.bytes)})\n`)
      process.stdout.write(`KL(merged ‖ adapter) on the probes: mean ${p.normLoss.meanKL.toExponential(3)} nats, max ${p.normLoss.maxKL.toExponential(3)}\n`)
      for (const [name, kl] of Object.entries(p.normLoss.perProbe)) process.stdout.write(`  ${name}: ${kl.toExponential(3)}\n`)
      process.stdout.write('not carried by the adapter:\n')
      for (const n of p.notCarried) process.stdout.write(`  - ${n}\n`)
      writeFidelity(r.fidelity)
      return
    }
    const kind = r.format === 'gguf' ? `a GGUF file (${r.dtype})` : `a Hugging Face directory (${r.dtype}; ${r.files.join(', ')})`
    process.stdout.write(`exported ${what} merged as ${kind} to ${r.dir} (${fmtBytes(r.bytes)})\n`)
    for (const n of r.notes ?? []) process.stdout.write(`note: ${n}\n`)
    writeFidelity(r.fidelity)
  })
}

/** The export's measured fidelity, and its warning in words. */
function writeFidelity(f: ExportResult['fidelity']): void {
  if (!f) return
  process.stdout.write(`fidelity: ${f.summary}\n`)
  if (f.warning) process.stdout.write(`warning: ${f.warning}\n`)
}
