import { sweep } from '../../lab/sweep'
import { formatSeedTable, seedWords } from '../../../shared/seedTable'
import { cliCallOptions, Flags, int, numList, openModel, printJson, str } from '../common'

export const sweepOptions = {
  model: { type: 'string' },
  prompt: { type: 'string' },
  phrase: { type: 'string' },
  lrs: { type: 'string' },
  'max-gen': { type: 'string' },
  'max-seq': { type: 'string' },
  threads: { type: 'string' },
  json: { type: 'boolean' },
} as const

export async function sweepCommand(flags: Flags): Promise<void> {
  const { engine, preset } = openModel(flags)
  const opts = cliCallOptions()
  try {
    const r = await sweep(
      engine,
      {
        prompt: str(flags, 'prompt') ?? preset.prompt,
        phrase: str(flags, 'phrase') ?? preset.phrase,
        lrs: numList(flags, 'lrs') ?? preset.lrs,
        maxGen: int(flags, 'max-gen', 64),
        maxSeq: int(flags, 'max-seq', 128),
      },
      opts,
    )
    opts.dispose()
    if (flags.json) {
      printJson({
        phrase_ids: r.phraseIds,
        phrase_loss: r.phraseLoss,
        rows: r.rows.map((row) => ({ lr: row.lr, ids: row.ids, text: row.text })),
      })
    } else {
      process.stdout.write(
        `phrase "${r.gradient.phrase}" (${r.phraseIds.length} tokens with BOS), loss ${r.phraseLoss.toFixed(6)}\n`,
      )
      process.stdout.write(formatSeedTable(r.rows.map((row) => ({ lr: row.lr, words: seedWords(row.fullText) }))) + '\n')
    }
  } finally {
    opts.dispose()
  }
}
