// `npm run bench -- --iq-decode [--json]`: the decoding speed of ggml's IQ grid types (and IQ4_XS) on every kernel
// path this CPU runs, side by side in one process: millions of weights per second through the engine's own
// dequantisation of random valid blocks (1024 blocks, in cache: the decoder alone, not memory), the paths taking turns over 20 rounds, each keeping its best,
// and its ratio to the scalar path (before the grid decoders were vectorised, every path ran that scalar code).
import { loadAddon } from '../../src/main/engine/native'

const TYPES: [string, number][] = [
  ['IQ4_XS', 136], ['IQ3_S', 110], ['IQ3_XXS', 98], ['IQ2_XXS', 66], ['IQ2_XS', 74], ['IQ2_S', 82], ['IQ1_S', 50], ['IQ1_M', 56],
]
const BLOCKS = 1024
const ROUNDS = 20

/** random bytes with every block's fp16 scale an ordinary number (0x2a00 ≈ 0.047): any other bit pattern is valid */
function randomBlocks(t: string, bytes: number): Uint8Array {
  const b = new Uint8Array(BLOCKS * bytes)
  let s = 12345
  for (let i = 0; i < b.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    b[i] = s >>> 24
  }
  for (let k = 0; k < BLOCKS; k++) {
    const at = k * bytes
    if (t === 'IQ1_M') {
      // the scale is split over the top nibbles of the four u16 at bytes 48‥55, lowest first: 0, 0, 0xa, 0x2
      const nib = [0, 0, 0xa, 0x2]
      for (let j = 0; j < 4; j++) b[at + 49 + 2 * j] = (b[at + 49 + 2 * j] & 0x0f) | (nib[j] << 4)
    } else {
      b[at] = 0x00
      b[at + 1] = 0x2a
    }
  }
  return b
}

export interface IqDecodeFigures {
  /** per type: millions of weights decoded per second on each path, and each path's ratio to scalar */
  [type: string]: { mweights_s: Record<string, number>; vs_scalar: Record<string, number> }
}

export function iqDecode(json: boolean): IqDecodeFigures {
  const addon = loadAddon()
  const paths = addon.kernelInfo().available
  const out: IqDecodeFigures = {}
  try {
    for (const [t, bytes] of TYPES) {
      const b = randomBlocks(t, bytes)
      // the paths take turns, round by round, each keeping its best round: a burst of load on the shared machine then
      // lands on every path alike
      const best: Record<string, number> = Object.fromEntries(paths.map((p) => [p, Infinity]))
      const reps = 10
      for (let round = 0; round < ROUNDS; round++)
        for (const path of paths) {
          addon.setKernelPath(path)
          const t0 = process.hrtime.bigint()
          for (let r = 0; r < reps; r++) addon.dequantise(t, b, BLOCKS * 256)
          best[path] = Math.min(best[path], Number(process.hrtime.bigint() - t0) / 1e9)
        }
      const rate: Record<string, number> = Object.fromEntries(paths.map((p) => [p, (reps * BLOCKS * 256) / best[p] / 1e6]))
      const r3 = (x: number): number => Math.round(x * 1000) / 1000
      out[t] = {
        mweights_s: Object.fromEntries(paths.map((p) => [p, Math.round(rate[p])])),
        vs_scalar: Object.fromEntries(paths.map((p) => [p, r3(rate[p] / rate.scalar)])),
      }
      if (!json) console.log(`${t.padEnd(8)} ${paths.map((p) => `${p} ${Math.round(rate[p])} M/s (${(rate[p] / rate.scalar).toFixed(2)}×)`).join('   ')}`)
    }
  } finally {
    addon.setKernelPath('')
  }
  if (json) console.log(JSON.stringify(out, null, 2))
  return out
}
