// A redis-server of a test's own: a free loopback port, a temporary directory (AOF on, so a restart keeps the jobs),
// stopped (SIGTERM, then SIGKILL) when the test ends. .ci/run installs Debian's redis-server when it is absent.
import { ChildProcess, spawn, spawnSync } from 'node:child_process'
import { createConnection, createServer } from 'node:net'
import { join } from 'node:path'
import { tmp } from './helpers'

export function haveRedis(): boolean {
  return spawnSync('redis-server', ['--version']).status === 0
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
    s.on('error', reject)
  })
}

async function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection({ port, host: '127.0.0.1' })
    c.once('connect', () => {
      c.write('PING\r\n')
    })
    c.once('data', (d) => {
      c.destroy()
      resolve(/PONG|NOAUTH/.test(d.toString()))
    })
    c.once('error', () => resolve(false))
  })
}

export interface TestRedis {
  port: number
  /** redis://127.0.0.1:PORT (with the password when one was set) */
  url: string
  dir: string
  stop(): Promise<void>
  start(): Promise<void>
}

export async function startRedis(o: { password?: string } = {}): Promise<TestRedis> {
  const port = await freePort()
  const dir = tmp('soliloquy-redis-')
  let proc: ChildProcess | null = null
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--logfile', join(dir, 'redis.log')]
  if (o.password) args.push('--requirepass', o.password)
  const r: TestRedis = {
    port,
    dir,
    url: o.password ? `redis://:${o.password}@127.0.0.1:${port}` : `redis://127.0.0.1:${port}`,
    async start() {
      proc = spawn('redis-server', args, { stdio: 'ignore' })
      for (let i = 0; i < 100 && !(await answers(port)); i++) await new Promise((res) => setTimeout(res, 50))
    },
    async stop() {
      const p = proc
      proc = null
      if (!p || p.exitCode !== null) return
      const gone = new Promise<void>((res) => p.once('exit', () => res()))
      p.kill('SIGTERM')
      const t = setTimeout(() => p.kill('SIGKILL'), 5000)
      await gone
      clearTimeout(t)
    },
  }
  await r.start()
  return r
}
