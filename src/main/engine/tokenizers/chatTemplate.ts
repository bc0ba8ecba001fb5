// An instruct model's chat template, rendered as transformers' apply_chat_template renders it: the Jinja template
// from tokenizer_config.json ("chat_template": a string, or a list of named templates of which "default" is used),
// a chat_template.jinja file beside it (which transformers prefers), or a GGUF file's tokenizer.chat_template; given
// `messages`, `add_generation_prompt` and the special tokens as strings (bos_token, eos_token, unk_token, pad_token).
// @huggingface/jinja interprets the template (it reaches no JavaScript object but what it is given), under bounds in
// the style of limits.ts: the template's length, the time one rendering may take, `range()`'s length and the length
// of the text it produces. Every failure names the template and says what went wrong.
import { Environment, Interpreter, Template } from '@huggingface/jinja'
import { join } from 'node:path'
import { ModelFormatError } from '../config'
import { present } from '../fserrors'
import { readModelBytes, readModelJson } from '../modelFiles'
import { withinTimeBudget } from './limits'

/** Longest template accepted (published ones are 0.3–20 kB; Qwen3's is 4 kB). */
export const CHAT_TEMPLATE_MAX_CHARS = 256 * 1024
/** Longest text one rendering may produce (a conversation of one prompt and one phrase is at most ~2 × 100 k). */
export const CHAT_RENDER_MAX_CHARS = 1_000_000
/** Time one rendering may take (a real template renders in well under a millisecond). */
export const CHAT_RENDER_BUDGET_MS = 2000
/** Longest list `range()` may make inside a template. */
export const CHAT_RANGE_MAX = 100_000

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant'
  content: string
}

/** Where the template came from, for messages: "tokenizer_config.json chat_template", "GGUF tokenizer.chat_template"… */
export class ChatTemplate {
  private readonly compiled: Template

  constructor(
    readonly source: string,
    readonly label: string,
    /** bos_token, eos_token, unk_token, pad_token as transformers passes them (strings; absent ones left out) */
    readonly specialTokens: Record<string, string>,
  ) {
    if (source.length > CHAT_TEMPLATE_MAX_CHARS)
      throw new ModelFormatError(`${label}: the template has ${source.length} characters; at most ${CHAT_TEMPLATE_MAX_CHARS} are accepted`)
    try {
      this.compiled = new Template(source)
    } catch (e) {
      throw new ModelFormatError(`${label}: the template does not parse as Jinja (${message(e)})`)
    }
  }

  /** The conversation as text, as apply_chat_template(messages, tokenize=False, add_generation_prompt=…) gives it. */
  render(messages: ChatMessage[], addGenerationPrompt: boolean): string {
    const range = (start: number, stop?: number, step = 1): number[] => {
      const [from, to] = stop === undefined ? [0, start] : [start, stop]
      if (![from, to, step].every(Number.isInteger) || step === 0) throw new Error('range() takes whole numbers and a step other than 0')
      const length = Math.max(0, Math.ceil((to - from) / step))
      if (length > CHAT_RANGE_MAX) throw new Error(`range() of ${length} numbers (at most ${CHAT_RANGE_MAX})`)
      return Array.from({ length }, (_, i) => from + i * step)
    }
    let text: unknown
    try {
      text = withinTimeBudget(
        CHAT_RENDER_BUDGET_MS,
        () => {
          // Template.render's globals, with range() bounded; strftime_now is left out, so templates that ask for
          // today's date (Llama 3.1's) take their fixed fallback and a run renders the same text on any day.
          const env = new Environment()
          const globals: Record<string, unknown> = {
            false: false, true: true, none: null, False: false, True: true, None: null,
            range,
            raise_exception: (why: unknown) => {
              throw new TemplateRaised(String(why))
            },
            ...this.specialTokens,
            messages: messages.map((m) => ({ role: m.role, content: m.content })),
            add_generation_prompt: addGenerationPrompt,
            tools: null,
            documents: null,
          }
          for (const [key, value] of Object.entries(globals)) env.set(key, value)
          return new Interpreter(env).run(this.compiled.parsed).value
        },
        () => new ModelFormatError(`${this.label}: rendering ran for more than ${CHAT_RENDER_BUDGET_MS / 1000} s and was stopped`),
      )
    } catch (e) {
      if (e instanceof ModelFormatError) throw e
      if (e instanceof TemplateRaised) throw new ModelFormatError(`${this.label}: the template refused the conversation: ${e.message}`)
      throw new ModelFormatError(`${this.label}: the template failed while rendering (${message(e)})`)
    }
    if (typeof text !== 'string') throw new ModelFormatError(`${this.label}: the template did not produce text`)
    if (text.length > CHAT_RENDER_MAX_CHARS)
      throw new ModelFormatError(`${this.label}: the template produced ${text.length} characters; at most ${CHAT_RENDER_MAX_CHARS} are accepted`)
    return text
  }
}

