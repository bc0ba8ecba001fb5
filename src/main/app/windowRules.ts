// The Electron main process's rules for what the window may load, open and navigate to, and the CSP header it gets:
// plain functions (no Electron import at run time) so test/electron-rules.test.ts exercises these, not a copy.
import { pathToFileURL } from 'node:url'
import { CSP } from './csp'

export interface AppLocation {
  /** the renderer's index.html on disk (production) */
  rendererIndex: string
  /** the dev server's URL while developing (ELECTRON_RENDERER_URL), absent in a packaged app */
  devUrl?: string
}

/** Only the app's own page may run in a window or call the API: its index.html, or the dev server's origin. */
export function appUrlMatcher(loc: AppLocation): (url: string) => boolean {
  const indexPath = pathToFileURL(loc.rendererIndex).pathname
  const devOrigin = loc.devUrl ? new URL(loc.devUrl).origin : null
  return (url: string): boolean => {
    let u: URL
    try {
      u = new URL(url)
    } catch {
      return false
    }
    // an origin comparison, not a prefix: http://localhost:5173.evil.example starts with http://localhost:5173
    if (devOrigin) return u.origin === devOrigin
    // file://host/… is a UNC path on Windows, not the app
    if (u.protocol !== 'file:' || u.host !== '') return false
    try {
      return decodeURIComponent(u.pathname) === decodeURIComponent(indexPath)
    } catch {
      return false
    }
  }
}

/** will-navigate / will-redirect: no navigation away from the app. */
export function navigationGuard(isAppUrl: (url: string) => boolean): (e: { preventDefault(): void }, url: string) => void {
  return (e, url) => {
    if (!isAppUrl(url)) e.preventDefault()
  }
}

/** setWindowOpenHandler: never a new window; https links (the seed's references) open in the user's browser. */
export function windowOpenHandler(openExternal: (url: string) => void): (details: { url: string }) => { action: 'deny' } {
  return ({ url }) => {
    let u: URL | null = null
    try {
      u = new URL(url)
    } catch {
      /* not a URL: nothing to open */
    }
    if (u && u.protocol === 'https:') openExternal(u.href)
    return { action: 'deny' }
  }
}

/** onHeadersReceived: every response the window gets carries the app's CSP, replacing any the response had. */
export function withCspHeader(responseHeaders: Record<string, string | string[]> | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  for (const [k, v] of Object.entries(responseHeaders ?? {})) {
    if (k.toLowerCase() === 'content-security-policy' || k.toLowerCase() === 'content-security-policy-report-only') continue
    out[k] = Array.isArray(v) ? v : [v]
  }
  out['Content-Security-Policy'] = [CSP]
  return out
}

/** onBeforeRequest: nothing leaves the machine; only the app's files (and the dev server while developing). */
export function requestAllowed(url: string, devUrl?: string): boolean {
  if (url.startsWith('file:') || url.startsWith('data:') || url.startsWith('devtools:')) return true
  if (!devUrl) return false
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return false
  }
  const dev = new URL(devUrl)
  const wsProtocol = dev.protocol === 'https:' ? 'wss:' : 'ws:'
  return u.host === dev.host && (u.protocol === dev.protocol || u.protocol === wsProtocol)
}
