#!/usr/bin/env node
// Rewrites the README's performance table from `npm run bench -- --json --out FILE` output:
//   node scripts/bench-table.mjs docs/bench.json
// Everything between <!-- bench-table:begin --> and <!-- bench-table:end --> is replaced; the machine (CPU model,
// cores, measured bandwidth, load average during the run) is named with the figures.
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const src = process.argv[2] ?? join(root, 'docs', 'bench.json')
const j = JSON.parse(readFileSync(src, 'utf8'))
const n = (v, d = 2) => (v === null || v === undefined ? '—' : Number(v).toFixed(d))
const m = j.machine
const rounds = j.rounds_1b ?? 2
const held = (w) => ({ copied: 'copied onto 2 MiB pages', ready: 'copied onto 2 MiB pages', mapped: 'mapped (page cache)' })[w] ?? w
const typeList = (types) => Object.entries(types).map(([t, c]) => `${t} × ${c}`).join(', ')
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
const moe = j.moe30b
const moeRows = moe
  ? [
      [`seed experiment, ${moe.shape} shape${moe.layers === 48 ? '' : ` cut to ${moe.layers} layers`}, Q4_K_M (${typeList(moe.types)}, the experts one matrix each; ${n(moe.file_gib)} GiB) (\`--moe30b\`: load, step, 8 step sizes × 64 tokens; file in the page cache)`, `**${n(moe.seed_wall_s, 0)} s** wall (load ${n(moe.seed_load_s, 1)} s, step ${n(moe.seed_step_s, 1)} s, sweep ${n(moe.seed_sweep_s, 0)} s), weights ${held(moe.weights_memory)}, peak RSS ${n(moe.seed_peak_rss_gib)} GiB = **${n(moe.seed_rss_vs_file)} ×** the file`],
      [`${moe.shape} shape, Q4_K_M, greedy ${moe.gen_tokens} (best of ${moe.turns} runs each, in turns${moe.engines_apart ? ', each engine alone in a process of its own (the file is more than half the memory)' : ' in one process'}; load average ${n(moe.load_avg_1m, 1)})`, `ours ${n(moe.gen_tok_s)} tok/s, llama.cpp ${n(moe.llamacpp_tok_s)} tok/s: **${n(moe.gen_vs_llamacpp)}×**${ids(moe, moe.gen_tokens)}; the fp32 FMA floor of our exact products allows ${n(moe.fma_floor_tok_s, 1)} tok/s (${n(moe.active_params / 1e9)} G active weights a token)`],
    ]
  : []
