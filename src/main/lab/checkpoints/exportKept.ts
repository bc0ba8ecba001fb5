// Every export measured against its checkpoint (engine/export/fidelity.ts), and a default dtype that keeps the step:
// when rounding to the default dtype loses the step, the export is written again in the next larger dtype (F32 at
// worst) and the result says so in words. A dtype the user asked for is written as asked, with the measured loss and
// a warning.
import { rmSync } from 'node:fs'
import type { CallOptions, Engine, View } from '../../engine/engine'
import { fidelityWords, measureFidelity, stepLostWarning, type FidelityTexts } from '../../engine/export/fidelity'
import { GGUF_TEXT_KEYS, type MetricTexts } from '../../engine/preset'
import type { Kv } from '../../engine/export/gguf'
import type { ExportDtype, ExportFidelityRecord, ModelTexts } from '../../../shared/api'

/** The dtypes a default export tries, smallest first: the default, then a float type of the same size, then F32. */
export function defaultDtypes(first: ExportDtype): ExportDtype[] {
  if (first === 'F32') return ['F32']
  if (first === 'BF16') return ['BF16', 'F16', 'F32']
  if (first === 'F16') return ['F16', 'F32']
  return [first, 'F16', 'F32']
}

export interface KeptExport<R> {
  result: R
  dtype: ExportDtype
  fidelity: ExportFidelityRecord
}

/**
 * Writes the export in the first of `dtypes` (the only one when `asked`), measures it (`open` re-opens the written
 * model; `view` is what to run it at), and, while the step is lost and larger dtypes remain, removes it and writes the
 * next. Returns what was written with its fidelity.
 */
export async function exportKeepingStep<R extends { dir: string }>(o: {
  engine: Engine
  view: View
  texts: FidelityTexts
  dtypes: ExportDtype[]
  asked: boolean
  write: (dtype: ExportDtype) => Promise<R>
  open: (r: R) => { engine: Engine; view: View }
  opts?: CallOptions
}): Promise<KeptExport<R>> {
  const tried: ExportFidelityRecord['tried'] = []
  const list = o.asked ? o.dtypes.slice(0, 1) : o.dtypes
  for (let i = 0; ; i++) {
    const dtype = list[i]
    const result = await o.write(dtype)
    let f
    try {
      f = await measureFidelity(o.engine, o.view, o.open(result), o.texts, o.opts)
    } catch (e) {
      rmSync(result.dir, { recursive: true, force: true })
      throw e
    }
    const lost = stepLostWarning(f, dtype)
    if (!lost || i === list.length - 1) {
      let warning = lost
      if (tried.length)
        warning =
          `the default ${tried[0].dtype} would lose the step (it keeps ${pct(tried[0].stepKept)} of the phrase-loss change); ` +
          `written as ${dtype} instead, which keeps ${pct(f.stepKept)}` +
          (lost ? `. ${dtype} still loses it: ${lost}` : '')
      return { result, dtype, fidelity: { ...f, summary: fidelityWords(f, dtype), warning, tried } }
    }
    tried.push({ dtype, stepKept: f.stepKept, warning: lost })
    // the target was new (checkExportTarget): what is removed here is only what this export wrote
    rmSync(result.dir, { recursive: true, force: true })
  }
}

function pct(x: number | null): string {
  return x === null ? '—' : `${(100 * x).toFixed(1)} %`
}

/** The texts a GGUF export carries under soliloquy.* (the shipped defaults are not written: a reader has them). */
export function ggufTextKv(t: ModelTexts, preset: { prompt: string; phrase: string }): Kv[] {
  const kv: Kv[] = [
    [GGUF_TEXT_KEYS.prompt, 'str', preset.prompt],
    [GGUF_TEXT_KEYS.phrase, 'str', preset.phrase],
  ]
  const own = (k: keyof MetricTexts): boolean => t.from[k] !== 'default'
  if (own('reference') && t.reference !== null) kv.push([GGUF_TEXT_KEYS.reference, 'str', t.reference])
  if (own('probes')) kv.push([GGUF_TEXT_KEYS.probes, 'str', JSON.stringify(t.probes)])
  if (own('paraphrases') && t.paraphrases.length) kv.push([GGUF_TEXT_KEYS.paraphrases, 'strs', t.paraphrases])
  return kv
}
