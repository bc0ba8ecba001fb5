// The family's file tensors: how a family's checkpoint names and lays out the engine's tensors, for every export.
// Families that fuse several engine tensors into one file tensor say so here, once: Phi-3's qkv / gate_up (phi3.ts),
// the mixtures of experts' experts (experts.ts for HF, formats/gguf/experts.ts for GGUF); every other tensor is
// itself under its HF name.
import type { ModelConfig } from '../families'
import { exportUnits } from '../phi3'
import { HfFileTensor, moeHfTensors } from '../experts'
import { GgufFusedTensor, ggufMoeTensors } from '../formats/gguf/experts'

/** The engine's tensors as the family's Hugging Face checkpoint holds them, in file order. */
export function hfFileTensors(c: ModelConfig, names: string[], shapeOf: (engineName: string) => number[]): HfFileTensor[] {
  if (c.family === 'phi3') return exportUnits(c, names, shapeOf)
  return moeHfTensors(c.family, names, shapeOf)
}

/** The engine's tensors as llama.cpp's file of the architecture holds them, in file order. */
export function ggufFileTensors(
  c: ModelConfig,
  names: string[],
  shapeOf: (engineName: string) => number[],
  ggufName: (hfName: string) => string,
): GgufFusedTensor[] {
  if (c.family === 'phi3') return exportUnits(c, names, shapeOf).map((u) => ({ ...u, name: ggufName(u.name) }))
  return ggufMoeTensors(names, shapeOf, ggufName)
}
