import { Flags, printJson } from '../common'
import { loadAddon } from '../../engine/native'

export const infoOptions = {
  json: { type: 'boolean' },
} as const

/** The engine on this machine: which kernel path runs (chosen at load from the CPU's features, or forced by
 *  $SOLILOQUY_KERNELS), the paths this CPU could run, its features, and the worker threads. */
export async function infoCommand(flags: Flags): Promise<void> {
  const k = loadAddon().kernelInfo()
  const forced = process.env.SOLILOQUY_KERNELS ? `forced by SOLILOQUY_KERNELS=${process.env.SOLILOQUY_KERNELS}` : 'chosen from the CPU'
  if (flags.json) {
    printJson({ kernelPath: k.path, forced: !!process.env.SOLILOQUY_KERNELS, availablePaths: k.available, cpuFeatures: k.features, threads: k.threads })
    return
  }
  process.stdout.write(
    [
      `kernel path   ${k.path} (${forced})`,
      `available     ${k.available.join(', ')}`,
      `cpu features  ${k.features.join(' ')}`,
      `threads       ${k.threads}`,
    ].join('\n') + '\n',
  )
}
