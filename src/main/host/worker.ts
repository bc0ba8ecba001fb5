// The lab in a worker thread of the process that hosts it (the protocol's other end: labCore.ts).
import { parentPort, workerData } from 'node:worker_threads'
import { runLab } from './labCore'
import type { ToWorker, WorkerConfig } from './protocol'

const port = parentPort
if (!port) throw new Error('labWorker must run in a worker thread')

runLab(
  {
    post: (m) => port.postMessage(m),
    onMessage: (h) => port.on('message', (m: ToWorker) => h(m)),
    exit: () => process.exit(0),
  },
  workerData as WorkerConfig,
)
