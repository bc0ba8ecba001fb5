// The host class the bench files its figures under (issue 25):
// - the slug rule (src/main/engine/hostClass.ts): vendor, microarchitecture from family / model where known (else the
//   two numbers), kernel path, -fp16 / -amx, on records of the CPUs this environment hands out and others;
// - the detection plumbing: kernelInfo().cpu against what Linux read from the same cpuid (/proc/cpuinfo, the sysfs
//   cache directory), the new features (avx512_fp16, AMX) against /proc/cpuinfo's flags, and `soliloquy info`;
// - the bench's host record and files (tools/bench/benchHost.ts): `--out auto`, a merge into a file of this class and
//   its refusal for a file of another, and `npm run bench:table` over two classes' files.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { describeCpu, hostClass, microarchitecture } from '../src/main/engine/hostClass'
import { loadAddon, type CpuHost, type KernelInfo } from '../src/main/engine/native'
import { checkOut, hostFile, hostMachine, mergeOut, resolveOut, type BenchMachine } from '../tools/bench/benchHost'
import { ROOT, tmp } from './helpers'

const addon = loadAddon()
const info = addon.kernelInfo()

const cpu = (vendor: string, family: number, model: number, stepping = 0): CpuHost => ({
  vendor, brand: '', family, model, stepping, l1dBytes: 0, l2Bytes: 0, l3Bytes: 0,
})
const host = (c: CpuHost, path = 'avx512', features: string[] = []): Pick<KernelInfo, 'path' | 'features' | 'cpu'> => ({ cpu: c, path, features })

describe('the host class slug', () => {
  it.each([
    // AMD: Zen 5 is family 0x1A; Zen 4 family 0x19 by model range (Genoa, Raphael, Phoenix, Bergamo), Zen 3 the rest
    [cpu('AuthenticAMD', 0x1a, 0x02), 'amd-zen5-avx512'],
    [cpu('AuthenticAMD', 0x1a, 0x44), 'amd-zen5-avx512'],
    [cpu('AuthenticAMD', 0x19, 0x11), 'amd-zen4-avx512'],
    [cpu('AuthenticAMD', 0x19, 0x61), 'amd-zen4-avx512'],
    [cpu('AuthenticAMD', 0x19, 0x74), 'amd-zen4-avx512'],
    [cpu('AuthenticAMD', 0x19, 0xa0), 'amd-zen4-avx512'],
    [cpu('AuthenticAMD', 0x19, 0x01), 'amd-zen3-avx512'],
    [cpu('AuthenticAMD', 0x19, 0x21), 'amd-zen3-avx512'],
    [cpu('AuthenticAMD', 0x17, 0x31), 'amd-zen2-avx512'],
    [cpu('AuthenticAMD', 0x17, 0x01), 'amd-zen-avx512'],
    [cpu('AuthenticAMD', 0x15, 0x02), 'amd-21-2-avx512'],
    // Intel family 6 Xeons; model 85 by stepping
    [cpu('GenuineIntel', 6, 207, 2), 'intel-emerald-rapids-avx512'],
    [cpu('GenuineIntel', 6, 143, 8), 'intel-sapphire-rapids-avx512'],
    [cpu('GenuineIntel', 6, 106), 'intel-ice-lake-sp-avx512'],
    [cpu('GenuineIntel', 6, 108), 'intel-ice-lake-sp-avx512'],
    [cpu('GenuineIntel', 6, 85, 4), 'intel-skylake-sp-avx512'],
    [cpu('GenuineIntel', 6, 85, 7), 'intel-cascade-lake-avx512'],
    [cpu('GenuineIntel', 6, 85, 11), 'intel-cooper-lake-avx512'],
    [cpu('GenuineIntel', 6, 173), 'intel-granite-rapids-avx512'],
    [cpu('GenuineIntel', 6, 174), 'intel-granite-rapids-avx512'],
    [cpu('GenuineIntel', 6, 207 - 24), 'intel-6-183-avx512'],
    // another vendor: its string's letters; family 0x19 of Hygon is not a Zen the table knows
    [cpu('HygonGenuine', 0x18, 1), 'hygongenuine-24-1-avx512'],
  ])('%o → %s', (c, want) => {
    expect(hostClass(host(c))).toBe(want)
  })

  it('names the path in use, then -fp16 and -amx when the CPU has them; without cpuid the architecture', () => {
    const emr = cpu('GenuineIntel', 6, 207, 2)
    expect(hostClass(host(emr, 'avx2'))).toBe('intel-emerald-rapids-avx2')
    expect(hostClass(host(emr, 'avx512', ['avx512f', 'avx512_fp16']))).toBe('intel-emerald-rapids-avx512-fp16')
    expect(hostClass(host(emr, 'avx512', ['avx512_fp16', 'amx_tile', 'amx_bf16']))).toBe('intel-emerald-rapids-avx512-fp16-amx')
    expect(hostClass(host(cpu('', 0, 0), 'neon'), 'arm64')).toBe('arm64-neon')
    expect(hostClass(host(cpu('', 0, 0), 'scalar'), '')).toBe('unknown-scalar')
  })

  it('microarchitecture names as a person writes them; null where the table does not know the family / model', () => {
    expect(microarchitecture(cpu('AuthenticAMD', 0x1a, 2))?.name).toBe('Zen 5')
    expect(microarchitecture(cpu('GenuineIntel', 6, 207))?.name).toBe('Emerald Rapids')
    expect(microarchitecture(cpu('GenuineIntel', 6, 183))).toBeNull()
    expect(microarchitecture(cpu('GenuineIntel', 15, 207))).toBeNull()
    expect(microarchitecture(cpu('AuthenticAMD', 6, 207))).toBeNull()
    expect(describeCpu({ ...cpu('GenuineIntel', 6, 207, 2), l1dBytes: 48 << 10, l2Bytes: 2 << 20, l3Bytes: 0 })).toBe(
      'Intel Emerald Rapids (GenuineIntel family 6 model 207 stepping 2), L1d 48 KiB, L2 2 MiB, L3 ?',
    )
  })
})

