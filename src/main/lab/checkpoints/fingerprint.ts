// A model's fingerprint: what a saved step is checked against before it is applied to weights again.
import { createHash } from 'node:crypto'
import { closeSync, fstatSync, openSync, readdirSync, readSync, statSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { readModelBytes } from '../../engine/modelFiles'

// ---- model fingerprint --------------------------------------------------------------------------------------

export interface Fingerprint {
  /** sha256 over the per-file digests */
  fingerprint: string
  /** file name → digest of what was sampled ("size:sha256") */
  files: Record<string, string>
}

const SAMPLE = 64 * 1024

/**
 * A cheap, robust identity for a model directory (or a single .gguf file). Hashing every byte of a 7B model (13 GB) would take tens of
 * seconds on each open; instead we hash what identifies it: config.json and the tokenizer in full (small, and they
 * change what ids and shapes mean), and for each safetensors file its size, its whole JSON header (names, dtypes,
 * shapes, offsets) and three 64 KiB blocks of data (start, middle, end). A different model, a re-quantised or
 * re-converted file, a truncated download or a fine-tuned copy saved over the original changes the size, the header
 * or the sampled blocks; only a deliberate edit of unsampled bytes in place would go unnoticed. Reads < 1 MB.
 */
export function modelFingerprint(dir: string): Fingerprint {
  const files: Record<string, string> = {}
  // a single-file model (.gguf) is fingerprinted as the only file of its folder
  const single = statSync(dir).isFile()
  const names = single ? [basename(dir)] : readdirSync(dir).sort()
  if (single) dir = dirname(dir)
  for (const name of names) {
    const p = join(dir, name)
    if (!statSync(p).isFile()) continue
    if (name === 'config.json' || name === 'tokenizer.model' || name === 'tokenizer.json') {
      const b = readModelBytes(p, name) // bounded like every read of a model folder (a 2 GB tokenizer.model beside a tokenizer.json)
      files[name] = `${b.length}:${createHash('sha256').update(b).digest('hex')}`
    } else if (name.endsWith('.safetensors') || (single && name.endsWith('.gguf'))) {
      const fd = openSync(p, 'r')
      try {
        const size = fstatSync(fd).size
        const h = createHash('sha256')
        const read = (pos: number, len: number): void => {
          const n = Math.max(0, Math.min(len, size - pos))
          if (n === 0) return
          const b = Buffer.alloc(n)
          readSync(fd, b, 0, n, pos)
          h.update(b)
        }
        // GGUF: the metadata and tensor table lead the file; its first MiB stands in for the header
        let headerEnd = Math.min(size, name.endsWith('.gguf') ? 16 * SAMPLE : 8)
        if (size >= 8 && !name.endsWith('.gguf')) {
          const lb = Buffer.alloc(8)
          readSync(fd, lb, 0, 8, 0)
          // at most the 100 MB a safetensors header may have: a stray file claiming 3 GB was read whole before
          headerEnd = Math.min(size, 8 + Math.min(Number(lb.readBigUInt64LE(0)), 100_000_000))
        }
        read(0, headerEnd)
        const dataLen = size - headerEnd
        read(headerEnd, SAMPLE)
        read(headerEnd + Math.max(0, Math.floor(dataLen / 2) - SAMPLE / 2), SAMPLE)
        read(Math.max(headerEnd, size - SAMPLE), SAMPLE)
        files[name] = `${size}:${h.digest('hex')}`
      } finally {
        closeSync(fd)
      }
    }
  }
  const all = createHash('sha256')
  for (const [k, v] of Object.entries(files)) all.update(`${k}=${v}\n`)
  return { fingerprint: all.digest('hex'), files }
}

/** Says in words what changed between two fingerprints' file lists. */
export function describeChange(saved: Record<string, string>, now: Record<string, string>): string {
  const parts: string[] = []
  for (const [name, v] of Object.entries(saved)) {
    const cur = now[name]
    if (cur === undefined) parts.push(`${name} is missing`)
    else if (cur !== v) {
      const [s0] = v.split(':')
      const [s1] = cur.split(':')
      parts.push(s0 !== s1 ? `${name} changed size (${s0} → ${s1} bytes)` : `${name} changed content (same size)`)
    }
  }
  for (const name of Object.keys(now)) if (!(name in saved)) parts.push(`${name} is new`)
  return parts.length ? parts.join('; ') : 'its files differ'
}

