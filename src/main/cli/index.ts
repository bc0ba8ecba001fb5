// `soliloquy` — the command line face of the lab. Every command shares the services the desktop app uses.
import { CancelledError } from '../engine/engine'
import { Flags, parse } from './common'
import { gradCommand, gradOptions } from './commands/grad'
import { sweepCommand, sweepOptions } from './commands/sweep'
import { tokenizeCommand, tokenizeOptions } from './commands/tokenize'
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
    usage: 'soliloquy sweep [--model DIR] [--prompt "To be"] [--phrase "…"] [--lrs 0,1e-3,…] [--max-gen 64] [--json]',
    options: sweepOptions,
    run: sweepCommand,
  },
  grad: {
    summary: 'the exact gradient of the phrase loss: loss and the gradient norm of every tensor',
    usage: 'soliloquy grad [--model DIR] --phrase "…" [--json]',
    options: gradOptions,
    run: gradCommand,
  },
  tokenize: {
    summary: 'SentencePiece ids of a text (no BOS)',
    usage: 'soliloquy tokenize [--model DIR] --text "…" [--json]',
    options: tokenizeOptions,
    run: tokenizeCommand,
  },
}

function help(): string {
  const lines = ['usage: soliloquy <command> [options]', '', 'commands:']
  for (const [name, c] of Object.entries(commands)) lines.push(`  ${name.padEnd(12)} ${c.summary}`, `  ${' '.repeat(12)} ${c.usage}`)
  lines.push('', 'Without --model, commands use the embedded 7M-parameter organism model.')
  return lines.join('\n') + '\n'
}

export async function main(argv: string[]): Promise<number> {
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
    process.stderr.write(`soliloquy: ${msg.split('\n')[0]}\n`)
    return 1
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`soliloquy: ${e instanceof Error ? e.message : String(e)}\n`)
      process.exit(1)
    },
  )
}
