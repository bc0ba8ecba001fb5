#!/usr/bin/env node
// Rewrites the README's performance table from every host class's bench JSON (issue 25):
//   npm run bench:table                                  # every docs/bench-<class>.json into README.md
//   node scripts/bench-table.mjs [--readme FILE] [FILE.json …]
// Each file is one class of host (`npm run bench -- --json --seed7b --out auto` writes docs/bench-<class>.json; the
// class is tools/bench/benchHost.ts's machine.host_class, or the file's name for files older than it). One table, a
// column per class, a row per figure: the first rows name each host (CPU, caches, cores, kernel path, tuning, measured
// bandwidth and FMA peak, load average), then the figures, then issue 25's targets met or not per class.
// Everything between <!-- bench-table:begin --> and <!-- bench-table:end --> is replaced.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const args = process.argv.slice(2)
const readmeAt = args.indexOf('--readme')
const readme = readmeAt >= 0 ? args[readmeAt + 1] : join(root, 'README.md')
const given = args.filter((_, i) => readmeAt < 0 || (i !== readmeAt && i !== readmeAt + 1))
const docs = join(root, 'docs')
const sources = given.length ? given : readdirSync(docs).filter((f) => /^bench-.+\.json$/.test(f)).sort().map((f) => join(docs, f))
if (!sources.length) {
  console.error('no docs/bench-<class>.json to tabulate: run `npm run bench -- --json --seed7b --out auto` first')
  process.exit(1)
}
/** [class, figures] per file, in the order of their class names */
const hosts = sources
  .map((f) => {
    const j = JSON.parse(readFileSync(f, 'utf8'))
    return [j.machine?.host_class ?? basename(f).replace(/^bench-/, '').replace(/\.json$/, ''), j]
  })
  .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))

const n = (v, d = 2) => (v === null || v === undefined || Number.isNaN(v) ? '—' : Number(v).toFixed(d))
const held = (w) => ({ copied: 'copied onto 2 MiB pages', ready: 'copied onto 2 MiB pages', mapped: 'mapped (page cache)' })[w] ?? w
const typeList = (types) => Object.entries(types).map(([t, c]) => `${t} × ${c}`).join(', ')
const size = (b) => (b == null ? '?' : b % 2 ** 20 === 0 ? `${b / 2 ** 20} MiB` : `${b / 1024} KiB`)
const load = (v) => (v == null ? '' : `; load average ${n(v, 1)}`)
// where the ids part, the float64 judge's verdict (tools/bench/judge.ts): which pick the float64 forward on the file's
// weights ranks higher, by how much, and each engine's error in that difference
const sig = (v) => (v === null || v === undefined ? '—' : v === 0 ? '0' : Math.abs(v) < 1e-3 ? Number(v).toExponential(1) : Number(v).toPrecision(2))
const judged = (x) => {
  const f = x.float64_judge
  if (x.float64_prefers && f)
    return `; float64 on the file's weights prefers **${x.float64_prefers === 'ours' ? 'ours' : "llama.cpp's"}** by ${sig(Math.abs(f.float64_margin))} in logit${[f.ours_id, f.llamacpp_id].includes(f.float64_top_id) ? '' : " (its own top token is a third one)"}, our error in that difference ${sig(f.ours_margin_error)}, llama.cpp's ${sig(f.llamacpp_margin_error)}`
  return x.float64_judge_refused ? '; no float64 judge for this file' : ''
}
const ids = (x, tokens) => (x.same_ids === null ? '' : x.same_ids ? ', identical ids' : x.same_ids_prefix == null ? ', ids differ' : `, ids identical for ${x.same_ids_prefix} of ${tokens} (our margin there ${n(x.margin_at_first_difference)}${judged(x)})`)

/**
 * A row: `label(j)` names the figure (taken from the first class that has it, so run details of that file — runs,
 * tokens — name the row) and `value(j)` is its cell, or null where that class's file lacks the figure.
 */
const row = (label, value, missing = '—') => ({ label, value, missing })

