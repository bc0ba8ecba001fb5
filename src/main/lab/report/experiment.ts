// `soliloquy report`: an experiment as ONE self-contained HTML file — settings, the seed's table, metrics per run,
// and charts drawn here as inline SVG (no network, no scripts, no external files), so it can be mailed or archived
// and opened anywhere. Works for every kind of experiment: sweep, compare, lesson, layers, window, emerge, experts.
import type { ExperimentSummary, ReportResult, RunRecord, UpdateGrid } from '../../../shared/api'

/** What a report is of: an experiment, with its request (its settings for a kind of one run) and its result. */
export type ReportSubject = Pick<ExperimentSummary, 'id' | 'kind' | 'status' | 'result' | 'createdAt' | 'finishedAt'> & {
  checkpointId: number | null
  args: Record<string, unknown>
}
import { formatSeedTable, formatStepSize, seedWords } from '../../../shared/seedTable'
import { esc, htmlPage } from './escape'

function num(x: unknown, digits = 4): string {
  if (typeof x !== 'number' || !Number.isFinite(x)) return '—'
  if (x === 0) return '0'
  const a = Math.abs(x)
  return a >= 1e5 || a < 1e-3 ? x.toExponential(2) : String(Number(x.toPrecision(digits)))
}

function table(header: string[], rows: string[][], cls = ''): string {
  return `<table class="${cls}"><thead><tr>${header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`
}

const W = 640
const H = 240
const PAD = { l: 56, r: 16, t: 16, b: 40 }

/** A line chart with categorical x labels (one per run) and a linear y axis from 0 (or the minimum) to the maximum. */
export function lineChartSvg(title: string, xLabels: string[], series: { name: string; color: string; ys: (number | null)[] }[]): string {
  const all = series.flatMap((s) => s.ys.filter((y): y is number => y !== null && Number.isFinite(y)))
  if (all.length === 0) return ''
  const lo = Math.min(0, ...all)
  const hi = Math.max(...all) === lo ? lo + 1 : Math.max(...all)
  const n = xLabels.length
  const x = (i: number): number => PAD.l + (n === 1 ? (W - PAD.l - PAD.r) / 2 : (i * (W - PAD.l - PAD.r)) / (n - 1))
  const y = (v: number): number => H - PAD.b - ((v - lo) / (hi - lo)) * (H - PAD.t - PAD.b)
  const parts: string[] = [
    `<line x1="${PAD.l}" y1="${H - PAD.b}" x2="${W - PAD.r}" y2="${H - PAD.b}" class="axis"/>`,
    `<line x1="${PAD.l}" y1="${PAD.t}" x2="${PAD.l}" y2="${H - PAD.b}" class="axis"/>`,
    `<text x="${PAD.l - 6}" y="${y(hi) + 4}" text-anchor="end">${esc(num(hi, 3))}</text>`,
    `<text x="${PAD.l - 6}" y="${y(lo) + 4}" text-anchor="end">${esc(num(lo, 3))}</text>`,
  ]
  // at most ~12 labels, so they never overlap
  const every = Math.max(1, Math.ceil(n / 12))
  xLabels.forEach((l, i) => {
    if (i % every === 0 || i === n - 1) parts.push(`<text x="${x(i)}" y="${H - PAD.b + 16}" text-anchor="middle">${esc(l)}</text>`)
  })
  series.forEach((s, k) => {
    const pts = s.ys.map((v, i) => (v !== null && Number.isFinite(v) ? `${x(i).toFixed(1)},${y(v).toFixed(1)}` : null)).filter(Boolean)
    parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts.join(' ')}"/>`)
    s.ys.forEach((v, i) => {
      if (v !== null && Number.isFinite(v))
        parts.push(`<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="${s.color}"><title>${esc(`${s.name} at ${xLabels[i]}: ${num(v)}`)}</title></circle>`)
    })
    parts.push(`<text x="${W - PAD.r}" y="${PAD.t + 12 + 14 * k}" text-anchor="end" fill="${s.color}">${esc(s.name)}</text>`)
  })
  return `<figure><figcaption>${esc(title)}</figcaption><svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img">${parts.join('')}</svg></figure>`
}

/**
 * The window's probes on a log-α axis: one measure per chart (linear or log y), the threshold as a dashed line, the
 * window [α_learn, α_break] shaded, each α a dot — green where it learned, orange where it broke, grey otherwise.
 */
