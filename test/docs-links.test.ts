// Every relative link in README.md and docs/*.md resolves to a file inside the repository (a clone has nothing
// else), and a link to a heading of a Markdown file names a heading that exists.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT } from './helpers'

const files = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-')
}

function anchors(md: string): Set<string> {
  return new Set([...md.matchAll(/^#{1,6} +(.+)$/gm)].map((m) => slug(m[1])))
}

/** [text](target) links outside code blocks and inline code; absolute URLs are not ours to check. */
function links(md: string): string[] {
  const prose = md.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '')
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]).filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t))
}

describe('links in the documentation', () => {
  it('the docs exist', () => {
    expect(files).toEqual(expect.arrayContaining(['README.md', 'docs/design.md', 'docs/the-experiment.md']))
  })

  for (const file of files)
    it(`${file}: every relative link resolves inside the repository`, () => {
      const md = readFileSync(join(ROOT, file), 'utf8')
      const found = links(md)
      const broken: string[] = []
      for (const link of found) {
        const [path, anchor] = link.split('#')
        const target = path ? resolve(dirname(join(ROOT, file)), decodeURI(path)) : join(ROOT, file)
        const inside = !relative(ROOT, target).startsWith('..')
        if (!inside || !existsSync(target)) broken.push(`${link} (no such file in the repository)`)
        else if (anchor && target.endsWith('.md') && !anchors(readFileSync(target, 'utf8')).has(anchor)) broken.push(`${link} (no such heading)`)
      }
      expect(broken).toEqual([])
    })
})