const hostRows = [
  row(() => 'CPU (cpuid: vendor family / model / stepping; L1d / L2 / L3 of one core)', (j) => {
    const m = j.machine
    const id = m.vendor == null ? '' : ` (${m.vendor} ${m.family ?? '?'} / ${m.model ?? '?'} / ${m.stepping ?? '?'}; ${size(m.l1d_bytes)} / ${size(m.l2_bytes)} / ${size(m.l3_bytes)})`
    return `${m.brand ?? m.cpu}${id}`
  }),
  row(() => 'cores; kernel path, threads and tuning', (j) => `${j.machine.cores} cores; \`${j.kernel_path}\`, ${j.machine.threads} threads, tuning ${j.machine.tuning ?? '— (before tunings)'}`),
  row(() => 'CPU features the engine read', (j) => (j.machine.features ? j.machine.features.join(' ') : null)),
  row(() => 'load average during the run (a shared VM: read the ratios)', (j) => `${n(j.machine.load_avg_1m, 1)}${j.machine.load_avg_1m > 3 ? ' (other jobs shared the cores: compare ratios, not absolute speeds)' : ''}; node ${j.machine.node}`),
  row(() => 'weights held', (j) => (j.weights_memory_1b === undefined ? null : `${held(j.weights_memory_1b)} (1.1B)${j.weights_memory_seed7b ? `, ${held(j.weights_memory_seed7b)} (7B)` : ''}`)),
  row((j) => `read bandwidth (streaming 8-accumulator sum with prefetch, 2 GiB, on 2 MiB pages on Linux; the best of ${j.rounds_1b ? 'probes before, between and after' : 'before and after'} the runs)`, (j) => `${n(j.bandwidth_gbs, 1)} GB/s with ${j.machine.threads} threads, ${n(j.bandwidth_1t_gbs, 1)} GB/s with 1`),
  row(() => 'fp32 FMA peak', (j) => `${n(j.flops_peak_gflops, 0)} GFLOP/s`),
]

const figureRows = [
  row((j) => (j.gen_turns ? `1.1B shape (F16 GGUF), 1 column, greedy 64 (best of ${j.gen_turns} runs each, the engines taking turns run by run in one process)` : `1.1B shape (F16 GGUF), 1 column, greedy 64 (best of ${j.rounds_1b ?? 2} alternating rounds × 2 runs each)`),
    (j) => `ours ${n(j.gen_tok_s_1b)} tok/s, llama.cpp ${j.llamacpp_version} ${n(j.llamacpp_tok_s_1b)} tok/s: **${n(j.gen_vs_llamacpp_1b)}×**${j.same_ids_1b === null ? '' : j.same_ids_1b ? ', identical ids' : ', ids differ'}`),
  row(() => '1.1B generation vs bandwidth roofline', (j) => `${n((j.gen_vs_roofline_1b ?? 0) * 100, 0)} %`),
  row((j) => (j.gen_turns ? 'organism, 1 column, greedy 64 (the same way)' : 'organism, 1 column, greedy 64'), (j) => `ours ${n(j.gen_tok_s_organism, 0)} tok/s, llama.cpp ${n(j.llamacpp_tok_s_organism, 0)} tok/s: **${n(j.gen_vs_llamacpp_organism)}×**`),
  row((j) => `1.1B step (13 tokens; the best of ${j.rounds_1b ?? 2} rounds' medians of 3)`, (j) => `${n(j.step_s_1b)} s = **${n(j.step_vs_roofline_1b)}×** its roofline (${n(j.step_roofline_s_1b)} s)`),
  row((j) => `1.1B 8-column sweep vs 1 column (per decoding step; best of ${j.rounds_1b ?? 2} rounds × 2 runs each)`,
    (j) => `**${n(j.sweep8_vs_single_1b)}×**${j.sweep8_floor_vs_single_1b === undefined ? '' : `; the floor here is ${n(j.sweep8_floor_vs_single_1b)}× (8 columns' multiply-adds at the FMA peak over one column's time), and the sweep runs at ${n(j.sweep8_of_flops_peak_1b * 100, 0)} % of that peak`}`),
]

