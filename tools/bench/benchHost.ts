// The host a bench JSON was measured on (issue 25): the machine record every figure file carries, `--out auto` (the
// file of this host's class, docs/bench-<class>.json), and the merge of a partial run (--families, --moe30b-only,
// --families2, --study-only, --seed7b-only) into a file. Writing or merging into a file measured on another class of
// host is refused, in words (before anything is measured), so no file mixes figures of two kinds of machine.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { hostClass } from '../../src/main/engine/hostClass'
import { appRoot, loadAddon, type KernelInfo } from '../../src/main/engine/native'

export interface BenchMachine {
  /** the operating system's name for the CPU (os.cpus()) */
  cpu: string
  cores: number
  threads: number
  node: string
  load_avg_1m: number
  /** hostClass(): the slug naming docs/bench-<class>.json; null in files older than the field */
  host_class: string | null
  /** cpuid's vendor, brand, family / model / stepping (extended fields folded in), data caches in bytes; null where
   *  unknown */
  vendor: string | null
  brand: string | null
  family: number | null
  model: number | null
  stepping: number | null
  l1d_bytes: number | null
  l2_bytes: number | null
  l3_bytes: number | null
  /** the CPU features the engine read (kernelInfo().features), and the kernel tuning that ran */
  features: string[] | null
  tuning: string | null
}

const orNull = <T>(v: T): T | null => (v === 0 || v === '' ? null : v)

/** This machine's record, from the engine's kernelInfo() */
export function hostMachine(info: KernelInfo): BenchMachine {
  const c = info.cpu
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    threads: info.threads,
    node: process.version,
    load_avg_1m: Math.round(loadavg()[0] * 1000) / 1000,
    host_class: hostClass(info),
    vendor: orNull(c.vendor),
    brand: orNull(c.brand),
    // family 0 and model 0 are real values on some CPUs, but not with a vendor string: without cpuid they are unknown
    family: c.vendor ? c.family : null,
    model: c.vendor ? c.model : null,
    stepping: c.vendor ? c.stepping : null,
    l1d_bytes: orNull(c.l1dBytes),
    l2_bytes: orNull(c.l2Bytes),
    l3_bytes: orNull(c.l3Bytes),
    features: info.features,
    tuning: info.tuning,
  }
}

/** docs/bench-<class>.json in the project */
export function hostFile(cls: string, root: string = appRoot()): string {
  return join(root, 'docs', `bench-${cls}.json`)
}

/** the path after `--out`, when the args give one */
function outPath(args: string[]): string | undefined {
  const at = args.indexOf('--out')
  return at >= 0 ? args[at + 1] : undefined
}

/** args with `--out auto` replaced by this host's file (docs/bench-<class>.json); other args unchanged */
export function resolveOut(args: string[], cls: () => string = () => hostClass(loadAddon().kernelInfo())): string[] {
  if (outPath(args) !== 'auto') return args
  const out = [...args]
  const at = args.indexOf('--out')
  out[at + 1] = hostFile(cls())
  process.stderr.write(`--out auto: ${out[at + 1]}\n`)
  return out
}

/** the host class of the JSON at `--out`, when there is one and it records its class */
function outClass(path: string | undefined): string | undefined {
  if (!path || !existsSync(path)) return undefined
  return ((JSON.parse(readFileSync(path, 'utf8')) as { machine?: Partial<BenchMachine> }).machine?.host_class ?? undefined) || undefined
}

function otherClass(path: string | undefined, was: string, here: string | null): Error {
  return new Error(`--out ${path}: that file holds figures of host class ${was}, and this host is ${here}; write into docs/bench-${here}.json (--out auto) instead`)
}

/** Throws, in words, before anything is measured, when `--out` names a file of another host class than this one's */
export function checkOut(args: string[], cls: () => string = () => hostClass(loadAddon().kernelInfo())): void {
  const path = outPath(args)
  const was = outClass(path)
  if (was && was !== cls()) throw otherClass(path, was, cls())
}

/**
 * Merges figures into the JSON at `--out` (when given), keeping what is there; a file without a machine record gets
 * this host's. Throws, in words, when the file's host class is another than this host's. Returns the merged object.
 */
export function mergeOut(args: string[], figures: Record<string, unknown>, machine: () => BenchMachine = () => hostMachine(loadAddon().kernelInfo())): Record<string, unknown> {
  const path = outPath(args)
  const prev = path && existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>) : {}
  const here = machine()
  const was = (prev.machine as Partial<BenchMachine> | undefined)?.host_class
  if (was && was !== here.host_class) throw otherClass(path, was, here.host_class)
  const merged = prev.machine ? { ...prev, ...figures } : { machine: here, ...prev, ...figures }
  if (path) writeFileSync(path, JSON.stringify(merged, null, 2) + '\n')
  return merged
}
