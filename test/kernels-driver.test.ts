// The C++ kernel test driver (native/test/kernel_test.cpp, built by scripts/test-kernels.mjs): every kernel path
// against float64 and the scalar path, natively and — cross-compiled for arm64 — under qemu-aarch64-static, so the
// NEON path is checked without arm64 hardware; each under every kernel tuning. CI installs the cross toolchain
// (.ci/run); elsewhere the arm64 run is skipped when it is missing.
import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { ROOT } from './helpers'

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0
const canArm64 = has('aarch64-linux-gnu-g++') && has('qemu-aarch64-static')

function driver(args: string[], tuning: string): { out: string; status: number | null } {
  const r = spawnSync(process.execPath, ['scripts/test-kernels.mjs', ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, SOLILOQUY_TUNING: tuning } })
  return { out: r.stdout + r.stderr, status: r.status }
}

// under every kernel tuning (native/src/kernel_paths.h: how the products cut, block and prefetch their work), forced
// by SOLILOQUY_TUNING whatever this CPU's own is: each must pass on every path, NEON included
describe.each(['zen', 'intel'])('kernel test driver, tuning %s', (tuning) => {
  it('this machine: every kernel path passes', () => {
    const r = driver([], tuning)
    expect(r.out).toMatch(/kernel paths: scalar/)
    expect(r.out).toMatch(new RegExp(`^tuning: ${tuning}$`, 'm'))
    expect(r.out).not.toMatch(/^FAIL/m)
    expect(r.out).toMatch(/\d+ passed, 0 failed/)
    expect(r.status).toBe(0)
  }, 300_000)

  it.skipIf(!canArm64 && !process.env.CI)('arm64 under qemu: scalar and NEON paths pass', () => {
    const r = driver(['--arm64'], tuning)
    expect(r.out).toMatch(/kernel paths: scalar neon/)
    expect(r.out).toMatch(new RegExp(`^tuning: ${tuning}$`, 'm'))
    expect(r.out).not.toMatch(/^FAIL/m)
    expect(r.out).toMatch(/\d+ passed, 0 failed/)
    expect(r.status).toBe(0)
  }, 300_000)
})
