// Serve mode against hostile frames (issue 9, defect 1): the real `soliloquy serve` in a child process, raw frames
// written over net.Socket after a real WebSocket upgrade. Each bad frame closes THAT socket with a close code; the
// server keeps serving other clients and a sweep in flight finishes.
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { connect, Socket } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { MAX_LESSONS, MAX_MESSAGE_BYTES, MAX_PROBES, MAX_REFERENCE_CHARS, MAX_TEXT_CHARS, validateCall } from '../src/shared/api'
import { ROOT, startServe, tmp } from './helpers'

let child: ChildProcess
let port = 0
let token = ''
let stderr: () => string = () => ''

beforeAll(async () => {
  expect(existsSync(join(ROOT, 'out', 'main', 'cli.js')), 'the CLI is built (npm run build)').toBe(true)
  ;({ child, port, token, stderr } = await startServe(tmp('soliloquy-transport-')))
}, 60_000)

afterAll(() => {
  child?.kill('SIGTERM')
})

interface Client {
  call(method: string, args: unknown, jobId?: string): Promise<{ ok: boolean; result?: unknown; error?: { message: string } }>
  send(raw: string): Promise<{ ok: boolean; error?: { message: string } }>
  close(): void
}

function client(): Promise<Client> {
  return new Promise((resolve, reject) => {
    const s = new WebSocket(`ws://127.0.0.1:${port}/api?token=${token}`)
    let next = 1
    const waiting = new Map<number, (m: { ok: boolean; result?: unknown; error?: { message: string } }) => void>()
    s.on('message', (d) => {
      const m = JSON.parse(d.toString()) as { id?: number; ok: boolean; result?: unknown; error?: { message: string } }
      if (typeof m.id === 'number') waiting.get(m.id)?.(m)
    })
    s.on('error', reject)
    s.on('open', () =>
      resolve({
        call: (method, args, jobId) =>
          new Promise((r) => {
            const id = next++
            waiting.set(id, r)
            s.send(JSON.stringify({ id, method, args, jobId }))
          }),
        send: (raw) =>
          new Promise((r) => {
            waiting.set(Number((JSON.parse(raw) as { id: number }).id), r)
            s.send(raw)
          }),
        close: () => s.close(),
      }),
    )
  })
}

