// The experiments' "apply the chat template" option (chatTemplate: true; CLI --chat): the organism given a chat
// template (a ChatML-style one that writes bos_token) runs a step whose prompt and phrase the template renders —
// the same ids, gradient and completion as the step on the texts rendered by hand — and the run's experiment
// records the flag and the rendered prompt. A model without a template, and a lesson, refuse it in words.
import { spawnSync } from 'node:child_process'
import { cpSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Lab } from '../src/main/lab/lab'
import { ORGANISM, ROOT, tmp } from './helpers'

function runCli(args: string[], dataDir: string): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [join(ROOT, 'bin', 'soliloquy.js'), ...args, '--data', dataDir], { encoding: 'utf8', timeout: 120_000 })
}

const TEMPLATE =
  "{{ bos_token }}{% for m in messages %}{{ '<|' + m['role'] + '|>\\n' + m['content'] + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
const PROMPT = 'Who speaks?'
const PHRASE = 'To be, or not to be, that is the question'
// by hand, from the template: the engine puts BOS in front itself, so the template's "<s>" is not in the text
const RENDERED_PROMPT = `<|user|>\n${PROMPT}\n<|assistant|>\n`
const RENDERED_PHRASE = `<|user|>\n${PROMPT}\n<|assistant|>\n${PHRASE}\n`

let lab: Lab
let model: string
beforeAll(() => {
  model = join(tmp('soliloquy-chat-model-'), 'organism-chat')
  cpSync(ORGANISM, model, { recursive: true })
  writeFileSync(join(model, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', chat_template: TEMPLATE }))
  lab = new Lab({ dataDir: tmp('soliloquy-chat-lab-') })
})
afterAll(() => lab?.close())

describe('chatTemplate on an experiment', () => {
  it('a step reads the rendered prompt and phrase: the same run as the texts rendered by hand, recorded with the flag; Re-run keeps it', async () => {
    const chat = await lab.step({ model, prompt: PROMPT, phrase: PHRASE, lr: 0.03, maxGen: 12, chatTemplate: true })
    const byHand = await lab.step({ model, prompt: RENDERED_PROMPT, phrase: RENDERED_PHRASE, lr: 0.03, maxGen: 12 })
    const plain = await lab.step({ model, prompt: PROMPT, phrase: PHRASE, lr: 0.03, maxGen: 12 })
    expect(chat.run.outputIds).toEqual(byHand.run.outputIds)
    expect(chat.run.metrics.phraseLossBefore).toBeDefined()
    expect([chat.run.metrics.phraseLossBefore, chat.run.metrics.phraseLossAfter]).toEqual([byHand.run.metrics.phraseLossBefore, byHand.run.metrics.phraseLossAfter])
    expect(chat.run.metrics.gradNorms).toEqual(byHand.run.metrics.gradNorms)
    expect(chat.run.metrics.phraseLossBefore).not.toBe(plain.run.metrics.phraseLossBefore) // the option changes what is learnt
    const e = (await lab.experiment(chat.run.experimentId!)).experiment
    expect(e.prompt).toBe(PROMPT) // the typed text: a re-run renders it again
    expect(e.settings).toMatchObject({ prompt: PROMPT, phrase: PHRASE, chatTemplate: true, chatPrompt: RENDERED_PROMPT })
    // Re-run takes the option from the experiment's settings: the same run again
    const again = await lab.rerun(chat.run.id)
    expect(again.run.outputIds).toEqual(chat.run.outputIds)
    expect((await lab.experiment(again.run.experimentId!)).experiment.settings).toMatchObject({ prompt: PROMPT, chatTemplate: true, chatPrompt: RENDERED_PROMPT })
    const p = (await lab.experiment(plain.run.experimentId!)).experiment
    expect(p.settings).not.toHaveProperty('chatTemplate')
  }, 120_000)

  it('a model without a chat template refuses it, and so does a lesson, in words', async () => {
    await expect(lab.generate({ chatTemplate: true, maxGen: 4 })).rejects.toThrow(/^this model has no chat template \(no chat_template in its tokenizer_config.json/)
    await expect(lab.lesson({ model, chatTemplate: true, steps: [{ phrase: PHRASE, lr: 0.01 }] })).rejects.toThrow(
      'the chat template option applies to generate, step, sweep and compare; a lesson does not apply it (its cues are recalled as typed)',
    )
  })

  it('the CLI: soliloquy generate --chat records the rendered prompt', async () => {
    const dataDir = tmp('soliloquy-chat-cli-')
    const r = runCli(['generate', '--model', model, '--prompt', PROMPT, '--max-gen', '4', '--chat', '--json'], dataDir)
    expect(r.stderr).toBe('')
    const out = JSON.parse(r.stdout) as { run: { experimentId: number } }
    const history = new Lab({ dataDir })
    try {
      expect((await history.experiment(out.run.experimentId)).experiment.settings).toMatchObject({ prompt: PROMPT, chatTemplate: true, chatPrompt: RENDERED_PROMPT })
    } finally {
      history.close()
    }
    const refused = runCli(['generate', '--prompt', PROMPT, '--max-gen', '4', '--chat'], tmp('soliloquy-chat-cli-'))
    expect(refused.status).not.toBe(0)
    expect(refused.stderr).toMatch(/this model has no chat template/)
  }, 120_000)
})
