// Jobs belong to the lab, not to a connection: a long call given a job id runs until it ends or someone cancels it,
// whoever started it and whether or not its window is still open. Any window can list the lab's jobs (running, and
// the ones that finished a short while ago) and attach to one: its progress from then on, then its result or its
// error. Answered by the lab host (src/main/host/jobs.ts), never by the lab process: these methods outlive it.
import { z } from 'zod'
import { callErrorSchema } from './errors'

/** Job ids are chosen by the client: short, printable, and unique in the lab (a running job's id is refused). */
export const jobIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a job id is 1–64 letters, digits, _ or -')

/** The methods the lab host answers itself (the lab process never sees them). */
export const hostMethodNames = ['jobs', 'attachJob'] as const
export type HostMethodName = (typeof hostMethodNames)[number]

/** How long, and how many, finished jobs stay listed (and their results retrievable by attachJob). */
export const JOB_RETENTION = { ms: 30 * 60_000, count: 32 } as const

export const jobStates = ['running', 'done', 'failed', 'cancelled'] as const
export type JobState = (typeof jobStates)[number]

export const jobInfoSchema = z.object({
  jobId: z.string(),
  /** the method it runs: sweep, compare, lesson, layerStudy, window, emerge, exportCheckpoint … */
  kind: z.string(),
  /** the request's model (null: the embedded organism; "ckpt:NAME": a checkpoint as base) */
  model: z.string().nullable(),
  /** the request as the lab took it: a reattaching window shows the job's own settings, not its form's */
  request: z.record(z.string(), z.unknown()),
  state: z.enum(jobStates),
  startedAt: z.string(),
  /** from start to now (running) or to its end */
  elapsedMs: z.number(),
  /** the last progress the lab reported (null: none yet) */
  progress: z.object({ phase: z.string(), done: z.number(), total: z.number() }).nullable(),
  /** remaining time of the current phase at its rate so far (null: not measurable yet, or finished) */
  etaMs: z.number().nullable(),
  /** the experiment it writes (eN), once the lab has opened it */
  experimentId: z.number().nullable(),
  finishedAt: z.string().nullable(),
  /** why it failed or that it was cancelled (state failed / cancelled) */
  error: callErrorSchema.nullable(),
})
export type JobInfo = z.infer<typeof jobInfoSchema>

export const attachJobRequest = z.object({ jobId: jobIdSchema }).strict()

/** A job's outcome for whoever attached: its result, as the method's own result schema gives it. A failed or
 *  cancelled job answers the attach call with its error (kind included), as it answered the call that started it. */
export const jobOutcomeSchema = z.object({
  jobId: z.string(),
  kind: z.string(),
  result: z.unknown(),
})
export type JobOutcome = z.infer<typeof jobOutcomeSchema>
