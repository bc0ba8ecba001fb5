// What a GGUF file's weights are stored as: tensors, weights and bytes per ggml type, and the bits per weight of the
// whole file (tensor bytes · 8 / weights, as llama.cpp's loader reports it). Read from the header alone.
import { GGML_TYPES, GgufFile } from './read'

export interface GgufTypeSummary {
  type: string
  tensors: number
  weights: number
  bytes: number
  /** the type's own bits per weight (block bytes · 8 / block weights) */
  bitsPerWeight: number
}

export interface GgufSummary {
  types: GgufTypeSummary[]
  weights: number
  bytes: number
  bitsPerWeight: number
}

export function ggufSummary(g: GgufFile): GgufSummary {
  const by = new Map<number, GgufTypeSummary>()
  for (const t of g.tensors) {
    const gt = GGML_TYPES[t.type]
    const s = by.get(t.type) ?? { type: t.typeName, tensors: 0, weights: 0, bytes: 0, bitsPerWeight: (gt.blockBytes * 8) / gt.blockElems }
    s.tensors++
    s.weights += t.dims.reduce((a, d) => a * d, 1)
    s.bytes += t.bytes
    by.set(t.type, s)
  }
  const types = [...by.values()].sort((a, b) => b.weights - a.weights || a.type.localeCompare(b.type))
  const weights = types.reduce((a, s) => a + s.weights, 0)
  const bytes = types.reduce((a, s) => a + s.bytes, 0)
  return { types, weights, bytes, bitsPerWeight: weights ? (bytes * 8) / weights : 0 }
}
