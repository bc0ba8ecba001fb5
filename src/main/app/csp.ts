// The Content-Security-Policy of the renderer, as a header (Electron session, serve mode) and as the meta tag in
// src/renderer/index.html (keep them in step). No remote content: everything from the app itself; images may be
// data: URLs (the favicon); styles allow inline attributes because Vue and ECharts set element styles.
export const CSP_DIRECTIVES = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "object-src 'none'",
  "frame-src 'none'",
  "worker-src 'none'",
]

/** Electron: file:// page, talks to main over IPC only. */
export const CSP = [...CSP_DIRECTIVES, "frame-ancestors 'none'"].join('; ')
/** Browser mode: same page, plus its own WebSocket ('self' covers ws: to the same host and port). */
export const CSP_BROWSER = CSP
