#!/usr/bin/env node
// `npm run fuzz -- --seconds N`: every fuzz target for N seconds each; exits non-zero on any finding and prints the
// reproducer's path.
//   native: libFuzzer + AddressSanitizer + UBSan harnesses in native/fuzz/*.cpp, built here with clang (no node-gyp:
//           the engine sources minus binding.cpp), corpora in native/fuzz/corpus/<harness>/.
//   TypeScript: a seeded mutation fuzzer over the table in scripts/fuzz/targets.ts (how to add a target is written
//           there), corpora in scripts/fuzz/corpus/<target>/; each target runs in a worker thread so a hang (an
//           input that takes longer than --hang seconds) is caught and saved.
// Options: --seconds N (default 30) · --target a,b (only these; a pending target runs only when named) · --native /
// --ts (one half) · --seed S · --hang S (default 10) · --rss-mb M (TypeScript targets' memory cap, default 1024) ·
// --replay FILE --target T (run one input and say what happened).
// Findings are written to fuzz-findings/ (git-ignored); a fixed finding becomes a corpus file (regression-…), which
// test/fuzz-corpus.test.ts replays on every `npm test`.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join, dirname, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const args = process.argv.slice(2)
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? args[i + 1] : def
}
const flag = (name) => args.includes(`--${name}`)
const seconds = Number(opt('seconds', '30'))
const seed = Number(opt('seed', String(Date.now() % 1e9)))
const hangSeconds = Number(opt('hang', '10'))
// the memory a TypeScript target may take (the process's resident set, worker included): an input that takes it past
// this is a finding, as a hang is (a parser's memory must be bounded by what the file justifies, issue 20)
const rssMb = Number(opt('rss-mb', '1024'))
const only = opt('target', '')?.split(',').filter(Boolean) ?? []
const replay = opt('replay', '')
const findingsDir = join(root, 'fuzz-findings')
if (!(seconds > 0)) {
  console.error('--seconds must be a positive number')
  process.exit(2)
}
const wanted = (name, pending) => (only.length ? only.includes(name) : !pending)

const findings = []
const lines = []
// each target's result is printed as it finishes (a CI log shows progress) and again in the summary
const note = (l) => {
  console.log(l)
  lines.push(l)
}

// ---- native harnesses --------------------------------------------------------------------------------------
// binding.cpp excluded; the kernel sources with the flags binding.gyp gives them (the dispatcher runs the best path
// this CPU has, so the AVX2/AVX-512 kernels are fuzzed where the CPU can run them)
const X86 = process.arch === 'x64'
const ENGINE = ['threads', 'loader', 'kernel_paths', 'kernels_scalar', 'kernels', 'quants', 'quants_iq', 'quantise', 'factors', 'step_memory', 'model', 'head', 'experts', 'infer', 'materialise']
  .map((s) => [s, []])
  .concat(X86 ? [['kernels_avx2', ['-mavx2', '-mfma', '-mf16c']], ['kernels_avx512', ['-mavx2', '-mfma', '-mf16c', '-mavx512f', '-mavx512bw', '-mavx512vl']]] : [['kernels_neon', []]])
const HARNESSES = readdirSync(join(root, 'native', 'fuzz'))
  .filter((f) => /^fuzz_.*\.cpp$/.test(f))
  .map((f) => f.replace(/\.cpp$/, ''))

function clang() {
  for (const c of ['clang++', 'clang++-16', 'clang++-15', 'clang++-14']) {
    if (spawnSync(c, ['--version']).status === 0) return c
  }
  return undefined
}

function newer(out, inputs) {
  if (!existsSync(out)) return true
  const t = statSync(out).mtimeMs
  return inputs.some((i) => statSync(i).mtimeMs > t)
}

function buildNative(cxx) {
  const build = join(root, 'native', 'fuzz', 'build')
  mkdirSync(build, { recursive: true })
  const common = ['-std=c++17', '-g', '-O1', '-fno-omit-frame-pointer', '-pthread']
  const san = ['-fsanitize=address,undefined', '-fno-sanitize-recover=all']
  const headers = readdirSync(join(root, 'native', 'src')).filter((f) => f.endsWith('.h')).map((f) => join(root, 'native', 'src', f))
  const objs = []
  for (const [s, flags] of ENGINE) {
    const src = join(root, 'native', 'src', `${s}.cpp`)
    const obj = join(build, `${s}.o`)
    const inc = join(root, 'native', 'src', 'kernels_isa.inc')
    if (newer(obj, [src, inc, ...headers])) execFileSync(cxx, [...common, ...flags, ...san, '-fsanitize=fuzzer-no-link', '-c', src, '-o', obj], { stdio: 'inherit' })
    objs.push(obj)
  }
  const bins = {}
  for (const h of HARNESSES) {
    const src = join(root, 'native', 'fuzz', `${h}.cpp`)
    const bin = join(build, h)
    if (newer(bin, [src, join(root, 'native', 'fuzz', 'fuzz_common.h'), ...objs]))
      execFileSync(cxx, [...common, ...san, '-fsanitize=fuzzer', src, ...objs, '-o', bin], { stdio: 'inherit' })
    bins[h] = bin
  }
  return bins
}

