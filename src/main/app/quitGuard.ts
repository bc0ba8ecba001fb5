// Quitting the desktop app with jobs running asks first: quitting stops the lab and cancels them (their runs are
// recorded as cancelled). Written without Electron so the decision can be tested: index.ts passes the running jobs
// and a function that shows the question (a message box) and answers with the button chosen.
import type { JobInfo } from '../../shared/api'

export interface QuitQuestion {
  message: string
  detail: string
  /** [0] quits and cancels, [1] keeps the app open */
  buttons: [string, string]
  defaultId: 1
  cancelId: 1
}

const pct = (j: JobInfo): string => (j.progress && j.progress.total > 0 ? `${Math.round((100 * j.progress.done) / j.progress.total)} % of ${j.progress.phase}` : 'starting')
const mins = (ms: number): string => (ms < 60_000 ? `${Math.max(1, Math.round(ms / 1000))} s` : `${Math.round(ms / 60_000)} min`)

/** The question for these running jobs, or null when nothing runs (quit at once). */
export function quitQuestion(running: JobInfo[]): QuitQuestion | null {
  if (running.length === 0) return null
  const lines = running.map((j) => {
    const what = `${j.kind}${j.experimentId !== null ? ` e${j.experimentId}` : ''} on ${j.model ?? 'the organism'}`
    return `• ${what}: ${pct(j)}, running for ${mins(j.elapsedMs)}${j.etaMs !== null ? `, about ${mins(j.etaMs)} left in this phase` : ''}`
  })
  const n = running.length
  return {
    message: n === 1 ? 'A job is still running. Quit and cancel it?' : `${n} jobs are still running. Quit and cancel them?`,
    detail: `${lines.join('\n')}\n\nQuitting stops the lab: ${n === 1 ? 'its runs are' : 'their runs are'} recorded as cancelled in History.`,
    buttons: [n === 1 ? 'Quit and cancel it' : 'Quit and cancel them', 'Keep running'],
    defaultId: 1,
    cancelId: 1,
  }
}

/** Whether to quit now: true when nothing runs, else what the user chose (`ask` answers with the button's index). */
export async function shouldQuit(running: JobInfo[], ask: (q: QuitQuestion) => Promise<number>): Promise<boolean> {
  const q = quitQuestion(running)
  if (!q) return true
  return (await ask(q)) === 0
}
