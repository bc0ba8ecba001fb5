// The settings of generation and measurement that every run on a model shares (the model's preset and texts filled in
// by the lab): one list for an experiment's Settings (experiment/common.ts), a study's CellSettings (study/grid.ts)
// and the args they record, so a new setting is added in one place.

export interface RunSettings {
  maxGen: number
  maxSeq: number
  temperature: number
  topP: number
  seed: number
  reference: string | null
  probes: Record<string, string>
  /** paraphrased prompts (generalisation) */
  paraphrases: string[]
}

/** Just the RunSettings of `s`, in the order the recorded args list them. */
export function runSettings(s: RunSettings): RunSettings {
  return {
    maxGen: s.maxGen,
    maxSeq: s.maxSeq,
    temperature: s.temperature,
    topP: s.topP,
    seed: s.seed,
    reference: s.reference,
    probes: s.probes,
    paraphrases: s.paraphrases,
  }
}
