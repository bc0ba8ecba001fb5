// `soliloquy` — the command line face of the lab. Every command shares the services the desktop app uses.
import { CancelledError } from '../engine/engine'
import { Flags, guardStdout, parse, printable } from './common'
import { gradCommand, gradOptions } from './commands/grad'
import { serveCommand, serveOptions } from './commands/serve'
import { sweepCommand, sweepOptions } from './commands/sweep'
import { checkpointsCommand, checkpointsOptions, exportCommand, exportOptions } from './commands/checkpoints'
import { compareCommand, compareOptions } from './commands/compare'
import {
  experimentCommand,
  experimentOptions,
  experimentsHistoryCommand,
  experimentsHistoryOptions,
  showAnyCommand,
  showExperimentOptions,
  tableCommand,
  tableOptions,
} from './commands/experiments'
import { lessonCommand, lessonOptions } from './commands/lesson'
import { generateCommand, generateOptions, stepCommand, stepOptions } from './commands/step'
import { tokenizeCommand, tokenizeOptions } from './commands/tokenize'
import { infoCommand, infoOptions } from './commands/info'
import { textsCommand, textsOptions } from './commands/texts'
import { expertsCommand, expertsOptions } from './commands/experts'
import {
  diffCommand,
  diffOptions,
  emergeCommand,
  emergeOptions,
  layersCommand,
  layersOptions,
  reportCommand,
  reportOptions,
  windowCommand,
  windowOptions,
} from './commands/instruments'
import { studyCommand, studyOptions, workerCommand, workerOptions } from './commands/study'
import type { ParseArgsConfig } from 'node:util'

export interface Command {
  summary: string
  usage: string
  options: ParseArgsConfig['options']
  run: (flags: Flags, positionals: string[]) => Promise<void>
}

