// vitest globalSetup: before any test file runs, rebuild out/ (the CLI, the lab worker, the renderer) when it is
// older than src/, so no test drives stale built code. Test files that run out/ also assert it is current.
import { ensureCurrentBuild, staleBuild } from './helpers'

export default function setup(): void {
  const s = staleBuild()
  if (s.native) {
    // engine tests load the addon directly; they and cli.test.ts report it. Building it takes minutes: not here.
    console.warn(`the native engine is older than its sources (${s.native}): run \`npm run build:native\``)
    return
  }
  if (s.out) {
    console.warn(`out/ is older than src/ (${s.out}): running \`npm run build\` first`)
    ensureCurrentBuild()
  }
}
