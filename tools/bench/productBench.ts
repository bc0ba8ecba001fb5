// `npm run bench -- --products [--json] [--warm] [--rounds N] [--only gemma|qwen3] [--paths avx512,avx2]`: the weight
// products of a step alone — the forward y = x·Wᵀ (matmul_wt) and the backward dx += dy·W (matmul_w_acc) of one stored
// matrix at the phrase's 13 rows — on the Gemma-3-1B and Qwen3-0.6B shapes at F16 and BF16, on each kernel path this
// CPU runs: GFLOP/s and its fraction of the path's measured FMA peak (measureFlops). Each call starts with its weights
// out of the caches, as in a step (--warm: left cached by the previous call, the kernels' compute alone). The paths
// take turns round by round on the same matrix, each keeping its best, so load on the shared machine lands on all.
//
// `npm run bench -- --products --step FILE [--rounds N]`: the step alone (the exact gradient of the bench's phrase) on
// a model file, N times after one warm-up: wall seconds, the process's CPU seconds (user + system) and its minor page
// faults per step. On the shared machine the CPU seconds are the steadier figure (the wall time follows the load), and
// the faults show fresh buffers touched inside the step.
import { loadavg } from 'node:os'
import { Engine } from '../../src/main/engine/engine'
import { loadAddon } from '../../src/main/engine/native'
import { SHAPES2, type Shape } from './benchShapes'

const PHRASE = 'To be, or not to be, that is the question'

const R = 13
/** [label, rows (out), cols (in)] of each product of a layer of shape `c`, then the tied output/embedding table */
function layerProducts(c: Shape): [string, number, number][] {
  const q = c.heads * c.headDim, kv = c.kvHeads * c.headDim
  return [
    [`q ${c.dim}→${q}`, q, c.dim],
    [`k/v ${c.dim}→${kv}`, kv, c.dim],
    [`gate/up ${c.dim}→${c.ffn}`, c.ffn, c.dim],
    [`down ${c.ffn}→${c.dim}`, c.dim, c.ffn],
    [`o ${q}→${c.dim}`, c.dim, q],
    [`output ${c.vocab}×${c.dim}`, c.vocab, c.dim],
  ]
}
/** the bench's Gemma-3-1B and Qwen3-0.6B shapes (benchShapes.ts), by the first word of their label: gemma, qwen3 */
const SHAPES: Record<string, [string, number, number][]> = Object.fromEntries(
  SHAPES2.map((c) => [c.label.split('-')[0].toLowerCase(), layerProducts(c)]),
)

interface Line {
  model: string
  product: string
  dtype: string
  path: string
  forward_gflops: number
  backward_gflops: number
  forward_of_peak: number
  backward_of_peak: number
}

export async function stepTimes(file: string, rounds: number): Promise<number[]> {
  const engine = Engine.load(file, { threads: Number(process.env.STEP_THREADS ?? 0) })
  await engine.weightsSettled()
  const times: number[] = []
  // the first step (a warm-up, not among the times) and `rounds` more; each released once timed, so the next reuses
  // its memory, as a lab that drops a gradient it no longer needs
  for (let i = -1; i < rounds; i++) {
    const f0 = process.resourceUsage().minorPageFault
    const c0 = process.cpuUsage()
    const t = process.hrtime.bigint()
    const g = await engine.gradient(PHRASE)
    const s = Number(process.hrtime.bigint() - t) / 1e9
    g.release()
    if (i >= 0) times.push(s)
    else process.stderr.write(`${file}: weights ${engine.weightsMemory}\n`)
    const c = process.cpuUsage(c0)
    process.stderr.write(`${i < 0 ? 'first step' : 'step'} ${s.toFixed(3)} s wall, ${((c.user + c.system) / 1e6).toFixed(3)} s CPU (${(c.system / 1e6).toFixed(3)} system), ${process.resourceUsage().minorPageFault - f0} page faults\n`)
  }
  return times
}

export async function productBench(args: string[]): Promise<Line[]> {
  const at0 = args.indexOf('--step')
  if (at0 >= 0) {
    const rounds = args.includes('--rounds') ? Number(args[args.indexOf('--rounds') + 1]) : 5
    const times = await stepTimes(args[at0 + 1], rounds)
    console.log(`step ${times.map((t) => t.toFixed(3)).join(' ')} s (best ${Math.min(...times).toFixed(3)}, load ${loadavg()[0].toFixed(1)})`)
    return []
  }
  const addon = loadAddon()
  const threads = addon.threads()
  const at = (flag: string): string | undefined => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined)
  const rounds = Number(at('--rounds') ?? 3)
  const cold = !args.includes('--warm')
  const available = addon.kernelInfo().available.filter((p) => p !== 'scalar')
  const paths = at('--paths')?.split(',') ?? available.slice().reverse()
  const models = at('--only') ? [at('--only')!] : Object.keys(SHAPES)
  const peak: Record<string, number> = {}
  for (const p of paths) {
    addon.setKernelPath(p)
    peak[p] = addon.measureFlops(threads)
  }
  const r3 = (x: number): number => Math.round(x * 1000) / 1000
  const lines: Line[] = []
  const log = (s: string): boolean => process.stderr.write(s + '\n')
  log(`${threads} threads, R = ${R}, ${cold ? 'weights out of the caches' : 'weights as the last call left them'}; FMA peak ${paths.map((p) => `${p} ${peak[p].toFixed(0)}`).join(', ')} GFLOP/s`)
  for (const model of models)
    for (const [product, rows, cols] of SHAPES[model])
      for (const dtype of ['F16', 'BF16']) {
        const best: Record<string, { forward: number; backward: number }> = {}
        for (const p of paths) best[p] = { forward: Infinity, backward: Infinity }
        const reps = rows * cols > 1e8 ? 2 : 5
        for (let round = 0; round < rounds; round++)
          for (const p of paths) {
            addon.setKernelPath(p)
            const t = addon.timeProducts(dtype, rows, cols, R, reps, cold)
            best[p].forward = Math.min(best[p].forward, t.forward)
            best[p].backward = Math.min(best[p].backward, t.backward)
          }
        const flop = 2 * R * rows * cols
        for (const p of paths) {
          const f = flop / best[p].forward / 1e9, b = flop / best[p].backward / 1e9
          const line = { model, product, dtype, path: p, forward_gflops: r3(f), backward_gflops: r3(b), forward_of_peak: r3(f / peak[p]), backward_of_peak: r3(b / peak[p]) }
          lines.push(line)
          log(`${model.padEnd(6)} ${product.padEnd(20)} ${dtype.padEnd(5)} ${p.padEnd(7)} forward ${f.toFixed(0).padStart(4)} GFLOP/s (${(f / peak[p]).toFixed(2)})  backward ${b.toFixed(0).padStart(4)} GFLOP/s (${(b / peak[p]).toFixed(2)})`)
        }
      }
  addon.setKernelPath('')
  if (args.includes('--json')) console.log(JSON.stringify({ threads, rows: R, cold, fma_peak_gflops: peak, products: lines }, null, 2))
  return lines
}
