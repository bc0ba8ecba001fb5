// Reading tokenizer.json's loosely typed objects with errors that name the field ("pre_tokenizer.pretokenizers[0]
// .behavior").

export type Fail = (problem: string) => never
export type Json = Record<string, unknown>

export function asObject(value: unknown, path: string, fail: Fail): Json {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return fail(`${path} is not an object`)
  return value as Json
}

export function asArray(value: unknown, path: string, fail: Fail): unknown[] {
  if (!Array.isArray(value)) return fail(`${path} is not a list`)
  return value
}

export function optionalString(o: Json, key: string, path: string, fail: Fail): string | undefined {
  const v = o[key]
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'string') return fail(`${path}.${key} is not a string`)
  return v
}

export function requireString(o: Json, key: string, path: string, fail: Fail): string {
  const v = optionalString(o, key, path, fail)
  if (v === undefined) return fail(`${path}.${key} is missing`)
  return v
}

export function optionalBool(o: Json, key: string, path: string, fail: Fail, fallback: boolean): boolean {
  const v = o[key]
  if (v === undefined || v === null) return fallback
  if (typeof v !== 'boolean') return fail(`${path}.${key} is not true or false`)
  return v
}

export function optionalInt(o: Json, key: string, path: string, fail: Fail, fallback: number): number {
  const v = o[key]
  if (v === undefined || v === null) return fallback
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) return fail(`${path}.${key} is not a non-negative integer`)
  return v
}

export function typeOf(o: Json, path: string, fail: Fail): string {
  return requireString(o, 'type', path, fail)
}

/** A pattern field: {"String": "…"} or {"Regex": "…"}. */
export function patternOf(o: Json, key: string, path: string, fail: Fail): { literal: string } | { regex: string } {
  const p = asObject(o[key], `${path}.${key}`, fail)
  if (typeof p.String === 'string') return { literal: p.String }
  if (typeof p.Regex === 'string') return { regex: p.Regex }
  return fail(`${path}.${key} is neither {"String": …} nor {"Regex": …}`)
}
