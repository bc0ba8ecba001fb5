// Browser mode's file browser (issue 23): the lab lists only inside the folders it allows (SOLILOQUY_MODEL_DIRS, the
// Lab's modelDirs), through the one contract (`browseFiles`, validated like every call). Refused in words: a
// relative path, a “..” segment, a folder outside every root, a symlink that leads out; a symlink inside a listed
// folder that points out is not shown at all.
import { mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { validateCall } from '../src/shared/api'
import { browseFiles } from '../src/main/lab/fileBrowser'
import { Lab } from '../src/main/lab/lab'
import { labClient } from '../src/main/lab/methods'
import { cpSync } from 'node:fs'
import { ORGANISM, tmp } from './helpers'

let root: string
let outside: string
let lab: Lab

beforeAll(() => {
  root = realpathSync(tmp('soliloquy-browse-root-'))
  outside = realpathSync(tmp('soliloquy-browse-outside-'))
  mkdirSync(join(root, 'sub', 'deeper'), { recursive: true })
  mkdirSync(join(root, 'hf'))
  writeFileSync(join(root, 'hf', 'config.json'), '{}')
  mkdirSync(join(root, 'meta'))
  writeFileSync(join(root, 'meta', 'params.json'), '{}')
  writeFileSync(join(root, 'm.gguf'), 'GGUF')
  writeFileSync(join(root, 'notes.txt'), 'not a model')
  mkdirSync(join(root, '.cache'))
  writeFileSync(join(outside, 'secret.gguf'), 'GGUF')
  symlinkSync(outside, join(root, 'link-out'))
  symlinkSync(join(outside, 'secret.gguf'), join(root, 'secret-link.gguf'))
  symlinkSync(join(root, 'sub'), join(root, 'link-in'))
  lab = new Lab({ dataDir: tmp('soliloquy-browse-data-'), modelDirs: [root] })
})
afterAll(() => lab?.close())

const names = (r: { entries: { name: string; kind: string }[] }): string[] => r.entries.map((e) => `${e.kind}:${e.name}`)

describe('browseFiles lists only inside the allowed folders', () => {
  it('no folder given: the allowed folders themselves', () => {
    const r = browseFiles([root])
    expect(r).toEqual({ roots: [root], dir: null, parent: null, entries: [{ name: root, path: root, kind: 'dir' }] })
  })

  it('a folder: its folders first, then its models; other files, hidden folders and links that lead out are not shown', () => {
    const r = browseFiles([root], root)
    expect(r.dir).toBe(root)
    expect(r.parent).toBeNull()
    expect(names(r)).toEqual(['dir:link-in', 'dir:sub', 'model:hf', 'model:m.gguf', 'model:meta'])
    expect(r.entries.find((e) => e.name === 'm.gguf')?.path).toBe(join(root, 'm.gguf'))
    const sub = browseFiles([root], join(root, 'sub'))
    expect(names(sub)).toEqual(['dir:deeper'])
    expect(sub.parent).toBe(root)
  })

  it('refuses in words: a relative path, “..”, a folder outside, a symlink out, a missing folder, a file', () => {
    expect(() => browseFiles([root], 'sub')).toThrow(/“sub” is not an absolute path; pick a folder inside/)
    expect(() => browseFiles([root], join(root, 'sub') + '/..')).toThrow(/“\.\.” is not allowed in a path to browse/)
    expect(() => browseFiles([root], `${root}/sub/../../${outside.split('/').pop()}`)).toThrow(/“\.\.” is not allowed/)
    expect(() => browseFiles([root], outside)).toThrow(new RegExp(`${outside} is outside the folders this server allows \\(${root}\\)`))
    expect(() => browseFiles([root], '/')).toThrow(/is outside the folders this server allows/)
    expect(() => browseFiles([root], join(root, 'link-out'))).toThrow(new RegExp(`link-out leads to ${outside} \\(a symlink\\), outside the folders`))
    expect(() => browseFiles([root], join(root, 'nope'))).toThrow(/nope does not exist/)
    expect(() => browseFiles([root], join(root, 'm.gguf'))).toThrow(/m\.gguf is not a folder/)
  })

  it('no folder allowed: nothing listed, and it says how to allow one', () => {
    const r = browseFiles([])
    expect(r.entries).toEqual([])
    expect(r.note).toMatch(/No folder is allowed for browsing: start `soliloquy serve` with SOLILOQUY_MODEL_DIRS/)
    expect(browseFiles([join(root, 'missing')]).note).toMatch(/None of the allowed folders exists/)
    expect(() => browseFiles([], root)).not.toThrow()
    expect(browseFiles([], root).entries).toEqual([])
  })
})

describe('through the contract', () => {
  it('validated like every call: dir is an optional string, nothing else is taken', () => {
    expect(validateCall('browseFiles', {}).ok).toBe(true)
    expect(validateCall('browseFiles', { dir: root }).ok).toBe(true)
    const wrong = validateCall('browseFiles', { dir: 5 })
    expect(wrong.ok).toBe(false)
    expect(validateCall('browseFiles', { dir: root, path: '/' }).ok).toBe(false)
    expect(validateCall('browseFiles', { dir: '' }).ok).toBe(false)
  })

  it("the lab answers it over its own model folders, and refuses what is outside them", async () => {
    const c = labClient(lab, {})
    const r = await c.call('browseFiles', { dir: root })
    expect(names(r)).toContain('model:hf')
    await expect(c.call('browseFiles', { dir: outside })).rejects.toThrow(/outside the folders this server allows/)
    const top = await c.call('browseFiles', {})
    expect(top.roots).toContain(root)
  })
})

describe("browser mode's lab opens models only inside its folders (confineModels)", () => {
  it('a typed path outside, or a symlink leading out, is refused in words; a model inside and the organism open', async () => {
    const inRoot = join(root, 'organism-copy')
    const away = join(outside, 'organism-away')
    cpSync(ORGANISM, inRoot, { recursive: true })
    cpSync(ORGANISM, away, { recursive: true })
    symlinkSync(away, join(root, 'organism-link-out'))
    const confined = new Lab({ dataDir: tmp('soliloquy-browse-confined-'), modelDirs: [root], confineModels: true })
    const free = new Lab({ dataDir: tmp('soliloquy-browse-free-'), modelDirs: [root] })
    try {
      const c = labClient(confined, {})
      expect((await c.call('openModel', { path: inRoot })).path).toBe(inRoot)
      await expect(c.call('listModels', {})).resolves.toBeTruthy() // the organism is registered, confined or not
      await expect(c.call('openModel', { path: away })).rejects.toThrow(/is outside the folders this server opens models from/)
      await expect(c.call('openModel', { path: join(root, 'organism-link-out') })).rejects.toThrow(/outside the folders/)
      // the model of an experiment is a path too: the same refusal, before anything is recorded
      await expect(c.call('generate', { model: away, maxGen: 2 })).rejects.toThrow(/outside the folders/)
      expect((await c.call('experiments', {})).total).toBe(0)
      // the desktop app's lab (not confined) opens what the user typed
      expect((await labClient(free, {}).call('openModel', { path: away })).path).toBe(away)
    } finally {
      confined.close()
      free.close()
    }
  })
})
