// What the renderer's templates import as "vue" (the alias is in electron.vite.config.ts): Vue itself, except that
// every `{{ … }}` interpolation is shown through the one rule for control and bidi characters (issue 20, item 23).
//
// The page shows names that came from files and people — a model folder's name, checkpoint names, experiment titles
// and tags, a run's error, a model's completion. One holding ESC or U+202E (RLO, which shows "exe.txt" as "txt.exe")
// is shown as `\u001b` / `\u202e`, as the CLI prints it (src/shared/textSafety.ts). Templates compile `{{ x }}` to
// `toDisplayString(x)`, so replacing that one helper covers every view and component at once, and only what is shown:
// the values in the stores, the inputs' v-models and whatever is sent back to the lab stay as they are.
// @ts-expect-error: the runtime build has no declaration file of its own; its exports are those of "vue"
import { toDisplayString as vueToDisplayString } from 'vue/dist/vue.runtime.esm-bundler.js'
import { escapeUnsafe } from '../../shared/textSafety'

// @ts-expect-error: see above
export * from 'vue/dist/vue.runtime.esm-bundler.js'

/** Vue's own display string (null → "", objects as JSON), with every control or bidi character as `\uXXXX`. */
export function toDisplayString(value: unknown): string {
  return escapeUnsafe((vueToDisplayString as (v: unknown) => string)(value))
}
