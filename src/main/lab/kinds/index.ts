// The experiment kinds: one handler per contract method marked `experiment` (src/shared/contract/methods.ts). The
// table's type lists every such method, so a contract entry without its handler here does not build. A new kind:
// its file in this folder, one line here, its contract entry (docs/design.md, "How to add an experiment kind").
import { compare } from './compare'
import { emerge } from './emerge'
import { experts } from './experts'
import { generate } from './generate'
import type { KindTable } from './kind'
import { layerStudy } from './layers'
import { lesson } from './lesson'
import { step } from './step'
import { study } from './study'
import { sweep } from './sweep'
import { window } from './window'

export const KINDS: KindTable = { generate, step, sweep, compare, lesson, layerStudy, window, emerge, study, experts }