const families2Rows = Object.entries(j.families2 ?? {}).map(([f, x]) => [
  `${f} shape (${typeList(x.types)}; ${n(x.file_gib)} GiB), greedy 32 (best of 2 runs each, in turns in one process) and the step (${x.phrase_tokens} tokens)${j.families2_load_avg_1m == null ? '' : `; load average ${n(j.families2_load_avg_1m, 1)}`}`,
  `ours ${n(x.gen_tok_s)} tok/s, llama.cpp ${n(x.llamacpp_tok_s)} tok/s: **${n(x.gen_vs_llamacpp)}×**${ids(x, 32)} (${n(x.gen_vs_roofline * 100, 0)} % of the bandwidth roofline); step ${n(x.step_s)} s = **${n(x.step_vs_roofline)}×** its roofline (${n(x.step_roofline_s)} s)`,
])
const rows = [
  ['kernel path', `\`${j.kernel_path}\` (${m.threads} threads)`],
  ['weights held', j.weights_memory_1b === undefined ? '—' : `${held(j.weights_memory_1b)} (1.1B)${j.weights_memory_seed7b ? `, ${held(j.weights_memory_seed7b)} (7B)` : ''}`],
  [`read bandwidth (streaming 8-accumulator sum with prefetch, 2 GiB, on 2 MiB pages on Linux; the best of ${j.rounds_1b ? 'probes before, between and after' : 'before and after'} the runs)`, `${n(j.bandwidth_gbs, 1)} GB/s with ${m.threads} threads, ${n(j.bandwidth_1t_gbs, 1)} GB/s with 1`],
  ['fp32 FMA peak', `${n(j.flops_peak_gflops, 0)} GFLOP/s`],
  [j.gen_turns ? `1.1B shape (F16 GGUF), 1 column, greedy 64 (best of ${j.gen_turns} runs each, the engines taking turns run by run in one process)` : `1.1B shape (F16 GGUF), 1 column, greedy 64 (best of ${rounds} alternating rounds × 2 runs each)`, `ours ${n(j.gen_tok_s_1b)} tok/s, llama.cpp ${j.llamacpp_version} ${n(j.llamacpp_tok_s_1b)} tok/s: **${n(j.gen_vs_llamacpp_1b)}×**${j.same_ids_1b === null ? '' : j.same_ids_1b ? ', identical ids' : ', ids differ'}`],
  ['1.1B generation vs bandwidth roofline', `${n((j.gen_vs_roofline_1b ?? 0) * 100, 0)} %`],
  [j.gen_turns ? `organism, 1 column, greedy 64 (the same way)` : 'organism, 1 column, greedy 64', `ours ${n(j.gen_tok_s_organism, 0)} tok/s, llama.cpp ${n(j.llamacpp_tok_s_organism, 0)} tok/s: **${n(j.gen_vs_llamacpp_organism)}×**`],
  [`1.1B step (13 tokens; the best of ${rounds} rounds' medians of 3)`, `${n(j.step_s_1b)} s = **${n(j.step_vs_roofline_1b)}×** its roofline (${n(j.step_roofline_s_1b)} s)`],
  [`1.1B 8-column sweep vs 1 column (per decoding step; best of ${rounds} rounds × 2 runs each)`, `**${n(j.sweep8_vs_single_1b)}×**${j.sweep8_floor_vs_single_1b === undefined ? '' : `; the floor here is ${n(j.sweep8_floor_vs_single_1b)}× (8 columns' multiply-adds at the FMA peak over one column's time), and the sweep runs at ${n(j.sweep8_of_flops_peak_1b * 100, 0)} % of that peak`}`],
  ...Object.entries(j.families_1b ?? {}).map(([f, x]) => [
    `1.1B shape, ${f === 'fallback' ? 'fallback mix' : f} (${Object.entries(x.types).map(([t, c]) => `${t} × ${c}`).join(', ')}; ${n(x.file_gib)} GiB), greedy ${j.families_gen_tokens} (best of ${j.families_turns} runs each, in turns in one process) and the step${j.families_load_avg_1m == null ? '' : `; load average ${n(j.families_load_avg_1m, 1)}`}`,
    `ours ${n(x.gen_tok_s)} tok/s, llama.cpp ${n(x.llamacpp_tok_s)} tok/s: **${n(x.gen_vs_llamacpp)}×**${ids(x, j.families_gen_tokens)}; step ${n(x.step_s)} s; the fp32 FMA floor allows ${n(x.fma_floor_tok_s, 0)} tok/s`,
  ]),
  ...families2Rows,
  ...moeRows,
  ['study on the organism (24 cells × 8 α × 64 tokens) on a local Redis queue: 1 worker × 1 thread vs 2 workers × 1 thread, submission to the last cell recorded', j.study_workers_1_s === undefined ? 'not run' : `${n(j.study_workers_1_s, 1)} s vs ${n(j.study_workers_2_s, 1)} s: **${n(j.study_workers_2_vs_1)}×** the throughput; the queue's overhead **${n(j.study_queue_overhead_ms_per_cell, 1)} ms** per cell (load average ${n(j.study_load_avg_1m, 1)} when measured)`],
  ['seed experiment, Llama-2-7b shape, F16 (`--seed7b`: load, step, 8 step sizes × 64 tokens; file in the page cache)', j.seed7b_wall_s === null ? 'not run' : `**${n(j.seed7b_wall_s, 0)} s** wall, peak RSS ${n(j.seed7b_peak_rss_gib)} GiB = **${n(j.seed7b_peak_rss_gib / j.seed7b_file_gib)} ×** the file (${n(j.seed7b_file_gib)} GiB)`],
]
const table = [
  `Measured on ${m.cpu} (${j.kernel_path}), ${m.cores} cores, node ${m.node}; load average ${n(m.load_avg_1m, 1)} during the run. ${m.load_avg_1m > 3 ? 'Other jobs shared the cores: compare ratios, not absolute speeds.' : 'A shared VM: its memory bandwidth flips between two levels (for seconds or minutes), so read the ratios.'}`,
  '',
  '| figure | value |',
  '|---|---|',
  ...rows.map(([k, v]) => `| ${k} | ${v} |`),
].join('\n')
const readme = join(root, 'README.md')
const text = readFileSync(readme, 'utf8')
const begin = '<!-- bench-table:begin -->', end = '<!-- bench-table:end -->'
const a = text.indexOf(begin), b = text.indexOf(end)
if (a < 0 || b < a) {
  console.error(`README.md has no ${begin} … ${end} block`)
  process.exit(1)
}
writeFileSync(readme, text.slice(0, a + begin.length) + '\n' + table + '\n' + text.slice(b))
console.log(`README.md: performance table from ${src}`)