export const commands: Record<string, Command> = {
  sweep: {
    summary: "the seed's experiment: one gradient step on a phrase at several step sizes, printed as the seed's table",
    usage: 'soliloquy sweep [--model DIR|FILE.gguf|CKPT] [--prompt "To be"] [--phrase "…"] [--lrs 0,1e-3,…] [--groups attn,mlp,embed,norm,head|q,k,v,o,gate,up,down] [--layers 0-3] [--max-gen 64] [--data DIR] [--json]',
    options: sweepOptions,
    run: sweepCommand,
  },
  step: {
    summary: 'one SGD step on a phrase at α, then the completion and every metric; recorded (and saved with --save)',
    usage: 'soliloquy step [--model DIR|FILE.gguf|CKPT] [--phrase "…"] --lr α [--groups …] [--layers 0-3] [--save NAME] [--prompt …] [--max-gen 64] [--data DIR] [--json]',
    options: stepOptions,
    run: stepCommand,
  },
  generate: {
    summary: 'complete a prompt on a model or a saved checkpoint; recorded',
    usage: 'soliloquy generate [--model DIR|FILE.gguf|CKPT] [--prompt "To be"] [--max-gen 64] [--temperature 0] [--data DIR] [--json]',
    options: generateOptions,
    run: generateCommand,
  },
  compare: {
    summary: 'prompt engineering vs training: the prompt with and without a prefix, on the model and after each α',
    usage: 'soliloquy compare [--model DIR|FILE.gguf|CKPT] [--prefix "Here is one of …: "] [--phrase "…"] [--lrs 0.03] [--data DIR] [--json]',
    options: compareOptions,
    run: compareCommand,
  },
  lesson: {
    summary: 'steps in order (each at the model the last one left) with the forgetting curve of every earlier lesson',
    usage: 'soliloquy lesson --steps FILE (JSON [{"phrase": …, "lr": …}, …]) [--model DIR|FILE.gguf|CKPT] [--data DIR] [--json]',
    options: lessonOptions,
    run: lessonCommand,
  },
  layers: {
    summary: 'the layer study: the step at α restricted to each parameter group alone and each layer alone; which recall the phrase',
    usage: 'soliloquy layers [--model DIR|FILE.gguf|CKPT] [--phrase "…"] [--lr 0.03] [--groups embed,attn,…] [--band 1] [--data DIR] [--json]',
    options: layersOptions,
    run: layersCommand,
  },
  window: {
    summary: 'the plasticity window [α_learn, α_break] by bisection in log α (JSON keys alpha_learn, alpha_break, width_decades)',
    usage: 'soliloquy window [--model DIR|FILE.gguf|CKPT] [--phrase "…"] [--lo 1e-5] [--hi 1] [--per-round 8] [--rounds 3] [--repetition-max 0.5] [--kl-max 1] [--data DIR] [--json]',
    options: windowOptions,
    run: windowCommand,
  },
  emerge: {
    summary: 'log p(next reference token | prefix) over positions × α, teacher-forced in one batched pass, with top-k',
    usage: 'soliloquy emerge [--model DIR|FILE.gguf|CKPT] [--phrase "…"] [--lrs 0,0.01,0.03] [--topk 5] [--tokens 96] [--data DIR] [--json]',
    options: emergeOptions,
    run: emergeCommand,
  },
  experts: {
    summary: "a mixture of experts' routing mass per layer × expert on a text, before the step and at each α; ‖∇W‖ per expert",
    usage: 'soliloquy experts [--model DIR|FILE.gguf|CKPT] [--prompt "To be"] [--phrase "…"] [--text "…"] [--lrs 0.01,0.03] [--experts L:E,…] [--max-gen 64] [--data DIR] [--json]',
    options: expertsOptions,
    run: expertsCommand,
  },
  report: {
    summary: 'an experiment (sweep, compare, lesson, layers, window, emerge, experts) as one self-contained HTML file',
    usage: 'soliloquy report EXPERIMENT --out FILE.html [--data DIR] [--json]',
    options: reportOptions,
    run: reportCommand,
  },
  diff: {
    summary: "two runs' completions token-aligned and their metrics side by side",
    usage: 'soliloquy diff RUN RUN [--data DIR] [--json]',
    options: diffOptions,
    run: diffCommand,
  },
  history: {
    summary: 'recorded experiments (one per action), newest first; --runs lists their runs, --flat the runs alone',
    usage: 'soliloquy history [--runs] [--kind sweep,compare] [--status done] [--tag T] [--starred] [--text T] [--model M] [--from DATE] [--to DATE] [--sort created|finished|kind|runs|id] [--asc] [--limit 30] [--offset 0] [--flat (runs: --experiment E --phrase P --lr-min A --lr-max B --sort started|lr|recall|stability|loss)] [--data DIR] [--json]',
    options: experimentsHistoryOptions,
    run: experimentsHistoryCommand,
  },
  show: {
    summary: 'one experiment with its runs (e12 or 12; --json: the complete export), or one run in full (r34)',
    usage: 'soliloquy show EXPERIMENT|RUN [--data DIR] [--json]',
    options: showExperimentOptions,
    run: showAnyCommand,
  },
  experiment: {
    summary: "an experiment's notes, title, tags and star",
    usage: 'soliloquy experiment note|title|tag|untag|star|unstar EXPERIMENT [TEXT | TAG…] [--data DIR] [--json]',
    options: experimentOptions,
    run: experimentCommand,
  },
  table: {
    summary: "the seed's table of a sweep experiment as Markdown or CSV",
    usage: 'soliloquy table EXPERIMENT [--format md|csv] [--out FILE] [--data DIR] [--json]',
    options: tableOptions,
    run: tableCommand,
  },
  checkpoints: {
    summary: 'saved steps with lineage and sizes; save RUN NAME, rename NAME NEW, delete NAME [--force]',
    usage: 'soliloquy checkpoints [save RUN NAME | rename NAME NEW | delete NAME [--force] [--purge] | restore NAME | trash | purge [NAME]] [--data DIR] [--json]',
    options: checkpointsOptions,
    run: checkpointsCommand,
  },
  export: {
    summary: 'a checkpoint (or a model) merged into an HF directory or a GGUF file, or its step as a PEFT adapter (KL shown)',
    usage: 'soliloquy export [CHECKPOINT] [--model DIR|FILE.gguf] [--format hf|gguf|peft] --out PATH [--dtype F32|F16|BF16|Q8_0|Q4_0|Q4_K|Q6_K|Q4_K_M|Q3_K_S|Q3_K_M|Q3_K_L|Q5_K_S|Q5_K_M] [--data DIR] [--json]',
    options: exportOptions,
    run: exportCommand,
  },
  texts: {
    summary: "the texts a model's metrics use (reference, probes, paraphrased prompts): show them, set them, or reset to the model's own / the shipped defaults",
    usage: 'soliloquy texts [show | set [--reference FILE | --no-reference] [--probes FILE.json] [--paraphrases FILE.json] | reset] [--model DIR|FILE.gguf|CKPT] [--data DIR] [--json]',
    options: textsOptions,
    run: textsCommand,
  },
  grad: {
    summary: 'the exact gradient of the phrase loss: loss and the gradient norm of every tensor',
    usage: 'soliloquy grad [--model DIR|FILE.gguf] --phrase "…" [--json]',
    options: gradOptions,
    run: gradCommand,
  },
  serve: {
    summary: 'browser mode: the app in your browser, served on 127.0.0.1 only with a random token in the printed URL',
    usage: 'soliloquy serve [--port N] [--data DIR]',
    options: serveOptions,
    run: serveCommand,
  },
  tokenize: {
    summary: 'SentencePiece ids of a text (no BOS)',
    usage: 'soliloquy tokenize [--model DIR|FILE.gguf] --text "…" [--json]',
    options: tokenizeOptions,
    run: tokenizeCommand,
  },
  study: {
    summary: 'a study: phrases × prompts × α × models, one batched sweep per cell; here, or by workers on a queue (Redis)',
    usage: 'soliloquy study --phrases FILE [--prompts FILE] --lrs 0.001,0.01,… [--models M1,M2] [--queue redis://[user:pass@]HOST:PORT[/db]] [--follow] [--groups …] [--layers …] [--title T] [--data DIR] [--json] | study collect|status|cancel ID [--queue URL]  ($SOLILOQUY_QUEUE: the queue without putting credentials on the command line)',
    options: studyOptions,
    run: studyCommand,
  },
  worker: {
    summary: "a headless worker of studies: takes cells from the queue, runs them on its own models (found by fingerprint)",
    usage: 'soliloquy worker --queue redis://[user:pass@]HOST:PORT[/db] [--concurrency 1] [--models DIR …] [--threads N] [--lock-ms 10000]',
    options: workerOptions,
    run: workerCommand,
  },
  info: {
    summary: 'the engine on this machine: kernel path in use (scalar/avx2/avx512/neon), paths available, CPU features, threads',
    usage: 'soliloquy info [--model FILE.gguf] [--json]  (with --model: the file\'s tensor types and bits per weight)',
    options: infoOptions,
    run: infoCommand,
  },
}