// the families of block types and the 2026 shapes: one row per name any class measured, in order of appearance
const namesOf = (key) => [...new Set(hosts.flatMap(([, j]) => Object.keys(j[key] ?? {})))]
const familyRows = namesOf('families_1b').map((f) =>
  row((j) => {
    const x = j.families_1b?.[f]
    return x && `1.1B shape, ${f === 'fallback' ? 'fallback mix' : f} (${typeList(x.types)}; ${n(x.file_gib)} GiB), greedy ${j.families_gen_tokens} (best of ${j.families_turns} runs each, in turns in one process) and the step`
  }, (j) => {
    const x = j.families_1b?.[f]
    return x ? `ours ${n(x.gen_tok_s)} tok/s, llama.cpp ${n(x.llamacpp_tok_s)} tok/s: **${n(x.gen_vs_llamacpp)}×**${ids(x, j.families_gen_tokens)}; step ${n(x.step_s)} s; the fp32 FMA floor allows ${n(x.fma_floor_tok_s, 0)} tok/s${load(j.families_load_avg_1m)}` : null
  }, 'not run'),
)
const families2Rows = namesOf('families2').map((f) =>
  row((j) => {
    const x = j.families2?.[f]
    return x && `${f} shape (${typeList(x.types)}; ${n(x.file_gib)} GiB), greedy 32 (best of 2 runs each, in turns in one process) and the step (${x.phrase_tokens} tokens)`
  }, (j) => {
    const x = j.families2?.[f]
    return x ? `ours ${n(x.gen_tok_s)} tok/s, llama.cpp ${n(x.llamacpp_tok_s)} tok/s: **${n(x.gen_vs_llamacpp)}×**${ids(x, 32)} (${n(x.gen_vs_roofline * 100, 0)} % of the bandwidth roofline); step ${n(x.step_s)} s = **${n(x.step_vs_roofline)}×** its roofline (${n(x.step_roofline_s)} s; ${x.step_best_of_alone ? `best of ${x.step_best_of_alone}, llama.cpp closed` : 'best of 2, llama.cpp open'})${load(j.families2_load_avg_1m)}` : null
  }, 'not run'),
)
const moeRows = hosts.some(([, j]) => j.moe30b)
  ? [
      row(({ moe30b: moe }) => moe && `seed experiment, ${moe.shape} shape${moe.layers === 48 ? '' : ` cut to ${moe.layers} layers`}, Q4_K_M (${typeList(moe.types)}, the experts one matrix each; ${n(moe.file_gib)} GiB) (\`--moe30b\`: load, step, 8 step sizes × 64 tokens; file in the page cache)`,
        ({ moe30b: moe }) => moe ? `**${n(moe.seed_wall_s, 0)} s** wall (load ${n(moe.seed_load_s, 1)} s, step ${n(moe.seed_step_s, 1)} s, sweep ${n(moe.seed_sweep_s, 0)} s), weights ${held(moe.weights_memory)}, peak RSS ${n(moe.seed_peak_rss_gib)} GiB = **${n(moe.seed_rss_vs_file)} ×** the file` : null, 'not run'),
      row(({ moe30b: moe }) => moe && `${moe.shape} shape, Q4_K_M, greedy ${moe.gen_tokens} (best of ${moe.turns} runs each, in turns${moe.engines_apart ? ', each engine alone in a process of its own (the file is more than half the memory)' : ' in one process'})`,
        ({ moe30b: moe }) => moe ? `ours ${n(moe.gen_tok_s)} tok/s, llama.cpp ${n(moe.llamacpp_tok_s)} tok/s: **${n(moe.gen_vs_llamacpp)}×**${ids(moe, moe.gen_tokens)}; the fp32 FMA floor of our exact products allows ${n(moe.fma_floor_tok_s, 1)} tok/s (${n(moe.active_params / 1e9)} G active weights a token)${load(moe.load_avg_1m)}` : null, 'not run'),
    ]
  : []
