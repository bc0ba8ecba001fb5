// Seeded test strings for tokenizer parity: hand-picked hard cases plus random mixtures of the same ingredients.
// Lone surrogates are left out (Rust strings, hence HF tokenizers, cannot hold them), and so are 'ſ' and the Kelvin
// sign, on which the JS oracle's ASCII-only (?i:...) differs from Oniguruma's Unicode case folding (tested apart).

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const WORDS = ['the', 'To', 'be', 'question', 'Hamlet', 'HELLO', 'naïve', 'café', 'Straße', 'déjà', 'über', 'Ωmega', 'Привет', 'мир',
  'नमस्ते', 'สวัสดี', 'ქართული', 'Ελληνικά', 'internationalization', 'antidisestablishmentarianism', 'a', 'I', 'x_y', 'fooBar']
const CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "'Re", "'VE", "'M", "'D", "n't", "'", "''", "’s", 'can’t']
const SPACES = [' ', '  ', '   ', '     ', '\t', '\t\t', '\n', '\n\n', '\r\n', '\r', ' \n ', '\u00a0', '\u3000', '\u2028', '\u0085', '\ufeff',
  '\u2009', ' \t \n', '\v', '\f']
const EMOJI = ['🙂', '🎭', '👍🏽', '👨‍👩‍👧‍👦', '🏳️‍🌈', '🇬🇧', '🇯🇵', '🧑🏿‍🚀', '❤️', '🫠', '🙂‍↔️', '©', '™', '☃', '⚡️']
const CJK = ['日本語', 'のテキスト', '中文文本', '汉字', '한국어', 'カタカナ', '𠀀𠀁', '、。「」', '（全角）', 'ｆｕｌｌｗｉｄｔｈ']
const RTL = ['مرحبا بالعالم', 'שלום עולם', 'العربية', 'עִבְרִית', '\u200f', '\u202e', 'فارسی']
const COMBINING = ['e\u0301', 'a\u0308\u0323', 'Z\u0351\u0352\u0353\u0354', '\u0301', 'n\u0303', 'ñ', 'ǅ', 'ﬁ', 'Å', '\u00e9\u0300', 'ஸ்ரீ']
const DIGITS = ['0', '7', '42', '123', '1234', '12345', '3.14159', '1,000,000', '٣٤٥', '१२३', '½', '²', 'Ⅻ', '0x1F', '1e-9']
const CODE = ['function f(x) { return x*2; }', 'if (a != b) {\n\treturn;\n}', 'const s = `${a}`;', 'def f(self):\n    pass\n',
  '#include <stdio.h>', '<div class="x">', '</div>', 'a->b', 'x += 1;', '// comment', '/* */', 'SELECT * FROM t;', '[1, 2, 3]',
  '{"key": "value"}', '    indented', 'snake_case_name', 'camelCaseName', '$PATH', '@user', 'https://example.com/a?b=c&d=e']
const PUNCT = ['.', ',', '!', '?', ';', ':', '...', '—', '–', '…', '"', '“', '”', '«', '»', '(', ')', '[', ']', '{', '}', '<', '>',
  '#', '%', '&', '*', '+', '=', '|', '\\', '/', '~', '^', '`', '_', '-', '--', '!!!', '?!', '¿', '¡', '§', '¶', '•', '√', '∑', '≠']
const SPECIALS = ['<|begin_of_text|>', '<|end_of_text|>', '<|eot_id|>', '<|start_header_id|>', '<|end_header_id|>',
  '<|reserved_special_token_5|>', '<|reserved_special_token_250|>', '<s>', '</s>', '<unk>', '<|begin_of', '<s', '</', '<|', '|>', '<<s>>']

const POOLS = [WORDS, CONTRACTIONS, SPACES, EMOJI, CJK, RTL, COMBINING, DIGITS, CODE, PUNCT, SPECIALS]

export const HANDPICKED: string[] = [
  '', ' ', '  ', '      ', '\t', '\n', '\n\n\n', '\r\n', ' \n', '\n ', '\t \t', ' \u00a0 ',
  'To be, or not to be, that is the question',
  'Hello world', ' Hello world', 'Hello  world', 'Hello world ', 'Hello world  ', 'hello\nworld', 'hello\n\nworld',
  "I'm sure it's fine, isn't it? You'LL see. WE'RE HERE. They'd've", "'s 'S 'll 'LL 'Re 've 'M 'D",
  '12345678901234567890123456789012345678901234567890', '1 22 333 4444 55555 666666', '3.14159265358979',
  '日本語のテキスト、中文文本', '한국어 텍스트', 'مرحبا بالعالم', 'שלום עולם', 'e\u0301e\u0301e\u0301', 'Z̷̢̛̛̤̗a̷͙̔l̵͉̾g̶̩̿o̸̤̓',
  '🙂', '🙂🙂🙂', '👨‍👩‍👧‍👦', '🏳️‍🌈 and 🇬🇧', 'emoji 🙂🎭 and a flag 🇬🇧',
  '<|begin_of_text|>', '<|begin_of_text|>Hello', 'Hello<|end_of_text|>', ' <|eot_id|> ', '<|begin_of_text|><|begin_of_text|>',
  '<s>', '</s>', '<s> and </s> and <unk> are special', '<s>Hello</s>', ' <s> ', '<s><s>', 'a<s>b', '<|reserved_special_token_0|>',
  'function f(x) {\n\treturn x * 2;\n}\n', '    def f(self):\n        return 1\n', 'a\u0085b', 'a\ufeffb', 'a\u2028b',
  'x'.repeat(300), ' '.repeat(100), '\n'.repeat(50), '9'.repeat(100), 'ab'.repeat(200), '🙂'.repeat(50),
]

function pick<T>(rng: () => number, xs: T[]): T {
  return xs[Math.floor(rng() * xs.length)]
}

export function randomStrings(count: number, seed: number): string[] {
  const rng = mulberry32(seed)
  const out: string[] = []
  for (let i = 0; i < count; i++) {
    const parts = 1 + Math.floor(rng() * 12)
    let s = ''
    for (let p = 0; p < parts; p++) {
      const r = rng()
      if (r < 0.08) {
        // A random code point from the BMP or beyond, excluding surrogates and the two case-fold exceptions.
        let cp = Math.floor(rng() * (rng() < 0.8 ? 0x3000 : 0x2ffff))
        if ((cp >= 0xd800 && cp <= 0xdfff) || cp === 0x17f || cp === 0x212a) cp = 0x41
        s += String.fromCodePoint(cp)
      } else {
        s += pick(rng, pick(rng, POOLS))
      }
      if (rng() < 0.3) s += pick(rng, SPACES.slice(0, 4))
    }
    out.push(s)
  }
  return out
}

/** The parity set: the hand-picked strings and 1,200 random mixtures. */
export function paritySet(seed = 20261126): string[] {
  return [...HANDPICKED, ...randomStrings(1200, seed)]
}
