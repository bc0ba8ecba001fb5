// A study in the HTML report (`soliloquy report ID`, the app's Report button): its grid, then per model and prompt a
// heatmap of phrases × α for recall, probe KL and repetition, with α_learn / α_break per phrase (the window's
// definitions on the grid's α), then every run. Self-contained like every report: no scripts, no network.
import type { ReportResult, RunRecord } from '../../../shared/api'
import { formatStepSize } from '../../../shared/seedTable'
import { crossing } from '../experiment/plasticity'
import { esc, htmlPage } from '../report/escape'

function num(x: unknown): string {
  if (typeof x !== 'number' || !Number.isFinite(x)) return ''
  return Math.abs(x) >= 1e5 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(2) : String(Number(x.toPrecision(3)))
}

const METRICS = [
  { key: 'recall', label: 'recall (words)', hue: 140 },
  { key: 'stabilityKl', label: 'probe KL (nats)', hue: 0 },
  { key: 'repetition', label: 'repetition', hue: 0 },
] as const

const CSS = `body{font:14px system-ui,sans-serif;margin:2rem;color:#1f2328}table{border-collapse:collapse;margin:.5rem 0 1.5rem}
th,td{border:1px solid #e3e0d8;padding:.2rem .45rem;text-align:right}th.p,td.p{text-align:left;max-width:24rem;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
td.learn{outline:2px solid #14532d;outline-offset:-2px}td.break{outline:2px dashed #8a1c1c;outline-offset:-2px}`

export function studyReport(e: { id: number; status: string; createdAt: string; finishedAt: string | null; settings: Record<string, unknown> }, runs: RunRecord[]): ReportResult {
  const s = (e.settings.study ?? {}) as { lrs?: number[]; phrases?: string[]; where?: string; models?: { name: string }[] }
  const lrs = s.lrs ?? [...new Set(runs.map((r) => r.lr ?? 0))].sort((a, b) => a - b)
  const title = `experiment ${e.id}, study — ${s.phrases?.length ?? 0} phrases × ${lrs.length} α × ${s.models?.length ?? 1} model(s)`
  const body = [`<h1>${esc(title)}</h1>`]
  body.push(
    '<table>',
    ...[
      ['status', e.status],
      ['where', s.where ?? ''],
      ['models', (s.models ?? []).map((m) => m.name).join(', ')],
      ['step sizes', lrs.map(formatStepSize).join(', ')],
      ['created', e.createdAt],
      ['finished', e.finishedAt ?? '—'],
      ['runs', String(runs.length)],
    ].map(([k, v]) => `<tr><th class="p">${esc(k)}</th><td class="p">${esc(v)}</td></tr>`),
    '</table>',
  )
  const done = runs.filter((r) => r.status === 'done')
  // per (model, prompt): rows = phrases in order, columns = α
  const groups = new Map<string, { model: string; prompt: string; rows: Map<string, Map<number, RunRecord>> }>()
  for (const r of done) {
    const model = r.modelRef ?? 'organism'
    const k = `${r.modelId}\u0000${r.prompt}`
    const g = groups.get(k) ?? { model: `${model === 'organism' ? 'organism' : model.split(/[/\\]/).pop()}`, prompt: r.prompt, rows: new Map() }
    const row = g.rows.get(r.phrase ?? '') ?? new Map<number, RunRecord>()
    row.set(r.lr ?? 0, r)
    g.rows.set(r.phrase ?? '', row)
    groups.set(k, g)
  }
  for (const g of groups.values()) {
    body.push(`<h2>${esc(g.model)} · prompt “${esc(g.prompt)}”</h2>`)
    for (const m of METRICS) {
      const vals = done.map((r) => r.metrics[m.key]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v))
      const max = vals.length ? Math.max(...vals) : 1
      const rows = [...g.rows.entries()].map(([phrase, byLr]) => {
        const rs = lrs.map((lr) => byLr.get(lr)).filter((r): r is RunRecord => !!r)
        const learn = crossing(rs.map((r) => ({ lr: r.lr ?? 0, yes: !!r.metrics.study?.learned }))).at
        const brk = crossing(rs.map((r) => ({ lr: r.lr ?? 0, yes: !!r.metrics.study?.broken }))).at
        const cells = lrs.map((lr) => {
          const v = byLr.get(lr)?.metrics[m.key]
          const t = typeof v === 'number' && Number.isFinite(v) && max > 0 ? Math.min(1, v / max) : null
          const cls = [lr === learn ? 'learn' : '', lr === brk ? 'break' : ''].filter(Boolean).join(' ')
          return `<td class="${cls}" style="background:${t === null ? 'transparent' : `hsl(${m.hue} 60% ${95 - 50 * t}%)`}">${esc(num(v))}</td>`
        })
        return `<tr><td class="p">${esc(phrase)}</td>${cells.join('')}<td>${learn === null ? '' : esc(formatStepSize(learn))}</td><td>${brk === null ? '' : esc(formatStepSize(brk))}</td></tr>`
      })
      body.push(
        `<h3>${esc(m.label)}</h3><table><thead><tr><th class="p">phrase</th>${lrs.map((lr) => `<th>${esc(formatStepSize(lr))}</th>`).join('')}<th>α_learn</th><th>α_break</th></tr></thead><tbody>${rows.join('')}</tbody></table>`,
      )
    }
  }
  body.push(
    '<h2>Every run</h2><table><thead><tr><th>run</th><th class="p">phrase</th><th>α</th><th>recall</th><th>probe KL</th><th>repetition</th><th class="p">worker</th><th>kernel</th><th>cell ms</th></tr></thead><tbody>',
    ...done.map(
      (r) =>
        `<tr><td>${r.id}</td><td class="p">${esc(r.phrase)}</td><td>${esc(formatStepSize(r.lr ?? 0))}</td><td>${esc(num(r.metrics.recall))}</td><td>${esc(num(r.metrics.stabilityKl))}</td><td>${esc(num(r.metrics.repetition))}</td><td class="p">${esc(r.metrics.study?.host ?? '')}</td><td>${esc(r.metrics.study?.kernelPath ?? '')}</td><td>${esc(r.metrics.study?.cellMs ?? '')}</td></tr>`,
    ),
    '</tbody></table>',
  )
  const html = htmlPage(title, CSS, body)
  return { title, html }
}