function runNative(bins) {
  for (const h of HARNESSES) {
    if (!wanted(h, false)) continue
    const corpus = join(root, 'native', 'fuzz', 'corpus', h)
    mkdirSync(join(findingsDir), { recursive: true })
    const env = {
      ...process.env,
      ASAN_OPTIONS: 'abort_on_error=0:detect_leaks=1:allocator_may_return_null=0',
      UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
    }
    if (replay) {
      const r = spawnSync(bins[h], [replay], { env, encoding: 'utf8' })
      console.log(r.stderr.split('\n').slice(-40).join('\n'))
      if (r.status !== 0) findings.push({ target: h, path: replay })
      continue
    }
    // new inputs go to a scratch folder: the checked-in corpus only changes by hand
    const scratch = mkdtempSync(join(tmpdir(), `soliloquy-${h}-`))
    const t0 = Date.now()
    const r = spawnSync(
      bins[h],
      [`-max_total_time=${seconds}`, '-rss_limit_mb=2048', `-timeout=${hangSeconds}`, '-max_len=65536', `-seed=${seed}`,
        `-artifact_prefix=${findingsDir}/${h}-`, '-print_final_stats=1', scratch, corpus],
      { env, encoding: 'utf8', maxBuffer: 64 << 20 },
    )
    rmSync(scratch, { recursive: true, force: true })
    const out = r.stderr ?? ''
    const runs = /stat::number_of_executed_units:\s*(\d+)/.exec(out)?.[1] ?? '?'
    const cov = [...out.matchAll(/cov: (\d+)/g)].pop()?.[1] ?? '?'
    if (r.status !== 0) {
      const art = /(?:Test unit written to|written to) (\S+)/.exec(out)?.[1]
      console.log(out.split('\n').filter((l) => /ERROR|SUMMARY|runtime error|#\d+ 0x|==\d+==/.test(l)).slice(0, 30).join('\n'))
      findings.push({ target: h, path: art ?? '(see the output above)' })
      note(`native ${h}: FINDING after ${((Date.now() - t0) / 1000).toFixed(0)} s, reproducer ${art ?? '?'}`)
    } else {
      note(`native ${h}: clean, ${runs} inputs in ${seconds} s, coverage ${cov} edges`)
    }
  }
}

// ---- TypeScript targets -------------------------------------------------------------------------------------
async function bundleWorker() {
  const { build } = await import('rolldown')
  // inside the repository, so the bundle's bare imports (better-sqlite3…) resolve from its node_modules
  const out = join(root, 'native', 'fuzz', 'build', 'ts')
  mkdirSync(out, { recursive: true })
  await build({
    input: join(root, 'scripts', 'fuzz', 'worker.ts'),
    platform: 'node',
    external: (id) => !id.startsWith('.') && !id.startsWith('/') && !/^[A-Za-z]:[\\/]/.test(id),
    resolve: { alias: { '@shared': join(root, 'src', 'shared') } },
    output: { file: join(out, 'worker.mjs'), format: 'esm' },
    logLevel: 'silent',
  })
  return join(out, 'worker.mjs')
}

function runTarget(workerFile, name, pending) {
  const SHARED_HEADER = 8
  const MAX_INPUT = 1 << 20
  const shared = new SharedArrayBuffer(SHARED_HEADER + MAX_INPUT)
  const counters = new Int32Array(shared, 0, 2)
  const scratch = mkdtempSync(join(tmpdir(), `soliloquy-${name}-`))
  const corpus = join(root, 'scripts', 'fuzz', 'corpus', name)
  mkdirSync(corpus, { recursive: true })
  const current = () => Buffer.from(new Uint8Array(shared, SHARED_HEADER, Atomics.load(counters, 1)))
  return new Promise((done) => {
    const t0 = Date.now()
    const w = new Worker(workerFile, {
      workerData: { target: name, seconds, seed, corpus, findings: findingsDir, scratch, shared, replay: replay || undefined, rssMb },
      resourceLimits: { maxOldGenerationSizeMb: 2048 },
    })
    let last = -1
    let lastChange = Date.now()
    let settled = false
    const finish = (line, finding) => {
      if (settled) return
      settled = true
      clearInterval(timer)
      rmSync(scratch, { recursive: true, force: true })
      if (finding) findings.push(finding)
      note(line)
      void w.terminate()
      done()
    }
    const saveCurrent = (why) => {
      mkdirSync(findingsDir, { recursive: true })
      const p = join(findingsDir, `${name}-${why}-${Date.now()}`)
      writeFileSync(p, current())
      return p
    }
    const timer = setInterval(() => {
      // a transient peak the worker's own check after each input would miss
      const rss = process.memoryUsage.rss() / (1 << 20)
      if (rss > rssMb) {
        const p = saveCurrent('rss')
        console.log(`${name}: the process reached ${rss.toFixed(0)} MB resident, above --rss-mb ${rssMb}`)
        finish(`ts ${name}: FINDING (memory: ${rss.toFixed(0)} MB > ${rssMb} MB), reproducer ${p}`, { target: name, path: p })
        return
      }
      const n = Atomics.load(counters, 0)
      if (n !== last) {
        last = n
        lastChange = Date.now()
      } else if (Date.now() - lastChange > hangSeconds * 1000) {
        const p = saveCurrent('hang')
        console.log(`${name}: an input ran for more than ${hangSeconds} s`)
        finish(`ts ${name}: FINDING (hang), reproducer ${p}`, { target: name, path: p })
      }
    }, 200)
    w.on('message', (m) => {
      if (m.kind === 'finding') {
        console.log(`${name}: ${m.finding}`)
        // the worker's own check after an input may see the memory cap crossed before this process's timer does:
        // the same line either way
        const what = m.rssMb === undefined ? '' : ` (memory: ${m.rssMb.toFixed(0)} MB > ${rssMb} MB)`
        finish(`ts ${name}: FINDING${what}, reproducer ${m.path}`, { target: name, path: m.path })
      } else if (m.kind === 'done') {
        const note = pending ? ' (pending target)' : ''
        finish(`ts ${name}: ${replay ? `replayed: ${m.outcomes[0]}` : `clean, ${m.runs} inputs in ${((Date.now() - t0) / 1000).toFixed(0)} s, ${m.outcomes.length} distinct outcomes, ${m.seeds} seeds`}${note}`)
      }
    })
    w.on('error', (e) => {
      const p = saveCurrent('crash')
      console.log(`${name}: the worker died: ${e.stack ?? e}`)
      finish(`ts ${name}: FINDING (worker died: ${e.code ?? e.message}), reproducer ${p}`, { target: name, path: p })
    })
    w.on('exit', (code) => {
      if (!settled) finish(`ts ${name}: FINDING (worker exited with ${code})`, { target: name, path: saveCurrent('exit') })
    })
  })
}

async function runTs() {
  const workerFile = await bundleWorker()
  // the table itself is TypeScript: read names and pending flags through the bundle's sibling
  const { build } = await import('rolldown')
  const tableFile = join(dirname(workerFile), 'targets.mjs')
  await build({
    input: join(root, 'scripts', 'fuzz', 'targets.ts'),
    platform: 'node',
    external: (id) => !id.startsWith('.') && !id.startsWith('/'),
    output: { file: tableFile, format: 'esm' },
    logLevel: 'silent',
  })
  const { TARGETS } = await import(tableFile)
  for (const t of TARGETS) {
    if (!wanted(t.name, !!t.pending)) {
      if (t.pending && !only.length) note(`ts ${t.name}: skipped (pending: ${t.pending})`)
      continue
    }
    await runTarget(workerFile, t.name, t.pending)
  }
}

// ---- main ------------------------------------------------------------------------------------------------------
const doNative = !flag('ts')
const doTs = !flag('native')
console.log(`fuzz: ${seconds} s per target, seed ${seed}${only.length ? `, targets ${only.join(', ')}` : ''} (${cpus().length} cores)`)
if (doNative && (!only.length || only.some((t) => HARNESSES.includes(t)))) {
  const cxx = clang()
  if (!cxx) {
    console.error('fuzz: clang++ is not installed (Debian: apt-get install clang libclang-rt-14-dev); the native harnesses cannot run')
    findings.push({ target: 'native', path: '(clang missing)' })
  } else {
    runNative(buildNative(cxx))
  }
}
if (doTs) await runTs()
console.log('fuzz summary:')
for (const l of lines) console.log(`  ${l}`)
if (findings.length) {
  console.log(`fuzz: ${findings.length} finding(s):`)
  for (const f of findings) console.log(`  ${f.target}: ${relative(process.cwd(), f.path)}  (replay: npm run fuzz -- --replay ${relative(root, f.path)} --target ${f.target})`)
  process.exit(1)
}
console.log('fuzz: no findings')
