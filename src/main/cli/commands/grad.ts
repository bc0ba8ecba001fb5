import { cliCallOptions, Flags, int, openModel, printJson, str } from '../common'
import { InputError } from '../../engine/engine'
import { SEED_DEFAULTS } from '../../../shared/api'

export const gradOptions = {
  model: { type: 'string' },
  phrase: { type: 'string' },
  'max-seq': { type: 'string' },
  threads: { type: 'string' },
  json: { type: 'boolean' },
} as const

export async function gradCommand(flags: Flags): Promise<void> {
  const { engine, preset } = openModel(flags)
  const phrase = str(flags, 'phrase') ?? preset.phrase
  if (phrase === undefined) throw new InputError('--phrase is required')
  const opts = cliCallOptions()
  try {
    const g = await engine.gradient(phrase, [], opts, int(flags, 'max-seq', SEED_DEFAULTS.maxSeq))
    opts.dispose()
    const norms = g.gradNorms()
    if (flags.json) {
      printJson({ phrase_ids: g.phraseIds, loss: g.loss, grad_norms: norms })
      return
    }
    process.stdout.write(`phrase ids ${JSON.stringify(g.phraseIds)}\nloss ${g.loss}\n`)
    const w = Math.max(...Object.keys(norms).map((k) => k.length))
    for (const [k, v] of Object.entries(norms)) process.stdout.write(`${k.padEnd(w)}  ${v.toExponential(6)}\n`)
  } finally {
    opts.dispose()
  }
}
