import { Flags, printJson } from '../common'
import { readGguf } from '../../engine/formats/gguf/read'
import { ggufSummary } from '../../engine/formats/gguf/summary'
import { describeCpu, hostClass } from '../../engine/hostClass'
import { loadAddon } from '../../engine/native'

export const infoOptions = {
  json: { type: 'boolean' },
  model: { type: 'string' },
} as const

/** `--model FILE.gguf`: the file's tensors per ggml type and its bits per weight (from the header, nothing loaded) */
function modelInfo(path: string, json: boolean): void {
  const s = ggufSummary(readGguf(path))
  if (json) return printJson({ model: path, ...s })
  const rows = s.types.map(
    (t) => `  ${t.type.padEnd(8)} ${String(t.tensors).padStart(5)} tensors ${String(t.weights).padStart(14)} weights  ${t.bitsPerWeight.toFixed(4)} bits/weight`,
  )
  process.stdout.write([`model         ${path}`, `weights       ${s.weights} in ${s.bytes} bytes: ${s.bitsPerWeight.toFixed(4)} bits per weight`, 'tensor types', ...rows].join('\n') + '\n')
}

/** The engine on this machine: the CPU (cpuid's brand, vendor, family / model, caches, and the bench's host class),
 *  which kernel path runs (chosen at load from the CPU's features, or forced by $SOLILOQUY_KERNELS), the paths this
 *  CPU could run, its features, and the worker threads. */
export async function infoCommand(flags: Flags): Promise<void> {
  if (typeof flags.model === 'string') return modelInfo(flags.model, !!flags.json)
  const k = loadAddon().kernelInfo()
  const forced = process.env.SOLILOQUY_KERNELS ? `forced by SOLILOQUY_KERNELS=${process.env.SOLILOQUY_KERNELS}` : 'chosen from the CPU'
  if (flags.json) {
    printJson({ cpu: k.cpu, hostClass: hostClass(k), kernelPath: k.path, forced: !!process.env.SOLILOQUY_KERNELS, availablePaths: k.available, cpuFeatures: k.features, tuning: k.tuning, threads: k.threads })
    return
  }
  process.stdout.write(
    [
      `cpu           ${k.cpu.brand || '(no brand string)'}`,
      `              ${describeCpu(k.cpu)}`,
      `host class    ${hostClass(k)} (names the bench's docs/bench-<class>.json)`,
      `kernel path   ${k.path} (${forced})`,
      `available     ${k.available.join(', ')}`,
      `cpu features  ${k.features.join(' ')}`,
      `tuning        ${k.tuning} (${process.env.SOLILOQUY_TUNING ? `forced by SOLILOQUY_TUNING=${process.env.SOLILOQUY_TUNING}` : 'chosen from the CPU'}; tunings: ${k.tunings.join(', ')})`,
      `threads       ${k.threads}`,
    ].join('\n') + '\n',
  )
}
