// `soliloquy sweep`: the seed's "Stepping Off" (one gradient, every step size in one batched generation).
import { formatSeedTable, seedWords } from '../../../shared/seedTable'
import { Flags, printJson, withLab } from '../common'
import { expId, runRange } from '../ids'
import { requestFields } from '../args'
import { experimentArgs, experimentFlags } from './step'
import { restrictionFlags, restrictionOptions } from './restrict'

export const sweepOptions = {
  ...experimentFlags,
  phrase: { type: 'string' },
  lrs: { type: 'string' },
  ...restrictionOptions,
} as const

// The sweep goes through the lab, so it is recorded in the history (an experiment + one run per α with every metric).
export async function sweepCommand(flags: Flags): Promise<void> {
  await withLab(flags, async (lab) => {
    const r = await lab.call('sweep', { ...experimentArgs(flags), ...requestFields('sweep', flags, ['phrase', 'lrs']), restrict: restrictionFlags(flags) })
    if (flags.json) {
      printJson({
        phrase_ids: r.phraseIds,
        phrase_loss: r.phraseLoss,
        rows: r.runs.map((row) => ({ lr: row.lr, ids: row.outputIds, text: row.outputText })),
      })
    } else {
      process.stdout.write(
        `phrase "${r.runs[0].phrase}" (${r.phraseIds.length} tokens with BOS), loss ${r.phraseLoss.toFixed(6)}\n`,
      )
      process.stdout.write(
        formatSeedTable(r.runs.map((row) => ({ lr: row.lr ?? 0, words: seedWords(row.fullText) }))) + '\n',
      )
      process.stderr.write(`recorded as sweep ${expId(r.runs[0].experimentId)} (runs ${runRange(r.runs.map((x) => x.id))}) in ${lab.dataDir}\n`)
    }
  })
}
