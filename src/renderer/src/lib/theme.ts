// Dark mode follows the system (prefers-color-scheme): the CSS does it with a media query, the charts with this ref,
// which hands ECharts its built-in 'dark' theme (on a transparent background, so the panel's colour shows through).
import { ref, type Ref } from 'vue'

let dark: Ref<boolean> | null = null

/** true while the system asks for a dark colour scheme (live: follows changes without a reload) */
export function useDark(): Ref<boolean> {
  if (dark) return dark
  const q = typeof window !== 'undefined' && window.matchMedia ? window.matchMedia('(prefers-color-scheme: dark)') : null
  dark = ref(q?.matches ?? false)
  q?.addEventListener('change', (e) => {
    if (dark) dark.value = e.matches
  })
  return dark
}

/** what every chart passes to <VChart :theme>: ECharts' dark theme, or the default */
export function chartTheme(isDark: boolean): string | undefined {
  return isDark ? 'dark' : undefined
}