/** /proc/cpuinfo's first processor as key → value, or null off Linux */
function procCpuinfo(): Map<string, string> | null {
  if (!existsSync('/proc/cpuinfo')) return null
  const first = readFileSync('/proc/cpuinfo', 'utf8').split('\n\n')[0]
  return new Map(first.split('\n').map((l) => l.split(/\s*:\s*/, 2) as [string, string]))
}

/** bytes of the cpu0 cache of a level and type ('Data', 'Unified') as sysfs reports it, or undefined */
function sysfsCache(level: number, types: string[]): number | undefined {
  const dir = '/sys/devices/system/cpu/cpu0/cache'
  if (!existsSync(dir)) return undefined
  for (const d of readdirSync(dir).filter((x) => x.startsWith('index'))) {
    const read = (f: string): string => readFileSync(join(dir, d, f), 'utf8').trim()
    if (Number(read('level')) !== level || !types.includes(read('type'))) continue
    const m = /^(\d+)([KMG]?)$/.exec(read('size'))
    if (m) return Number(m[1]) * { '': 1, K: 1024, M: 2 ** 20, G: 2 ** 30 }[m[2] as '' | 'K' | 'M' | 'G']
  }
  return undefined
}

const x86 = process.arch === 'x64'

describe("this machine's CPU as the engine reads it", () => {
  it('kernelInfo().cpu has every field, with the types the bench writes', () => {
    const c = info.cpu
    expect(Object.keys(c).sort()).toEqual(['brand', 'family', 'l1dBytes', 'l2Bytes', 'l3Bytes', 'model', 'stepping', 'vendor'])
    for (const k of ['family', 'model', 'stepping', 'l1dBytes', 'l2Bytes', 'l3Bytes'] as const) expect(Number.isInteger(c[k]) && c[k] >= 0, k).toBe(true)
    if (x86) {
      expect(c.vendor).toMatch(/^[\x20-\x7e]{12}$/)
      expect(c.family).toBeGreaterThan(0)
    } else expect(c.vendor).toBe('')
  })

  it.runIf(x86 && procCpuinfo())('vendor, family, model, stepping and brand are what Linux read from cpuid', () => {
    const p = procCpuinfo()!
    expect(info.cpu.vendor).toBe(p.get('vendor_id'))
    expect(info.cpu.family).toBe(Number(p.get('cpu family')))
    expect(info.cpu.model).toBe(Number(p.get('model')))
    expect(info.cpu.stepping).toBe(Number(p.get('stepping')))
    // Linux prints the brand string with runs of spaces squeezed
    expect(info.cpu.brand.replace(/ +/g, ' ')).toBe((p.get('model name') ?? '').replace(/ +/g, ' '))
  })

  it.runIf(x86 && existsSync('/sys/devices/system/cpu/cpu0/cache'))('L1d, L2 and L3 are the sizes sysfs lists for cpu0 (0 where it lists none)', () => {
    expect(info.cpu.l1dBytes).toBe(sysfsCache(1, ['Data', 'Unified']) ?? 0)
    expect(info.cpu.l2Bytes).toBe(sysfsCache(2, ['Data', 'Unified']) ?? 0)
    expect(info.cpu.l3Bytes).toBe(sysfsCache(3, ['Data', 'Unified']) ?? 0)
  })

  it.runIf(x86 && procCpuinfo())("the features this machine reports agree with Linux's flags (AMX only where the OS enabled the tiles)", () => {
    const flags = new Set((procCpuinfo()!.get('flags') ?? '').split(' '))
    // Linux lists these from cpuid as we read them (avx512 ones only when it saves the ZMM state, as we require)
    for (const f of ['avx2', 'fma', 'f16c', 'avx512f', 'avx512bw', 'avx512vl', 'avx512_vnni', 'avx512_bf16', 'avx512_fp16'])
      expect(info.features.includes(f), f).toBe(flags.has(f))
    // ours also needs the tile state in XCR0, which a kernel listing the flag enables
    for (const f of ['amx_tile', 'amx_bf16', 'amx_int8']) if (info.features.includes(f)) expect(flags.has(f), f).toBe(true)
    if (info.features.includes('amx_bf16') || info.features.includes('amx_int8')) expect(info.features).toContain('amx_tile')
  })

  it("this host's class is a file-safe slug naming the path in use", () => {
    const c = hostClass(info)
    expect(c).toMatch(/^[a-z0-9]+(-[a-z0-9]+)+$/)
    expect(c).toContain(`-${info.path}`)
  })

  it('`soliloquy info` prints the CPU and the host class; its --json carries them', () => {
    const cli = (args: string[]) => spawnSync(process.execPath, [`${ROOT}/bin/soliloquy.js`, 'info', ...args], { encoding: 'utf8' })
    const j = cli(['--json'])
    expect(j.status, j.stderr).toBe(0)
    const got = JSON.parse(j.stdout) as { cpu: CpuHost; hostClass: string }
    expect(got.cpu).toEqual(info.cpu)
    expect(got.hostClass).toBe(hostClass(info))
    const text = cli([])
    expect(text.stdout).toContain(`host class    ${hostClass(info)}`)
    if (info.cpu.vendor) expect(text.stdout).toContain(`${info.cpu.vendor} family ${info.cpu.family} model ${info.cpu.model}`)
  })
})

