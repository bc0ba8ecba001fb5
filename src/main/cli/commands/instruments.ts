// The instruments on the command line (issue 10, item 8): `soliloquy layers` (the layer study), `window` (the
// plasticity window), `emerge` (the heatmap's numbers), `report` (an experiment as one HTML file) and `diff` (two
// runs token-aligned). Each goes through the contract like the app, so it is recorded in the history; --json prints
// the whole answer as one line of JSON.
import { writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { InputError } from '../../engine/engine'
import { formatStepSize } from '../../../shared/seedTable'
import { parseGroups } from '../../lab/step/restrict'
import { Flags, fmt, formatTable, labFlags, oneLine, printJson, str, withLab } from '../common'
import { requestFields } from '../args'
import { experimentArgs, experimentFlags } from './step'
import { expId, parseExperimentId, parseRunId, runId, runRange } from '../ids'

// ---- layers -------------------------------------------------------------------------------------------------

export const layersOptions = { ...experimentFlags, phrase: { type: 'string' }, lr: { type: 'string' }, groups: { type: 'string' }, band: { type: 'string' } } as const

export async function layersCommand(flags: Flags): Promise<void> {
  const g = str(flags, 'groups')
  const args = { ...experimentArgs(flags), ...requestFields('layerStudy', flags, ['phrase', 'lr']), groups: g ? parseGroups(g) : undefined, ...requestFields('layerStudy', flags, ['band']) }
  await withLab(flags, async (lab) => {
    const r = await lab.call('layerStudy', args)
    if (flags.json) return printJson(r)
    process.stdout.write(`layer study at α = ${r.lr}: which parameters alone recall "${r.runs[0]?.phrase}" (${r.phraseWords} words)\n\n`)
    process.stdout.write(
      formatTable(
        ['restricted to', 'recalls', 'words', '‖α∇W‖', 'completion'],
        r.cells.map((c) => [c.label, c.recalls ? 'yes' : 'no', `${c.phraseRecall}/${r.phraseWords}`, fmt(c.updateNorm, 3), oneLine(c.text, 60)]),
      ) + '\n\n',
    )
    process.stdout.write(
      formatTable(
        ['‖α∇W‖_F', ...r.grid.modules],
        r.grid.cells.map((row, l) => [`layer ${l}`, ...row.map((x) => fmt(x, 3))]),
      ) + `\nembed ${fmt(r.grid.embed, 3)}, head ${fmt(r.grid.head, 3)}, final norm ${fmt(r.grid.finalNorm, 3)}\n`,
    )
    process.stderr.write(`recorded as experiment ${expId(r.experimentId)}, a layer study (runs ${runRange(r.runs.map((x) => x.id))})\n`)
  })
}

// ---- window -------------------------------------------------------------------------------------------------

export const windowOptions = {
  ...experimentFlags,
  phrase: { type: 'string' },
  lo: { type: 'string' },
  hi: { type: 'string' },
  'per-round': { type: 'string' },
  rounds: { type: 'string' },
  'repetition-max': { type: 'string' },
  'kl-max': { type: 'string' },
} as const

export async function windowCommand(flags: Flags): Promise<void> {
  const args = { ...experimentArgs(flags), ...requestFields('window', flags, ['phrase', 'lo', 'hi', 'per-round', 'rounds', 'repetition-max', 'kl-max']) }
  await withLab(flags, async (lab) => {
    const r = await lab.call('window', args)
    if (flags.json)
      return printJson({
        alpha_learn: r.alphaLearn,
        alpha_break: r.alphaBreak,
        width_decades: r.widthDecades,
        alpha_learn_below: r.alphaLearnBelow,
        alpha_break_below: r.alphaBreakBelow,
        continuation_ids: r.continuationIds,
        continuation_text: r.continuationText,
        thresholds: r.thresholds,
        definitions: r.definitions,
        experiment: r.experimentId,
        probes: r.probes,
      })
    process.stdout.write(
      formatTable(
        ['α', 'round', 'learned', 'broken', 'repetition', 'probe KL', 'completion'],
        r.probes.map((p) => [fmt(p.lr, 4), p.round, p.learned ? 'yes' : 'no', p.broken ? 'yes' : 'no', fmt(p.repetition, 3), fmt(p.stabilityKl, 3), oneLine(p.text, 50)]),
      ) + '\n\n',
    )
    process.stdout.write(`learned: ${r.definitions.learn} ("${oneLine(r.continuationText, 60)}")\nbroken:  ${r.definitions.break}\n\n`)
    process.stdout.write(
      `window [α_learn, α_break] = [${fmt(r.alphaLearn, 4) || 'none'}, ${fmt(r.alphaBreak, 4) || 'none'}]` +
        (r.widthDecades !== null ? `, width ${r.widthDecades.toFixed(3)} decades\n` : '\n'),
    )
    process.stderr.write(`recorded as experiment ${expId(r.experimentId)}, a window search (${r.runs.length} runs: ${runRange(r.runs.map((x) => x.id))})\n`)
  })
}

// ---- emerge -------------------------------------------------------------------------------------------------

export const emergeOptions = { ...experimentFlags, phrase: { type: 'string' }, lrs: { type: 'string' }, topk: { type: 'string' }, tokens: { type: 'string' } } as const

export async function emergeCommand(flags: Flags): Promise<void> {
  const args = { ...experimentArgs(flags), ...requestFields('emerge', flags, ['phrase', 'lrs', 'topk', 'tokens']) }
  await withLab(flags, async (lab) => {
    const r = await lab.call('emerge', args)
    if (flags.json)
      return printJson({ lrs: r.lrs, tokens: r.tokens, prompt_tokens: r.promptTokens, logprob: r.logprob, top: r.top, experiment: r.experimentId })
    // positions down, α across: log p of each reference token
    process.stdout.write(
      formatTable(
        ['pos', 'token', ...r.lrs.map((lr) => `α ${formatStepSize(lr)}`)],
        r.tokens.slice(1).map((t, i) => [i + 1, JSON.stringify(t.text), ...r.logprob.map((row) => row[i].toFixed(3))]),
      ) + '\n',
    )
    const mean = r.logprob.map((row) => row.slice(r.promptTokens - 1).reduce((s, x) => s + x, 0) / Math.max(1, row.length - r.promptTokens + 1))
    process.stdout.write(`mean log p after the prompt: ${r.lrs.map((lr, a) => `α ${formatStepSize(lr)} ${mean[a].toFixed(3)}`).join(', ')}\n`)
    process.stderr.write(`recorded as experiment ${expId(r.experimentId)}, emerge\n`)
  })
}

// ---- report -------------------------------------------------------------------------------------------------

export const reportOptions = { ...labFlags, out: { type: 'string' } } as const

export async function reportCommand(flags: Flags, positionals: string[]): Promise<void> {
  const usage = 'give one experiment id: soliloquy report EXPERIMENT --out FILE.html (e12 or 12; ids: soliloquy history)'
  if (positionals.length !== 1) throw new InputError(usage)
  const id = parseExperimentId(positionals[0], usage)
  const out = str(flags, 'out')
  if (!out) throw new InputError('--out FILE.html is required')
  await withLab(flags, async (lab) => {
    const r = await lab.call('report', { id })
    try {
      writeFileSync(out, r.html)
    } catch (e) {
      throw new InputError(`cannot write ${out} (${(e as NodeJS.ErrnoException).code ?? String(e)})`)
    }
    if (flags.json) return printJson({ file: resolve(out), title: r.title, bytes: Buffer.byteLength(r.html) })
    process.stdout.write(`wrote ${resolve(out)} (${r.title})\n`)
  })
}

// ---- diff ---------------------------------------------------------------------------------------------------

export const diffOptions = labFlags

export async function diffCommand(flags: Flags, positionals: string[]): Promise<void> {
  const usage = 'give two run ids: soliloquy diff RUN RUN (r34 or 34; ids: soliloquy history --runs)'
  if (positionals.length !== 2) throw new InputError(usage)
  const ids = positionals.map((p) => parseRunId(p, usage))
  await withLab(flags, async (lab) => {
    const d = await lab.call('diffRuns', { a: ids[0], b: ids[1] })
    if (flags.json) return printJson(d)
    // the aligned text: common tokens plain, a's own in [-…-], b's own in {+…+} (wdiff's notation)
    let text = ''
    let open: 'del' | 'ins' | null = null
    for (const o of d.tokens) {
      const kind = o.op === 'same' ? null : o.op
      if (kind !== open) {
        if (open === 'del') text += '-]'
        if (open === 'ins') text += '+}'
        if (kind === 'del') text += '[-'
        if (kind === 'ins') text += '{+'
        open = kind
      }
      text += o.text
    }
    if (open === 'del') text += '-]'
    if (open === 'ins') text += '+}'
    process.stdout.write(`run ${runId(d.a.id)} (α ${d.a.lr ?? '—'}) vs run ${runId(d.b.id)} (α ${d.b.lr ?? '—'}): ${(d.sameFraction * 100).toFixed(1)}% of tokens in common\n\n`)
    process.stdout.write(`${d.a.prompt}${text}\n\n`)
    const changed = d.settings.filter((x) => !x.same)
    if (changed.length)
      process.stdout.write(formatTable(['setting', `run ${runId(d.a.id)}`, `run ${runId(d.b.id)}`], changed.map((x) => [x.label, String(x.a ?? '—'), String(x.b ?? '—')])) + '\n\n')
    process.stdout.write(
      formatTable(['metric', `run ${runId(d.a.id)}`, `run ${runId(d.b.id)}`, 'b − a'], d.metrics.map((m) => [m.label, fmt(m.a, 5), fmt(m.b, 5), fmt(m.delta, 5)])) + '\n',
    )
  })
}
