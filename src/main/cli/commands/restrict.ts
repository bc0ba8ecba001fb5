// --groups and --layers: a step restricted to some parameters (src/main/lab/step/restrict.ts), for sweep and step.
import type { Restriction } from '../../../shared/api'
import { parseGroups, parseLayers } from '../../lab/step/restrict'
import { Flags, str } from '../common'

/** --groups attn,mlp --layers 0-3 → a restriction (undefined when neither is given). */
export function restrictionFlags(flags: Flags): Restriction | undefined {
  const g = str(flags, 'groups')
  const l = str(flags, 'layers')
  if (g === undefined && l === undefined) return undefined
  const r: Restriction = {}
  if (g !== undefined) r.groups = parseGroups(g)
  if (l !== undefined) r.layers = parseLayers(l)
  return r
}
export const restrictionOptions = { groups: { type: 'string' }, layers: { type: 'string' } } as const