/** A real upgrade over a plain TCP socket; resolves once the server has switched protocols. */
function rawUpgrade(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port })
    let head = ''
    const onData = (d: Buffer): void => {
      head += d.toString('latin1')
      if (head.includes('\r\n\r\n')) {
        sock.off('data', onData)
        if (!head.startsWith('HTTP/1.1 101')) reject(new Error(head))
        else resolve(sock)
      }
    }
    sock.on('data', onData)
    sock.on('error', reject)
    sock.write(
      `GET /api?token=${token} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    )
  })
}

/** A client frame: FIN + opcode (+ RSV1), a mask unless told otherwise, the length as given (possibly a lie). */
function frame(o: { opcode: number; payload: Buffer; rsv1?: boolean; masked?: boolean; declaredLength?: bigint }): Buffer {
  const masked = o.masked ?? true
  const len = o.declaredLength ?? BigInt(o.payload.length)
  const b0 = 0x80 | (o.rsv1 ? 0x40 : 0) | o.opcode
  let header: Buffer
  if (len < 126n) header = Buffer.from([b0, (masked ? 0x80 : 0) | Number(len)])
  else if (len < 65536n) {
    header = Buffer.alloc(4)
    header[0] = b0
    header[1] = (masked ? 0x80 : 0) | 126
    header.writeUInt16BE(Number(len), 2)
  } else {
    header = Buffer.alloc(10)
    header[0] = b0
    header[1] = (masked ? 0x80 : 0) | 127
    header.writeBigUInt64BE(len, 2)
  }
  if (!masked) return Buffer.concat([header, o.payload])
  const key = randomBytes(4)
  const body = Buffer.from(o.payload.map((x, i) => x ^ key[i % 4]))
  return Buffer.concat([header, key, body])
}

/** Sends the frame and reads the server's close frame: its code (or 'ended' if the server just hung up). */
async function closeCodeFor(bytes: Buffer): Promise<number | 'ended'> {
  const sock = await rawUpgrade()
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0)
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d])
      // an unmasked server frame: opcode 8 = close, 2-byte length form, code in the first two payload bytes
      if (buf.length >= 4 && (buf[0] & 0x0f) === 8) {
        resolve(buf.readUInt16BE(2))
        sock.destroy()
      }
    })
    sock.on('close', () => resolve('ended'))
    sock.on('error', () => resolve('ended'))
    sock.write(bytes)
  })
}

describe('serve mode survives any WebSocket frame', () => {
  it('bad frames close only their own socket; other clients and a sweep in flight carry on', async () => {
    const a = await client()
    const sweep = a.call('sweep', { lrs: [0, 1e-3, 1e-2], maxGen: 24 }, 'sweep1')

    const bad: [string, Buffer, number][] = [
      ['a frame over the contract limit', frame({ opcode: 1, payload: Buffer.alloc(0), declaredLength: BigInt(MAX_MESSAGE_BYTES + 1) }), 1009],
      ['a 2^63 length', frame({ opcode: 1, payload: Buffer.alloc(0), declaredLength: 2n ** 63n }), 1009],
      ['invalid UTF-8', frame({ opcode: 1, payload: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) }), 1007],
      ['an unmasked frame', frame({ opcode: 1, payload: Buffer.from('{}'), masked: false }), 1002],
      ['a reserved opcode', frame({ opcode: 3, payload: Buffer.from('{}') }), 1002],
      ['RSV1 without permessage-deflate', frame({ opcode: 1, payload: Buffer.from('{}'), rsv1: true }), 1002],
    ]
    for (const [what, bytes, code] of bad) {
      expect(await closeCodeFor(bytes), what).toBe(code)
      expect(child.exitCode, `serve still runs after ${what}`).toBeNull()
      const b = await client()
      expect((await b.call('listModels', {})).ok, `another client is served after ${what}`).toBe(true)
      b.close()
    }
    const r = await sweep
    expect(r.error?.message).toBeUndefined()
    expect(r.ok).toBe(true)
    expect(stderr()).toMatch(/closed connection \d+: .*(Max payload size exceeded|payload length|WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH)/i)
    a.close()
  }, 180_000)

  it('the largest valid call fits the transport limit and gets an answer', async () => {
    // every text at its limit, in characters JSON writes as 6 bytes ("\u0001")
    const t = (n: number): string => '\u0001'.repeat(n - 1) + 'x'
    const args = {
      prompt: t(MAX_TEXT_CHARS),
      reference: t(MAX_REFERENCE_CHARS),
      probes: Object.fromEntries(Array.from({ length: MAX_PROBES }, (_, i) => [`${i}`.padStart(200, 'p'), t(MAX_TEXT_CHARS)])),
      steps: Array.from({ length: MAX_LESSONS }, () => ({ phrase: t(MAX_TEXT_CHARS), lr: 1e-3 })),
    }
    expect(validateCall('lesson', args).ok).toBe(true)
    const raw = JSON.stringify({ id: 1, method: 'lesson', args })
    expect(Buffer.byteLength(raw)).toBeGreaterThan(12_000_000)
    expect(Buffer.byteLength(raw)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES)
    const c = await client()
    const r = await c.send(raw)
    // the lab answers (here: the texts are longer than the organism's context), the socket stays open
    expect(r.ok).toBe(false)
    expect(r.error?.message).toMatch(/tokens|max_seq|context/)
    expect((await c.call('listModels', {})).ok).toBe(true)
    c.close()
  }, 180_000)

  it('a job id in use is refused, and the first job is not cancelled', async () => {
    const c = await client()
    const first = c.call('sweep', { lrs: [0, 1e-3], maxGen: 16 }, 'same')
    const second = await c.call('generate', { maxGen: 2 }, 'same')
    expect(second.ok).toBe(false)
    expect(second.error?.message).toBe('a job with this id is still running; give the new call another job id (or cancel the first)')
    const r = await first
    expect(r.error?.message).toBeUndefined()
    expect(r.ok).toBe(true)
    c.close()
  }, 120_000)
})

describe('checkpoint names (one rule in the contract, for every transport)', () => {
  it('refuse control characters, bidi overrides, ".." and a leading "."; the refusal prints no raw escape', () => {
    const bad: [string, RegExp][] = [
      ['evil\u001b[2J\u001b[31mred', /cannot contain control characters/],
      ['bell\u0007', /cannot contain control characters/],
      ['abc\u202eexe.txt', /cannot contain control characters/],
      ['..', /cannot start with "\." or contain "\.\."/],
      ['a..b', /cannot start with "\." or contain "\.\."/],
      ['.hidden', /cannot start with "\." or contain "\.\."/],
      ['a/b', /without "\/"/],
    ]
    for (const [name, why] of bad) {
      for (const [method, args] of [
        ['saveCheckpoint', { runId: 1, name }],
        ['renameCheckpoint', { id: 1, name }],
      ] as const) {
        const v = validateCall(method, args)
        expect(v.ok, JSON.stringify(name)).toBe(false)
        const message = v.ok ? '' : v.message
        expect(message).toMatch(why)
        expect(message).not.toMatch(/[\u0000-\u001f\u007f\u202a-\u202e]/)
      }
    }
    expect(validateCall('saveCheckpoint', { runId: 1, name: 'Hamlet at 0.03 — v2' }).ok).toBe(true)
  })
})