export function windowChartSvg(
  title: string,
  probes: { lr: number; learned: boolean; broken: boolean }[],
  ys: (number | null)[],
  o: { logY: boolean; threshold: number; alphaLearn: number | null; alphaBreak: number | null },
): string {
  const pts = probes.map((p, i) => ({ p, y: ys[i] })).filter((q) => q.y !== null && Number.isFinite(q.y) && q.p.lr > 0 && (!o.logY || q.y! > 0))
  if (pts.length === 0) return ''
  const tx = (v: number): number => Math.log10(v)
  const ty = (v: number): number => (o.logY ? Math.log10(v) : v)
  const xs = pts.map((q) => tx(q.p.lr))
  const yv = [...pts.map((q) => ty(q.y!)), ty(o.threshold)]
  const x0 = Math.min(...xs)
  const x1 = Math.max(...xs) === x0 ? x0 + 1 : Math.max(...xs)
  const y0 = o.logY ? Math.min(...yv) : 0
  const y1 = Math.max(...yv) === y0 ? y0 + 1 : Math.max(...yv)
  const X = (v: number): number => PAD.l + ((v - x0) / (x1 - x0)) * (W - PAD.l - PAD.r)
  const Y = (v: number): number => H - PAD.b - ((v - y0) / (y1 - y0)) * (H - PAD.t - PAD.b)
  const parts: string[] = []
  if (o.alphaLearn !== null && o.alphaBreak !== null) {
    const a = X(tx(o.alphaLearn))
    const b = X(tx(o.alphaBreak))
    parts.push(`<rect x="${Math.min(a, b)}" y="${PAD.t}" width="${Math.abs(b - a)}" height="${H - PAD.t - PAD.b}" fill="#2e7d32" fill-opacity="0.12"><title>window [${num(o.alphaLearn)}, ${num(o.alphaBreak)}]</title></rect>`)
  }
  parts.push(
    `<line x1="${PAD.l}" y1="${H - PAD.b}" x2="${W - PAD.r}" y2="${H - PAD.b}" class="axis"/>`,
    `<line x1="${PAD.l}" y1="${PAD.t}" x2="${PAD.l}" y2="${H - PAD.b}" class="axis"/>`,
    `<line x1="${PAD.l}" y1="${Y(ty(o.threshold))}" x2="${W - PAD.r}" y2="${Y(ty(o.threshold))}" stroke="#ef6c00" stroke-dasharray="4 3"/>`,
    `<text x="${W - PAD.r}" y="${Y(ty(o.threshold)) - 4}" text-anchor="end" fill="#ef6c00">threshold ${esc(num(o.threshold))}</text>`,
    `<text x="${PAD.l - 6}" y="${Y(y1) + 4}" text-anchor="end">${esc(num(o.logY ? 10 ** y1 : y1, 3))}</text>`,
    `<text x="${PAD.l - 6}" y="${Y(y0) + 4}" text-anchor="end">${esc(num(o.logY ? 10 ** y0 : y0, 3))}</text>`,
  )
  for (let d = Math.ceil(x0); d <= Math.floor(x1); d++)
    parts.push(`<text x="${X(d)}" y="${H - PAD.b + 16}" text-anchor="middle">1e${d}</text>`)
  parts.push(`<text x="${(PAD.l + W - PAD.r) / 2}" y="${H - 6}" text-anchor="middle">α (log scale)</text>`)
  for (const q of pts) {
    const fill = q.p.broken ? '#ef6c00' : q.p.learned ? '#2e7d32' : '#888'
    parts.push(`<circle cx="${X(tx(q.p.lr)).toFixed(1)}" cy="${Y(ty(q.y!)).toFixed(1)}" r="3.5" fill="${fill}"><title>${esc(`α ${num(q.p.lr)}: ${num(q.y)}${q.p.learned ? ', learned' : ''}${q.p.broken ? ', broken' : ''}`)}</title></circle>`)
  }
  return `<figure><figcaption>${esc(title)} — green: learned, orange: broken, shaded: the window</figcaption><svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img">${parts.join('')}</svg></figure>`
}

