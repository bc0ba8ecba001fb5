// The BPE model of HF tokenizers (models/bpe): a word is split into characters, then the adjacent pair with the
// lowest merge rank is merged, leftmost first on ties, until no listed pair remains. A heap with stale entries
// skipped keeps long words (a Llama-2 text is one word) at O(n log n); a cache per word avoids repeating work.
// The same core serves tiktoken, where a pair's rank is the rank of the token it forms.

/** How two adjacent tokens merge: the merge's priority (lower first) and the token it makes. */
export type PairLookup = (left: number, right: number) => { rank: number; id: number } | undefined

export interface BpeOptions {
  vocab: Map<string, number>
  pairs: PairLookup
  unkId: number // -1 if the model has no unk_token
  fuseUnk: boolean
  byteFallback: boolean
  ignoreMerges: boolean
  continuingSubwordPrefix: string
  endOfWordSuffix: string
}

interface Candidate {
  rank: number
  pos: number
  id: number
}

function before(a: Candidate, b: Candidate): boolean {
  return a.rank < b.rank || (a.rank === b.rank && a.pos < b.pos)
}

class MinHeap {
  readonly items: Candidate[] = []
  push(c: Candidate): void {
    const h = this.items
    let i = h.length
    h.push(c)
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!before(h[i], h[p])) break
      ;[h[i], h[p]] = [h[p], h[i]]
      i = p
    }
  }
  pop(): Candidate {
    const h = this.items
    const top = h[0]
    const last = h.pop() as Candidate
    if (h.length > 0) {
      h[0] = last
      for (let i = 0; ; ) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < h.length && before(h[l], h[m])) m = l
        if (r < h.length && before(h[r], h[m])) m = r
        if (m === i) break
        ;[h[i], h[m]] = [h[m], h[i]]
        i = m
      }
    }
    return top
  }
}

const CACHE_LIMIT = 10_000
const utf8 = new TextEncoder()

export class BpeModel {
  private readonly cache = new Map<string, number[]>()
  private readonly byteIds: Int32Array

  constructor(private readonly o: BpeOptions) {
    this.byteIds = new Int32Array(256).fill(-1)
    if (o.byteFallback) {
      for (let b = 0; b < 256; b++) {
        const id = o.vocab.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`)
        if (id !== undefined) this.byteIds[b] = id
      }
    }
  }

  /** One pre-token → ids (BPE::tokenize). */
  tokenize(word: string): number[] {
    if (word === '') return []
    const cached = this.cache.get(word)
    if (cached) return cached
    let ids: number[]
    const whole = this.o.ignoreMerges ? this.o.vocab.get(word) : undefined
    ids = whole !== undefined ? [whole] : this.mergeWord(word)
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear()
    if (word.length < 256) this.cache.set(word, ids)
    return ids
  }

  /** BPE::merge_word followed by Word::merge_all. */
  private mergeWord(word: string): number[] {
    const { vocab, unkId, fuseUnk, continuingSubwordPrefix, endOfWordSuffix } = this.o
    const symbols: number[] = []
    let pendingUnk = false
    const chars = [...word]
    for (let i = 0; i < chars.length; i++) {
      let s = chars[i]
      if (i > 0 && continuingSubwordPrefix) s = continuingSubwordPrefix + s
      if (i === chars.length - 1 && endOfWordSuffix) s += endOfWordSuffix
      const id = vocab.get(s)
      if (id !== undefined) {
        if (pendingUnk) symbols.push(unkId)
        pendingUnk = false
        symbols.push(id)
        continue
      }
      if (this.o.byteFallback) {
        const bytes = utf8.encode(s)
        const byteIds = Array.from(bytes, (b) => this.byteIds[b])
        if (byteIds.every((b) => b >= 0)) {
          symbols.push(...byteIds) // HF does not flush a pending unk here; it follows at the next known char

          continue
        }
      }
      if (unkId >= 0) {
        // fuse_unk folds a run of unknown characters into one unk token.
        if (pendingUnk && !fuseUnk) symbols.push(unkId)
        pendingUnk = true
      }
      // Without an unk token the character is dropped, as in HF tokenizers.
    }
    if (pendingUnk) symbols.push(unkId)
    return this.mergeAll(symbols)
  }

  private mergeAll(symbols: number[]): number[] {
    const n = symbols.length
    if (n < 2) return symbols
    const pairs = this.o.pairs
    const prev = new Int32Array(n)
    const next = new Int32Array(n)
    const alive = new Uint8Array(n).fill(1)
    for (let i = 0; i < n; i++) {
      prev[i] = i - 1
      next[i] = i + 1 < n ? i + 1 : -1
    }
    const heap = new MinHeap()
    const consider = (pos: number): void => {
      if (pos < 0 || next[pos] < 0) return
      const merge = pairs(symbols[pos], symbols[next[pos]])
      if (merge) heap.push({ rank: merge.rank, pos, id: merge.id })
    }
    for (let i = 0; i < n - 1; i++) consider(i)
    while (heap.items.length > 0) {
      const top = heap.pop()
      if (!alive[top.pos] || next[top.pos] < 0) continue
      const right = next[top.pos]
      const current = pairs(symbols[top.pos], symbols[right])
      if (!current || current.id !== top.id) continue // stale: a side changed since this candidate was queued
      symbols[top.pos] = top.id
      alive[right] = 0
      next[top.pos] = next[right]
      if (next[right] >= 0) prev[next[right]] = top.pos
      consider(prev[top.pos])
      consider(top.pos)
    }
    const out: number[] = []
    for (let i = 0; i !== -1; i = next[i]) out.push(symbols[i])
    return out
  }
}

/** Merges as tokenizer.json lists them ("a b" or ["a", "b"]) → pair lookup by token ids. */
export function pairsFromMerges(
  merges: ReadonlyArray<string | [string, string]>,
  vocab: Map<string, number>,
  continuingSubwordPrefix: string,
  fail: (problem: string) => never,
): PairLookup {
  let stride = 1
  for (const id of vocab.values()) if (id + 1 > stride) stride = id + 1
  const table = new Map<number, number>() // left*stride+right → rank*stride+id
  merges.forEach((merge, rank) => {
    let a: string, b: string
    if (typeof merge === 'string') {
      const space = merge.indexOf(' ')
      if (space <= 0 || merge.indexOf(' ', space + 1) >= 0) fail(`model.merges[${rank}] "${merge}" is not two tokens separated by one space`)
      a = merge.slice(0, space)
      b = merge.slice(space + 1)
    } else if (Array.isArray(merge) && merge.length === 2 && typeof merge[0] === 'string' && typeof merge[1] === 'string') {
      ;[a, b] = merge
    } else {
      return fail(`model.merges[${rank}] is neither "a b" nor ["a", "b"]`)
    }
    const left = vocab.get(a)
    const right = vocab.get(b)
    if (left === undefined) fail(`model.merges[${rank}]: token "${a}" is not in the vocabulary`)
    if (right === undefined) fail(`model.merges[${rank}]: token "${b}" is not in the vocabulary`)
    const merged = a + (continuingSubwordPrefix && b.startsWith(continuingSubwordPrefix) ? b.slice(continuingSubwordPrefix.length) : b)
    const id = vocab.get(merged)
    if (id === undefined) fail(`model.merges[${rank}]: the merged token "${merged}" is not in the vocabulary`)
    const key = left * stride + right
    table.set(key, rank * stride + id) // a repeated pair keeps its last rank, as HF's HashMap collect does
  })
  return (left, right) => {
    const value = table.get(left * stride + right)
    return value === undefined ? undefined : { rank: Math.floor(value / stride), id: value % stride }
  }
}
