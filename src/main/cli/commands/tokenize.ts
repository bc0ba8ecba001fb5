import { Flags, openModel, printJson, str } from '../common'
import { InputError } from '../../engine/engine'

export const tokenizeOptions = {
  model: { type: 'string' },
  text: { type: 'string' },
  json: { type: 'boolean' },
} as const

export async function tokenizeCommand(flags: Flags): Promise<void> {
  const text = str(flags, 'text')
  if (text === undefined) throw new InputError('--text is required')
  const { engine } = openModel(flags)
  const ids = engine.tokenize(text)
  if (flags.json) {
    printJson({ ids })
    return
  }
  for (const id of ids) process.stdout.write(`${String(id).padStart(6)}  ${JSON.stringify(engine.tokenizer.piece(id))}\n`)
}