/** A heatmap: rows × columns of values, coloured from the row minimum (dark) to the maximum (light). */
export function heatmapSvg(title: string, rowLabels: string[], colLabels: string[], values: (number | null)[][], fmt = num): string {
  const flat = values.flat().filter((v): v is number => v !== null && Number.isFinite(v))
  if (flat.length === 0) return ''
  const lo = Math.min(...flat)
  const hi = Math.max(...flat) === lo ? lo + 1 : Math.max(...flat)
  const cw = Math.max(8, Math.min(48, Math.floor(900 / Math.max(1, colLabels.length))))
  const ch = 18
  const left = 90
  const top = 60
  const w = left + cw * colLabels.length + 10
  const h = top + ch * rowLabels.length + 10
  const parts: string[] = []
  colLabels.forEach((c, j) =>
    parts.push(`<text x="${left + j * cw + cw / 2}" y="${top - 6}" transform="rotate(-60 ${left + j * cw + cw / 2} ${top - 6})" font-size="10">${esc(c)}</text>`),
  )
  rowLabels.forEach((r, i) => {
    parts.push(`<text x="${left - 6}" y="${top + i * ch + 13}" text-anchor="end">${esc(r)}</text>`)
    values[i].forEach((v, j) => {
      const f = v === null || !Number.isFinite(v) ? null : (v - lo) / (hi - lo)
      const fill = f === null ? '#ccc' : `hsl(${Math.round(240 - 200 * f)}, 70%, ${Math.round(25 + 50 * f)}%)`
      parts.push(
        `<rect x="${left + j * cw}" y="${top + i * ch}" width="${cw - 1}" height="${ch - 1}" fill="${fill}"><title>${esc(`${r} · ${colLabels[j]}: ${v === null ? '—' : fmt(v)}`)}</title></rect>`,
      )
    })
  })
  return `<figure><figcaption>${esc(title)} (dark = ${esc(fmt(lo))}, light = ${esc(fmt(hi))})</figcaption><svg viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img">${parts.join('')}</svg></figure>`
}

function gridChart(title: string, g: UpdateGrid): string {
  const rows = g.cells.map((_, l) => `layer ${l}`)
  return heatmapSvg(title, [...rows, 'outside blocks'], g.modules, [
    ...g.cells,
    [g.embed, g.head, g.finalNorm, ...g.modules.slice(3).map(() => null)],
  ]) + '<p class="note">outside blocks: q = embed rows, k = head, v = final norm.</p>'
}

const CSS = `body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222;background:#fff}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0;font-size:13px}th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f4f4f4;position:sticky;top:0}td.t{max-width:420px;white-space:pre-wrap}pre{background:#f7f7f7;padding:.6em;overflow:auto}
svg text{font-size:11px;fill:#444}.axis{stroke:#888}figure{margin:1em 0}figcaption{font-weight:600;margin-bottom:.3em}.note{color:#666;font-size:12px}
.yes{color:#070;font-weight:600}.no{color:#a00}
@media (prefers-color-scheme:dark){body{background:#161616;color:#ddd}th{background:#262626}th,td{border-color:#444}pre{background:#222}svg text{fill:#ccc}}`