describe("the bench's host record and files", () => {
  it('the machine record carries cpuid, caches, features, tuning and the class; unknowns are null', () => {
    const m = hostMachine(info)
    expect(m).toMatchObject({ host_class: hostClass(info), features: info.features, tuning: info.tuning, threads: info.threads })
    expect(m.vendor).toBe(info.cpu.vendor || null)
    expect(m.l3_bytes).toBe(info.cpu.l3Bytes || null)
    const none = hostMachine({ ...info, cpu: cpu('', 0, 0) })
    expect(none).toMatchObject({ vendor: null, brand: null, family: null, model: null, stepping: null, l1d_bytes: null, l2_bytes: null, l3_bytes: null })
  })

  it('`--out auto` is docs/bench-<class>.json; any other --out, or none, is left as given', () => {
    expect(resolveOut(['--json', '--out', 'auto'], () => 'amd-zen5-avx512')).toEqual(['--json', '--out', join(ROOT, 'docs', 'bench-amd-zen5-avx512.json')])
    expect(hostFile('x-y', '/r')).toBe(join('/r', 'docs', 'bench-x-y.json'))
    expect(resolveOut(['--json', '--out', 'f.json'], () => 'never')).toEqual(['--json', '--out', 'f.json'])
    expect(resolveOut(['--json'], () => 'never')).toEqual(['--json'])
  })

  it("a partial run merges into a file of its class (a new file gets this host's record) and refuses another class's", () => {
    const dir = tmp('soliloquy-host-class-')
    const file = join(dir, 'bench.json')
    const here: BenchMachine = { ...hostMachine(info), host_class: 'intel-emerald-rapids-avx512' }
    mergeOut(['--out', file], { study_workers_2_vs_1: 1.9 }, () => here)
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ machine: here, study_workers_2_vs_1: 1.9 })
    mergeOut(['--out', file], { seed7b_wall_s: 50 }, () => ({ ...here, load_avg_1m: 9 }))
    // the file's own record stays: it names the run the file's figures came from
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ machine: here, study_workers_2_vs_1: 1.9, seed7b_wall_s: 50 })
    expect(() => mergeOut(['--out', file], { seed7b_wall_s: 40 }, () => ({ ...here, host_class: 'amd-zen5-avx512' }))).toThrow(
      /holds figures of host class intel-emerald-rapids-avx512, and this host is amd-zen5-avx512; write into docs\/bench-amd-zen5-avx512.json/,
    )
    expect(JSON.parse(readFileSync(file, 'utf8')).seed7b_wall_s).toBe(50)
    // a full run checks before it measures; a file without a class (older than the field) or none at all passes
    expect(() => checkOut(['--out', file], () => 'amd-zen5-avx512')).toThrow(/host class intel-emerald-rapids-avx512/)
    expect(() => checkOut(['--out', file], () => 'intel-emerald-rapids-avx512')).not.toThrow()
    expect(() => checkOut(['--out', join(dir, 'none.json')], () => 'amd-zen5-avx512')).not.toThrow()
    writeFileSync(join(dir, 'old.json'), JSON.stringify({ machine: { cpu: 'AMD EPYC' } }))
    expect(() => checkOut(['--out', join(dir, 'old.json')], () => 'amd-zen5-avx512')).not.toThrow()
  })

  it('`npm run bench:table` puts each class in a column of its own, the hosts first and the targets met or not last', () => {
    const dir = tmp('soliloquy-bench-table-')
    mkdirSync(dir, { recursive: true })
    const amd = JSON.parse(readFileSync(join(ROOT, 'docs', 'bench-amd-zen5-avx512.json'), 'utf8'))
    // a second class: the AMD figures moved so each of the four targets falls the other way on it
    const intel = {
      ...amd,
      machine: { ...amd.machine, host_class: 'intel-emerald-rapids-avx512', vendor: 'GenuineIntel', brand: 'Intel(R) Xeon(R) Processor', family: 6, model: 207, stepping: 2, l1d_bytes: 49152, l2_bytes: 2097152, l3_bytes: 272629760, features: ['avx512f'], tuning: 'intel' },
      step_vs_roofline_1b: 2.26,
      sweep8_vs_single_1b: 1.07,
      sweep8_floor_vs_single_1b: 0.49,
      gen_vs_llamacpp_1b: 1.25,
      seed7b_wall_s: null,
      families_1b: undefined,
      moe30b: undefined,
    }
    const files = [join(dir, 'bench-b.json'), join(dir, 'bench-a.json')]
    writeFileSync(files[0], JSON.stringify(intel))
    writeFileSync(files[1], JSON.stringify(amd))
    const readme = join(dir, 'README.md')
    writeFileSync(readme, 'before\n<!-- bench-table:begin -->\nold\n<!-- bench-table:end -->\nafter\n')
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'bench-table.mjs'), '--readme', readme, ...files], { encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(0)
    const text = readFileSync(readme, 'utf8')
    expect(text).toMatch(/^before\n<!-- bench-table:begin -->\n/)
    expect(text).toMatch(/\n<!-- bench-table:end -->\nafter\n$/)
    expect(text).not.toContain('\nold\n')
    const rows = text.split('\n').filter((l) => l.startsWith('| '))
    expect(rows[0]).toBe('| figure | `amd-zen5-avx512` | `intel-emerald-rapids-avx512` |')
    // every row has a label and one cell per class
    for (const l of rows) expect(l.split(' | ').length, l).toBe(3)
    const cells = (label: string): string[] => {
      const l = rows.find((x) => x.startsWith(`| ${label}`))
      expect(l, label).toBeDefined()
      return l!.slice(2, -2).split(' | ').slice(1)
    }
    expect(cells('CPU (cpuid')).toEqual(['AMD EPYC (AuthenticAMD 26 / ? / ?; ? / ? / ?)', 'Intel(R) Xeon(R) Processor (GenuineIntel 6 / 207 / 2; 48 KiB / 2 MiB / 260 MiB)'])
    expect(cells('cores; kernel path')[1]).toBe('2 cores; `avx512`, 2 threads, tuning intel')
    expect(cells('fp32 FMA peak')[0]).toBe('232 GFLOP/s')
    expect(cells('1.1B shape, Q4_K_M')[1]).toBe('not run')
    expect(cells('seed experiment, Qwen3-30B-A3B shape')[1]).toBe('not run')
    expect(cells('seed experiment, Llama-2-7b shape')).toEqual(['**46 s** wall, peak RSS 13.16 GiB = **1.05 ×** the file (12.55 GiB)', 'not run'])
    expect(cells("issue 25's target: step")).toEqual(['**met** (1.82×)', '**not met** (2.26×)'])
    expect(cells("issue 25's target: 8-column sweep")).toEqual(['**not met** (2.06× against 1.63×)', '**met** (1.07× against 1.15×)'])
    expect(cells("issue 25's target: generation")).toEqual(['**not met** (1.14× llama.cpp, 67 % of the roofline)', '**met** (1.25× llama.cpp, 67 % of the roofline)'])
    expect(cells("issue 25's target: 7B seed")).toEqual(['**met** (46 s, 1.05× the file)', 'not run'])
  })

  it('the README table is the one docs/bench-*.json give (npm run bench:table was run after the last change)', () => {
    const dir = tmp('soliloquy-bench-table-now-')
    mkdirSync(dir, { recursive: true })
    const readme = join(dir, 'README.md')
    writeFileSync(readme, readFileSync(join(ROOT, 'README.md')))
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'bench-table.mjs'), '--readme', readme], { encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(0)
    expect(readFileSync(readme, 'utf8')).toBe(readFileSync(join(ROOT, 'README.md'), 'utf8'))
    expect(existsSync(join(ROOT, 'docs', 'bench.json')), 'docs/bench.json is split per host class now').toBe(false)
  })
})
