// The lab in a process of its own (issue 9: a native fault must not take the app or the server down). Started by
// `soliloquy serve` with child_process.fork (messages over the IPC channel) or by the desktop app as an Electron
// utility process (messages over process.parentPort). The configuration comes in the first message.
import { runLab, testAbortHook, testBlockHook } from './labCore'
import type { FromWorker, ToWorker, WorkerConfig } from './protocol'

interface ElectronParentPort {
  on(event: 'message', listener: (e: { data: unknown }) => void): void
  postMessage(m: unknown): void
}
const electronPort = (process as unknown as { parentPort?: ElectronParentPort }).parentPort

const post = (m: FromWorker): void => {
  if (electronPort) electronPort.postMessage(m)
  else process.send?.(m)
}
const listen = (h: (m: unknown) => void): void => {
  if (electronPort) electronPort.on('message', (e) => h(e.data))
  else process.on('message', (m) => h(m))
}
if (!electronPort && !process.send) throw new Error('labProcess must be started by the lab host (fork or utilityProcess)')

let handler: ((m: ToWorker) => void) | null = null
listen((m) => {
  const msg = m as ToWorker | { type: 'config'; config: WorkerConfig }
  if (msg.type === 'config') {
    runLab(
      { post, onMessage: (h) => (handler = h), exit: () => process.exit(0) },
      msg.config,
      testAbortHook(process.env, msg.config),
      testBlockHook(process.env, msg.config),
    )
    return
  }
  handler?.(msg)
})
// the host went away (the server was killed): do not linger as an orphan holding the database
process.on('disconnect', () => process.exit(0))