function help(): string {
  const lines = ['usage: soliloquy <command> [options]', '', 'commands:']
  for (const [name, c] of Object.entries(commands)) lines.push(`  ${name.padEnd(12)} ${c.summary}`, `  ${' '.repeat(12)} ${c.usage}`)
  lines.push('', 'Without --model, commands use the embedded 7M-parameter organism model.')
  return lines.join('\n') + '\n'
}

export async function main(argv: string[]): Promise<number> {
  guardStdout()
  const [name, ...rest] = argv
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(help())
    return name ? 0 : 1
  }
  const cmd = commands[name]
  if (!cmd) {
    process.stderr.write(`soliloquy: unknown command "${name}"\n\n${help()}`)
    return 2
  }
  try {
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(`${cmd.usage}\n${cmd.summary}\n`)
      return 0
    }
    const { flags, positionals } = parse(rest, cmd.options)
    await cmd.run(flags, positionals)
    return 0
  } catch (e) {
    if (e instanceof CancelledError) {
      process.stderr.write('soliloquy: cancelled\n')
      return 130
    }
    const msg = e instanceof Error ? e.message : String(e)
    // the whole message: some (a damaged history database) say what to do on their later lines
    // and printable: a name or path with ESC in it is shown as \u001b, never sent to the terminal raw
    process.stderr.write(`soliloquy: ${printable(msg.replace(/\n+$/, '').replace(/\n/g, ' '))}\n`)
    return 1
  }
}

/** Exits only after stdout and stderr have handed every byte to the OS: a pipe (`soliloquy history --json | head`)
 * takes 64 KiB at a time, and process.exit() right after a large write drops the rest. */
export function exitWhenFlushed(code: number): void {
  process.exitCode = code
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)))
}

if (require.main === module) {
  // a reader that stops early (`| head -c 100`) closes the pipe: that is not an error of ours
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0)
  })
  main(process.argv.slice(2)).then(exitWhenFlushed, (e: unknown) => {
    process.stderr.write(`soliloquy: ${e instanceof Error ? e.message : String(e)}\n`)
    exitWhenFlushed(1)
  })
}
