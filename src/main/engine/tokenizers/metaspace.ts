// Metaspace's settings, read once for its two halves (HF tokenizers: pre_tokenizers/metaspace.rs, which is both the
// pre-tokenizer, preTokenizers.ts, and the decoder, decoders.ts): the one character that stands for a space, and
// where a word gets one in front — "first" (the text's start only), "always" or "never". A file from before
// prepend_scheme says add_prefix_space instead (true: "always").
import { Fail, Json, optionalBool, optionalString, requireString } from './json'

export type PrependScheme = 'first' | 'always' | 'never'

export function metaspaceOptions(o: Json, path: string, fail: Fail): { replacement: string; scheme: PrependScheme } {
  const replacement = requireString(o, 'replacement', path, fail)
  if ([...replacement].length !== 1) fail(`${path}.replacement must be one character`)
  const scheme = optionalString(o, 'prepend_scheme', path, fail) ?? (optionalBool(o, 'add_prefix_space', path, fail, true) ? 'always' : 'never')
  if (scheme !== 'first' && scheme !== 'always' && scheme !== 'never') return fail(`${path}.prepend_scheme "${scheme}" is not first, always or never`)
  return { replacement, scheme }
}
