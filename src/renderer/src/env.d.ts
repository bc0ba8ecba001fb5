/// <reference types="vite/client" />
import type { PreloadApi } from '@shared/api'

declare module '*.vue' {
  import type { DefineComponent } from 'vue'
  const component: DefineComponent<object, object, unknown>
  export default component
}

declare global {
  interface Window {
    /** present only inside the Electron window (from the preload) */
    api?: PreloadApi
  }
}
