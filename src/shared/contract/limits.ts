// The contract's numbers: the seed's experiment and the lab's limits, defined here only (the renderer, the CLI and the
// lab read them from here; nothing keeps a second copy).


// ---------- constants: the seed's experiment and the lab's limits (defined here only) ----------

/** The seed's experiment: Llama-2-7b's "To be", one step on Hamlet's line, these step sizes. */
export const SEED_DEFAULTS = {
  prompt: 'To be',
  phrase: 'To be, or not to be, that is the question',
  lrs: [0, 1e-4, 1e-3, 2e-3, 3e-3, 5e-3, 1e-2, 1e-1],
  /** the seed's prompt-engineering prefix (the comparison's default) */
  engineeredPrefix: "Here is one of Shakespeare's more famous works: ",
  /** max_gen_len and max_seq_len of the seed's generation */
  maxGen: 64,
  maxSeq: 128,
  seed: 0,
} as const

/** Most step sizes one sweep or comparison takes, lessons in one sequence, probe texts per experiment. */
export const MAX_STEP_SIZES = 64
export const MAX_LESSONS = 64
export const MAX_PROBES = 64
export const MAX_GEN_LIMIT = 4096
/** Longest prompt, phrase, prefix or probe text (UTF-16 code units, as JavaScript counts). */
export const MAX_TEXT_CHARS = 20_000
/** Longest reference continuation. */
export const MAX_REFERENCE_CHARS = 100_000
/** Longest model or export path. */
export const MAX_PATH_CHARS = 4096
/**
 * Largest message a transport accepts (bytes of the JSON text; the WebSocket's maxPayload). The fields above bound
 * the largest valid call: a lesson of MAX_LESSONS phrases + MAX_PROBES probes + a reference + a prompt is
 * ≈ 2.7 M code units, at most 6 bytes each in JSON ("\u0001") ≈ 16.3 MB < 24 MiB (test/api-transport.test.ts
 * builds that message and sends it).
 */
export const MAX_MESSAGE_BYTES = 24 * 1024 * 1024

/**
 * The lab's input limits, stated once: every request schema, every inline check in the UI and the CLI's errors use
 * these numbers. A step size α is a non-negative finite number at most LIMITS.lr.max (the seed's largest is 0.1; the
 * organism rants well before 1); 0 means "no step".
 */
export const LIMITS = {
  lr: { min: 0, max: 10 },
  maxGen: { min: 1, max: MAX_GEN_LIMIT },
  maxSeq: { min: 2, max: 1_000_000 },
  stepSizes: { min: 1, max: MAX_STEP_SIZES },
  lessons: { min: 1, max: MAX_LESSONS },
  probes: { max: MAX_PROBES },
  paraphrases: { max: 32 },
  tags: { max: 32, chars: 40 },
  notes: { chars: 100_000 },
  title: { chars: 200 },
  /** rows in one page of `history` or `experiments`: a caller that wants more asks for the next page (offset) */
  page: { max: 1000 },
} as const

/** Days a deleted checkpoint stays in the Trash (file kept, restorable) before the lab purges it. */
export const TRASH_DAYS = 30
