// config.json fields whose bad values used to surface far from their cause (issue 20, item 20): a bos_token_id of -1
// as "prompt must contain token ids" at the first generate, "pretraining_tp": "1" as "pretraining_tp 1 is not
// supported (only 1)", a RoPE base or factor of 1e±300 as "the weights or the step size overflow float32" at the first
// forward. Each is refused when config.json is read, naming the file and the field.
import { ModelFormatError } from './modelFormatError'

/** bos_token_id / eos_token_id (a number or, for eos, a list): each id must be a token of the vocabulary. */
export function checkSpecialIds(raw: Record<string, unknown>, vocab: number, file: string): void {
  for (const key of ['bos_token_id', 'eos_token_id']) {
    const v = raw[key]
    if (v === undefined || v === null) continue
    const ids = Array.isArray(v) ? v : [v]
    for (const id of ids)
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= vocab)
        throw new ModelFormatError(`${file}: ${key} ${JSON.stringify(v)} is not a token id (the vocabulary has ids 0 … ${vocab - 1})`)
  }
}

/** pretraining_tp: only 1 (the number) is supported; a string "1" is named as a string. */
export function checkPretrainingTp(raw: Record<string, unknown>, file: string): void {
  const tp = raw.pretraining_tp
  if (tp === undefined || tp === null || tp === 1) return
  if (typeof tp === 'string')
    throw new ModelFormatError(`${file}: pretraining_tp must be the number 1, not the string ${JSON.stringify(tp)}`)
  throw new ModelFormatError(`${file}: pretraining_tp ${JSON.stringify(tp)} is not supported (only 1)`)
}

/** rope_theta: RoPE's base, finite and above 1 (10000 in Llama 2, 500000 in Llama 3); below 1 frequencies explode. */
export function checkRopeTheta(theta: number, file: string): void {
  if (!Number.isFinite(theta) || !(theta > 1))
    throw new ModelFormatError(`${file}: rope_theta ${theta} must be a finite number above 1 (RoPE's base: 10000 in Llama 2, 500000 in Llama 3)`)
}

/**
 * The RoPE inverse frequencies the settings give, in float32: each must be finite and positive. A rope_theta near
 * float32's limit or a scaling factor of 1e±300 gives infinities or zeros here — refused naming the fields, instead of
 * a forward that overflows later and blames the weights.
 */
export function checkRopeFrequencies(inv: Float32Array, theta: number, fields: Record<string, unknown>, where: string, file: string): void {
  const bad = inv.findIndex((x) => !Number.isFinite(x) || !(x > 0))
  if (bad < 0) return
  const scaling = Object.entries(fields)
    .filter(([k, v]) => /factor/.test(k) && typeof v === 'number')
    .map(([k, v]) => `${where}.${k} ${String(v)}`)
  throw new ModelFormatError(
    `${file}: rope_theta ${theta}${scaling.length ? ` with ${scaling.join(', ')}` : ''} gives RoPE frequencies float32 cannot hold ` +
      `(${inv[bad]} for dimension pair ${bad}); check these fields`,
  )
}
