// Every chart tooltip whose text the renderer writes itself (an ECharts `formatter`, shown as HTML), built with the
// one escape helper (lib/html.ts): names and texts from models, files and people are escaped, markup is ours only.
import { formatStepSize } from '@shared/seedTable'
import { html, joinHtml } from './html'

/** Instruments → plasticity window, one probe: its α, class, repetition, KL and the start of its text. */
export function probeTooltip(seriesName: string, value: (number | null)[], text: string): string {
  const kl = value[2] === null ? '—' : Number(value[2]).toPrecision(3)
  return html`α ${formatStepSize(Number(value[0]))} · ${seriesName}<br/>token repetition ${Number(value[1]).toFixed(2)} · KL ${kl}<br/><i>${text.slice(0, 80)}</i>`.markup
}

/** Instruments → the windows found: the series name holds the model folder's (or checkpoint's) name. */
export function windowTooltip(seriesName: string): string {
  return html`${seriesName}`.markup
}

/** Instruments → emergence heatmap: one cell, the reference token and the top alternatives (the wanted one bold). */
export function emergeTooltip(lr: number, position: number, want: string, logprob: number, top: { text: string; logprob: number }[]): string {
  const alts = top.map((x) => (x.text === want ? html`<b>${JSON.stringify(x.text)} ${Number(x.logprob).toFixed(2)}</b>` : html`${JSON.stringify(x.text)} ${Number(x.logprob).toFixed(2)}`))
  return html`α ${formatStepSize(lr)} · position ${position}: ${JSON.stringify(want)}<br/>log p = ${Number(logprob).toFixed(3)}<br/><span style="opacity:.7">top-${top.length}:</span><br/>${joinHtml(alts, '<br/>')}`.markup
}

/** The experiments' scatter: one run. */
export function scatterTooltip(runId: number, lr: number, kl: number, yLabel: string, y: number): string {
  return html`run r${runId} · α ${formatStepSize(lr)}<br/>KL ${kl.toPrecision(3)} · ${yLabel} ${Number(y).toPrecision(3)}`.markup
}

/** The update grid: one layer × module cell (the module name comes from the model's tensor names). */
export function updateGridTooltip(layer: number, module: string, norm: number): string {
  return html`layer ${layer} · ${module}<br/>‖α∇W‖_F = ${norm.toPrecision(4)}`.markup
}

/** Experts → a routing-mass or ‖α∇W‖ heatmap: one layer × expert cell. */
export function expertsTooltip(layer: string, expert: number, measure: string, value: string): string {
  return html`${layer} · expert ${expert}<br/>${measure}: ${value}`.markup
}