export function experimentReport(g: ReportSubject, runs: RunRecord[], o: { model: string }): ReportResult {
  const args = g.args as Record<string, unknown>
  const res = (g.result ?? {}) as Record<string, unknown>
  const first = runs[0]
  const phrase = first?.phrase ?? (typeof args.phrase === 'string' ? args.phrase : '')
  const title = `experiment ${g.id}, ${g.kind}${phrase ? ` — “${phrase}”` : ''}`
  const body: string[] = [`<h1>${esc(title)}</h1>`]
  const settings: [string, string][] = [
    ['kind', g.kind],
    ['status', g.status],
    ['model', o.model],
    ['started from checkpoint', g.checkpointId === null ? 'the plain model' : `#${g.checkpointId}`],
    ['created', g.createdAt],
    ['finished', g.finishedAt ?? '—'],
    ['prompt', first?.prompt ?? String(args.prompt ?? '')],
    ['phrase', phrase],
    ['max tokens (max_gen_len)', String(first?.maxGen ?? '')],
    ['max_seq_len', String(first?.maxSeq ?? '')],
    ['temperature', String(first?.temperature ?? '')],
    ['runs', String(runs.length)],
  ]
  for (const [k, v] of Object.entries(args))
    if (!['prompt', 'phrase', 'model', 'reference', 'probes'].includes(k)) settings.push([`request: ${k}`, JSON.stringify(v)])
  body.push('<h2>Settings</h2>', table(['setting', 'value'], settings.map(([k, v]) => [esc(k), esc(v)])))

  // the seed's table: every run with a step size, in order
  const withLr = runs.filter((r) => r.lr !== null && r.status === 'done')
  // a lesson's steps often share one α: each column says which lesson it is (numbered from 1, as the UI and CLI do)
  const lessonLabel = (r: RunRecord): string | undefined => (g.kind === 'lesson' && r.lr !== null ? `lesson ${r.chain.length + 1} · ${formatStepSize(r.lr)}` : undefined)
  const seed =
    typeof res.table === 'string' && g.kind !== 'lesson'
      ? res.table
      : withLr.length
        ? formatSeedTable(withLr.map((r) => ({ lr: r.lr!, words: seedWords(r.fullText), label: lessonLabel(r) })))
        : ''
  if (seed) body.push("<h2>The seed's table</h2>", `<pre class="seed-table">${esc(seed)}</pre>`)

  // per-run metrics
  const labels = new Map<number, string>()
  if (Array.isArray(res.cells))
    for (const c of res.cells as { runId?: number; label?: string; prefixed?: boolean; lr?: number }[])
      if (typeof c.runId === 'number')
        labels.set(c.runId, c.label ?? `${c.prefixed ? 'prefix' : 'plain'} ${typeof c.lr === 'number' ? formatStepSize(c.lr) : ''}`.trim())
  const label = (r: RunRecord): string => labels.get(r.id) ?? lessonLabel(r) ?? (r.lr === null ? '—' : formatStepSize(r.lr))
  body.push(
    '<h2>Metrics per run</h2>',
    table(
      ['run', 'α', 'label', 'status', 'recall (words)', 'phrase loss after', 'stability KL', 'token repetition', 'distinct-2', 'completion'],
      runs.map((r) => [
        String(r.id),
        r.lr === null ? '—' : esc(num(r.lr)),
        esc(label(r)),
        esc(r.status),
        esc(num(r.metrics.recall)),
        esc(num(r.metrics.phraseLossAfter)),
        esc(num(r.metrics.stabilityKl)),
        esc(num(r.metrics.repetition)),
        esc(num(r.metrics.distinct2)),
        `<span class="t">${esc(r.fullText.slice(0, 400))}</span>`,
      ]),
      'metrics',
    ),
  )

  // charts
  const done = runs.filter((r) => r.status === 'done')
  const charts: string[] = []
  if (done.length > 1) {
    const xs = done.map(label)
    charts.push(
      lineChartSvg('Recall (words of the reference) per run', xs, [{ name: 'recall', color: '#1565c0', ys: done.map((r) => r.metrics.recall ?? null) }]),
      lineChartSvg('Stability: mean probe KL(base ‖ stepped), nats', xs, [{ name: 'KL', color: '#c62828', ys: done.map((r) => r.metrics.stabilityKl ?? null) }]),
      lineChartSvg('Phrase loss after the step', xs, [{ name: 'loss', color: '#2e7d32', ys: done.map((r) => r.metrics.phraseLossAfter ?? null) }]),
    )
  }
  if (g.kind === 'layers' && Array.isArray(res.cells)) {
    const cells = res.cells as { label: string; recalls: boolean; phraseRecall: number; updateNorm: number }[]
    body.push(
      '<h2>Which parameters alone recall the phrase</h2>',
      table(
        ['restricted to', 'recalls the phrase', 'words of the phrase', '‖α∇W‖ kept'],
        cells.map((c) => [esc(c.label), c.recalls ? '<span class="yes">yes</span>' : '<span class="no">no</span>', String(c.phraseRecall), esc(num(c.updateNorm))]),
        'layers',
      ),
    )
    if (res.grid) charts.push(gridChart('‖α∇W‖_F per layer × module (full step)', res.grid as UpdateGrid))
  }
  if (g.kind === 'window' && Array.isArray(res.probes)) {
    const probes = res.probes as { lr: number; learned: boolean; broken: boolean; repetition: number; stabilityKl: number | null }[]
    body.push(
      '<h2>The plasticity window</h2>',
      table(
        ['α_learn', 'α_break', 'width (decades)'],
        [[esc(num(res.alphaLearn)), esc(num(res.alphaBreak)), esc(num(res.widthDecades, 3))]],
        'window',
      ),
      `<p class="note">${esc(`learned: ${(res.definitions as { learn?: string })?.learn ?? ''}; broken: ${(res.definitions as { break?: string })?.break ?? ''}`)}</p>`,
    )
    const th = res.thresholds as { repetitionMax: number; klMax: number }
    const win = { alphaLearn: res.alphaLearn as number | null, alphaBreak: res.alphaBreak as number | null }
    charts.push(
      windowChartSvg('Repetition of the completion (token 4-grams) at every α tried', probes, probes.map((p) => p.repetition), { logY: false, threshold: th.repetitionMax, ...win }),
      windowChartSvg('Mean probe KL(base ‖ stepped), nats, log scale', probes, probes.map((p) => p.stabilityKl), { logY: true, threshold: th.klMax, ...win }),
    )
  }
  if (g.kind === 'emerge' && Array.isArray(res.logprob) && Array.isArray(res.tokens)) {
    const toks = res.tokens as { text: string }[]
    const lrs = res.lrs as number[]
    charts.push(
      heatmapSvg(
        'log p(next reference token | prefix): rows α, columns the predicted token',
        lrs.map((lr) => formatStepSize(lr)),
        toks.slice(1).map((t) => t.text),
        res.logprob as number[][],
      ),
    )
  }
  if (g.kind === 'experts' && Array.isArray(res.views) && Array.isArray(res.layers)) body.push(...expertsSection(res))
  if (g.kind === 'lesson' && Array.isArray(res.forgetting)) {
    const f = res.forgetting as { lesson: number; loss: number; recall: number }[][]
    // lesson j's step size, from the request (lessons are numbered from 1 here, as everywhere a person reads them)
    const steps = Array.isArray(args.steps) ? (args.steps as { lr?: unknown }[]) : []
    const alpha = (j: number): string => (typeof steps[j]?.lr === 'number' ? ` (α ${formatStepSize(steps[j].lr as number)})` : '')
    body.push(
      '<h2>Forgetting: after lesson k, each lesson j ≤ k (loss / recall)</h2>',
      table(
        ['after lesson', ...f.map((_, j) => `lesson ${j + 1}${alpha(j)}`)],
        f.map((row, k) => [String(k + 1), ...f.map((_, j) => (row[j] ? `${esc(num(row[j].loss))} / ${esc(num(row[j].recall))}` : ''))]),
        'forgetting',
      ),
    )
  }
  if (charts.filter(Boolean).length) body.push('<h2>Charts</h2>', ...charts.filter(Boolean))
  body.push(`<p class="note">Soliloquy report, written ${esc(new Date().toISOString())}. Self-contained: no scripts, no network.</p>`)
  const html = htmlPage(title, CSS, body)
  return { title, html }
}