const tailRows = [
  row(() => 'study on the organism (24 cells × 8 α × 64 tokens) on a local Redis queue: 1 worker × 1 thread vs 2 workers × 1 thread, submission to the last cell recorded',
    (j) => (j.study_workers_1_s === undefined ? null : `${n(j.study_workers_1_s, 1)} s vs ${n(j.study_workers_2_s, 1)} s: **${n(j.study_workers_2_vs_1)}×** the throughput; the queue's overhead **${n(j.study_queue_overhead_ms_per_cell, 1)} ms** per cell (load average ${n(j.study_load_avg_1m, 1)} when measured)`), 'not run'),
  row(() => 'seed experiment, Llama-2-7b shape, F16 (`--seed7b`: load, step, 8 step sizes × 64 tokens; file in the page cache)',
    (j) => (j.seed7b_wall_s == null ? null : `**${n(j.seed7b_wall_s, 0)} s** wall, peak RSS ${n(j.seed7b_peak_rss_gib)} GiB = **${n(j.seed7b_peak_rss_gib / j.seed7b_file_gib)} ×** the file (${n(j.seed7b_file_gib)} GiB)`), 'not run'),
]

/** Issue 25's targets: null when the figures it needs are missing, else [met, what was measured] */
const TARGETS = [
  ['step ≤ 2× its roofline (1.1B)', (j) => (j.step_vs_roofline_1b == null ? null : [j.step_vs_roofline_1b <= 2, `${n(j.step_vs_roofline_1b)}×`])],
  ['8-column sweep ≤ 1.15 × max(1, floor) × one column (1.1B)', (j) => {
    if (j.sweep8_vs_single_1b == null || j.sweep8_floor_vs_single_1b == null) return null
    const bound = 1.15 * Math.max(1, j.sweep8_floor_vs_single_1b)
    return [j.sweep8_vs_single_1b <= bound, `${n(j.sweep8_vs_single_1b)}× against ${n(bound)}×`]
  }],
  ['generation ≥ 1.2× llama.cpp or ≥ 85 % of the in-run roofline (1.1B, 1 column)', (j) => {
    if (j.gen_vs_roofline_1b == null) return null
    const vs = j.gen_vs_llamacpp_1b
    return [(vs != null && vs >= 1.2) || j.gen_vs_roofline_1b >= 0.85, `${n(vs)}× llama.cpp, ${n(j.gen_vs_roofline_1b * 100, 0)} % of the roofline`]
  }],
  ['7B seed experiment ≤ 90 s and peak RSS ≤ 1.1× the file', (j) => {
    if (j.seed7b_wall_s == null) return null
    const rss = j.seed7b_peak_rss_gib / j.seed7b_file_gib
    return [j.seed7b_wall_s <= 90 && rss <= 1.1, `${n(j.seed7b_wall_s, 0)} s, ${n(rss)}× the file`]
  }],
]
const targetRows = TARGETS.map(([label, test]) =>
  row(() => `issue 25's target: ${label}`, (j) => {
    const t = test(j)
    return t && `${t[0] ? '**met**' : '**not met**'} (${t[1]})`
  }, 'not run'),
)

const cell = (v) => String(v).replace(/\|/g, '\\|').replace(/\n/g, ' ')
const rows = [...hostRows, ...figureRows, ...familyRows, ...families2Rows, ...moeRows, ...tailRows, ...targetRows].map((r) => {
  const first = hosts.find(([, j]) => r.value(j) != null)
  const label = r.label(first ? first[1] : hosts[0][1]) ?? ''
  return `| ${cell(label)} | ${hosts.map(([, j]) => cell(r.value(j) ?? r.missing)).join(' | ')} |`
})
const table = [
  `One column per host class measured (${hosts.map(([c]) => `docs/bench-${c}.json`).join(', ')}): each figure is attributable to the machine its column names. This environment hands out different CPUs and the VMs' memory bandwidth flips between two levels (for seconds or minutes), so compare ratios within a column before speeds across columns.`,
  '',
  `| figure | ${hosts.map(([c]) => `\`${c}\``).join(' | ')} |`,
  `|---|${hosts.map(() => '---|').join('')}`,
  ...rows,
].join('\n')

const text = readFileSync(readme, 'utf8')
const begin = '<!-- bench-table:begin -->', end = '<!-- bench-table:end -->'
const a = text.indexOf(begin), b = text.indexOf(end)
if (a < 0 || b < a) {
  console.error(`${readme} has no ${begin} … ${end} block`)
  process.exit(1)
}
writeFileSync(readme, text.slice(0, a + begin.length) + '\n' + table + '\n' + text.slice(b))
console.log(`${readme}: performance table from ${hosts.map(([c]) => c).join(', ')}`)
