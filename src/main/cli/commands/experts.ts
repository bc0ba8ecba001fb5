// `soliloquy experts`: a mixture of experts' knowledge areas (issue 21, item 8) — the routing mass per MoE layer ×
// expert on a text (default: the phrase), under the base and after the phrase's step at each α, with ‖α∇W‖ per
// expert; --experts L:E,… adds the step restricted to those experts alone and whether its completion of the prompt
// recalls the phrase. Recorded in the history as an experiment of kind experts (src/main/lab/kinds/experts.ts).
import { formatStepSize } from '../../../shared/seedTable'
import { Flags, fmt, formatTable, labFlags, numList, printJson, str, withLab } from '../common'
import { requestFields } from '../args'
import { expId, runRange } from '../ids'

export const expertsOptions = {
  ...labFlags,
  model: { type: 'string' },
  prompt: { type: 'string' },
  'max-gen': { type: 'string' },
  phrase: { type: 'string' },
  text: { type: 'string' },
  lrs: { type: 'string' },
  experts: { type: 'string' },
} as const

export async function expertsCommand(flags: Flags): Promise<void> {
  const args = {
    model: str(flags, 'model'),
    ...requestFields('experts', flags, ['prompt', 'max-gen'], true),
    phrase: str(flags, 'phrase'),
    text: str(flags, 'text'),
    lrs: numList(flags, 'lrs'),
    experts: str(flags, 'experts'),
  }
  await withLab(flags, async (lab) => {
    const { experiment: _experiment, runs, ...r } = await lab.call('experts', args)
    if (flags.json) return printJson(r)
    const E = r.experts
    process.stdout.write(`routing mass per MoE layer × expert on ${r.tokens.length} tokens (${r.expertsPerToken} of ${E} experts per token)\n`)
    const table = (title: string, views: typeof r.views): void => {
      for (const v of views) {
        const a = v.lr === 0 ? 'the base' : `α = ${formatStepSize(v.lr)}`
        process.stdout.write(`\n${title}${a}\n`)
        process.stdout.write(formatTable(['layer', ...Array.from({ length: E }, (_, e) => `e${e}`)], v.mass.map((row, i) => [r.layers[i], ...row.map((x) => x.toFixed(3))])) + '\n')
      }
    }
    table('', r.views)
    process.stdout.write('\n‖∇W‖_F per expert (gate, up, down; × α for a step of size α)\n')
    process.stdout.write(formatTable(['layer', 'router', ...Array.from({ length: E }, (_, e) => `e${e}`)], r.gradNorm.map((row, i) => [r.layers[i], fmt(r.routerGradNorm[i], 3), ...row.map((x) => fmt(x, 3))])) + '\n')
    if (r.restricted) {
      table(`step restricted to ${r.restricted.experts.map((x) => `${x.layer}:${x.expert}`).join(',')}, `, r.restricted.views.slice(1))
      process.stdout.write(`\ndoes the step recall the phrase (${r.phraseWords} words) from the prompt?\n`)
      process.stdout.write(formatTable(['step', 'recalls', 'words'], r.steps.map((st) => [st.label, st.recalls ? 'yes' : 'no', `${st.phraseRecall}/${r.phraseWords}`])) + '\n')
    }
    process.stderr.write(`recorded as experiment ${expId(r.experimentId)}, experts (${runs.length} runs: ${runRange(runs.map((x) => x.id))})\n`)
  })
}
