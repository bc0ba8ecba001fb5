// `soliloquy lesson --steps FILE`: steps in order (FILE: JSON list of {phrase, lr}), each gradient taken at the model
// the previous step left; after each step every earlier lesson is measured again — the forgetting curve.
import { InputError } from '../../engine/engine'
import type { ChainStep } from '../../../shared/api'
import { Flags, fmt, formatTable, oneLine, printJson, str, withLab } from '../common'
import { expId, runId, runRange } from '../ids'
import { experimentArgs, experimentFlags } from './step'
import { readJsonArg } from '../args'

export const lessonOptions = {
  ...experimentFlags,
  steps: { type: 'string' },
} as const

export async function lessonCommand(flags: Flags): Promise<void> {
  const file = str(flags, 'steps')
  if (!file) throw new InputError('--steps FILE is required (a JSON list of {"phrase": …, "lr": …})')
  const raw = readJsonArg(file, '--steps')
  const list = Array.isArray(raw) ? raw : (raw as { steps?: unknown })?.steps
  if (!Array.isArray(list)) throw new InputError(`--steps ${file}: expected a JSON list of {"phrase": …, "lr": …}`)
  const args = { ...experimentArgs(flags), steps: list as ChainStep[] }
  await withLab(flags, async (lab) => {
    const r = await lab.call('lesson', args)
    if (flags.json) return printJson(r)
    process.stdout.write(
      formatTable(
        ['step', 'run', 'α', 'phrase', 'loss before', 'loss after', 'recall', 'KL', 'completion'],
        r.runs.map((x, k) => [k + 1, runId(x.id), x.lr, oneLine(x.phrase ?? '', 32), fmt(x.metrics.phraseLossBefore, 5),
          fmt(x.metrics.phraseLossAfter, 5), x.metrics.recall, fmt(x.metrics.stabilityKl), oneLine(x.outputText, 48)]),
      ) + '\n\n',
    )
    const n = r.forgetting.length
    const head = ['after step', ...Array.from({ length: n }, (_, j) => `lesson ${j + 1} loss / recall`)]
    const rows = r.forgetting.map((row, k) => [
      String(k + 1),
      ...Array.from({ length: n }, (_, j) => (row[j] ? `${fmt(row[j].loss, 4)} / ${row[j].recall}` : '')),
    ])
    process.stdout.write('forgetting curve (phrase loss / words recalled from its opening):\n')
    process.stdout.write(formatTable(head, rows) + '\n')
    process.stdout.write(`recorded as lesson ${expId(r.runs[0].experimentId)} (runs ${runRange(r.runs.map((x) => x.id))})\n`)
  })
}
