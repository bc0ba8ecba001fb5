// `soliloquy serve`: browser mode. The built renderer and the lab API over WebSocket on 127.0.0.1, with a random
// token in the printed URL. The lab runs in a child process: if the engine dies (a native fault, kill -9), the
// server stays up, says so, marks the runs failed and starts a new lab process.
import { join } from 'node:path'
import { appRoot } from '../../engine/native'
import { InputError } from '../../engine/engine'
import { LabHost, processLauncher } from '../../host/host'
import { startServer } from '../../server/server'
import { ensureDataDir, resolveDataDir } from '../../lab/dataDir'
import { Flags, int, str } from '../common'

export const serveOptions = {
  port: { type: 'string' },
  data: { type: 'string' },
  quiet: { type: 'boolean' },
} as const

export async function serveCommand(flags: Flags): Promise<void> {
  const port = int(flags, 'port', 0)
  if (port > 65535) throw new InputError(`--port: ${port} is not a TCP port`)
  const dataDir = ensureDataDir(resolveDataDir(str(flags, 'data')))
  const host = new LabHost({ dataDir, confineModels: true }, processLauncher())
  const quiet = flags.quiet === true
  const srv = await startServer({
    backend: host,
    rendererDir: join(appRoot(), 'out', 'renderer'),
    port,
    log: quiet ? undefined : (l) => process.stderr.write(`soliloquy serve: ${l}\n`),
  }).catch(async (e: unknown) => {
    await host.close()
    throw e
  })
  process.stdout.write(`Soliloquy is serving on 127.0.0.1 only (data: ${dataDir}). Open:\n${srv.url}\n`)
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      resolve()
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
  await srv.close()
  await host.close()
}
