// `soliloquy compare`: the prompt with and without the prefix ("Here is one of Shakespeare's more famous works: "),
// on the model and after each chosen α, side by side — the seed's prompt engineering vs training.
import { formatStepSize, paddedTable, seedRows, seedWords } from '../../../shared/seedTable'
import { Flags, fmt, numList, printJson, str, withLab } from '../common'
import { expId, runRange } from '../ids'
import { experimentArgs, experimentFlags } from './step'

export const compareOptions = {
  ...experimentFlags,
  prefix: { type: 'string' },
  phrase: { type: 'string' },
  lrs: { type: 'string' },
} as const

export async function compareCommand(flags: Flags): Promise<void> {
  const args = { ...experimentArgs(flags), prefix: str(flags, 'prefix'), phrase: str(flags, 'phrase'), lrs: numList(flags, 'lrs') }
  await withLab(flags, async (lab) => {
    const r = await lab.call('compare', args)
    if (flags.json) return printJson(r)
    const prefix = String(r.experiment.args?.prefix ?? '')
    const cols = r.cells.map((c) => ({ head: `${c.prefixed ? 'prefix' : 'plain'} ${formatStepSize(c.lr)}`, words: seedWords(c.text) }))
    const rows = seedRows(cols.map((c) => ({ lr: 0, words: c.words })))
    const header = ['', ...cols.map((c) => c.head)]
    const body = rows.map((row, i) => [String(i), ...row])
    const recall = ['recall', ...r.cells.map((c) => String(c.recall ?? ''))]
    process.stdout.write(`prefix: "${prefix}"\n`)
    process.stdout.write(paddedTable(header, body, [recall]) + '\n')
    const kl = r.runs.filter((x) => !x.prompt.startsWith(prefix) || prefix === '').map((x) => `α ${x.lr}: ${fmt(x.metrics.stabilityKl ?? 0, 4)}`)
    if (kl.length) process.stdout.write(`stability KL  ${kl.join(', ')}\n`)
    process.stdout.write(`recorded as comparison ${expId(r.runs[0].experimentId)} (runs ${runRange(r.runs.map((x) => x.id))})\n`)
  })
}
