// The class of host a figure was measured on, for the bench (issue 25): this environment hands out different CPUs per
// session, and a speed is only attributable to the class it was measured on. A class is the vendor and the
// microarchitecture (from cpuid's family / model, where this table knows them), the kernel path that ran, and the
// instruction sets that would change what an engine can do there (AVX512-FP16, AMX): a file-safe slug such as
// `amd-zen5-avx512` or `intel-emerald-rapids-avx512`, which names the bench's docs/bench-<class>.json.
import type { CpuHost, KernelInfo } from './native'

export interface Microarchitecture {
  /** lower case, hyphens: part of the class's slug */
  slug: string
  /** as a person writes it: 'Zen 5', 'Emerald Rapids' */
  name: string
}

const zen = (n: number): Microarchitecture => ({ slug: `zen${n}`, name: `Zen ${n}` })
const intel = (name: string): Microarchitecture => ({ slug: name.toLowerCase().replace(/ /g, '-'), name })

/**
 * The microarchitecture of a family / model (decimal, the extended fields folded in as /proc/cpuinfo prints them),
 * where the table knows it: AMD's Zen families (0x17 Zen / Zen 2, 0x19 Zen 3 / Zen 4 by model range, 0x1A Zen 5) and
 * Intel's server cores of family 6. Null for anything else (the class then names the family and model).
 */
export function microarchitecture(cpu: Pick<CpuHost, 'vendor' | 'family' | 'model' | 'stepping'>): Microarchitecture | null {
  const { family: f, model: m } = cpu
  if (cpu.vendor === 'AuthenticAMD') {
    if (f === 0x17) return m >= 0x30 ? zen(2) : { slug: 'zen', name: 'Zen' }
    // Zen 4: Genoa 0x10–0x1F, Raphael / Phoenix 0x60–0x7F, Bergamo 0xA0–0xAF; the rest of family 0x19 is Zen 3
    if (f === 0x19) return (m >= 0x10 && m <= 0x1f) || (m >= 0x60 && m <= 0x7f) || (m >= 0xa0 && m <= 0xaf) ? zen(4) : zen(3)
    if (f === 0x1a) return zen(5)
    return null
  }
  if (cpu.vendor === 'GenuineIntel' && f === 6) {
    // model 85 is three generations told apart by stepping: Skylake-SP (≤ 4), Cascade Lake (5–7), Cooper Lake (10–11)
    if (m === 85) return cpu.stepping >= 10 ? intel('Cooper Lake') : cpu.stepping >= 5 ? intel('Cascade Lake') : intel('Skylake SP')
    if (m === 106 || m === 108) return intel('Ice Lake SP')
    if (m === 143) return intel('Sapphire Rapids')
    if (m === 207) return intel('Emerald Rapids')
    if (m === 173 || m === 174) return intel('Granite Rapids')
    if (m === 175) return intel('Sierra Forest')
  }
  return null
}

/** 'intel', 'amd', another vendor string lower-cased to its letters and digits, or the architecture without cpuid */
function vendorSlug(vendor: string, arch: string): string {
  if (vendor === 'GenuineIntel') return 'intel'
  if (vendor === 'AuthenticAMD') return 'amd'
  const v = vendor.toLowerCase().replace(/[^a-z0-9]/g, '')
  return v || arch.toLowerCase().replace(/[^a-z0-9]/g, '') || 'unknown'
}

/**
 * The host's class as a file-safe slug: vendor, microarchitecture (or family-model in decimal when the table does not
 * know it; nothing more without cpuid), the kernel path in use, then `-fp16` with AVX512-FP16 and `-amx` with AMX
 * tiles. E.g. `amd-zen5-avx512`, `intel-emerald-rapids-avx512`, `intel-6-183-avx2`, `arm64-neon`.
 */
export function hostClass(info: Pick<KernelInfo, 'path' | 'features' | 'cpu'>, arch: string = process.arch): string {
  const c = info.cpu
  const parts = [vendorSlug(c.vendor, arch)]
  const u = microarchitecture(c)
  if (u) parts.push(u.slug)
  else if (c.vendor) parts.push(String(c.family), String(c.model))
  parts.push(info.path)
  if (info.features.includes('avx512_fp16')) parts.push('fp16')
  if (info.features.includes('amx_tile')) parts.push('amx')
  return parts.join('-').toLowerCase().replace(/[^a-z0-9-]/g, '')
}

/** bytes as the caches are usually written: 48 KiB, 2 MiB, 260 MiB; '?' when unknown (0) */
export function cacheSize(bytes: number): string {
  if (!bytes) return '?'
  if (bytes % 2 ** 20 === 0) return `${bytes / 2 ** 20} MiB`
  return bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} B`
}

/** One line naming the CPU: 'Intel Emerald Rapids (GenuineIntel family 6 model 207 stepping 2), L1d 48 KiB, L2 2 MiB,
 *  L3 260 MiB' — what `soliloquy info` and the bench's table print */
export function describeCpu(c: CpuHost): string {
  if (!c.vendor) return 'no cpuid on this CPU'
  const u = microarchitecture(c)
  const who = u ? `${vendorSlug(c.vendor, '') === 'amd' ? 'AMD' : 'Intel'} ${u.name} ` : ''
  return `${who}(${c.vendor} family ${c.family} model ${c.model} stepping ${c.stepping}), L1d ${cacheSize(c.l1dBytes)}, L2 ${cacheSize(c.l2Bytes)}, L3 ${cacheSize(c.l3Bytes)}`
}