/** A mixture of experts' knowledge areas (kinds/experts.ts): routing-mass heatmaps (layers × experts) of the text and
 *  the prompt at each α, ‖∇W‖ per expert, and whether the full and the restricted steps recall the phrase. */
function expertsSection(res: Record<string, unknown>): string[] {
  type View = { lr: number; mass: number[][] }
  const layers = res.layers as number[]
  const E = res.experts as number
  const rows = layers.map((l) => `layer ${l}`)
  const cols = Array.from({ length: E }, (_, e) => `e${e}`)
  const at = (lr: number): string => (lr === 0 ? 'the base' : `α ${formatStepSize(lr)}`)
  const maps = (what: string, views: View[] | undefined): string[] =>
    (views ?? []).map((v) => heatmapSvg(`Routing mass of ${what}, ${at(v.lr)}: rows MoE layers, columns experts`, rows, cols, v.mass, (x: unknown) => (typeof x === 'number' ? x.toFixed(3) : '—')))
  const out: string[] = [
    '<h2>Knowledge areas: where the tokens are routed</h2>',
    `<p class="note">${esc(`${res.expertsPerToken} of ${E} experts per token; routing mass = an expert's combination weight summed over the tokens ÷ the tokens.`)}</p>`,
  ]
  const prompt = res.prompt as { views?: View[]; restricted?: View[] } | undefined
  const restricted = res.restricted as { experts: { layer: number; expert: number }[]; views: View[] } | undefined
  out.push(...maps('the phrase', res.views as View[]), ...maps('the prompt', prompt?.views))
  if (Array.isArray(res.gradNorm))
    out.push(heatmapSvg('‖∇W‖_F per expert (gate, up, down; × α for a step of size α)', rows, cols, res.gradNorm as number[][]))
  if (restricted) {
    const who = restricted.experts.map((x) => `${x.layer}:${x.expert}`).join(', ')
    out.push(`<h2>${esc(`The step restricted to experts ${who}`)}</h2>`, ...maps('the phrase under the restricted step', restricted.views.slice(1)))
  }
  const steps = res.steps as { label: string; recalls: boolean; phraseRecall: number }[] | undefined
  if (Array.isArray(steps) && steps.length)
    out.push(
      '<h2>Does the step recall the phrase from the prompt?</h2>',
      table(
        ['step', 'recalls the phrase', `words of the phrase (of ${String(res.phraseWords)})`],
        steps.map((c) => [esc(c.label), c.recalls ? '<span class="yes">yes</span>' : '<span class="no">no</span>', String(c.phraseRecall)]),
        'experts',
      ),
    )
  return out
}
