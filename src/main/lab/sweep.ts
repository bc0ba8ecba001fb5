// The seed's experiment ("Stepping Off"): one gradient of the phrase, a list of step sizes, one batched generation.
import { CallOptions, checkStepSize, Engine, Generation, Gradient, InputError, View } from '../engine/engine'

export interface SweepArgs {
  prompt: string
  phrase: string
  lrs: number[]
  maxGen?: number
  maxSeq?: number
  /** take the gradient at this view and step from it (a chain); default the base model */
  at?: View
}

export interface SweepRow extends Generation {
  lr: number
  /** prompt + completion, as the table shows it */
  fullText: string
}

export interface SweepResult {
  phraseIds: number[]
  phraseLoss: number
  gradient: Gradient
  promptIds: number[]
  rows: SweepRow[]
}

export async function sweep(engine: Engine, args: SweepArgs, opts?: CallOptions): Promise<SweepResult> {
  if (!Array.isArray(args.lrs) || args.lrs.length === 0) throw new InputError('no step sizes given')
  args.lrs.forEach((lr) => checkStepSize(lr))
  const promptIds = engine.withBos(args.prompt, 'prompt')
  const at = args.at ?? []
  const gradient = await engine.gradient(args.phrase, at, opts, args.maxSeq)
  const views: View[] = args.lrs.map((lr) => [...at, { gradient, lr }])
  const gens = await engine.generate(
    { prompt: promptIds, views, maxNew: args.maxGen, maxSeq: args.maxSeq },
    opts,
  )
  const rows = gens.map((g, i) => ({
    ...g,
    lr: args.lrs[i],
    fullText: engine.decode([...promptIds.slice(1), ...g.ids]),
  }))
  return { phraseIds: gradient.phraseIds, phraseLoss: gradient.loss, gradient, promptIds, rows }
}
