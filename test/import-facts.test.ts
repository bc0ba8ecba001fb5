// Facts about src/main's imports that a reader of docs/design.md relies on, checked over every source file with the
// TypeScript compiler's own module resolution (the same that type-checks the project, so @shared/… and index files
// resolve as they do in the build):
//   - no import cycle in src/main (type-only imports count: a circle of types is still a circle to read);
//   - no file of src/main/lab imports electron (the lab runs in a plain Node process, the CLI's and the server's too);
//   - src/main/app is the only place in src/main that imports electron (the Electron main process);
//   - the experiment kinds (src/main/lab/kinds) import nothing from each other — only the table (index.ts) names them
//     all and kind.ts holds their common type — and experiment/ (what they share) imports no kind.
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'
import { ROOT } from './helpers'

const MAIN = join(ROOT, 'src', 'main')

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name)
    if (e.isDirectory()) return sourceFiles(p)
    return /\.(ts|mts|cts)$/.test(e.name) && !e.name.endsWith('.d.ts') ? [p] : []
  })
}

function compilerOptions(): ts.CompilerOptions {
  const path = join(ROOT, 'tsconfig.node.json')
  const { config } = ts.readConfigFile(path, ts.sys.readFile)
  return ts.parseJsonConfigFileContent(config, ts.sys, ROOT).options
}

/** Every module a file names: import/export … from, import x = require(…), require(…) and import(…) with a literal. */
function specifiers(file: string): string[] {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true)
  const out: string[] = []
  const visit = (n: ts.Node): void => {
    if ((ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier))
      out.push(n.moduleSpecifier.text)
    else if (ts.isImportEqualsDeclaration(n) && ts.isExternalModuleReference(n.moduleReference) && ts.isStringLiteral(n.moduleReference.expression))
      out.push(n.moduleReference.expression.text)
    else if (
      ts.isCallExpression(n) &&
      (n.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(n.expression) && n.expression.text === 'require')) &&
      n.arguments.length === 1 &&
      ts.isStringLiteralLike(n.arguments[0])
    )
      out.push(n.arguments[0].text)
    else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteral(n.argument.literal)) out.push(n.argument.literal.text)
    ts.forEachChild(n, visit)
  }
  visit(sf)
  return out
}

interface Graph {
  /** file → the files of src/main it imports */
  edges: Map<string, string[]>
  /** file → the packages it imports (bare names: electron, node:fs, …) */
  packages: Map<string, string[]>
}

export function importGraph(): Graph {
  const options = compilerOptions()
  const files = sourceFiles(MAIN)
  const edges = new Map<string, string[]>()
  const packages = new Map<string, string[]>()
  for (const f of files) {
    const local: string[] = []
    const pkgs: string[] = []
    for (const s of specifiers(f)) {
      const r = ts.resolveModuleName(s, f, options, ts.sys).resolvedModule
      if (r && !r.isExternalLibraryImport && r.resolvedFileName.startsWith(MAIN + '/') && !r.resolvedFileName.endsWith('.d.ts'))
        local.push(r.resolvedFileName)
      else if (!s.startsWith('.') && !s.startsWith('@shared')) pkgs.push(s)
    }
    edges.set(f, local)
    packages.set(f, pkgs)
  }
  return { edges, packages }
}

/** Each import cycle once, as the files around it (Tarjan's strongly connected components of more than one file, and
 * files importing themselves). */
export function cycles(edges: Map<string, string[]>): string[][] {
  let index = 0
  const idx = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const on = new Set<string>()
  const out: string[][] = []
  const strong = (v: string): void => {
    idx.set(v, index)
    low.set(v, index++)
    stack.push(v)
    on.add(v)
    for (const w of edges.get(v) ?? []) {
      if (!idx.has(w)) {
        strong(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!))
    }
    if (low.get(v) === idx.get(v)) {
      const c: string[] = []
      let w: string
      do {
        w = stack.pop()!
        on.delete(w)
        c.push(w)
      } while (w !== v)
      if (c.length > 1 || (edges.get(v) ?? []).includes(v)) out.push(c.sort())
    }
  }
  for (const v of edges.keys()) if (!idx.has(v)) strong(v)
  return out
}

const rel = (f: string): string => relative(ROOT, f)
const isElectron = (s: string): boolean => s === 'electron' || s.startsWith('electron/')

describe('imports of src/main', () => {
  const g = importGraph()

  it('reads every source file and finds its imports (a check over nothing would pass)', () => {
    expect(g.edges.size).toBeGreaterThan(80)
    expect([...g.edges.values()].flat().length).toBeGreaterThan(200)
    expect([...g.packages.values()].flat().filter(isElectron).length).toBeGreaterThan(0)
  })

  it('the cycle finder finds a cycle when there is one', () => {
    const e = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a', 'd']],
      ['d', []],
      ['s', ['s']],
    ])
    expect(cycles(e)).toEqual([['a', 'b', 'c'], ['s']])
  })

  it('has no import cycle', () => {
    expect(cycles(g.edges).map((c) => c.map(rel))).toEqual([])
  })

  it('no file of src/main/lab imports electron', () => {
    const lab = [...g.packages].filter(([f, p]) => f.startsWith(join(MAIN, 'lab') + '/') && p.some(isElectron)).map(([f]) => rel(f))
    expect(lab).toEqual([])
  })

  it('src/main/app is the only place in src/main that imports electron', () => {
    const outside = [...g.packages].filter(([f, p]) => !f.startsWith(join(MAIN, 'app') + '/') && p.some(isElectron)).map(([f]) => rel(f))
    expect(outside).toEqual([])
  })

  it('the experiment kinds import nothing from each other, and what they share imports no kind', () => {
    const kinds = join(MAIN, 'lab', 'kinds') + '/'
    const shared = [join(kinds, 'index.ts'), join(kinds, 'kind.ts')]
    const isKind = (f: string): boolean => f.startsWith(kinds) && !shared.includes(f)
    const kindFiles = [...g.edges.keys()].filter(isKind)
    expect(kindFiles.length).toBeGreaterThanOrEqual(8)
    const across = [...g.edges]
      .filter(([f]) => isKind(f))
      .flatMap(([f, to]) => to.filter((t) => isKind(t) || t === shared[0]).map((t) => `${rel(f)} → ${rel(t)}`))
    expect(across).toEqual([])
    const back = [...g.edges]
      .filter(([f]) => f.startsWith(join(MAIN, 'lab', 'experiment') + '/'))
      .flatMap(([f, to]) => to.filter((t) => t.startsWith(kinds)).map((t) => `${rel(f)} → ${rel(t)}`))
    expect(back).toEqual([])
  })
})
