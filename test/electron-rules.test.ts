// The Electron main process's rules, as the production functions src/main/app/index.ts wires (src/main/app/windowRules.ts):
// which URLs are the app, navigation and window-open refusals, the CSP header and the request filter.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { CSP } from '../src/main/app/csp'
import { appUrlMatcher, navigationGuard, requestAllowed, windowOpenHandler, withCspHeader } from '../src/main/app/windowRules'
import { ROOT } from './helpers'

const INDEX = '/opt/Soliloquy Lab/resources/app.asar/out/renderer/index.html'
const APP = pathToFileURL(INDEX).href // file:///opt/Soliloquy%20Lab/…/index.html

describe('isAppUrl (packaged: the renderer file)', () => {
  const isApp = appUrlMatcher({ rendererIndex: INDEX })
  it('accepts the app page itself, with a hash route or query', () => {
    for (const u of [APP, `${APP}#/history`, `${APP}?run=3`, 'file:///opt/Soliloquy Lab/resources/app.asar/out/renderer/index.html']) expect(isApp(u), u).toBe(true)
  })
  it('refuses every other page', () => {
    for (const u of [
      'file:///etc/passwd',
      APP.replace('index.html', 'other.html'),
      `${APP}.evil`,
      APP.replace('file:///', 'file://evil.example/'), // a UNC path on Windows
      'https://example.com/',
      'http://127.0.0.1:5173/',
      'javascript:alert(1)',
      'data:text/html,<script>alert(1)</script>',
      'not a url',
      '',
    ])
      expect(isApp(u), u).toBe(false)
  })
})

describe('isAppUrl (developing: the dev server)', () => {
  const isApp = appUrlMatcher({ rendererIndex: INDEX, devUrl: 'http://localhost:5173' }) // as electron-vite sets ELECTRON_RENDERER_URL
  it('accepts the dev server origin only', () => {
    for (const u of ['http://localhost:5173/', 'http://localhost:5173/#/history', 'http://localhost:5173/src/main.ts']) expect(isApp(u), u).toBe(true)
    for (const u of ['http://localhost:5173@evil.example/', 'http://localhost:51730/', 'http://localhost:5174/', 'https://localhost:5173/', 'http://evil.example/?http://localhost:5173/', APP])
      expect(isApp(u), u).toBe(false)
  })
})

describe('will-navigate / will-redirect', () => {
  it('prevents navigation away from the app and lets the app navigate within itself', () => {
    const guard = navigationGuard(appUrlMatcher({ rendererIndex: INDEX }))
    const attempt = (url: string): boolean => {
      let prevented = false
      guard({ preventDefault: () => (prevented = true) }, url)
      return prevented
    }
    expect(attempt(`${APP}#/lessons`)).toBe(false)
    for (const u of ['https://example.com/', 'file:///etc/passwd', 'http://127.0.0.1:8080/', 'javascript:void 0']) expect(attempt(u), u).toBe(true)
  })
})

describe('setWindowOpenHandler', () => {
  it('denies every new window; https links go to the system browser, nothing else does', () => {
    const opened: string[] = []
    const handler = windowOpenHandler((u) => opened.push(u))
    for (const u of ['https://arxiv.org/abs/1706.03762', 'http://example.com/', 'file:///etc/passwd', 'javascript:alert(1)', APP, 'not a url', 'smb://host/share'])
      expect(handler({ url: u }), u).toEqual({ action: 'deny' })
    expect(opened).toEqual(['https://arxiv.org/abs/1706.03762'])
  })
})

describe('the CSP header on every response', () => {
  it("replaces whatever CSP a response carried with the app's own, keeping other headers", () => {
    const h = withCspHeader({
      'content-security-policy': ["default-src *; script-src 'unsafe-eval' https:"],
      'Content-Security-Policy-Report-Only': "default-src *",
      'Content-Type': 'text/html',
      'X-Two': ['a', 'b'],
    })
    expect(h).toEqual({ 'Content-Type': ['text/html'], 'X-Two': ['a', 'b'], 'Content-Security-Policy': [CSP] })
    expect(withCspHeader(undefined)).toEqual({ 'Content-Security-Policy': [CSP] })
    expect(CSP).toContain("default-src 'none'")
    expect(CSP).toContain("frame-ancestors 'none'")
    expect(CSP).not.toMatch(/unsafe-eval|https?:|\*/)
  })
})

describe('the request filter: nothing leaves the machine', () => {
  it("allows the app's files only (and the dev server's HTTP and WebSocket while developing)", () => {
    for (const u of ['file:///x/index.html', 'data:image/png;base64,AA==', 'devtools://devtools/bundled/x.html']) expect(requestAllowed(u), u).toBe(true)
    for (const u of ['https://example.com/', 'http://127.0.0.1:5173/', 'ws://localhost:5173/']) expect(requestAllowed(u), u).toBe(false)
    const dev = 'http://localhost:5173'
    for (const u of ['http://localhost:5173/src/main.ts', 'ws://localhost:5173/']) expect(requestAllowed(u, dev), u).toBe(true)
    for (const u of ['http://localhost:5173@evil.example/', 'ws://localhost:51730/', 'https://example.com/', 'ws://localhost:5174/']) expect(requestAllowed(u, dev), u).toBe(false)
  })
})

describe('src/main/app/index.ts wires these functions (no rules of its own)', () => {
  it('registers each rule from windowRules.ts', () => {
    const src = readFileSync(join(ROOT, 'src', 'main', 'app', 'index.ts'), 'utf8')
    expect(src).toMatch(/from '\.\/windowRules'/)
    expect(src).toContain('const isAppUrl = appUrlMatcher({ rendererIndex, devUrl })')
    expect(src).toContain("contents.on('will-navigate', navigationGuard(isAppUrl))")
    expect(src).toContain("contents.on('will-redirect', navigationGuard(isAppUrl))")
    expect(src).toContain('contents.setWindowOpenHandler(windowOpenHandler(')
    expect(src).toContain('responseHeaders: withCspHeader(details.responseHeaders)')
    expect(src).toContain('cancel: !requestAllowed(details.url, devUrl)')
    expect(src).toContain('trustedSender: isAppUrl')
    expect(src).not.toMatch(/function isAppUrl|preventDefault\(\)\s*\}|'Content-Security-Policy'/)
  })
})
