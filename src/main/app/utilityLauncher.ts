// The desktop app's lab: an Electron utility process (a Node child process Electron manages), so a native fault in
// the engine ends that process and not the window. Same protocol and entry (labProcess.ts) as `soliloquy serve`.
import { utilityProcess } from 'electron'
import { defaultProcessPath, type LabLauncher } from '../host/host'
import type { FromWorker } from '../host/protocol'

export function utilityLauncher(path = defaultProcessPath()): LabLauncher {
  return (config) => {
    const child = utilityProcess.fork(path, [], { serviceName: 'Soliloquy lab', stdio: 'inherit' })
    child.postMessage({ type: 'config', config })
    let exited = false
    return {
      isolated: true,
      get pid() {
        return child.pid ?? null
      },
      post: (m) => {
        if (!exited) child.postMessage(m)
      },
      onMessage: (h) => child.on('message', (m: unknown) => h(m as FromWorker)),
      // Electron reports an exit code only; a crash is a non-zero code
      onExit: (h) =>
        child.on('exit', (code: number) => {
          exited = true
          h(code, null)
        }),
      kill: () => void child.kill(),
    }
  }
}
