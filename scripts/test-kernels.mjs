#!/usr/bin/env node
// Builds native/test/kernel_test.cpp (every kernel path against float64 and the scalar path) and runs it:
//   node scripts/test-kernels.mjs            this machine's paths (x86-64: scalar, avx2, avx512 as the CPU allows)
//   node scripts/test-kernels.mjs --bench    the generation product's GB/s per path, 1 and 8 columns (no test)
//   node scripts/test-kernels.mjs --bwdbench [hash]  the backward product dx += dy·W alone: hashes of its results
//                                            (bit-identity before / after a change) or its GFLOP/s per bench matrix
//                                            (native/test/backward_bench.cpp; no test); FWD=1: the same for the
//                                            forward y = x·Wᵀ
//   node scripts/test-kernels.mjs --qbench   the same for block-quantised matrices: fused kernels against
//                                            dequantise-then-dot, in turn in one process (TYPES=Q4_K,Q6_K …)
//   node scripts/test-kernels.mjs --arm64    cross-compiled with g++-aarch64-linux-gnu (static), run under
//                                            qemu-aarch64-static: the scalar and NEON paths
// Each kernel source is compiled with the same flags binding.gyp gives it. Exits non-zero on any mismatch or when the
// toolchain is missing (Debian: apt-get install g++-aarch64-linux-gnu qemu-user-static).
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const native = join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'native')
const arm64 = process.argv.includes('--arm64')
const bench = process.argv.includes('--bench') // the matvec micro-benchmark instead of the test
const qbench = process.argv.includes('--qbench') // the quantised one: fused kernels against dequantise-then-dot
const bwdbench = process.argv.includes('--bwdbench') // the backward product alone: hashes or GFLOP/s
const cxx = arm64 ? 'aarch64-linux-gnu-g++' : process.env.CXX || 'g++'
const out = join(native, 'build', arm64 ? 'kernel-test-arm64' : 'kernel-test-native')
mkdirSync(out, { recursive: true })

const base = ['-std=c++17', '-O3', '-pthread', '-Wall', '-Wno-unused-function']
const isX86 = !arm64 && process.arch === 'x64'
const units = [
  // the driver at -O2: aarch64-linux-gnu-g++ 12 hits an internal compiler error vectorising kernel_test.cpp at -O3
  [bwdbench ? 'test/backward_bench.cpp' : qbench ? 'test/qdot_bench.cpp' : bench ? 'test/matvec_bench.cpp' : 'test/kernel_test.cpp', ['-O2']],
  ['src/kernel_paths.cpp', []],
  ['src/kernels_scalar.cpp', []],
  ['src/kernels.cpp', []],
  ['src/quants.cpp', []],
  ['src/quants_iq.cpp', []],
  ['src/threads.cpp', []],
]
if (isX86) {
  units.push(['src/kernels_avx2.cpp', ['-mavx2', '-mfma', '-mf16c']])
  units.push(['src/kernels_avx512.cpp', ['-mavx2', '-mfma', '-mf16c', '-mavx512f', '-mavx512bw', '-mavx512vl', '-Wno-uninitialized']])
}
if (arm64 || process.arch === 'arm64') units.push(['src/kernels_neon.cpp', []])

function run(cmd, args) {
  try {
    execFileSync(cmd, args, { cwd: native, stdio: ['ignore', 'inherit', 'inherit'] })
  } catch (e) {
    const missing = e.code === 'ENOENT'
    console.error(missing ? `${cmd} is not installed (Debian: apt-get install -y g++-aarch64-linux-gnu qemu-user-static)` : `${cmd} failed`)
    process.exit(1)
  }
}

const objs = units.map(([src, flags]) => {
  const o = join(out, src.replace(/[/.]/g, '_') + '.o')
  run(cxx, [...base, ...flags, '-c', src, '-o', o])
  return o
})
const exe = join(out, bwdbench ? 'backward_bench' : qbench ? 'qdot_bench' : bench ? 'matvec_bench' : 'kernel_test')
run(cxx, [...base, ...(arm64 ? ['-static'] : []), ...objs, '-o', exe])
const exeArgs = bwdbench && process.argv.includes('hash') ? ['hash'] : []
const r = arm64 ? spawnSync('qemu-aarch64-static', [exe, ...exeArgs], { stdio: 'inherit' }) : spawnSync(exe, exeArgs, { stdio: 'inherit' })
if (r.error) {
  console.error(`could not run ${exe}: ${r.error.message}`)
  process.exit(1)
}
process.exit(r.status ?? 1)