class TemplateRaised extends Error {}

function message(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e)
  return text.length > 300 ? `${text.slice(0, 297)}…` : text
}

/** A special token's text from tokenizer_config.json (a string, or an AddedToken object with "content"). */
function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v
  if (v && typeof v === 'object' && typeof (v as Record<string, unknown>).content === 'string') return (v as Record<string, string>).content
  return undefined
}

/** The template a tokenizer_config.json object names, as transformers picks it (no tools: "default" of a list). */
export function chatTemplateFromConfig(config: unknown, label = 'tokenizer_config.json'): ChatTemplate | undefined {
  if (!config || typeof config !== 'object' || Array.isArray(config)) return undefined
  const cfg = config as Record<string, unknown>
  const value = cfg.chat_template
  if (value === undefined || value === null) return undefined
  let source: string
  let where = `${label} chat_template`
  if (typeof value === 'string') source = value
  else if (Array.isArray(value)) {
    const named = value.filter((t): t is { name: string; template: string } =>
      !!t && typeof t === 'object' && typeof (t as Record<string, unknown>).name === 'string' && typeof (t as Record<string, unknown>).template === 'string')
    if (named.length !== value.length) throw new ModelFormatError(`${where}: a list entry is not {"name": …, "template": …}`)
    const chosen = named.find((t) => t.name === 'default')
    if (!chosen)
      throw new ModelFormatError(`${where}: the list names ${named.map((t) => `"${t.name}"`).join(', ')} but no "default", which is the one used without tools`)
    source = chosen.template
    where += ' "default"'
  } else throw new ModelFormatError(`${where}: is neither a string nor a list of named templates`)
  return new ChatTemplate(source, where, specialTokensOf(cfg))
}

function specialTokensOf(cfg: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const key of ['bos_token', 'eos_token', 'unk_token', 'pad_token']) {
    const text = tokenText(cfg[key])
    if (text !== undefined) out[key] = text
  }
  return out
}

/**
 * A model directory's template: chat_template.jinja if present (transformers prefers it), else tokenizer_config.json's
 * chat_template; undefined when the model has none (a base model).
 */
export function loadChatTemplate(dir: string): ChatTemplate | undefined {
  const configPath = join(dir, 'tokenizer_config.json')
  const config = present(configPath) ? readModelJson(configPath, 'tokenizer_config.json') : undefined
  const jinjaPath = join(dir, 'chat_template.jinja')
  if (present(jinjaPath)) {
    const source = Buffer.from(readModelBytes(jinjaPath, 'chat_template.jinja')).toString('utf8')
    const cfg = config && typeof config === 'object' && !Array.isArray(config) ? (config as Record<string, unknown>) : {}
    return new ChatTemplate(source, 'chat_template.jinja', specialTokensOf(cfg))
  }
  return chatTemplateFromConfig(config)
}

/**
 * A GGUF file's template (tokenizer.chat_template), with the special tokens' texts from its vocabulary, as
 * llama.cpp's and transformers' renderers are given them.
 */
export function chatTemplateFromGguf(kv: Record<string, unknown>, label = 'GGUF'): ChatTemplate | undefined {
  const source = kv['tokenizer.chat_template']
  if (source === undefined) return undefined
  const where = `${label} tokenizer.chat_template`
  if (typeof source !== 'string') throw new ModelFormatError(`${where}: is not a string`)
  const tokens = kv['tokenizer.ggml.tokens']
  const special: Record<string, string> = {}
  for (const [key, name] of [['bos_token', 'bos'], ['eos_token', 'eos'], ['unk_token', 'unknown'], ['pad_token', 'padding']]) {
    const raw = kv[`tokenizer.ggml.${name}_token_id`]
    const id = typeof raw === 'bigint' ? Number(raw) : raw
    if (Array.isArray(tokens) && typeof id === 'number' && Number.isInteger(id) && id >= 0 && id < tokens.length && typeof tokens[id] === 'string')
      special[key] = tokens[id] as string
  }
  return new ChatTemplate(source, where, special)
}
