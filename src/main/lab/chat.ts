// The experiments' "apply the chat template" option (request field chatTemplate, CLI --chat, the Lab's checkbox):
// the texts the model reads, rendered with its chat template (engine/tokenizers/chatTemplate.ts) as
// apply_chat_template renders a conversation —
//  - the prompt (with its engineered prefix) and each probe: a user turn, then the assistant's opening
//    (add_generation_prompt), so the model answers as the instruct model it is;
//  - the phrase: the user turn of the prompt followed by the phrase as the assistant's answer, so a step teaches the
//    model to answer the prompt with the phrase (for these templates the rendered prompt is the beginning of it).
// The engine puts BOS in front of every text it tokenizes; a template that writes bos_token itself (Gemma, Llama 3)
// has it taken off the rendered text, so the ids are those apply_chat_template(tokenize=True) gives.
// Paraphrases and the reference stay as typed. The stored settings keep the typed texts and chatTemplate: true (a
// re-run renders them again), and the rendered prompt, for History.
import { InputError } from '../engine/engine'
import type { Engine } from '../engine/engine'
import type { ChatMessage, ChatTemplate } from '../engine/tokenizers/chatTemplate'

interface ChatSettings {
  prompt: string
  prefix: string
  probes: Record<string, string>
  chatTemplate?: boolean
}

/** The model's template, or the refusal in words (no template: a base model; or why its template cannot be used). */
export function chatTemplateOf(engine: Engine): ChatTemplate {
  const t = engine.chatTemplate
  if (t === undefined)
    throw new InputError(`this model has no chat template (no chat_template in its tokenizer_config.json, no chat_template.jinja, no tokenizer.chat_template in a GGUF file): apply the chat template only to an instruct model`)
  if (typeof t === 'string') throw new InputError(`the model's chat template cannot be used: ${t}`)
  return t
}

function rendered(engine: Engine, messages: ChatMessage[], addGenerationPrompt: boolean): string {
  const t = chatTemplateOf(engine)
  let text: string
  try {
    text = t.render(messages, addGenerationPrompt)
  } catch (e) {
    throw new InputError((e as Error).message)
  }
  const bos = t.specialTokens.bos_token
  return bos && text.startsWith(bos) ? text.slice(bos.length) : text
}

/** The text generation starts from: prefix + prompt, as a user turn when the option is on. */
export function modelPrompt(engine: Engine, s: ChatSettings): string {
  const typed = s.prefix + s.prompt
  return s.chatTemplate ? rendered(engine, [{ role: 'user', content: typed }], true) : typed
}

/** The text a step learns: the phrase, as the assistant's answer to the prompt when the option is on. */
export function modelPhrase(engine: Engine, s: ChatSettings, phrase: string): string {
  return s.chatTemplate ? rendered(engine, [{ role: 'user', content: s.prompt }, { role: 'assistant', content: phrase }], false) : phrase
}

/** The probes as the model reads them: each a user turn when the option is on. */
export function modelProbes(engine: Engine, s: ChatSettings): Record<string, string> {
  if (!s.chatTemplate) return s.probes
  return Object.fromEntries(Object.entries(s.probes).map(([name, text]) => [name, text.trim() ? rendered(engine, [{ role: 'user', content: text }], true) : text]))
}
