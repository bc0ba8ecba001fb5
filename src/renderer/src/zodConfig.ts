// Must be the renderer entry's first import: under the strict CSP, zod's JIT probe (new Function) would log a CSP
// violation. Jitless mode builds validators without eval.
import { z } from 'zod'

z.config({ jitless: true })
