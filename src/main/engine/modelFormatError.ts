// The error every model-file reader throws: a file or field named, in words, on one line of bounded length. Its own
// module so the readers (config.ts, configFields.ts, modelFiles.ts, formats/*) share it without importing each other.

/** The longest error line a model file can produce; a longer one keeps its head and tail and says its length. */
export const MAX_ERROR_CHARS = 1000

export class ModelFormatError extends Error {
  constructor(message: string) {
    super(
      message.length <= MAX_ERROR_CHARS
        ? message
        : `${message.slice(0, MAX_ERROR_CHARS - 300)}… (${message.length} characters in all) …${message.slice(-200)}`,
    )
    this.name = 'ModelFormatError'
  }
}

/** A JSON value as an error shows it (clipped). */
export function shownValue(v: unknown): string {
  return clipped(JSON.stringify(v) ?? String(v))
}

/** A value from a file as an error shows it: whole when short, else its head and its size (a 50 MB tensor name). */
export function clipped(value: string, max = 120): string {
  return value.length <= max ? value : `${value.slice(0, max)}… (${value.length} characters)`
}
